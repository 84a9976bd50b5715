"""What `effnet summary` reports: one model's stages, blocks, layers and totals, counted."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..arch.families import Coefficients
from ..arch.rules import Compound
from ..kinds import BlockKind, OpKind, SpecKind
from .timing import BenchResult

ELEMENTWISE_KINDS = (OpKind.BATCH_NORM, OpKind.ACTIVATION, OpKind.MULTIPLY, OpKind.ADD,
                     OpKind.POOLING)  # fmt: skip
"""Element-wise work counted apart from MACs, one op per output element (pooling: input)."""


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
    kind: BlockKind = BlockKind.CONV
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
    kind: BlockKind = BlockKind.MBCONV
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
class Summary:
    """Everything ``effnet summary`` shows, for one model at one input size."""

    variant: str
    title: str
    kind: SpecKind
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
