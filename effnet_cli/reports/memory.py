"""What `effnet memory` reports: the predicted peak of one step, what it is made of,
where it happens, and the measurement beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import RunSetup


@dataclass
class MemoryStage:
    """One stage's share of a step's memory: what it keeps for backward, and the bytes
    live when its forward is done."""

    stage: int
    operator: str
    saved_bytes: int
    live_bytes_after: int
    checkpointed: bool = False
    """Run as an activation-checkpoint segment: its forward kept only its input."""
    recompute_ms: float | None = None
    """Checkpointed stages: the predicted time its recompute adds to the step (CPU)."""
    saves_bytes: int | None = None
    """Checkpointed stages: the peak with nothing checkpointed less the peak with this
    stage alone checkpointed (both predicted)."""


@dataclass
class PlanOption:
    """One subset of stages --checkpoint auto weighed: its predicted peak and added time."""

    stages: list[int]
    peak_bytes: int
    recompute_ms: float | None


@dataclass
class CheckpointPlan:
    """--checkpoint auto: the limit, whether any subset fits it, how the subsets were
    weighed, and the Pareto front of peak against added time."""

    limit_bytes: int
    reserve_bytes: int
    reserve_source: str
    usable_bytes: int
    fits: bool
    """False: not even the subset with the smallest peak fits (it is the one shown)."""
    smallest_peak_bytes: int
    subsets: int
    """How many subsets were weighed: every subset of the checkpointable stages."""
    method: str
    """How each subset's peak was found: 'decomposed' (two simulations, the phase account,
    checked) or 'simulated' (one simulation per subset)."""
    simulations: int
    pareto: list[PlanOption] = field(default_factory=list)
    seconds: float = 0.0
    """The search's time: the subsets' peaks and the choice (the recompute's pricing, with
    the latency model's drift probe, apart)."""
    world_size: int | None = None
    """With --world-size: each subset's peak is the highest rank's at its share of the batch,
    the limit one rank's device and the added time a rank's step's."""


@dataclass
class Checkpointing:
    """--checkpoint: which Table-1 stages ran as checkpoint segments, the memory that saves
    and the time their recompute adds."""

    stages: list[int]
    recompute_ms: float | None = None
    """The added time, predicted: the checkpointed stages' forward, run again in backward,
    priced by the latency model (None where it does not apply: --amp)."""
    recompute_range_ms: list[float] | None = None
    """[low, high]: the prediction's band."""
    peak_without_bytes: int | None = None
    """The same step's predicted peak with nothing checkpointed."""
    saved_bytes: int | None = None
    """peak_without_bytes less this step's predicted peak."""
    plan: CheckpointPlan | None = None
    """With --checkpoint auto: how these stages were chosen."""
    notes: list[str] = field(default_factory=list)


@dataclass
class MeasuredPeak:
    """The real step's peak on a device, beside the prediction."""

    device: str
    peak_bytes: int
    error_pct: float
    """(predicted − measured) / measured × 100."""
    method: str
    peak_at: dict[str, str] = field(default_factory=dict)
    allocated_bytes: int | None = None
    """CUDA's max_memory_allocated: the same peak, rounded up to the allocator's blocks."""
    reserved_bytes: int | None = None
    """CUDA's max_memory_reserved: what the caching allocator held from the driver."""


@dataclass
class RankMemory:
    """One rank's peak under data parallelism: predicted, and measured on gloo."""

    rank: int
    peak_bytes: int
    measured_bytes: int | None = None
    error_pct: float | None = None
    """(predicted − measured) / measured × 100."""


@dataclass
class PerRank:
    """--world-size: each rank's training step when the batch is split across ranks.
    Its peak, breakdown and place are those of the rank that peaks highest."""

    world_size: int
    strategy: str
    bucket_view: bool
    """DDP's gradient_as_bucket_view: the gradients are views of its buckets."""
    batch_per_rank: int
    peak_bytes: int
    breakdown: dict[str, int]
    peak_at: dict[str, str | int | None]
    ranks: list[RankMemory]
    measured: MeasuredPeak | None = None
    """The largest rank's measured peak (gloo, one process per rank, on this CPU)."""


@dataclass
class MemoryReport(RunSetup[str]):
    """`effnet memory`: the predicted peak of one step, what it is made of, where it is."""

    optimizer: str | None
    peak_bytes: int
    breakdown: dict[str, int]
    peak_at: dict[str, str | int | None]
    stages: list[MemoryStage]
    checkpoint: Checkpointing | None = None
    """With --checkpoint (absent from the JSON without it)."""
    measured: MeasuredPeak | None = None
    per_rank: PerRank | None = None
    """With --world-size (absent from the JSON without it): the step of each rank; the
    fields above are then one process's step at the whole batch, for comparison."""
    max_batch: int | None = None
    limit_bytes: int | None = None
    reserve_bytes: int = 0
    """Headroom kept free of the limit (--reserve, or the default CUDA allowance)."""
    reserve_source: str = "none"
    usable_bytes: int | None = None
    """limit_bytes − reserve_bytes: what the largest batch's peak must fit."""
    max_batch_peak_bytes: int | None = None
    margin_pct: float | None = None
    """(usable − the largest batch's peak) / usable × 100."""
    marginal: bool | None = None
    """Whether that margin is under 5%: a real device's extras may not fit in it."""
    headroom_batch: int | None = None
    """The largest batch whose peak leaves at least 5% of the usable limit free."""
    seconds: dict[str, float] = field(default_factory=dict)
