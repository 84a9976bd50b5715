"""Views of `effnet scale`: one φ's derivation (--phi), a sweep of φ (--sweep) and the
search for α, β, γ (--search), each table a column list.

No torch and no printing: each function turns report dataclasses into a ``View``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..arch.families import FAMILIES, V1
from ..reports import (
    OfficialRow,
    ScaleReport,
    Search,
    SearchRow,
    StageFigures,
    Summary,
    Sweep,
    SweepRow,
)
from .core import (
    MACS_LABEL,
    MACS_NOTE,
    Column,
    Facts,
    Grid,
    Note,
    Part,
    View,
    csv_field,
    csv_text,
    grid,
    to_dict,
)
from .numbers import macs_g, ratio, si
from .summary import block_noun, stages_csv, summary_dict

__all__ = ["scale_view", "search_view", "sweep_view"]


def base_label(family: str) -> str:
    """How the base network is named in ratios and titles: 'B0', or the base's name
    ('resnet50') when `scale --base` picked another family."""
    return "B0" if family == V1.key else FAMILIES[family].base


def rebased(parts: list[Part], family: str) -> list[Part]:
    """The parts with every 'B0' of their titles, headers, labels and notes naming the
    actual base instead; cells are data and stay as they are."""
    label = base_label(family)
    if label == "B0":
        return parts

    def text(s: str) -> str:
        return s.replace("B0", label)

    out: list[Part] = []
    for part in parts:
        if isinstance(part, Grid):
            part = replace(part, title=text(part.title), header=[text(h) for h in part.header])
        elif isinstance(part, Facts):
            lines = [(text(k), v) for k, v in part.lines]
            part = replace(part, title=text(part.title), lines=lines)
        elif isinstance(part, Note):
            part = replace(part, text=text(part.text), needs=tuple(text(n) for n in part.needs))
        else:
            part = text(part)
        out.append(part)
    return out


def _model_name(m: Summary) -> str:
    """'B2' for EfficientNet's variants (as the paper writes them), else the name itself."""
    return m.variant.upper() if m.family == V1.key else m.variant


def _arrow(a: int, b: int) -> str:
    return f"{a} → {b}" if a != b else str(b)


# ----------------------------------------------------------------------------- scale


def _derivation_lines(r: ScaleReport) -> list[tuple[str, str]]:
    d, c = r.derivation, r.derivation.compound
    base_layers = " ".join(str(s.layers) for s in r.base.stages[1:-1])
    layers = " ".join(str(s.layers) for s in r.model.stages[1:-1])
    last = len(r.model.stages)
    base_ch = " ".join(str(s.out_channels) for s in r.base.stages)
    channels = " ".join(str(s.out_channels) for s in r.model.stages)
    return [
        ("depth d = α^φ", f"{c.alpha:g}^{c.phi:g} = {d.depth_multiplier:.4f}"),
        (
            f"  layers ⌈L·d⌉, stages 2-{last - 1}",
            f"{base_layers}  →  {layers} = {r.model.blocks_total} {block_noun(r.model)}; "
            "stem and head: 1 layer each, never scaled",
        ),
        ("width w = β^φ", f"{c.beta:g}^{c.phi:g} = {d.width_multiplier:.4f}"),
        ("  channels round8(C·w)", f"{base_ch}  →  {channels}"),
        ("  rounding", FAMILIES[c.family].scaling_rule),
        (
            "resolution r = base·γ^φ",
            f"{c.base_resolution}·{c.gamma:g}^{c.phi:g} = {d.resolution_exact:.2f} → "
            f"{d.resolution} px (nearest pixel)",
        ),
        ("constraint α·β²·γ²", f"{d.constraint:.4f} ({d.constraint_distance:+.4f} from 2)"),
        (
            "FLOPs ratio to B0",
            f"predicted (α·β²·γ²)^φ = {d.predicted_flops_ratio:.3f}×  ·  2^φ = "
            f"{d.doubling_ratio:.3f}×  ·  measured MACs = {r.measured_macs_ratio:.3f}×",
        ),
        ("params ratio to B0", f"measured {r.measured_params_ratio:.3f}×"),
        ("model", f"{r.model.totals.params:,} params · {macs_g(r.model.totals.macs)} MACs"),
    ]


Pair = tuple[StageFigures, StageFigures]
SCALE_STAGES: list[Column[Pair]] = [
    Column("Stage", lambda p: str(p[1].stage), keep=True),
    Column("Operator", lambda p: p[1].operator, align="l"),
    Column(
        "Input px",
        lambda p: _arrow(p[0].input_resolution[0], p[1].input_resolution[0]),
        keep=True,
    ),
    Column("Channels", lambda p: _arrow(p[0].out_channels, p[1].out_channels), keep=True),
    Column("Layers", lambda p: _arrow(p[0].layers, p[1].layers), keep=True),
    Column("Params", lambda p: si(p[1].params, 4)),
    Column("Params ×B0", lambda p: ratio(p[1].params / p[0].params), keep=True),
    Column("MACs", lambda p: si(p[1].macs, 4)),
    Column("MACs ×B0", lambda p: ratio(p[1].macs / p[0].macs), keep=True),
]


Line = tuple[str, Callable[[Summary], str]]
SIDE_LINES: list[Line] = [
    ("width", lambda s: f"{s.coefficients.width:.4g}"),
    ("depth", lambda s: f"{s.coefficients.depth:.4g}"),
    ("resolution", lambda s: str(s.coefficients.resolution)),
    ("blocks", lambda s: str(s.blocks_total)),
    ("head channels", lambda s: str(s.stages[-1].out_channels)),
    ("params", lambda s: si(s.totals.params, 4)),
    ("MACs", lambda s: macs_g(s.totals.macs)),
]


def _side_by_side(r: ScaleReport) -> Grid:
    """The φ model beside the nearest official variant (and Bφ when that is another one)."""
    phi = r.derivation.phi
    labels = {r.nearest.variant: f"{_model_name(r.nearest)} (nearest)"}
    others = [r.nearest]
    if r.official is not None and r.official.variant != r.nearest.variant:
        others.append(r.official)
        labels[r.official.variant] = f"{_model_name(r.official)} (official φ={phi:g})"
    elif r.official is not None:
        labels[r.nearest.variant] = f"{_model_name(r.nearest)} (nearest, official φ={phi:g})"

    def model_column(m: Summary, header: str, first: bool) -> Column[Line]:
        differs = None if first else (lambda line: line[1](m) != line[1](r.model))
        return Column(header, lambda line: line[1](m), mark=differs)

    blocks = block_noun(r.model)
    columns = [
        Column("", lambda line: blocks if line[0] == "blocks" else line[0], align="l"),
        model_column(r.model, f"phi={phi:g}", True),
        *(model_column(o, labels[o.variant], False) for o in others),
    ]
    return grid("Beside the nearest official variant", columns, SIDE_LINES)


NEAREST_NOTE = "Nearest = closest official (w, d, r) on a log scale; * = differs from the φ model."
HAND_TUNED = " The official B1-B7 were hand-tuned and do not follow α^φ, β^φ, γ^φ exactly."


def scale_parts(r: ScaleReport) -> list[Part]:
    c = r.derivation.compound
    head = (
        f"Compound scaling φ={c.phi:g}  α={c.alpha:g} β={c.beta:g} γ={c.gamma:g}  "
        f"base {c.base_resolution}px"
    )
    pairs = list(zip(r.base.stages, r.model.stages, strict=True))
    if c.family != V1.key:
        head += f"  base network {base_label(c.family)}"
    return rebased([
        head,
        Facts("Derivation", _derivation_lines(r)),
        grid(f"Per stage: B0 → φ={c.phi:g}", SCALE_STAGES, pairs),
        _side_by_side(r),
        NEAREST_NOTE + (HAND_TUNED if c.family == V1.key else ""),
        MACS_NOTE,
    ], c.family)  # fmt: skip


def scale_doc(r: ScaleReport) -> dict[str, Any]:
    derivation = to_dict(r.derivation)
    doc = derivation.pop("compound") | derivation
    doc |= {
        "measured_macs_ratio": r.measured_macs_ratio,
        "measured_params_ratio": r.measured_params_ratio,
        "model": summary_dict(r.model),
        "base": summary_dict(r.base),
        "nearest_official": summary_dict(r.nearest),
        "official": summary_dict(r.official) if r.official else None,
    }
    return doc


def scale_view(r: ScaleReport) -> View:
    return View(
        lambda w: scale_parts(r),
        lambda: scale_doc(r),
        lambda: stages_csv(
            [r.base, r.model], [1.0, r.measured_params_ratio], [1.0, r.measured_macs_ratio]
        ),
    )


# ----------------------------------------------------------------------------- sweep


def _official(get: Callable[[OfficialRow], str]) -> Callable[[SweepRow], str]:
    return lambda row: get(row.official) if row.official else ""


SWEEP: list[Column[SweepRow]] = [
    Column("φ", lambda r: f"{r.phi:g}", "phi", keep=True),
    Column("w", lambda r: f"{r.width_multiplier:.3f}", "width_multiplier"),
    Column("d", lambda r: f"{r.depth_multiplier:.3f}", "depth_multiplier"),
    Column("r", lambda r: str(r.resolution), "resolution", keep=True),
    Column("Params", lambda r: si(r.params, 4), "params", keep=True),
    Column("MACs", lambda r: si(r.macs, 4), "macs", keep=True),
    Column("×B0", lambda r: ratio(r.macs_ratio), "macs_ratio", keep=True),
    Column("predicted", lambda r: ratio(r.predicted_flops_ratio), "predicted_flops_ratio"),
    Column("2^φ", lambda r: ratio(2**r.phi)),
    Column(
        "Official",
        _official(lambda o: o.variant),
        "official",
        _official(lambda o: o.variant),
        keep=True,
    ),
    csv_field("official_width", lambda r: r.official.width if r.official else None),
    csv_field("official_depth", lambda r: r.official.depth if r.official else None),
    Column(
        "its r",
        _official(lambda o: str(o.resolution)),
        "official_resolution",
        lambda r: r.official.resolution if r.official else None,
    ),
    Column(
        "its params",
        _official(lambda o: si(o.params, 4)),
        "official_params",
        lambda r: r.official.params if r.official else "",
    ),
    Column(
        "its MACs",
        _official(lambda o: si(o.macs, 4)),
        "official_macs",
        lambda r: r.official.macs if r.official else "",
        keep=True,
    ),
    Column(
        "its ×B0",
        _official(lambda o: ratio(o.macs_ratio)),
        "official_macs_ratio",
        lambda r: r.official.macs_ratio if r.official else None,
    ),
]


def sweep_parts(s: Sweep) -> list[Part]:
    c, rows = s.compound, s.rows
    title = f"Compound scaling sweep (α={c.alpha:g} β={c.beta:g} γ={c.gamma:g}) — {MACS_LABEL}"
    return rebased([
        f"φ from {rows[0].phi:g} to {rows[-1].phi:g}: the formula's models beside the official Bφ",
        grid(title, SWEEP, rows),
        Note("×B0 is measured MACs over B0's.", ("×B0",)),
        Note("predicted is (α·β²·γ²)^φ; 2^φ is the paper's intended growth.", ("predicted",)),
        MACS_NOTE,
    ], c.family)  # fmt: skip


def sweep_view(s: Sweep) -> View:
    def doc() -> dict[str, Any]:
        c = s.compound
        return {"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma, "family": c.family,
                "rows": [to_dict(r) for r in s.rows]}  # fmt: skip

    c = s.compound
    leading = {"alpha": c.alpha, "beta": c.beta, "gamma": c.gamma}
    return View(lambda w: sweep_parts(s), doc, lambda: csv_text(SWEEP, s.rows, leading))


# ----------------------------------------------------------------------------- search

SEARCH_NOTE = (
    "Accuracy cannot be measured here (no training, no data): candidates are ranked by how "
    "close their measured MACs at φ=1 land to 2× B0's. The paper picked α=1.2, β=1.1, γ=1.15 "
    "by accuracy."
)
Ranked = tuple[int, SearchRow]
SEARCH: list[Column[Ranked]] = [
    Column("#", lambda x: str(x[0]), "rank", lambda x: x[0]),
    Column("α", lambda x: f"{x[1].alpha:g}", "alpha", lambda x: x[1].alpha),
    Column("β", lambda x: f"{x[1].beta:g}", "beta", lambda x: x[1].beta),
    Column("γ", lambda x: f"{x[1].gamma:g}", "gamma", lambda x: x[1].gamma),
    Column("α·β²·γ²", lambda x: f"{x[1].constraint:.4f}", "constraint", lambda x: x[1].constraint),
    Column("r", lambda x: str(x[1].resolution), "resolution", lambda x: x[1].resolution),
    Column("Params", lambda x: si(x[1].params, 4), "params", lambda x: x[1].params),
    Column("MACs", lambda x: si(x[1].macs, 4), "macs", lambda x: x[1].macs),
    Column("×B0", lambda x: f"{x[1].macs_ratio:.3f}×", "macs_ratio", lambda x: x[1].macs_ratio),
    Column(
        "|×−2|",
        lambda x: f"{x[1].distance_from_2x:.3f}",
        "distance_from_2x",
        lambda x: x[1].distance_from_2x,
    ),
]


def _paper_rank(rows: list[SearchRow]) -> str:
    """Where the paper's own choice lands in this ranking, when the grid contains it."""
    for i, r in enumerate(rows, start=1):
        if (r.alpha, r.beta, r.gamma) == (1.2, 1.1, 1.15):
            return f"The paper's α=1.2, β=1.1, γ=1.15 ranks #{i} here ({r.macs_ratio:.3f}× B0)."
    return "The paper's α=1.2, β=1.1, γ=1.15 is not on this grid."


def search_parts(s: Search) -> list[Part]:
    shown = list(enumerate(s.rows[: s.top], start=1))
    return rebased([
        f"Grid search at φ=1: α, β, γ ≥ 1 in steps of {s.grid_step:g}, "
        f"|α·β²·γ² − 2| ≤ {s.tolerance:g}",
        grid(f"Candidates (best {len(shown)} of {len(s.rows)})", SEARCH, shown),
        _paper_rank(s.rows),
        SEARCH_NOTE,
        MACS_NOTE,
    ], s.family)  # fmt: skip


def search_view(s: Search) -> View:
    shown = s.rows[: s.top]

    def doc() -> dict[str, Any]:
        return {"grid_step": s.grid_step, "tolerance": s.tolerance, "candidates": len(s.rows),
                "family": s.family, "note": SEARCH_NOTE.replace("B0", base_label(s.family)),
                "rows": [to_dict(r) for r in shown]}  # fmt: skip

    leading = {"grid_step": s.grid_step, "tolerance": s.tolerance, "candidates": len(s.rows)}
    return View(lambda w: search_parts(s), doc,
                lambda: csv_text(SEARCH, enumerate(shown, 1), leading))  # fmt: skip
