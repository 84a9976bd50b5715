"""Collect for `scale`, `compare` and `list`: several measured models and their relations.

Each function measures real modules through ``measure`` and returns report dataclasses;
ratios are always of *measured* MACs and parameters, never of the formula's predictions.
Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from functools import lru_cache
from typing import Any

from ...arch.families import FAMILIES, Family
from ...arch.rules import Compound
from ...arch.scaling import Candidate, base_spec, derive, official_for_phi, spec_for
from ...arch.specs import ResolvedSpec, resolve_official, same_architecture
from ...reports import (
    Comparison,
    ListRow,
    OfficialRow,
    ScaleReport,
    Search,
    SearchRow,
    Summary,
    Sweep,
    SweepRow,
    Totals,
    VariantList,
    VariantSection,
)
from .summary import measure


@lru_cache(maxsize=64)
def _measured(
    spec: ResolvedSpec,
    batch_size: int,
    num_classes: int,
    dtype: str = "float32",
    peak: bool = True,
) -> Summary:
    """Fast-engine measurement, cached: sweeps and searches revisit B0 and the officials.
    ``peak=False`` where the view shows no inference peak (sweep, search, list)."""
    return measure(spec, batch_size=batch_size, num_classes=num_classes, dtype=dtype, peak=peak)


def nearest_official(spec: ResolvedSpec) -> ResolvedSpec:
    """The official variant of the spec's family closest in (ln w, ln d, ln r): the
    hand-tuned model to set beside, resolved (never a name to parse again)."""
    c = spec.coefficients

    def distance(name: str) -> float:
        o = spec.family_data.variants[name].coefficients
        pairs = ((c.width, o.width), (c.depth, o.depth), (c.resolution, o.resolution))
        return math.sqrt(sum(math.log(a / b) ** 2 for a, b in pairs))

    return resolve_official(min(spec.family_data.variants, key=distance))


def scale_report(compound: Compound, batch_size: int = 1, num_classes: int = 1000) -> ScaleReport:
    """Derive, build and measure the φ model, and put B0 and the nearest official beside it."""
    d = derive(compound)
    spec = spec_for(d)
    model = _measured(spec, batch_size, num_classes)
    base = _measured(base_spec(compound), batch_size, num_classes)
    nearest = _measured(nearest_official(spec), batch_size, num_classes)
    bphi = official_for_phi(compound.phi, compound.family)
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


def _official_row(spec: ResolvedSpec, totals: Totals, base_macs: int) -> OfficialRow:
    c = spec.coefficients
    return OfficialRow(spec.name, c.width, c.depth, c.resolution, totals.params, totals.macs,
                       totals.macs / base_macs)  # fmt: skip


def sweep(
    phis: list[float], compound: Compound, batch_size: int = 1, num_classes: int = 1000
) -> Sweep:
    """Measure the compound-scaled model at every φ (α, β, γ and base from ``compound``),
    with the official Bφ beside it."""
    b0 = base_spec(compound)
    base = _measured(b0, batch_size, num_classes, peak=False).totals.macs
    rows = []
    for phi in phis:
        d = derive(compound.at(phi))
        t = _measured(spec_for(d), batch_size, num_classes, peak=False).totals
        bphi = official_for_phi(phi, compound.family)
        official = None
        if bphi is not None:
            totals = _measured(bphi, batch_size, num_classes, peak=False).totals
            official = _official_row(bphi, totals, base)
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
    return Sweep(compound.at(phis[0]), rows)


def search(
    candidates: list[Candidate],
    base: Compound,
    grid: tuple[float, float, int],
    batch_size: int = 1,
    num_classes: int = 1000,
) -> Search:
    """Measure each candidate at φ=1 and rank by how close its MACs land to 2× the base's
    (``base``: its family and resolution; its α, β, γ and φ are not read); ``grid`` is
    (step, tolerance, rows to show), kept with the result for its views."""
    base_macs = _measured(base_spec(base), batch_size, num_classes, peak=False).totals.macs
    rows = []
    # neighbouring grid points often round to the same network
    seen: dict[tuple[tuple[Any, ...], int], Totals] = {}
    for c in candidates:
        d = derive(Compound(1.0, c.alpha, c.beta, c.gamma, base.base_resolution, base.family))
        spec = spec_for(d)
        key = (spec.stages, spec.coefficients.resolution)
        if key not in seen:
            seen[key] = measure(spec, batch_size=batch_size, num_classes=num_classes,
                                peak=False).totals  # fmt: skip
        t = seen[key]
        ratio = t.macs / base_macs
        rows.append(SearchRow(c.alpha, c.beta, c.gamma, c.constraint, d.resolution, t.params,
                              t.macs, ratio, abs(ratio - 2.0)))  # fmt: skip
    rows.sort(key=lambda r: (r.distance_from_2x, r.alpha, r.beta, r.gamma))
    return Search(*grid, rows, family=base.family)


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


def _list_row(name: str, family: Family, batch_size: int, num_classes: int, dtype: str) -> ListRow:
    s = _measured(resolve_official(name), batch_size, num_classes, dtype, peak=False)
    paper = family.variants[name].paper
    return ListRow(
        variant=name,
        family=family.key,
        coefficients=asdict(s.coefficients),
        params=s.totals.params,
        macs=s.totals.macs,
        param_bytes=s.totals.param_bytes,
        activation_bytes=s.totals.activation_bytes,
        weight_dtype=s.totals.weight_dtype,
        weight_bytes=s.totals.weight_bytes,
        paper=paper,
        params_m_paper_rounding=(
            round(s.totals.params / 1e6, paper.params_decimals) if paper else None
        ),
        flops_b_paper_rounding=round(s.totals.macs / 1e9, paper.flops_decimals) if paper else None,
    )


def _names(family: Family) -> str:
    """'B0-B7, B8, L2': the variants with a φ as a range, then the others, each without the
    family's name ('Lite0', 'S', '50'); '' for a family of one network (MobileNetV2)."""
    phi = [v.name.upper() for v in family.variants.values() if v.phi is not None]
    rest = [v.title.removeprefix(family.title).lstrip("-") for v in family.variants.values()
            if v.phi is None]  # fmt: skip
    head = [f"{phi[0]}-{phi[-1]}"] if len(phi) > 1 else phi
    return ", ".join(name for name in head + rest if name)


def list_variants(
    batch_size: int = 1, num_classes: int = 1000, dtype: str = "float32"
) -> VariantList:
    """Every official variant of every family, measured, with the paper's params / FLOPS /
    top-1 beside it where they could be read; weight bytes for storage as ``dtype``."""
    sections = []
    for family in FAMILIES.values():
        rows = [_list_row(n, family, batch_size, num_classes, dtype) for n in family.variants]
        title = f"{family.title} {_names(family)}".strip()
        sections.append(VariantSection(family.key, title,
                                       family.paper_table, rows, family.paper_note,
                                       family.paper_name))  # fmt: skip
    return VariantList(sections)
