"""What `effnet scale` (--phi, --sweep, --search), `compare` and `list` report: models
side by side, scaled, searched and listed against the papers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..arch.families import PaperFigures
from ..arch.rules import Compound
from ..arch.scaling import Derivation
from .counting import Summary

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
    family: str = "v1"
    """Whose base network φ=1 scales (B0's family unless `scale --base` said otherwise)."""


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
    paper_name: str = ""
    """Whose table ``paper_table`` is, when not the family's own paper (ResNet's figures
    are the EfficientNet paper's)."""


@dataclass
class VariantList:
    """`effnet list`: the official variants of each family, in the family data's order."""

    sections: list[VariantSection]

    @property
    def rows(self) -> list[ListRow]:
        return [row for section in self.sections for row in section.rows]
