"""Every result the tool reports, as plain dataclasses: no torch, so views need none.

The measurement fills these (collect → total); the views render them; the JSON is their
``asdict``. Field names are the JSON keys of DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .arch.families import Coefficients, PaperFigures
from .arch.rules import Compound
from .arch.scaling import Derivation

ELEMENTWISE_KINDS = ("batch_norm", "activation", "multiply", "add", "pooling")
"""Element-wise work counted apart from MACs, one op per output element (pooling: input)."""

# ----------------------------------------------------------------------------- summary


@dataclass
class StageFigures:
    """One row of the scaled Table 1, measured."""

    stage: int
    operator: str
    kernel: int
    stride: int
    expand_ratio: int
    input_resolution: list[int]
    output_resolution: list[int]
    in_channels: int
    out_channels: int
    layers: int
    params: int
    macs: int
    params_share: float = 0.0
    macs_share: float = 0.0
    activation_bytes: int = 0
    elementwise_ops: dict[str, int] = field(default_factory=dict)
    kind: str = "conv"
    """What the stage is built from: "conv" (stem, head), "mbconv" or "fused"."""


@dataclass
class BlockFigures:
    """One block: its widths, where it sits, and what it costs."""

    stage: int
    block: int
    name: str
    kernel: int
    stride: int
    in_channels: int
    expanded_channels: int
    se_channels: int
    out_channels: int
    input_resolution: list[int]
    output_resolution: list[int]
    residual: bool
    stochastic_depth: float
    params: int
    macs: int
    kind: str = "mbconv"
    """The block's kind: "mbconv" or "fused" (Fused-MBConv, EfficientNetV2)."""


@dataclass
class Totals:
    """Whole-model figures; ``macs`` is conv + linear only (the paper's FLOPS)."""

    params: int
    trainable_params: int
    param_bytes: int
    buffer_bytes: int
    macs: int
    activation_bytes: int
    elementwise_ops: dict[str, int]
    engine_counts: dict[str, int] = field(default_factory=dict)
    weight_dtype: str = "float32"
    weight_bytes: int = 0
    """Parameters stored as ``weight_dtype`` (``--dtype``): what a deployment would ship."""
    inference_peak_bytes: int = 0
    """The memory engine's peak of one no-grad forward at this batch (live tensors)."""


@dataclass
class LayerRow:
    """One module of torchinfo's per-layer summary, with its dotted name."""

    name: str
    type: str
    depth: int
    output_shape: list[int]
    params: int
    mult_adds: int


@dataclass
class BenchResult:
    """Timing of one model: per-batch latency, images per second, peak memory."""

    variant: str
    title: str
    device: str
    batch_size: int
    resolution: int
    mode: str
    amp: str | None
    channels_last: bool
    compiled: bool
    threads: int
    warmup: int
    iterations: int
    latency_ms: dict[str, float]
    throughput: float
    peak_memory_bytes: int
    memory_kind: str
    samples_ms: list[float] = field(default_factory=list, repr=False)
    predicted_peak_bytes: int = 0
    """The memory engine's peak of the same step (live tensors, without the allocator's
    rounding, libraries' workspaces or the process around it)."""


@dataclass
class Summary:
    """Everything ``effnet summary`` shows, for one model at one input size."""

    variant: str
    title: str
    kind: str
    coefficients: Coefficients
    compound: Compound | None
    input: dict[str, int]
    num_classes: int
    include_top: bool
    pooling: str
    weights: str | None
    device: str
    engine: str
    dtype: str
    bn_eps: float
    bn_momentum: float
    stages: list[StageFigures]
    blocks: list[BlockFigures]
    totals: Totals
    output_shape: list[int]
    seconds: dict[str, float] = field(default_factory=dict)
    benchmark: BenchResult | None = None
    """Timing when the summary was taken on a real device."""
    layers: list[LayerRow] | None = None
    """torchinfo's per-layer view, when asked for (``--layers``)."""
    family: str = "v1"
    train_resolution: int | None = None
    """The size an official variant was trained at, when it differs from the evaluation size
    it is measured at (EfficientNetV2's progressive learning)."""

    @property
    def blocks_total(self) -> int:
        """Blocks in the stages between stem and head."""
        return sum(s.layers for s in self.stages[1:-1])


# ----------------------------------------------------------------------------- scale


@dataclass
class ScaleReport:
    """`effnet scale --phi F`: the derivation, the measured model, B0, the nearest official."""

    derivation: Derivation
    model: Summary
    base: Summary
    nearest: Summary
    official: Summary | None
    measured_macs_ratio: float
    measured_params_ratio: float


@dataclass
class OfficialRow:
    """The official variant made for one φ, measured, beside the formula's model."""

    variant: str
    width: float
    depth: float
    resolution: int
    params: int
    macs: int
    macs_ratio: float


@dataclass
class SweepRow:
    """One φ of `--sweep`: the formula's model, and the official Bφ where one exists."""

    phi: float
    depth_multiplier: float
    width_multiplier: float
    resolution: int
    params: int
    macs: int
    macs_ratio: float
    predicted_flops_ratio: float
    official: OfficialRow | None = None


@dataclass
class Sweep:
    """`effnet scale --sweep`: one row per φ at fixed α, β, γ and base."""

    compound: Compound
    rows: list[SweepRow]


@dataclass
class SearchRow:
    """One grid point of the paper's step 1, measured at φ = 1."""

    alpha: float
    beta: float
    gamma: float
    constraint: float
    resolution: int
    params: int
    macs: int
    macs_ratio: float
    distance_from_2x: float


@dataclass
class Search:
    """`effnet scale --search`: every candidate, best first, and the grid it came from."""

    grid_step: float
    tolerance: float
    top: int
    rows: list[SearchRow]


# ----------------------------------------------------------------------------- compare, list


@dataclass
class Comparison:
    """`effnet compare`: the models in order, ratios to the first, identical pairs."""

    models: list[Summary]
    params_ratio: list[float]
    macs_ratio: list[float]
    identical: list[list[str]] = field(default_factory=list)


@dataclass
class ListRow:
    """One official variant: released coefficients, measured cost, the paper's figures."""

    variant: str
    family: str
    coefficients: dict
    params: int
    macs: int
    param_bytes: int
    activation_bytes: int
    weight_dtype: str
    weight_bytes: int
    paper: PaperFigures | None
    params_m_paper_rounding: float | None
    flops_b_paper_rounding: float | None


@dataclass
class VariantSection:
    """One family's official variants in `effnet list`, with its paper's table."""

    family: str
    title: str
    paper_table: str
    rows: list[ListRow]
    paper_note: str = ""
    """Why the paper's figures are missing, where they are."""


@dataclass
class VariantList:
    """`effnet list`: the official variants of each family, in the family data's order."""

    sections: list[VariantSection]

    @property
    def rows(self) -> list[ListRow]:
        return [row for section in self.sections for row in section.rows]


# ----------------------------------------------------------------------------- memory


@dataclass
class MemoryStage:
    """One stage's share of a step's memory: what it keeps for backward, and the bytes
    live when its forward is done."""

    stage: int
    operator: str
    saved_bytes: int
    live_bytes_after: int


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
class MemoryReport:
    """`effnet memory`: the predicted peak of one step, what it is made of, where it is."""

    variant: str
    title: str
    mode: str
    batch_size: int
    resolution: int
    optimizer: str | None
    amp: str | None
    channels_last: bool
    device: str
    peak_bytes: int
    breakdown: dict[str, int]
    peak_at: dict[str, str | int | None]
    stages: list[MemoryStage]
    measured: MeasuredPeak | None = None
    max_batch: int | None = None
    limit_bytes: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- budget

LIMITS: dict[str, tuple[str, str, str]] = {
    "macs": ("max_macs", "macs", "--max-macs"),
    "params": ("max_params", "params", "--max-params"),
    "weights": ("max_weight_bytes", "weight_bytes", "--max-weights"),
    "memory": ("max_memory_bytes", "peak_bytes", "--max-memory"),
    "latency": ("max_latency_ms", "latency_ms", "--max-latency"),
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

    def active(self) -> list[str]:
        """The limits set, in checking order."""
        return [name for name, (limit, _, _) in LIMITS.items() if getattr(self, limit) is not None]


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
    latency_ms: float | None = None
    """The latency judged: measured with --measure where it was timed, else predicted."""
    latency_source: str | None = None
    predicted_latency_ms: float | None = None
    measured_latency_ms: float | None = None
    fits: bool = False
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
    stage: str = ""
    """Which pass of the search checked it: "whole" (φ = 0, 1, 2, …) or "fine"."""


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


@dataclass
class DeviceRoofline:
    """The device a profile ran on, and its roofline (measured, cached)."""

    name: str
    threads: int
    peak_macs_per_s: float
    bandwidth_bytes_per_s: float
    calibration_s: float


@dataclass
class ProfileRow:
    """One stage or op kind of `effnet profile`: time measured and predicted, work, traffic,
    and where it sits on the roofline."""

    stage: int | None
    kind: str
    """The stage's role (stem, blocks, head, classifier), or the op kind."""
    operator: str
    measured_ms: float | None
    predicted_ms: float | None
    macs: int
    bytes_read: int
    bytes_written: int
    bound_ms: float
    bound: str
    """'compute' or 'memory': which side of the roofline limits it."""

    @property
    def bytes_moved(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def intensity(self) -> float:
        """MACs per byte moved."""
        return self.macs / self.bytes_moved if self.bytes_moved else 0.0

    @property
    def times_bound(self) -> float | None:
        """Measured time as a multiple of the roofline bound."""
        if self.measured_ms is None or not self.bound_ms:
            return None
        return self.measured_ms / self.bound_ms


@dataclass
class ProfileReport:
    """`effnet profile`: where the time of one step goes, stage by stage and by op kind."""

    variant: str
    title: str
    device: DeviceRoofline
    batch_size: int
    resolution: int
    mode: str
    amp: str | None
    channels_last: bool
    warmup: int
    iterations: int
    stages: list[ProfileRow]
    op_kinds: list[ProfileRow]
    measured_ms: float | None
    predicted_ms: float | None
    p90_ms: float | None = None
    op_steps: int = 0
    """Steps timed under torch.profiler for the op kinds (apart from the stage timing)."""
    op_kinds_total_ms: float | None = None
    calibration: list[str] = field(default_factory=list)
    """The models the latency prediction was fitted on (never the one predicted)."""
    notes: list[str] = field(default_factory=list)
    samples_ms: list[float] = field(default_factory=list, repr=False)
