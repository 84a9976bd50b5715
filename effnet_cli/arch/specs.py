"""Resolved specs and the variant grammar: text → the exact network to build and report.

Everything the model and every table need is resolved here, once, into a ``ResolvedSpec``
whose stage rows come from the family data (``families.py``) scaled by the rules
(``rules.py``). No torch here, so parsing and validating a variant costs nothing and
`effnet --help` and every bad-input error stay fast.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..kinds import BlockKind, SpecKind, StageRole
from .families import FAMILIES, FIXED, V1, WIDTH, Coefficients, ConvRow, Family, family_of
from .rules import (
    BASE_RESOLUTION,
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_GAMMA,
    MAX_BLOCKS,
    MAX_RESOLUTION,
    MAX_WIDTH,
    MIN_RESOLUTION,
    Compound,
    SpecError,
    check_dropout,
    check_positive,
    check_resolution,
    parse_number,
    round_filters,
    round_repeats,
)

__all__ = [
    "BASE_RESOLUTION", "DEFAULT_ALPHA", "DEFAULT_BETA", "DEFAULT_GAMMA", "GRAMMAR_HINT",
    "MAX_RESOLUTION", "MIN_RESOLUTION", "OFFICIAL", "Compound", "ResolvedSpec", "SpecError",
    "StageSpec", "parse_variant", "round_filters", "round_repeats", "same_architecture",
]  # fmt: skip

OFFICIAL: dict[str, Coefficients] = {
    name: variant.coefficients
    for family in FAMILIES.values()
    for name, variant in family.variants.items()
}
"""Released coefficients of every official variant, by name."""

STEM, BLOCKS, HEAD = StageRole.STEM, StageRole.BLOCKS, StageRole.HEAD


@dataclass(frozen=True)
class StageSpec:
    """One row of the (scaled) Table 1: what a stage is, independent of input size.

    ``role`` says where the row sits (stem, a stage of blocks, head) and ``kind`` what it
    is built from ("conv" for stem and head, else the family's block kind).
    """

    stage: int
    operator: str
    kernel: int
    stride: int
    expand_ratio: int
    in_channels: int
    out_channels: int
    layers: int
    role: StageRole = BLOCKS
    kind: BlockKind = BlockKind.CONV
    se_ratio: float = 0.0
    expand_from: int = 0
    """Channels the first block's expansion is computed from (0: its input); see StageRow."""
    skip: bool = True
    """Whether blocks whose input and output shapes agree add the residual."""
    pool: int = 0
    """Max-pool kernel (stride 2) after the stem's conv (ResNet), 0 for none."""


@dataclass(frozen=True)
class ResolvedSpec:
    """A fully resolved model: the single source for the nn.Module and every table."""

    name: str
    kind: SpecKind
    coefficients: Coefficients
    stages: tuple[StageSpec, ...]
    bn_eps: float
    bn_momentum: float
    compound: Compound | None = None
    family: str = V1.key

    @property
    def title(self) -> str:
        """Human name: EfficientNet-B3, or the spec as typed for custom scalings."""
        if self.kind == SpecKind.OFFICIAL:
            return FAMILIES[self.family].variants[self.name].title
        return self.name

    @property
    def family_data(self) -> Family:
        return FAMILIES[self.family]

    @property
    def block_stages(self) -> tuple[StageSpec, ...]:
        """The stages made of repeated blocks (Table 1 without stem and head)."""
        return tuple(row for row in self.stages if row.role == BLOCKS)

    @property
    def blocks(self) -> int:
        return sum(row.layers for row in self.block_stages)


def scaled_stages(
    family: Family, width: float, depth: float, variant: str | None = None
) -> tuple[StageSpec, ...]:
    """Every Table-1 row (stem, the block stages, head) of ``family`` (a variant's own table
    where it has one) for these multipliers."""
    arch = family.architecture(variant)

    def channels(c: int) -> int:
        return round_filters(c, width, family.divisor, family.round_limit)

    def conv_channels(row: ConvRow) -> int:
        if row.scaling == FIXED:
            return row.channels
        return channels(row.channels) if row.scaling == WIDTH or width > 1 else row.channels

    stem = arch.stem
    operator = f"Conv{stem.kernel}x{stem.kernel}"
    if stem.pool:
        operator += f" & MaxPool{stem.pool}x{stem.pool}"
    rows = [
        StageSpec(1, operator, stem.kernel, stem.stride, 1, 3, conv_channels(stem), 1,
                  role=STEM, pool=stem.pool)
    ]  # fmt: skip
    for index, base in enumerate(arch.stages, start=2):
        rows.append(
            StageSpec(
                stage=index,
                operator=family.stage_operator(base),
                kernel=base.kernel,
                stride=base.stride,
                expand_ratio=base.expand_ratio,
                in_channels=rows[-1].out_channels,
                out_channels=channels(base.out_channels),
                layers=base.layers if base.fixed_depth else round_repeats(base.layers, depth),
                role=BLOCKS,
                kind=base.kind,
                se_ratio=base.se_ratio,
                expand_from=channels(base.expand_from) if base.expand_from else 0,
                skip=base.skip,
            )
        )
    rows.append(_head_row(arch.head, len(rows) + 1, rows[-1].out_channels, conv_channels))
    return tuple(rows)


def _head_row(
    head: ConvRow, stage: int, in_channels: int, channels: Callable[[ConvRow], int]
) -> StageSpec:
    """The head's Table-1 row: its conv, pooling and the classifier; a head without a conv
    (ResNet, MobileNetV1) is pooling and FC on the last stage's channels, kernel 0."""
    if not head.channels:
        return StageSpec(stage, "Pooling & FC", 0, 1, 1, in_channels, in_channels, 1, role=HEAD)
    return StageSpec(stage, f"Conv{head.kernel}x{head.kernel} & Pooling & FC", head.kernel,
                     head.stride, 1, in_channels, channels(head), 1, role=HEAD)  # fmt: skip


def check_limits(spec: ResolvedSpec) -> ResolvedSpec:
    """Refuse models past the stated limits, naming the limit, before anything is built."""
    if spec.blocks > MAX_BLOCKS:
        raise SpecError(
            f"'{spec.name}' has {spec.blocks:,.4g} blocks "
            f"(depth {spec.coefficients.depth:.4g}); the limit is {MAX_BLOCKS:,}"
        )
    if spec.coefficients.width > MAX_WIDTH:
        raise SpecError(
            f"'{spec.name}' has width {spec.coefficients.width:.4g}; the limit is {MAX_WIDTH:g}"
        )
    check_resolution(spec.coefficients.resolution, f"'{spec.name}' resolution")
    return spec


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
    "family": "family",
}
_COMPOUND_KEYS = {"phi", "alpha", "beta", "gamma", "base", "dropout"}
_RAW_KEYS = {"w", "d", "r", "dropout", "family"}
_PREFIXES = ("tf-efficientnet-", "efficientnet-", "efficientnet")
"""Prefixes a name may carry (after '_' is read as '-'): TF's and timm's spellings."""
ALIASES: dict[str, str] = {
    alias: name
    for family in FAMILIES.values()
    for name, variant in family.variants.items()
    for alias in variant.aliases
}
"""Other spellings of official names (timm's efficientnet_es, torchvision's mobilenet_v2)."""
GRAMMAR_HINT = (
    "b0-b7, b8, l2, v2-s|m|l|xl, v2-b0..b3, lite0-4, edgetpu-s|m|l, resnet50|101|152, "
    "mobilenetv1, mobilenetv2, phi=F[,alpha=A,beta=B,gamma=G] or "
    "w=W,d=D,r=R[,family=F][,dropout=P]"
)


def _finite(key: str, text: str) -> float:
    return parse_number(text, f"'{key}={text}'")


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


_LOOKALIKES = (str.maketrans("oO", "00"), str.maketrans("1", "l"), str.maketrans("0", "o"))
"""Typed look-alikes: 'bo' for b0, '12' for l2."""


def _suggestion(typed: str, name: str) -> str | None:
    """The official name a typo most likely meant: a look-alike character first (o for 0,
    1 for l), then the closest spelling."""
    for table in _LOOKALIKES:
        if name.translate(table) in OFFICIAL:
            return name.translate(table)
    spelled = list(OFFICIAL) + [f"efficientnet-{n}" for n in OFFICIAL]
    close = difflib.get_close_matches(typed, spelled, n=1, cutoff=0.5)
    return close[0] if close else None


def _official_name(text: str) -> str:
    name = text.strip().lower().replace("_", "-")
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    name = ALIASES.get(name, name)
    if name not in OFFICIAL:
        close = _suggestion(text.strip().lower(), name)
        hint = f"; did you mean '{close}'?" if close else ""
        raise SpecError(f"unknown variant '{text}' (accepted: {GRAMMAR_HINT}){hint}")
    return name


def _number_label(value: float) -> str:
    return f"{value:g}"


def resolve_official(name: str) -> ResolvedSpec:
    """An official variant with its released coefficients and batch-norm settings."""
    family = family_of(name)
    variant = family.variants[name]
    c = variant.coefficients
    stages = scaled_stages(family, c.width, c.depth, name)
    bn = variant.batch_norm
    return ResolvedSpec(name, SpecKind.OFFICIAL, c, stages, bn.eps, bn.momentum, family=family.key)


def compound_label(compound: Compound) -> str:
    """'phi=3', plus every α, β, γ or base that is not the paper's: 'phi=3,alpha=1.3'."""
    label = f"phi={_number_label(compound.phi)}"
    defaults = Compound(compound.phi)
    for key, field_name in (("alpha", "alpha"), ("beta", "beta"), ("gamma", "gamma"),
                            ("base", "base_resolution")):  # fmt: skip
        value = getattr(compound, field_name)
        if value != getattr(defaults, field_name):
            label += f",{key}={_number_label(value)}"
    if compound.family != defaults.family:
        label += f",family={FAMILIES[compound.family].base}"
    return label


def resolve_compound(
    compound: Compound, dropout: float | None = None, name: str | None = None
) -> ResolvedSpec:
    """Compound scaling of a family's base (B0 unless ``compound.family`` says otherwise) by
    φ with the given α, β, γ (the paper's equation 3)."""
    compound.check()
    family = FAMILIES[compound.family]
    if not family.compound:
        raise SpecError(no_phi(family, compound_label(replace(compound, family=V1.key))))
    coeffs = compound.coefficients(family.dropout)
    if dropout is not None:
        coeffs = replace(coeffs, dropout=check_dropout(dropout))
    label = name or compound_label(compound)
    stages = scaled_stages(family, coeffs.width, coeffs.depth)
    bn = family.batch_norm
    spec = ResolvedSpec(label, SpecKind.COMPOUND, coeffs, stages, bn.eps, bn.momentum, compound,
                        family.key)  # fmt: skip
    return check_limits(spec)


def resolve_custom(
    width: float, depth: float, resolution: int, dropout: float | None = None, family: Family = V1
) -> ResolvedSpec:
    """Raw multipliers of a family's base (V1's B0, V2's B0), for scalings that follow no
    formula."""
    check_positive("w", width)
    check_positive("d", depth)
    drop = family.dropout if dropout is None else check_dropout(dropout)
    label = f"w={_number_label(width)},d={_number_label(depth)},r={resolution}"
    if family is not V1:
        label += f",family={family.key}"
    if dropout is not None:
        label += f",dropout={_number_label(drop)}"
    coeffs = Coefficients(width, depth, resolution, drop)
    stages = scaled_stages(family, width, depth)
    bn = family.batch_norm
    spec = ResolvedSpec(
        label, SpecKind.CUSTOM, coeffs, stages, bn.eps, bn.momentum, family=family.key
    )
    return check_limits(spec)


def no_phi(family: Family, text: str) -> str:
    """Why φ is refused for a family that scales otherwise (EfficientNetV2)."""
    return (
        f"'{text}': phi= is EfficientNet's compound rule; {family.title} has no φ: "
        f"scale its base with family={family.key},w=W,d=D,r=R or pick an official variant"
    )


def family_named(key: str, text: str) -> Family:
    """``family=`` (and scale's --base): a family's key, or the name of its base network
    (resnet50 for resnet, lite0 for lite, b0 for v1): the network ``w=,d=,r=`` and φ
    scale."""
    key = key.strip().lower()
    if key in FAMILIES:
        return FAMILIES[key]
    bases = {f.base: f for f in FAMILIES.values()}
    if key in bases:
        return bases[key]
    if key in OFFICIAL:
        base = family_of(key).base
        raise SpecError(
            f"'{text}': family={key} is not a base network; w=,d=,r= scale {base}, "
            f"the base of {family_of(key).title}"
        )
    known = ", ".join([*FAMILIES, *(b for b in bases if b not in FAMILIES)])
    raise SpecError(f"unknown family '{key}' in '{text}' (known: {known})")


def _pixels(key: str, text: str) -> int:
    value = _finite(key, text)
    if value != int(value):
        raise SpecError(f"'{key}={text}' must be a whole number of pixels")
    return int(value)


def _resolve_pairs(text: str, pairs: dict[str, str]) -> ResolvedSpec:
    keys = set(pairs)
    dropout = _finite("dropout", pairs["dropout"]) if "dropout" in pairs else None
    family = family_named(pairs.get("family", V1.key), text)
    if "phi" in keys and not family.compound:
        raise SpecError(no_phi(family, text))
    if "phi" in keys:
        if keys - _COMPOUND_KEYS - {"family"}:
            extra = ", ".join(sorted(keys - _COMPOUND_KEYS))
            raise SpecError(f"'{text}' mixes phi with {extra}: use phi=... or w=,d=,r=")
        compound = Compound(
            _finite("phi", pairs["phi"]),
            _finite("alpha", pairs.get("alpha", str(DEFAULT_ALPHA))),
            _finite("beta", pairs.get("beta", str(DEFAULT_BETA))),
            _finite("gamma", pairs.get("gamma", str(DEFAULT_GAMMA))),
            _pixels("base", pairs.get("base", str(BASE_RESOLUTION))),
            family.key,
        )
        return resolve_compound(compound, dropout)
    missing = {"w", "d", "r"} - keys
    if missing:
        raise SpecError(
            f"'{text}' needs phi=... or all of w, d, r (missing {', '.join(sorted(missing))})"
        )
    if keys - _RAW_KEYS:
        extra = ", ".join(sorted(keys - _RAW_KEYS))
        raise SpecError(f"'{text}': {extra} only go with phi=... (w, d, r take dropout)")
    return resolve_custom(
        _finite("w", pairs["w"]),
        _finite("d", pairs["d"]),
        _pixels("r", pairs["r"]),
        dropout,
        family,
    )


def parse_variant(text: str) -> ResolvedSpec:
    """Parse one VARIANT spec of the grammar (README, "Variant specs") into a resolved spec."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"empty variant spec (accepted: {GRAMMAR_HINT})")
    if "=" in text:
        return _resolve_pairs(text.strip(), _split_pairs(text.strip()))
    return resolve_official(_official_name(text))


def same_architecture(a: ResolvedSpec, b: ResolvedSpec) -> bool:
    """True when two specs build identical networks (stages, resolution, dropout aside)."""
    return a.stages == b.stages and a.coefficients.resolution == b.coefficients.resolution
