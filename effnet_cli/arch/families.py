"""Architecture as data: each EfficientNet family's base network, variants and published figures.

A family is everything the tool knows about one generation of EfficientNet, as rows: the
base stages (block kind, expansion, kernel, stride, channels, layers, squeeze-excitation
ratio), stem and head, the official variants with their released coefficients and batch-norm
settings, and the paper's own figures. The model builder, the measurement, every table and
every chart walk these rows; no other module knows how many stages a network has.

No torch here: parsing a spec and rendering a report must stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..kinds import BlockKind

MBCONV, FUSED = BlockKind.MBCONV, BlockKind.FUSED
BOTTLENECK, SEPARABLE = BlockKind.BOTTLENECK, BlockKind.SEPARABLE
BLOCK_KINDS = (MBCONV, FUSED, BOTTLENECK, SEPARABLE)
ACTIVATIONS = ("silu", "relu", "relu6")
"""The activations a family's blocks may use: EfficientNet's SiLU (swish), ResNet's and
EdgeTPU's ReLU, MobileNetV2's and Lite's ReLU6."""


OPERATOR_NAMES = {MBCONV: "MBConv", FUSED: "Fused-MBConv", BOTTLENECK: "Bottleneck",
                  SEPARABLE: "SepConv"}  # fmt: skip
"""How a block kind is named in a stage table's operator column (SepConv as in MnasNet's
and EfficientNet-Lite's figures)."""


@dataclass(frozen=True)
class StageRow:
    """One stage of blocks in a family's base network, before any scaling.

    ``se_ratio`` is the squeeze-excitation width as a fraction of the block's *input*
    channels (torchvision's convention); 0 means the block has no squeeze-excitation.
    """

    kind: BlockKind
    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    layers: int
    se_ratio: float
    expand_from: int = 0
    """The channel count the first block's expansion is computed from, when it is not the
    block's input (EdgeTPU's first stage expands 24 channels' worth from a 32-channel stem:
    timm's ``fc24``); 0: the input channels."""
    skip: bool = True
    """Whether blocks whose input and output shapes agree add the residual (MobileNetV1's
    and EdgeTPU's first stage never do)."""
    fixed_depth: bool = False
    """The depth multiplier leaves this stage's layer count alone (Lite's first and last)."""


WIDTH, FIXED, UP = "width", "fixed", "up"
"""How a stem or head follows the width multiplier: scaled and rounded like every stage,
kept as it is (Lite), or scaled only upwards (MobileNetV2's last conv stays 1280 for
w < 1)."""


@dataclass(frozen=True)
class ConvRow:
    """The stem or head: one conv-bn-act, never repeated. ``channels`` 0 means no conv
    (a head of pooling and FC only: ResNet, MobileNetV1); ``pool`` is the kernel of a max
    pool of stride 2 after it (ResNet's stem), 0 for none."""

    channels: int
    kernel: int
    stride: int
    pool: int = 0
    scaling: str = WIDTH


@dataclass(frozen=True)
class BatchNorm:
    """Batch-norm epsilon and momentum (torch's convention: weight of the new statistic)."""

    eps: float
    momentum: float


TORCH_BN = BatchNorm(1e-5, 0.1)
TF_BN = BatchNorm(1e-3, 0.01)
"""The TF ports' setting (momentum 0.99 in Keras' convention)."""


@dataclass(frozen=True)
class Coefficients:
    """Width and depth multipliers, input resolution and classifier dropout of one model."""

    width: float
    depth: float
    resolution: int
    dropout: float


@dataclass(frozen=True)
class PaperFigures:
    """What a paper's table reports for an official variant, with the decimals it printed
    (0.70B has two), so a measurement can be rounded the same way."""

    params_m: float
    flops_b: float
    top1: float
    params_decimals: int
    flops_decimals: int


def printed(params: str, flops: str, top1: float) -> PaperFigures:
    """Paper figures from the text as printed, keeping how many decimals each one shows."""

    def decimals(text: str) -> int:
        return len(text.partition(".")[2])

    return PaperFigures(float(params), float(flops), top1, decimals(params), decimals(flops))


@dataclass(frozen=True)
class Architecture:
    """The rows a network is built from before scaling: stem, stages of blocks, head."""

    stem: ConvRow
    stages: tuple[StageRow, ...]
    head: ConvRow


@dataclass(frozen=True)
class Variant:
    """One official model of a family: its released coefficients and what the paper says."""

    name: str
    title: str
    coefficients: Coefficients
    batch_norm: BatchNorm
    paper: PaperFigures | None = None
    phi: int | None = None
    """The compound coefficient this variant stands for (B1 is φ=1), when it has one."""
    architecture: Architecture | None = None
    """A hand-set table of its own (EfficientNetV2-S/M/L/XL); None: the family's base,
    scaled by the coefficients."""
    train_resolution: int | None = None
    """The image size it was trained at (progressive learning ends there), when it differs."""
    aliases: tuple[str, ...] = ()
    """Other spellings the grammar accepts (timm's and torchvision's names), after the
    'efficientnet' prefixes are stripped and '_' read as '-'."""
    reference: str = ""
    """The implementation this variant reproduces, layer for layer (e.g. 'timm
    efficientnet_lite0'): what its counts are checked against."""


@dataclass(frozen=True)
class Family:
    """A generation of EfficientNet: base network, scaling rules, official variants."""

    key: str
    title: str
    stages: tuple[StageRow, ...]
    stem: ConvRow
    head: ConvRow
    variants: dict[str, Variant] = field(hash=False, compare=False)
    divisor: int = 8
    """Channel counts round to a multiple of this (the paper's released code)."""
    stochastic_depth: float = 0.2
    """Drop probability reached by the last block; earlier blocks scale linearly from 0."""
    batch_norm: BatchNorm = TORCH_BN
    """Batch-norm of custom scalings."""
    dropout: float = 0.2
    """Classifier dropout of custom scalings."""
    base_resolution: int = 224
    paper_table: str = ""
    """Where the variants' paper figures come from, e.g. "Table 2"."""
    paper_name: str = ""
    """The paper ``paper_table`` belongs to, when not the family's own (ResNet's figures
    are the EfficientNet paper's comparators); '' for the family's title."""
    stage_table: str = "Table 1"
    """The paper's table of the base network's stages, whose style the stage view follows."""
    paper_note: str = ""
    """What to say when the paper's figures are not shown."""
    round_limit: float = 0.9
    """Channel rounding never goes below this fraction of c·w (V1's released code); 0: plain
    rounding to the divisor (V2's code)."""
    se_in_operator: bool = False
    """Whether operator names carry the SE ratio (V2's Table 4 style)."""
    compound: bool = True
    """Whether the φ rule (d = α^φ, w = β^φ, r = base·γ^φ) may scale this family's base:
    EfficientNet's own, and the paper's Table 3 applies it to MobileNets and ResNet-50;
    EfficientNetV2 scales otherwise."""
    activation: str = "silu"
    """The blocks', stem's and head's activation (one of ``ACTIVATIONS``); squeeze-excitation
    keeps its own SiLU and sigmoid."""
    scaling_rule: str = (
        "channels: round8(C·w), never below 90 % of C·w (the released code); layers ⌈L·d⌉"
    )
    """How width and depth multipliers become channels and layers, as the family's
    reference implementation rounds them: said in `scale`'s derivation."""

    @property
    def base(self) -> str:
        """The base network scaling starts from: the first official variant (b0, resnet50)."""
        return next(iter(self.variants))

    def stage_operator(self, row: StageRow) -> str:
        """The paper's operator name: 'MBConv6, k5x5', 'Fused-MBConv4, k3x3',
        'MBConv6, k3x3, SE0.25', 'Bottleneck, k3x3', 'SepConv, k3x3'."""
        kernel = f"k{row.kernel}x{row.kernel}"
        if row.kind in (BOTTLENECK, SEPARABLE):
            return f"{OPERATOR_NAMES[row.kind]}, {kernel}"
        text = f"{OPERATOR_NAMES[row.kind]}{row.expand_ratio}, {kernel}"
        if self.se_in_operator and row.se_ratio:
            text += f", SE{row.se_ratio:g}"
        return text

    def architecture(self, variant: str | None = None) -> Architecture:
        """The rows a model of this family is built from: a variant's own table, or the base."""
        own = self.variants[variant].architecture if variant in self.variants else None
        return own or Architecture(self.stem, self.stages, self.head)


def _v1_variants() -> dict[str, Variant]:
    """B0-B7 from the paper's released code and Table 2; B8 and L2 from the later TF ports."""
    coefficients = {
        "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
        "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
        "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5), "b8": (2.2, 3.6, 672, 0.5),
        "l2": (4.3, 5.3, 800, 0.5),
    }  # fmt: skip
    paper = {
        "b0": printed("5.3", "0.39", 77.1), "b1": printed("7.8", "0.70", 79.1),
        "b2": printed("9.2", "1.0", 80.1), "b3": printed("12", "1.8", 81.6),
        "b4": printed("19", "4.2", 82.9), "b5": printed("30", "9.9", 83.6),
        "b6": printed("43", "19", 84.0), "b7": printed("66", "37", 84.3),
    }  # fmt: skip
    # torchvision builds B5-B7 with the TF batch-norm settings; B8 and L2 exist only as TF
    # ports, which use the same.
    tf_bn = {"b5", "b6", "b7", "b8", "l2"}
    out = {}
    for name, (w, d, r, drop) in coefficients.items():
        out[name] = Variant(
            name=name,
            title=f"EfficientNet-{name.upper()}",
            coefficients=Coefficients(w, d, r, drop),
            batch_norm=TF_BN if name in tf_bn else TORCH_BN,
            paper=paper.get(name),
            phi=int(name[1]) if name in paper else None,
        )
    return out


V1 = Family(
    key="v1",
    title="EfficientNet",
    stages=(
        StageRow(MBCONV, 1, 3, 1, 32, 16, 1, 0.25),
        StageRow(MBCONV, 6, 3, 2, 16, 24, 2, 0.25),
        StageRow(MBCONV, 6, 5, 2, 24, 40, 2, 0.25),
        StageRow(MBCONV, 6, 3, 2, 40, 80, 3, 0.25),
        StageRow(MBCONV, 6, 5, 1, 80, 112, 3, 0.25),
        StageRow(MBCONV, 6, 5, 2, 112, 192, 4, 0.25),
        StageRow(MBCONV, 6, 3, 1, 192, 320, 1, 0.25),
    ),
    stem=ConvRow(32, 3, 2),
    head=ConvRow(1280, 1, 1),
    variants=_v1_variants(),
    paper_table="Table 2",
)


def _v2_rows(stem: int, rows: list[tuple[str, int, int, int, int, int]]) -> Architecture:
    """A V2 table from (kind, expansion, stride, in, out, layers) rows; kernels are 3×3,
    MBConv stages have squeeze-excitation at 0.25, the head is 1280 channels."""
    stages = tuple(
        StageRow(kind, e, 3, s, cin, cout, n, 0.25 if kind == MBCONV else 0.0)
        for kind, e, s, cin, cout, n in rows
    )
    return Architecture(ConvRow(stem, 3, 2), stages, ConvRow(1280, 1, 1))


F, M = FUSED, MBCONV
V2_TABLES = {
    "v2-s": _v2_rows(24, [(F, 1, 1, 24, 24, 2), (F, 4, 2, 24, 48, 4), (F, 4, 2, 48, 64, 4),
                          (M, 4, 2, 64, 128, 6), (M, 6, 1, 128, 160, 9),
                          (M, 6, 2, 160, 256, 15)]),
    "v2-m": _v2_rows(24, [(F, 1, 1, 24, 24, 3), (F, 4, 2, 24, 48, 5), (F, 4, 2, 48, 80, 5),
                          (M, 4, 2, 80, 160, 7), (M, 6, 1, 160, 176, 14),
                          (M, 6, 2, 176, 304, 18), (M, 6, 1, 304, 512, 5)]),
    "v2-l": _v2_rows(32, [(F, 1, 1, 32, 32, 4), (F, 4, 2, 32, 64, 7), (F, 4, 2, 64, 96, 7),
                          (M, 4, 2, 96, 192, 10), (M, 6, 1, 192, 224, 19),
                          (M, 6, 2, 224, 384, 25), (M, 6, 1, 384, 640, 7)]),
    "v2-xl": _v2_rows(32, [(F, 1, 1, 32, 32, 4), (F, 4, 2, 32, 64, 8), (F, 4, 2, 64, 96, 8),
                           (M, 4, 2, 96, 192, 16), (M, 6, 1, 192, 256, 24),
                           (M, 6, 2, 256, 512, 32), (M, 6, 1, 512, 640, 8)]),
}  # fmt: skip
"""The hand-set tables of the official configs (google/automl effnetv2_configs), which
torchvision's efficientnet_v2_s/m/l and timm's tf_efficientnetv2_* reproduce."""
V2_BASE = _v2_rows(32, [(F, 1, 1, 32, 16, 1), (F, 4, 2, 16, 32, 2), (F, 4, 2, 32, 48, 2),
                        (M, 4, 2, 48, 96, 3), (M, 6, 1, 96, 112, 5),
                        (M, 6, 2, 112, 192, 8)])  # fmt: skip
"""The B-series base (V2-B0): B1-B3 scale it by width and depth as V1 scales B0."""


def _v2_variants() -> dict[str, Variant]:
    """V2-B0..B3 (base scaled) and S/M/L/XL (own tables): (width, depth, train, eval, dropout)."""
    settings = {
        "v2-b0": (1.0, 1.0, 192, 224, 0.2), "v2-b1": (1.0, 1.1, 192, 240, 0.2),
        "v2-b2": (1.1, 1.2, 208, 260, 0.3), "v2-b3": (1.2, 1.4, 240, 300, 0.3),
        "v2-s": (1.0, 1.0, 300, 384, 0.2), "v2-m": (1.0, 1.0, 384, 480, 0.3),
        "v2-l": (1.0, 1.0, 384, 480, 0.4), "v2-xl": (1.0, 1.0, 384, 512, 0.4),
    }  # fmt: skip
    return {
        name: Variant(
            name=name,
            title=f"EfficientNetV2-{name.removeprefix('v2-').upper()}",
            coefficients=Coefficients(w, d, evaluate, drop),
            batch_norm=BatchNorm(1e-3, 0.1),
            architecture=V2_TABLES.get(name),
            train_resolution=train,
        )
        for name, (w, d, train, evaluate, drop) in settings.items()
    }


V2 = Family(
    key="v2",
    title="EfficientNetV2",
    stages=V2_BASE.stages,
    stem=V2_BASE.stem,
    head=V2_BASE.head,
    variants=_v2_variants(),
    batch_norm=BatchNorm(1e-3, 0.1),
    paper_table="Table 7",
    stage_table="Table 4",
    paper_note="effnet carries no figures from the EfficientNetV2 paper (top-1, params, FLOPs).",
    round_limit=0.0,
    se_in_operator=True,
    compound=False,
    scaling_rule=(
        "channels: C·w to the nearest multiple of 8 (V2's code: no 90 % floor); layers ⌈L·d⌉"
    ),
)


def _variants(
    prefix: str, title: str, settings: dict[str, tuple[float, float, int, float]],
    reference: str,
    aliases: dict[str, tuple[str, ...]] | None = None,
    tables: dict[str, Architecture] | None = None,
    paper: dict[str, PaperFigures] | None = None,
) -> dict[str, Variant]:  # fmt: skip
    """Variants from (width, depth, resolution, dropout) rows; ``title`` and ``reference``
    are formats of the name less ``prefix`` ('lite0' less 'lite': 'EfficientNet-Lite{}' →
    'EfficientNet-Lite0')."""
    out = {}
    for name, (w, d, r, drop) in settings.items():
        suffix = name.removeprefix(prefix)
        out[name] = Variant(
            name=name,
            title=title.format(suffix.upper()),
            coefficients=Coefficients(w, d, r, drop),
            batch_norm=TORCH_BN,
            architecture=(tables or {}).get(name),
            aliases=(aliases or {}).get(name, ()),
            reference=reference.format(suffix),
            paper=(paper or {}).get(name),
        )
    return out


LITE = Family(
    key="lite",
    title="EfficientNet-Lite",
    stages=tuple(
        replace(row, se_ratio=0.0, fixed_depth=i in (0, len(V1.stages) - 1))
        for i, row in enumerate(V1.stages)
    ),
    stem=ConvRow(32, 3, 2, scaling=FIXED),
    head=ConvRow(1280, 1, 1, scaling=FIXED),
    variants=_variants(
        "lite", "EfficientNet-Lite{}",
        {"lite0": (1.0, 1.0, 224, 0.2), "lite1": (1.0, 1.1, 240, 0.2),
         "lite2": (1.1, 1.2, 260, 0.3), "lite3": (1.2, 1.4, 280, 0.3),
         "lite4": (1.4, 1.8, 300, 0.3)},
        "timm efficientnet_lite{}",
    ),
    paper_note="EfficientNet-Lite has no paper: effnet carries no published figures for it.",
    scaling_rule=(
        "channels: round8(C·w), never below 90 % (timm's round_channels), stem 32 and head 1280 "
        "fixed; layers ⌈L·d⌉ but the first and last stage (timm's fix_first_last)"
    ),
    activation="relu6",
)  # fmt: skip
"""B0's stages without squeeze-excitation, ReLU6 for swish, stem and head fixed, the first
and last stage never deepened: what quantizes and runs well on mobile accelerators (timm's
efficientnet_lite0-4, TF's EfficientNet-Lite)."""

EDGETPU = Family(
    key="edgetpu",
    title="EfficientNet-EdgeTPU",
    stages=(
        StageRow(FUSED, 4, 3, 1, 32, 24, 1, 0.0, expand_from=24, skip=False),
        StageRow(FUSED, 8, 3, 2, 24, 32, 2, 0.0),
        StageRow(FUSED, 8, 3, 2, 32, 48, 4, 0.0),
        StageRow(MBCONV, 8, 5, 2, 48, 96, 5, 0.0),
        StageRow(MBCONV, 8, 5, 1, 96, 144, 4, 0.0),
        StageRow(MBCONV, 8, 5, 2, 144, 192, 2, 0.0),
    ),
    stem=ConvRow(32, 3, 2),
    head=ConvRow(1280, 1, 1),
    variants=_variants(
        "edgetpu-", "EfficientNet-EdgeTPU-{}",
        {"edgetpu-s": (1.0, 1.0, 224, 0.2), "edgetpu-m": (1.0, 1.1, 240, 0.2),
         "edgetpu-l": (1.2, 1.4, 300, 0.3)},
        "timm efficientnet_e{}",
        aliases={"edgetpu-s": ("es",), "edgetpu-m": ("em",), "edgetpu-l": ("el",)},
    ),
    paper_note="effnet carries no published figures for EfficientNet-EdgeTPU.",
    scaling_rule=(
        "channels: round8(C·w), never below 90 % (timm's round_channels), stem and head "
        "included; layers ⌈L·d⌉ in every stage, the first too (timm)"
    ),
    activation="relu",
)  # fmt: skip
"""Fused-MBConv early stages (a full 3×3 conv in place of expand + depthwise, which the
EdgeTPU runs faster), ReLU, no squeeze-excitation (timm's efficientnet_es/em/el)."""


def _resnet(layers: tuple[int, int, int, int]) -> Architecture:
    """torchvision's ResNet (v1.5: the stride on the 3×3 conv) from its four stage depths."""
    widths = (256, 512, 1024, 2048)
    stages = tuple(
        StageRow(BOTTLENECK, 4, 3, 1 if i == 0 else 2, 64 if i == 0 else widths[i - 1], c, n,
                 0.0)
        for i, (c, n) in enumerate(zip(widths, layers, strict=True))
    )  # fmt: skip
    return Architecture(ConvRow(64, 7, 2, pool=3), stages, ConvRow(0, 1, 1))


RESNET_TABLES = {"resnet50": _resnet((3, 4, 6, 3)), "resnet101": _resnet((3, 4, 23, 3)),
                 "resnet152": _resnet((3, 8, 36, 3))}  # fmt: skip
RESNET_PAPER = {"resnet50": printed("26", "4.1", 76.0), "resnet152": printed("60", "11", 77.8)}
"""ResNet-50 and ResNet-152 as the EfficientNet paper's Table 2 prints them (arXiv
1905.11946v5), beside B0 and B1."""
RESNET = Family(
    key="resnet",
    title="ResNet",
    stages=RESNET_TABLES["resnet50"].stages,
    stem=RESNET_TABLES["resnet50"].stem,
    head=RESNET_TABLES["resnet50"].head,
    variants=_variants(
        "resnet", "ResNet-{}",
        {f"resnet{n}": (1.0, 1.0, 224, 0.0) for n in (50, 101, 152)},
        "torchvision resnet{}",
        aliases={f"resnet{n}": (f"resnet-{n}",) for n in (50, 101, 152)},
        tables=RESNET_TABLES,
        paper=RESNET_PAPER,
    ),
    stochastic_depth=0.0,
    dropout=0.0,
    paper_table="Table 2",
    paper_name="EfficientNet",
    scaling_rule=(
        "channels: round8(C·w), never below 90 %, the bottleneck's middle C/4; layers ⌈L·d⌉ "
        "per stage (torchvision and timm have no width multiplier: EfficientNet's rule)"
    ),
    activation="relu",
)  # fmt: skip
"""The paper's baseline of Tables 2-4, in torchvision's layout: bottleneck stages of
expansion 4, a 7×7 stem with a max pool, no head conv."""

MOBILENET_V1 = Family(
    key="mobilenetv1",
    title="MobileNetV1",
    stages=tuple(
        StageRow(SEPARABLE, 1, 3, s, cin, cout, n, 0.0, skip=False)
        for s, cin, cout, n in ((1, 32, 64, 1), (2, 64, 128, 2), (2, 128, 256, 2),
                                (2, 256, 512, 6), (2, 512, 1024, 2))
    ),
    stem=ConvRow(32, 3, 2),
    head=ConvRow(0, 1, 1),
    variants=_variants("mobilenetv", "MobileNetV{}", {"mobilenetv1": (1.0, 1.0, 224, 0.0)},
                       "timm mobilenetv1_100",
                       {"mobilenetv1": ("mobilenet-v1", "mobilenetv1-100")}),
    stochastic_depth=0.0,
    dropout=0.0,
    paper_note="effnet carries no figures from the MobileNet paper.",
    scaling_rule="channels: round8(C·w), never below 90 % (timm's round_channels); layers ⌈L·d⌉",
    activation="relu6",
)  # fmt: skip
"""Depthwise-separable convs, no residuals, no head conv, ReLU6 (timm's mobilenetv1_100; the
MobileNet paper's table names ReLU, TF's and timm's implementations run ReLU6)."""

MOBILENET_V2 = Family(
    key="mobilenetv2",
    title="MobileNetV2",
    stages=tuple(
        StageRow(MBCONV, t, 3, s, cin, cout, n, 0.0)
        for t, s, cin, cout, n in ((1, 1, 32, 16, 1), (6, 2, 16, 24, 2), (6, 2, 24, 32, 3),
                                   (6, 2, 32, 64, 4), (6, 1, 64, 96, 3), (6, 2, 96, 160, 3),
                                   (6, 1, 160, 320, 1))
    ),
    stem=ConvRow(32, 3, 2),
    head=ConvRow(1280, 1, 1, scaling=UP),
    variants=_variants("mobilenetv", "MobileNetV{}", {"mobilenetv2": (1.0, 1.0, 224, 0.2)},
                       "torchvision mobilenet_v2",
                       {"mobilenetv2": ("mobilenet-v2", "mobilenetv2-100")}),
    stochastic_depth=0.0,
    paper_note="effnet carries no figures from the MobileNetV2 paper.",
    stage_table="Table 2",
    scaling_rule=(
        "channels: _make_divisible(C·w, 8), never below 90 % (torchvision), head 1280·max(1, w); "
        "layers ⌈L·d⌉ (timm's depth multiplier: torchvision has none)"
    ),
    activation="relu6",
)  # fmt: skip
"""Inverted residuals without squeeze-excitation, ReLU6 (torchvision's mobilenet_v2, the
block EfficientNet's MBConv grew from)."""

FAMILIES: dict[str, Family] = {
    f.key: f for f in (V1, V2, LITE, EDGETPU, RESNET, MOBILENET_V1, MOBILENET_V2)
}


def family_of(variant: str) -> Family:
    """The family an official variant name belongs to."""
    for family in FAMILIES.values():
        if variant in family.variants:
            return family
    raise KeyError(variant)
