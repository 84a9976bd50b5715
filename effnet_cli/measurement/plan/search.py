"""`--checkpoint auto`: every subset of the checkpointable stages weighed, exactly.

Each subset's peak is the memory engine's: read off two simulations through the phase
decomposition (``trace/phases.py``: nothing checkpointed, everything checkpointed), or, when
those two contradict it, simulated subset by subset. Each subset's added time is the sum of
its stages' predicted recomputes (``timing/recompute.py``). The choice is the subset with
the least added time among those whose peak fits; nothing is pruned or interpolated, so no
cheaper subset that fits can be missed. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ...ranks import DataParallel
from ..trace.phases import Decomposition, PhaseLedger
from ..trace.probe import Shape, Trace
from ..trace.ranks import rank_step
from ..trace.simulate import Ledger, MemoryPrediction, predict
from ..trace.stages import stage_module

if TYPE_CHECKING:
    from torch import nn

DECOMPOSED = "decomposed"
SIMULATED = "simulated"


@dataclass
class SubsetPeaks:
    """The predicted peak of every subset of ``stages``, by bitmask (bit i: ``stages[i]``)."""

    stages: tuple[int, ...]
    peaks: list[int]
    method: str
    """DECOMPOSED (two simulations, the phase account) or SIMULATED (one per subset)."""
    simulations: int
    trace: Trace
    """The training forward's trace (what the recompute is priced from)."""
    why: str = ""
    """Why the decomposition was not used (SIMULATED only)."""

    def mask(self, chosen: Sequence[int]) -> int:
        return sum(1 << i for i, s in enumerate(self.stages) if s in set(chosen))

    def members(self, mask: int) -> list[int]:
        return [s for i, s in enumerate(self.stages) if mask >> i & 1]

    def peak(self, chosen: Sequence[int]) -> int:
        return self.peaks[self.mask(chosen)]


@dataclass(frozen=True)
class Step:
    """The training step whose checkpointing is searched: one process's, or with
    ``setting`` rank ``rank``'s under data parallelism (``shape`` then a rank's share)."""

    model: nn.Module  # built on meta: the engine reads shapes only
    shape: Shape
    optimizer: str
    device_type: str
    amp: str | None = None
    setting: DataParallel | None = None
    rank: int = 0

    def simulate(self, stages: Sequence[int], phased: bool = False) -> MemoryPrediction:
        """The engine's prediction with ``stages`` checkpointed (``phased``: phase by phase)."""
        modules = [stage_module(s) for s in stages]
        ranked = None
        if self.setting is not None:  # a fresh rank step per prediction
            ranked = rank_step(self.model, self.setting, self.rank, self.optimizer)
        return predict(self.model, self.shape, True, self.optimizer, self.device_type, self.amp,
                       modules, PhaseLedger if phased else Ledger, ranked)  # fmt: skip


def subset_peaks(step: Step, stages: Sequence[int], decompose: bool = True,
                 plain: MemoryPrediction | None = None) -> SubsetPeaks:  # fmt: skip
    """Every subset's peak: decomposed from two simulations when they bear the account out
    (``decompose``), else one simulation per subset. ``plain``: the step with nothing
    checkpointed, already simulated phase by phase (``Step.simulate(phased=True)``)."""
    stages = tuple(stages)
    plain = plain or step.simulate((), phased=True)
    every = step.simulate(stages, phased=True)
    d = Decomposition(stages, _phases(plain), _phases(every))
    if decompose and d.valid:
        return SubsetPeaks(stages, d.peaks(), DECOMPOSED, 2, plain.trace)
    found = SubsetPeaks(stages, [], SIMULATED, 2, plain.trace, d.why or "asked")
    for mask in range(1 << len(stages)):
        chosen = found.members(mask)
        if mask == 0 or len(chosen) == len(stages):
            found.peaks.append((plain if mask == 0 else every).peak_bytes)
        else:
            found.peaks.append(step.simulate(chosen).peak_bytes)
            found.simulations += 1
    return found


def highest_rank_subsets(step: Step, stages: Sequence[int]) -> SubsetPeaks:
    """Under data parallelism (``step.setting``): every subset's peak on whichever rank it
    is highest, each distinct rank step's subsets found as ``subset_peaks`` finds them: a
    per-device limit is judged on the highest rank."""
    from ..memory.data_parallel import distinct_ranks

    assert step.setting is not None
    ranks = distinct_ranks(step.model, step.setting, step.optimizer)
    found = [subset_peaks(replace(step, rank=r), stages) for r in ranks]
    peaks = [max(f.peaks[mask] for f in found) for mask in range(len(found[0].peaks))]
    decomposed = all(f.method == DECOMPOSED for f in found)
    return SubsetPeaks(found[0].stages, peaks, DECOMPOSED if decomposed else SIMULATED,
                       sum(f.simulations for f in found), found[0].trace,
                       next((f.why for f in found if f.why), ""))  # fmt: skip


def _phases(p: MemoryPrediction) -> list:
    assert isinstance(p.ledger, PhaseLedger)
    return p.ledger.phases


@dataclass
class Option:
    """One subset weighed: its stages, predicted peak and added ms (None: not priced)."""

    stages: list[int]
    peak_bytes: int
    recompute_ms: float | None


def options(found: SubsetPeaks, per_stage: dict[int, float] | None) -> list[Option]:
    """Every subset with its peak and added time."""
    out = []
    for mask, peak in enumerate(found.peaks):
        chosen = found.members(mask)
        ms = None if per_stage is None else sum(per_stage.get(s, 0.0) for s in chosen)
        out.append(Option(chosen, peak, ms))
    return out


def _cost(o: Option) -> tuple[float, int, int]:
    """Least added time first; then the lower peak, then fewer segments."""
    return (o.recompute_ms or 0.0, o.peak_bytes, len(o.stages))


def plan_stages(weighed: list[Option], limit: int) -> tuple[Option, bool]:
    """The subset with the least added time whose peak fits ``limit`` (and True), or, when
    none fits, the one with the smallest peak (and False)."""
    fitting = [o for o in weighed if o.peak_bytes <= limit]
    if fitting:
        return min(fitting, key=_cost), True
    return min(weighed, key=lambda o: (o.peak_bytes, o.recompute_ms or 0.0)), False


def pareto(weighed: list[Option]) -> list[Option]:
    """The subsets no other beats on both peak and added time, cheapest first: each row
    buys a lower peak than every cheaper row."""
    front: list[Option] = []
    for o in sorted(weighed, key=_cost):
        if not front or o.peak_bytes < front[-1].peak_bytes:
            front.append(o)
    return front
