"""EfficientNet architecture as data: base stages, official coefficients, the variant grammar.

Everything the model and every table need is resolved here, once, into a ``ResolvedSpec``.
This module imports no torch, so parsing and validating a variant costs nothing and
`effnet --help` and every bad-input error stay fast.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, replace

from ..errors import UsageError

DIVISOR = 8
"""Channel counts are rounded to a multiple of this (the paper's released code)."""

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
SE_RATIO = 0.25
"""Squeeze-excitation width as a fraction of the block's *input* channels (torchvision)."""

STOCHASTIC_DEPTH_PROB = 0.2
"""Drop probability reached by the last block; earlier blocks scale linearly from 0."""

DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_GAMMA = 1.2, 1.1, 1.15
BASE_RESOLUTION = 224


@dataclass(frozen=True)
class BaseStage:
    """One MBConv stage of B0 (Table 1, stages 2-8) before any scaling."""

    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    layers: int


BASE_STAGES: tuple[BaseStage, ...] = (
    BaseStage(1, 3, 1, 32, 16, 1),
    BaseStage(6, 3, 2, 16, 24, 2),
    BaseStage(6, 5, 2, 24, 40, 2),
    BaseStage(6, 3, 2, 40, 80, 3),
    BaseStage(6, 5, 1, 80, 112, 3),
    BaseStage(6, 5, 2, 112, 192, 4),
    BaseStage(6, 3, 1, 192, 320, 1),
)


@dataclass(frozen=True)
class Coefficients:
    """Width and depth multipliers, input resolution and classifier dropout of one model."""

    width: float
    depth: float
    resolution: int
    dropout: float


OFFICIAL: dict[str, Coefficients] = {
    "b0": Coefficients(1.0, 1.0, 224, 0.2),
    "b1": Coefficients(1.0, 1.1, 240, 0.2),
    "b2": Coefficients(1.1, 1.2, 260, 0.3),
    "b3": Coefficients(1.2, 1.4, 300, 0.3),
    "b4": Coefficients(1.4, 1.8, 380, 0.4),
    "b5": Coefficients(1.6, 2.2, 456, 0.4),
    "b6": Coefficients(1.8, 2.6, 528, 0.5),
    "b7": Coefficients(2.0, 3.1, 600, 0.5),
    "b8": Coefficients(2.2, 3.6, 672, 0.5),
    "l2": Coefficients(4.3, 5.3, 800, 0.5),
}

# torchvision builds B5-B7 with the TF batch-norm settings; B8 and L2 exist only as TF ports,
# which use the same.  Custom scalings follow B0.
_TF_BATCH_NORM = frozenset({"b5", "b6", "b7", "b8", "l2"})


@dataclass(frozen=True)
class PaperFigures:
    """What Table 2 of the paper reports for an official variant, with the decimals it
    printed (0.70B has two), so a measurement can be rounded the same way."""

    params_m: float
    flops_b: float
    top1: float
    params_decimals: int
    flops_decimals: int


def _printed(params: str, flops: str, top1: float) -> PaperFigures:
    def decimals(text: str) -> int:
        return len(text.partition(".")[2])

    return PaperFigures(float(params), float(flops), top1, decimals(params), decimals(flops))


PAPER: dict[str, PaperFigures] = {
    "b0": _printed("5.3", "0.39", 77.1),
    "b1": _printed("7.8", "0.70", 79.1),
    "b2": _printed("9.2", "1.0", 80.1),
    "b3": _printed("12", "1.8", 81.6),
    "b4": _printed("19", "4.2", 82.9),
    "b5": _printed("30", "9.9", 83.6),
    "b6": _printed("43", "19", 84.0),
    "b7": _printed("66", "37", 84.3),
}


class SpecError(UsageError):
    """A variant spec or scaling value the tool cannot accept; the message is user-facing."""


@dataclass(frozen=True)
class StageSpec:
    """One row of the (scaled) Table 1: what a stage is, independent of input size."""

    stage: int
    operator: str
    kernel: int
    stride: int
    expand_ratio: int
    in_channels: int
    out_channels: int
    layers: int


@dataclass(frozen=True)
class Compound:
    """The compound-scaling inputs a spec came from (absent for official and raw specs)."""

    phi: float
    alpha: float
    beta: float
    gamma: float
    base_resolution: int


@dataclass(frozen=True)
class ResolvedSpec:
    """A fully resolved model: the single source for the nn.Module and every table."""

    name: str
    kind: str  # "official", "compound" or "custom"
    coefficients: Coefficients
    stages: tuple[StageSpec, ...]
    bn_eps: float
    bn_momentum: float
    compound: Compound | None = None

    @property
    def title(self) -> str:
        """Human name: EfficientNet-B3, or the spec as typed for custom scalings."""
        return f"EfficientNet-{self.name.upper()}" if self.kind == "official" else self.name


def round_filters(channels: int, width: float) -> int:
    """Scale a channel count by ``width``, round to a multiple of 8, never more than 10% down."""
    scaled = channels * width
    rounded = max(DIVISOR, int(scaled + DIVISOR / 2) // DIVISOR * DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += DIVISOR
    return rounded


def round_repeats(layers: int, depth: float) -> int:
    """Scale a stage's layer count by ``depth``, rounding up as the paper's code does."""
    return math.ceil(layers * depth)


def _operator(stage: BaseStage) -> str:
    return f"MBConv{stage.expand_ratio}, k{stage.kernel}x{stage.kernel}"


def scaled_stages(width: float, depth: float) -> tuple[StageSpec, ...]:
    """All nine Table-1 stages (stem, seven MBConv stages, head) for these multipliers."""
    stem = round_filters(STEM_CHANNELS, width)
    rows = [StageSpec(1, "Conv3x3", 3, 2, 1, 3, stem, 1)]
    for index, base in enumerate(BASE_STAGES, start=2):
        rows.append(
            StageSpec(
                stage=index,
                operator=_operator(base),
                kernel=base.kernel,
                stride=base.stride,
                expand_ratio=base.expand_ratio,
                in_channels=round_filters(base.in_channels, width),
                out_channels=round_filters(base.out_channels, width),
                layers=round_repeats(base.layers, depth),
            )
        )
    last = rows[-1].out_channels
    head = round_filters(HEAD_CHANNELS, width)
    rows.append(StageSpec(9, "Conv1x1 & Pooling & FC", 1, 1, 1, last, head, 1))
    return tuple(rows)


def compound_coefficients(
    phi: float,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    gamma: float = DEFAULT_GAMMA,
    base_resolution: int = BASE_RESOLUTION,
) -> Coefficients:
    """d = α^φ, w = β^φ, r = base·γ^φ rounded to the nearest pixel; dropout stays B0's."""
    try:
        width, depth, exact = beta**phi, alpha**phi, base_resolution * gamma**phi
    except OverflowError:
        raise SpecError(
            f"phi={phi:g} overflows α^φ, β^φ or γ^φ: far past the limits "
            f"({MAX_BLOCKS:,} blocks, width {MAX_WIDTH:g}, {MAX_RESOLUTION} px)"
        ) from None
    return Coefficients(width, depth, math.floor(exact + 0.5), OFFICIAL["b0"].dropout)


# ----------------------------------------------------------------------------- parsing

_KEY_ALIASES = {
    "phi": "phi",
    "φ": "phi",
    "alpha": "alpha",
    "beta": "beta",
    "gamma": "gamma",
    "base": "base",
    "w": "w",
    "width": "w",
    "d": "d",
    "depth": "d",
    "r": "r",
    "res": "r",
    "resolution": "r",
    "dropout": "dropout",
}
_COMPOUND_KEYS = {"phi", "alpha", "beta", "gamma", "base", "dropout"}
_RAW_KEYS = {"w", "d", "r", "dropout"}
_PREFIXES = ("efficientnet-", "efficientnet_", "efficientnet")
GRAMMAR_HINT = "b0-b7, b8, l2, phi=F[,alpha=A,beta=B,gamma=G] or w=W,d=D,r=R[,dropout=P]"


def parse_number(text: str, label: str) -> float:
    """A finite float from user text; the error quotes ``label`` (e.g. "'phi=abc'")."""
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{label} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"{label} must be a finite number")
    return value


def _finite(key: str, text: str) -> float:
    return parse_number(text, f"'{key}={text}'")


def check_positive(key: str, value: float) -> float:
    """Reject zero, negative, NaN and infinite multipliers with a message naming the value."""
    if not math.isfinite(value) or value <= 0:
        raise SpecError(f"{key} must be a finite number > 0, got {value:g}")
    return value


def check_phi(value: float) -> float:
    """φ may be fractional or 0 (B0 itself) but not negative: the base network is the floor."""
    if not math.isfinite(value) or value < 0:
        raise SpecError(f"phi must be a finite number >= 0, got {value:g}")
    return value


MIN_RESOLUTION = 32
"""The network's total stride: below it the last stages see a 1×1 map (Keras' min_size too)."""
MAX_RESOLUTION = 16_384
MAX_BLOCKS = 1_000
"""MBConv blocks in one model (L2 has 88, φ=12 has 144): beyond it building becomes a hang."""
MAX_WIDTH = 50.0
"""Width multiplier (L2 is 4.3, φ=41 at β=1.1 reaches it)."""


def check_resolution(value: int, what: str = "resolution") -> int:
    """Input sizes the tool accepts: from the network's total stride to a stated ceiling."""
    if not MIN_RESOLUTION <= value <= MAX_RESOLUTION:
        raise SpecError(
            f"{what} {value} is outside {MIN_RESOLUTION}..{MAX_RESOLUTION} px "
            f"(the network downsamples by 32; the ceiling keeps models analysable)"
        )
    return value


def check_limits(spec: ResolvedSpec) -> ResolvedSpec:
    """Refuse models past the stated limits, naming the limit, before anything is built."""
    blocks = sum(row.layers for row in spec.stages[1:8])
    if blocks > MAX_BLOCKS:
        raise SpecError(
            f"'{spec.name}' has {blocks:,.4g} MBConv blocks (depth {spec.coefficients.depth:.4g}); "
            f"the limit is {MAX_BLOCKS:,}"
        )
    if spec.coefficients.width > MAX_WIDTH:
        raise SpecError(
            f"'{spec.name}' has width {spec.coefficients.width:.4g}; the limit is {MAX_WIDTH:g}"
        )
    check_resolution(spec.coefficients.resolution, f"'{spec.name}' resolution")
    return spec


def check_compound(phi: float, alpha: float, beta: float, gamma: float, base: int) -> None:
    """φ ≥ 0; α, β, γ finite and > 0; the base resolution within the stated limits."""
    check_phi(phi)
    for key, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        check_positive(key, value)
    check_resolution(base, "base resolution")


def check_dropout(value: float) -> float:
    """Dropout is a probability in [0, 1)."""
    if not 0 <= value < 1:
        raise SpecError(f"dropout must be in [0, 1), got {value:g}")
    return value


def _split_pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not key or not value.strip():
            where = "" if part.strip() == text.strip() else f" in '{text}'"
            raise SpecError(f"'{part.strip()}'{where} is not key=value ({GRAMMAR_HINT})")
        if key not in _KEY_ALIASES:
            known = ", ".join(sorted(set(_KEY_ALIASES.values())))
            raise SpecError(f"unknown key '{key}' in '{text}' (known: {known})")
        canonical = _KEY_ALIASES[key]
        if canonical in pairs:
            raise SpecError(f"'{key}' given twice in '{text}'")
        pairs[canonical] = value.strip()
    return pairs


def _official_name(text: str) -> str:
    name = text.strip().lower()
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name not in OFFICIAL:
        spelled = list(OFFICIAL) + [f"efficientnet-{n}" for n in OFFICIAL]
        close = difflib.get_close_matches(text.strip().lower(), spelled, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise SpecError(f"unknown variant '{text}' (accepted: {GRAMMAR_HINT}){hint}")
    return name


def _number_label(value: float) -> str:
    return f"{value:g}"


def resolve_official(name: str) -> ResolvedSpec:
    """B0-B7, B8 or L2 with the released coefficients and torchvision's batch-norm settings."""
    coeffs = OFFICIAL[name]
    eps, momentum = (1e-3, 0.01) if name in _TF_BATCH_NORM else (1e-5, 0.1)
    stages = scaled_stages(coeffs.width, coeffs.depth)
    return ResolvedSpec(name, "official", coeffs, stages, eps, momentum)


def resolve_compound(
    phi: float,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    gamma: float = DEFAULT_GAMMA,
    base_resolution: int = BASE_RESOLUTION,
    dropout: float | None = None,
    name: str | None = None,
) -> ResolvedSpec:
    """Compound scaling of B0 by φ with the given α, β, γ (the paper's equation 3)."""
    check_compound(phi, alpha, beta, gamma, base_resolution)
    coeffs = compound_coefficients(phi, alpha, beta, gamma, base_resolution)
    if dropout is not None:
        coeffs = replace(coeffs, dropout=check_dropout(dropout))
    label = name or f"phi={_number_label(phi)}"
    compound = Compound(phi, alpha, beta, gamma, base_resolution)
    stages = scaled_stages(coeffs.width, coeffs.depth)
    return check_limits(ResolvedSpec(label, "compound", coeffs, stages, 1e-5, 0.1, compound))


def resolve_custom(
    width: float, depth: float, resolution: int, dropout: float | None = None
) -> ResolvedSpec:
    """Raw multipliers, for scalings that follow no formula."""
    check_positive("w", width)
    check_positive("d", depth)
    drop = OFFICIAL["b0"].dropout if dropout is None else check_dropout(dropout)
    label = f"w={_number_label(width)},d={_number_label(depth)},r={resolution}"
    if dropout is not None:
        label += f",dropout={_number_label(drop)}"
    coeffs = Coefficients(width, depth, resolution, drop)
    stages = scaled_stages(width, depth)
    return check_limits(ResolvedSpec(label, "custom", coeffs, stages, 1e-5, 0.1))


def _pixels(key: str, text: str) -> int:
    value = _finite(key, text)
    if value != int(value):
        raise SpecError(f"'{key}={text}' must be a whole number of pixels")
    return int(value)


def _resolve_pairs(text: str, pairs: dict[str, str]) -> ResolvedSpec:
    keys = set(pairs)
    dropout = _finite("dropout", pairs["dropout"]) if "dropout" in pairs else None
    if "phi" in keys:
        if keys - _COMPOUND_KEYS:
            extra = ", ".join(sorted(keys - _COMPOUND_KEYS))
            raise SpecError(f"'{text}' mixes phi with {extra}: use phi=... or w=,d=,r=")
        return resolve_compound(
            _finite("phi", pairs["phi"]),
            _finite("alpha", pairs.get("alpha", str(DEFAULT_ALPHA))),
            _finite("beta", pairs.get("beta", str(DEFAULT_BETA))),
            _finite("gamma", pairs.get("gamma", str(DEFAULT_GAMMA))),
            _pixels("base", pairs.get("base", str(BASE_RESOLUTION))),
            dropout,
        )
    missing = {"w", "d", "r"} - keys
    if missing:
        raise SpecError(
            f"'{text}' needs phi=... or all of w, d, r (missing {', '.join(sorted(missing))})"
        )
    if keys - _RAW_KEYS:
        extra = ", ".join(sorted(keys - _RAW_KEYS))
        raise SpecError(f"'{text}': {extra} only go with phi=... (w, d, r take dropout)")
    return resolve_custom(
        _finite("w", pairs["w"]), _finite("d", pairs["d"]), _pixels("r", pairs["r"]), dropout
    )


def parse_variant(text: str) -> ResolvedSpec:
    """Parse one VARIANT spec of the grammar in DESIGN.md into a resolved spec."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"empty variant spec (accepted: {GRAMMAR_HINT})")
    if "=" in text:
        return _resolve_pairs(text.strip(), _split_pairs(text.strip()))
    return resolve_official(_official_name(text))


def same_architecture(a: ResolvedSpec, b: ResolvedSpec) -> bool:
    """True when two specs build identical networks (stages, resolution, dropout aside)."""
    return a.stages == b.stages and a.coefficients.resolution == b.coefficients.resolution
