"""Every checkpointing subset's peak from a few simulations: the memory engine's ledger
followed stage by stage.

A ``PhaseLedger`` splits a simulated step into phases — the forward of each Table-1 stage,
the rest of the forward (pooling, classifier, loss), the backward of each stage (its
recompute included), the optimizer — and records for each the bytes live when it began,
by the stage that made them (their *owner*), and the most bytes live during it.

Checkpointing stage j changes what stage j makes and when it frees it, and nothing that
another stage's ops do: every op of stage j runs inside stage j's module, and stage j's
segment keeps its input, which stage j-1 made and keeps anyway (the first conv of stage j
saves it when stage j is not checkpointed). So, for a subset S of the stages,

    peak(S) = max over phases p of  Σ_owners o  start[p][o](o ∈ S)  +  excess[p](stage(p) ∈ S)

where ``start[p][o]`` is what owner o holds when p begins and ``excess[p]`` how far p rises
above its start: each term is read off the simulation with nothing checkpointed or the one
with every stage checkpointed. ``Decomposition`` holds those two and checks them against
each other (the phases must be the same, and what does not depend on a checkpointable stage
must be equal in both); the planner checks its choice against that subset's own simulation.
Nothing here allocates or prints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .simulate import Ledger, PeakAt
from .stages import feature_stage


@dataclass
class Phase:
    """One phase of a simulated step: its key (phase of the step, stage or 0 outside the
    stages), the bytes live at its start by owner, and the most live during it."""

    key: tuple[str, int]
    start: dict[int, int]
    live: int
    peak: int


class PhaseLedger(Ledger):
    """The engine's ledger, also following phases and owners (see the module's account).
    The phase follows ``where``, which the engine sets before every op and backward node."""

    def __init__(self, base: dict[str, int]) -> None:
        self.phases: list[Phase] = []
        self.by_owner: Counter = Counter({0: sum(base.values())})
        self._key: tuple[str, int] | None = None
        super().__init__(base)

    @property  # type: ignore[override]
    def where(self) -> PeakAt:
        return self._where

    @where.setter
    def where(self, at: PeakAt) -> None:
        self._where = at
        stage = feature_stage(at.module) or 0
        key = (at.phase, stage)
        if key != self._key:
            self._key, self.owner = key, stage
            self.phases.append(Phase(key, dict(self.by_owner), self.current, self.current))

    def alloc(self, nbytes: int, category: str) -> None:
        self.by_owner[self.owner] += nbytes
        super().alloc(nbytes, category)
        phase = self.phases[-1]
        if self.current > phase.peak:
            phase.peak = self.current

    def free(self, nbytes: int, category: str, owner: int = 0) -> None:
        self.by_owner[owner] -= nbytes
        super().free(nbytes, category)


class Decomposition:
    """peak(S) for every subset S of ``stages``, from the phases of the step with none of
    them checkpointed (``plain``) and with all of them (``every``).

    ``valid`` is False (with ``why``) when the two simulations contradict the account:
    different phases, or a figure that should not depend on a checkpointable stage that
    differs; the caller then simulates each subset instead."""

    def __init__(self, stages: Sequence[int], plain: Sequence[Phase], every: Sequence[Phase]
                 ) -> None:  # fmt: skip
        self.stages = tuple(stages)
        self.why = _contradiction(self.stages, plain, every)
        self.valid = not self.why
        self.base = [p.peak for p in plain]
        self.delta: list[list[int]] = []
        """Per phase, per stage (in ``stages`` order): what checkpointing it adds."""
        if not self.valid:
            return
        for a, b in zip(plain, every, strict=True):
            row = [b.start.get(s, 0) - a.start.get(s, 0) for s in self.stages]
            if a.key[1] in self.stages:
                row[self.stages.index(a.key[1])] += (b.peak - b.live) - (a.peak - a.live)
            self.delta.append(row)

    def peaks(self) -> list[int]:
        """peak(S) for every subset, indexed by bitmask (bit i: ``stages[i]``), each built
        from the one without its highest bit: 2^k × phases additions."""
        k = len(self.stages)
        rows: list[list[int]] = [list(self.base)]
        for mask in range(1, 1 << k):
            high = mask.bit_length() - 1
            prev = rows[mask ^ (1 << high)]
            rows.append([v + row[high] for v, row in zip(prev, self.delta, strict=True)])
        return [max(row) for row in rows]


def _contradiction(stages: tuple[int, ...], plain: Sequence[Phase], every: Sequence[Phase]
                   ) -> str:  # fmt: skip
    """Why two simulations do not fit the account ('' when they do)."""
    if [p.key for p in plain] != [p.key for p in every]:
        return "the step's phases differ with and without checkpointing"
    for a, b in zip(plain, every, strict=True):
        fixed = (set(a.start) | set(b.start)) - set(stages)
        if any(a.start.get(o, 0) != b.start.get(o, 0) for o in fixed):
            return f"what is live at {a.key} depends on more than the checkpointed stages"
        if a.key[1] not in stages and a.peak - a.live != b.peak - b.live:
            return f"the rise of {a.key} depends on the checkpointed stages"
    return ""
