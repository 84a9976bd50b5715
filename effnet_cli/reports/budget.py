"""What `effnet budget` reports: the limits asked, every official variant against them,
and the compound-scaling answer with every φ the search measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from .timing import BenchResult, CalibrationState


class Limit(NamedTuple):
    """One limit: the constraint's field, the figure it bounds, the option that sets it."""

    field: str
    figure: str
    option: str


LIMITS: dict[str, Limit] = {
    "macs": Limit("max_macs", "macs", "--max-macs"),
    "params": Limit("max_params", "params", "--max-params"),
    "weights": Limit("max_weight_bytes", "weight_bytes", "--max-weights"),
    "memory": Limit("max_memory_bytes", "peak_bytes", "--max-memory"),
    "latency": Limit("max_latency_ms", "latency_ms", "--max-latency"),
}
"""Each limit by name: the constraint's field, the figure it bounds, the option that sets it.
In this order the search checks them: the cheapest figures first."""


@dataclass(frozen=True)
class BudgetConstraints:
    """What `effnet budget` was asked: the limits (None: not constrained) and the settings
    each figure is taken at. Counts are plain numbers, bytes are bytes, latency is ms."""

    max_macs: int | None = None
    max_params: int | None = None
    max_weight_bytes: int | None = None
    dtype: str = "float32"
    """Bytes per weight for ``max_weight_bytes`` (--dtype)."""
    max_memory_bytes: int | None = None
    reserve_bytes: int = 0
    """Headroom kept free of ``max_memory_bytes`` (--reserve, or the CUDA allowance): a
    peak is judged against ``max_memory_bytes − reserve_bytes``."""
    reserve_source: str = "none"
    batch_size: int = 1
    """The batch the peak memory and the latency are taken at (MACs are at batch 1)."""
    train: bool = False
    optimizer: str | None = None
    amp: str | None = None
    max_batch: bool = False
    """Whether the largest batch within ``max_memory_bytes`` is searched per model."""
    max_latency_ms: float | None = None
    device: str = "cpu"
    measure: bool = False
    """Whether latency is timed for real (candidates passing the other limits) or predicted."""
    resolution: int | None = None
    """One input size for every model; None: each variant's own (φ models: base·γ^φ)."""
    num_classes: int = 1000
    runtime: str = "eager"
    """What the latency limit is judged on: eager PyTorch or onnxruntime (CPU)."""
    checkpointing: bool = False
    """Whether a training step over --max-memory may checkpoint stages (the cheapest set
    that fits, ``--checkpoint auto``'s plan), and the largest batch is searched with it."""
    world_size: int | None = None
    """--world-size: the memory limit is a device's, judged on the highest rank's peak with
    the batch (global) split over this many ranks; the largest batch is global too."""
    strategy: str | None = None
    """With world_size: ddp or zero1 (``ranks.DataParallel``)."""
    bucket_view: bool = False

    @property
    def batch_per_rank(self) -> int:
        """A rank's share of --batch-size (all of it without --world-size)."""
        return self.batch_size // (self.world_size or 1)

    def active(self) -> list[str]:
        """The limits set, in checking order."""
        return [name for name, limit in LIMITS.items() if getattr(self, limit.field) is not None]


@dataclass
class BudgetCheckpoint:
    """The stages a model checkpoints to fit --max-memory (the cheapest set that fits), and
    the time their recompute adds to a step, predicted on the CPU."""

    stages: list[int]
    recompute_ms: float | None


@dataclass(kw_only=True)
class Figures:
    """A model's constrained figures and how they compare with the limits. A figure left
    None was not needed (its limit is not set) or not reached (an earlier limit failed)."""

    macs: int | None = None
    params: int | None = None
    weight_bytes: int | None = None
    peak_bytes: int | None = None
    max_batch: int | None = None
    """The largest batch whose predicted peak fits --max-memory (0: not even one)."""
    checkpoint: BudgetCheckpoint | None = None
    """--checkpointing: what the step at --batch-size checkpoints to fit (None: nothing)."""
    max_batch_checkpoint: BudgetCheckpoint | None = None
    """--checkpointing: what the largest batch checkpoints (None: it needs nothing)."""
    latency_ms: float | None = None
    """The latency judged: measured with --measure where it was timed, else predicted."""
    latency_source: str | None = None
    predicted_latency_ms: float | None = None
    predicted_range_ms: list[float] | None = None
    """[low, high]: the predicted latency's error band (``CalibrationState.band_pct``)."""
    measured_latency_ms: float | None = None
    fits: bool = False
    verdict: str = "fails"
    """'fits'; 'marginal': fits, but a figure a real device can move (peak memory, latency)
    passes its limit with less than 5% to spare; 'uncertain': a predicted figure's error band
    holds its limit, so neither a pass nor a failure can be claimed; 'fails'."""
    marginal: list[str] = field(default_factory=list)
    """The limits passed with less than 5% to spare, by name: memory, latency."""
    uncertain: list[str] = field(default_factory=list)
    """The limits inside a predicted figure's error band, by name: latency."""
    failed: list[str] = field(default_factory=list)
    """The limits this model exceeds, by name: macs, params, weights, memory, latency."""
    margins: dict[str, float] = field(default_factory=dict)
    """Per limit checked, (limit − figure) / limit: the headroom left, negative when over."""


@dataclass(kw_only=True)
class BudgetRow(Figures):
    """One official variant under the budget."""

    variant: str
    title: str
    family: str
    resolution: int
    batch_size: int
    top1: float | None
    """The paper's published ImageNet top-1 (%), never a prediction; None where it has none."""
    rank: int | None = None
    """Place among the variants that fit, by the paper's top-1; None: fails, or no top-1."""


@dataclass(kw_only=True)
class PhiCandidate(Figures):
    """One grid point of the φ search, measured."""

    phi: float
    width: float
    depth: float
    resolution: int
    search_pass: str = ""
    """Which pass of the search checked it: "whole" (φ = 0, 1, 2, …) or "fine". Its JSON
    key and CSV field are "stage", as they were before the rename (views/budget.py)."""


@dataclass(kw_only=True)
class CompoundAnswer(Figures):
    """The largest φ on the grid whose model meets every limit, with its figures (all None
    when not even φ = 0 does), and every candidate the search measured."""

    phi: float | None
    width: float | None
    depth: float | None
    resolution: int | None
    nearest_official: str | None
    alpha: float
    beta: float
    gamma: float
    base_resolution: int
    phi_step: float
    phi_max: float
    reached_max: bool = False
    """Every whole φ up to ``phi_max`` fits: the answer is the search's ceiling."""
    checked: list[PhiCandidate] = field(default_factory=list)


@dataclass
class BudgetReport:
    """`effnet budget`: every official variant against the limits, the best by the paper's
    top-1, and the compound-scaling answer."""

    constraints: BudgetConstraints
    variants: list[BudgetRow]
    best_official: str | None
    compound: CompoundAnswer
    top1_source: str
    latency_notes: list[str] = field(default_factory=list)
    """One-line notes from the latency model (its calibration cache), for stderr."""
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    timings: list[BenchResult] = field(default_factory=list, repr=False)
    """bench's results for the candidates --measure timed (their spread says how busy the
    machine was)."""
    calibration: CalibrationState | None = None
    """The latency model's calibration, when latency was predicted: age, drift, band."""
