"""The time activation checkpointing adds to a training step, predicted per Table-1 stage.

A checkpointed stage's forward runs twice: once in the forward (keeping only its input)
and again in backward, with grad, up to the last tensor it saves (torch's early stop: a
stage's final residual add is not run again). The added time is that second forward, so
each op of the stage's training forward (train mode: batch statistics) is priced by the
inference cost model (``latency.py``) as it is: the recompute is a forward, and the
training step's k (``training.py``) carries a backward that checkpointing does not add.
Its band is the training prediction's (``Trusted.for_training``): the ops are a training
step's. Nothing here runs the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ...arch.specs import ResolvedSpec
from ...kinds import OpKind
from ..trace.probe import OpRecord, Shape, Trace
from ..trace.stages import feature_stage
from . import latency
from .trust import Trusted, trusted


@dataclass
class RecomputePrice:
    """Predicted ms each stage's recompute adds to a step, and the band's half-width."""

    per_stage: dict[int, float]
    band_pct: float
    notes: list[str] = field(default_factory=list)

    def total(self, stages: Iterable[int]) -> float:
        """The added ms of checkpointing ``stages``: the sum of their recomputes."""
        return sum(self.per_stage.get(s, 0.0) for s in stages)

    def band(self, ms: float) -> list[float]:
        """[low, high] around a predicted ms."""
        width = 1.0 + self.band_pct / 100
        return [ms / width, ms * width]


def recomputed(ops: list[OpRecord]) -> list[OpRecord]:
    """The ops a stage's recompute runs: all but trailing residual adds (early stop)."""
    end = len(ops)
    while end and ops[end - 1].kind == OpKind.ADD:
        end -= 1
    return ops[:end]


def price_trace(trace: Trace, stages: Iterable[int], trust: Trusted, spec: ResolvedSpec,
                shape: Shape) -> RecomputePrice:  # fmt: skip
    """Each of ``stages``' recompute priced from the training forward ``trace``."""
    model = latency.fit(trust.calibration, leave_out=(spec, shape))  # (tests replace fit)
    by_stage: dict[int, list[OpRecord]] = {s: [] for s in stages}
    for op in trace.ops:
        stage = feature_stage(op.module)
        if stage in by_stage:
            by_stage[stage].append(op)
    per_stage = {}
    for stage, ops in by_stage.items():
        again = Trace(recomputed(ops), trace.shapes, trace.leaf_output_elements)
        per_stage[stage] = latency.estimate(again, model, trust.state.scale).total_ms
    band = trust.for_training().state.band_pct
    return RecomputePrice(per_stage, band, list(trust.notes))


def price_recompute(
    trace: Trace, stages: Iterable[int], spec: ResolvedSpec, shape: Shape,
    progress: Callable[[int, int], None] | None = None,
) -> RecomputePrice:  # fmt: skip
    """``price_trace`` with the CPU's calibration, checked for drift (``trust.trusted``)."""
    return price_trace(trace, stages, trusted(progress=progress), spec, shape)
