"""Collect for `scale`, `compare` and `list`: several measured models and their relations.

Each function measures real modules through ``measure`` and returns dataclasses; ratios
are always of *measured* MACs and parameters, never of the formula's predictions.
Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from ..arch.scaling import Candidate, Derivation, base_spec, derive, official_for_phi, spec_for
from ..arch.specs import (
    OFFICIAL,
    PAPER,
    PaperFigures,
    ResolvedSpec,
    parse_variant,
    same_architecture,
)
from .summary import Summary, measure


@lru_cache(maxsize=64)
def _measured(spec: ResolvedSpec, batch_size: int, num_classes: int) -> Summary:
    """Fast-engine measurement, cached: sweeps and searches revisit B0 and the officials."""
    return measure(spec, batch_size=batch_size, num_classes=num_classes)


def nearest_official(spec: ResolvedSpec) -> str:
    """The official variant closest in (ln w, ln d, ln r): the hand-tuned model to set beside."""
    c = spec.coefficients

    def distance(name: str) -> float:
        o = OFFICIAL[name]
        pairs = ((c.width, o.width), (c.depth, o.depth), (c.resolution, o.resolution))
        return math.sqrt(sum(math.log(a / b) ** 2 for a, b in pairs))

    return min(OFFICIAL, key=distance)


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


def scale_report(
    phi: float,
    alpha: float,
    beta: float,
    gamma: float,
    base_resolution: int,
    batch_size: int = 1,
    num_classes: int = 1000,
) -> ScaleReport:
    """Derive, build and measure the φ model, and put B0 and the nearest official beside it."""
    d = derive(phi, alpha, beta, gamma, base_resolution)
    model = _measured(spec_for(d), batch_size, num_classes)
    base = _measured(base_spec(base_resolution), batch_size, num_classes)
    nearest = _measured(parse_variant(nearest_official(spec_for(d))), batch_size, num_classes)
    bphi = official_for_phi(phi)
    official = _measured(bphi, batch_size, num_classes) if bphi else None
    return ScaleReport(
        derivation=d,
        model=model,
        base=base,
        nearest=nearest,
        official=official,
        measured_macs_ratio=model.totals.macs / base.totals.macs,
        measured_params_ratio=model.totals.params / base.totals.params,
    )


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
    official: dict | None = None


def sweep(
    phis: list[float],
    alpha: float,
    beta: float,
    gamma: float,
    base_resolution: int,
    batch_size: int = 1,
    num_classes: int = 1000,
) -> list[SweepRow]:
    """Measure the compound-scaled model at every φ, with the official Bφ beside it."""
    base = _measured(base_spec(base_resolution), batch_size, num_classes).totals.macs
    rows = []
    for phi in phis:
        d = derive(phi, alpha, beta, gamma, base_resolution)
        t = _measured(spec_for(d), batch_size, num_classes).totals
        bphi = official_for_phi(phi)
        official = None
        if bphi is not None:
            o = _measured(bphi, batch_size, num_classes)
            official = {
                "variant": bphi.name,
                "width": bphi.coefficients.width,
                "depth": bphi.coefficients.depth,
                "resolution": bphi.coefficients.resolution,
                "params": o.totals.params,
                "macs": o.totals.macs,
                "macs_ratio": o.totals.macs / base,
            }
        rows.append(
            SweepRow(
                phi=phi,
                depth_multiplier=d.depth_multiplier,
                width_multiplier=d.width_multiplier,
                resolution=d.resolution,
                params=t.params,
                macs=t.macs,
                macs_ratio=t.macs / base,
                predicted_flops_ratio=d.predicted_flops_ratio,
                official=official,
            )
        )
    return rows


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


def search(
    candidates: list[Candidate], base_resolution: int, batch_size: int = 1, num_classes: int = 1000
) -> list[SearchRow]:
    """Measure each candidate at φ=1 and rank by how close its MACs land to 2× B0's."""
    base = _measured(base_spec(base_resolution), batch_size, num_classes).totals.macs
    rows = []
    seen: dict[tuple, Any] = {}  # neighbouring grid points often round to the same network
    for c in candidates:
        d = derive(1.0, c.alpha, c.beta, c.gamma, base_resolution)
        spec = spec_for(d)
        key = (spec.stages, spec.coefficients.resolution)
        if key not in seen:
            seen[key] = measure(spec, batch_size=batch_size, num_classes=num_classes).totals
        t = seen[key]
        ratio = t.macs / base
        rows.append(
            SearchRow(
                c.alpha,
                c.beta,
                c.gamma,
                c.constraint,
                d.resolution,
                t.params,
                t.macs,
                ratio,
                abs(ratio - 2.0),
            )
        )
    return sorted(rows, key=lambda r: (r.distance_from_2x, r.alpha, r.beta, r.gamma))


@dataclass
class Comparison:
    """`effnet compare`: the models in order, ratios to the first, identical pairs."""

    models: list[Summary]
    params_ratio: list[float]
    macs_ratio: list[float]
    identical: list[list[str]] = field(default_factory=list)


def compare(specs: list[ResolvedSpec], **options) -> Comparison:
    """Measure every spec with the same options; note which ones build the same network."""
    models = [measure(spec, **options) for spec in specs]
    first = models[0].totals
    identical = []
    for i, a in enumerate(models):
        for j in range(i + 1, len(models)):
            b = models[j]
            same_cost = (a.totals.params, a.totals.macs) == (b.totals.params, b.totals.macs)
            if same_architecture(specs[i], specs[j]) and same_cost:
                identical.append([a.variant, b.variant])
    return Comparison(
        models=models,
        params_ratio=[m.totals.params / first.params for m in models],
        macs_ratio=[m.totals.macs / first.macs for m in models],
        identical=identical,
    )


@dataclass
class ListRow:
    """One official variant: released coefficients, measured cost, the paper's figures."""

    variant: str
    coefficients: dict
    params: int
    macs: int
    param_bytes: int
    activation_bytes: int
    paper: PaperFigures | None
    params_m_paper_rounding: float | None
    flops_b_paper_rounding: float | None


def list_variants(batch_size: int = 1, num_classes: int = 1000) -> list[ListRow]:
    """Every official variant, measured, with Table 2's params / FLOPS / top-1 beside it."""
    rows = []
    for name in OFFICIAL:
        s = _measured(parse_variant(name), batch_size, num_classes)
        paper = PAPER.get(name)
        rows.append(
            ListRow(
                variant=name,
                coefficients=asdict(s.coefficients),
                params=s.totals.params,
                macs=s.totals.macs,
                param_bytes=s.totals.param_bytes,
                activation_bytes=s.totals.activation_bytes,
                paper=paper,
                params_m_paper_rounding=(
                    round(s.totals.params / 1e6, paper.params_decimals) if paper else None
                ),
                flops_b_paper_rounding=(
                    round(s.totals.macs / 1e9, paper.flops_decimals) if paper else None
                ),
            )
        )
    return rows
