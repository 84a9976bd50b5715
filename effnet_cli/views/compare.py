"""Views of `effnet compare` (models side by side, ratios to the first) and `effnet list`
(the official variants against their papers), each table a column list.

No torch and no printing: each function turns report dataclasses into a ``View``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ..arch.families import PaperFigures
from ..reports import Comparison, ListRow, StageFigures, Summary, VariantList, VariantSection
from .core import MACS_LABEL, MACS_NOTE, Column, Grid, Note, Part, View, csv_field, csv_text, grid
from .numbers import hw, nbytes, ratio, si, spark
from .summary import stages_csv, summary_dict

__all__ = ["compare_view", "list_view"]

# ----------------------------------------------------------------------------- compare

Ratios = tuple[Summary, float, float]
COMPARE_TOTALS: list[Column[Ratios]] = [
    Column("Model", lambda x: x[0].variant, align="l", keep=True),
    Column("w", lambda x: f"{x[0].coefficients.width:.4g}"),
    Column("d", lambda x: f"{x[0].coefficients.depth:.4g}"),
    Column("r", lambda x: str(x[0].input["resolution"]), keep=True),
    Column("Params", lambda x: si(x[0].totals.params, 4), keep=True),
    Column("×first", lambda x: ratio(x[1]), keep=True),
    Column("MACs", lambda x: si(x[0].totals.macs, 4), keep=True),
    Column("×first", lambda x: ratio(x[2]), keep=True),
    Column("Weights", lambda x: nbytes(x[0].totals.weight_bytes)),
    Column("Layer outputs", lambda x: nbytes(x[0].totals.activation_bytes)),
]
PROFILES: list[Column[Summary]] = [
    Column("Model", lambda m: m.variant, align="l"),
    Column("MACs", lambda m: spark([st.macs for st in m.stages]), align="l"),
    Column("Params", lambda m: spark([st.params for st in m.stages]), align="l"),
]


def _stage_at(m: Summary, row: int, rows: int) -> StageFigures | None:
    """Model ``m``'s stage on a row of ``rows``, lined up by role: the stem on the first row,
    the head on the last, block stages in between (a shorter network leaves rows empty)."""
    if row == rows - 1:
        return m.stages[-1]
    if row < len(m.stages) - 1:
        return m.stages[row]
    return None


def _per_stage(c: Comparison, title: str, cell: Callable[[StageFigures], str]) -> Grid:
    """One row per stage, one column per model; a cell that differs from the first model's
    is marked, with one mark (*). Networks of different lengths (V1 beside V2) are lined up
    stem to stem and head to head."""
    rows = max(len(m.stages) for m in c.models)
    same_length = all(len(m.stages) == rows for m in c.models)

    def value(m: Summary, i: int) -> str:
        stage = _stage_at(m, i, rows)
        return cell(stage) if stage is not None else ""

    def model_column(m: Summary, first: bool) -> Column[int]:
        def differs(i: int) -> bool:
            return value(m, i) != "" and value(m, i) != value(c.models[0], i)

        return Column(m.variant, lambda i: value(m, i), mark=None if first else differs)

    def label(i: int) -> str:
        return str(i + 1) if same_length or i < rows - 1 else "head"

    columns = [
        Column("Stage", label),
        *(model_column(m, j == 0) for j, m in enumerate(c.models)),
    ]
    return grid(title, columns, range(rows))


def _structure(st: StageFigures) -> str:
    return f"{hw(st.input_resolution)} {st.out_channels}ch ×{st.layers}"


def compare_parts(c: Comparison) -> list[Part]:
    names = ", ".join(m.variant for m in c.models)
    count = max(len(m.stages) for m in c.models)
    title = f"Cost profile, stages 1→{count} (per row, tallest = largest stage)"
    parts: list[Part] = [
        f"Comparing {names} — ratios to {c.models[0].variant}; * marks what differs from it",
        grid("Totals", COMPARE_TOTALS, zip(c.models, c.params_ratio, c.macs_ratio, strict=True)),
        grid(title, PROFILES, c.models),
        _per_stage(c, "Per stage: input resolution, channels, layers", _structure),
        _per_stage(c, "Per stage: params", lambda st: si(st.params, 4)),
        _per_stage(c, f"Per stage: {MACS_LABEL}", lambda st: si(st.macs, 4)),
    ]
    for a, b in c.identical:
        parts.append(f"{a} and {b} build the same network: identical stages, params and MACs.")
    parts.append(MACS_NOTE)
    return parts


def compare_doc(c: Comparison) -> dict[str, Any]:
    models = []
    for m, pr, mr in zip(c.models, c.params_ratio, c.macs_ratio, strict=True):
        models.append(summary_dict(m) | {"params_ratio": pr, "macs_ratio": mr})
    return {"models": models, "identical": c.identical}


def compare_view(c: Comparison) -> View:
    return View(lambda w: compare_parts(c), lambda: compare_doc(c),
                lambda: stages_csv(c.models, c.params_ratio, c.macs_ratio))  # fmt: skip


# ----------------------------------------------------------------------------- list


def _paper(get: Callable[[PaperFigures], str], default: str = "—") -> Callable[[ListRow], str]:
    return lambda row: get(row.paper) if row.paper is not None else default


def _paper_value(name: str) -> Callable[[ListRow], float | str]:
    return lambda row: getattr(row.paper, name) if row.paper is not None else ""


def _coefficient(header: str, key: str) -> Column[ListRow]:
    return Column(header, lambda r: f"{r.coefficients[key]:g}", key, lambda r: r.coefficients[key])


def _paper_column(header: str, figure: str, decimals: str, ours: str) -> Column[ListRow]:
    """A paper figure as printed, marked where our measurement does not round to it."""

    def printed(p: PaperFigures) -> str:
        return f"{getattr(p, figure):.{getattr(p, decimals)}f}"

    def differs(r: ListRow) -> bool:
        return r.paper is not None and getattr(r, ours) != getattr(r.paper, figure)

    return Column(header, _paper(printed), f"paper_{figure}", _paper_value(figure), keep=True,
                  mark=differs)  # fmt: skip


LIST: list[Column[ListRow]] = [
    Column("Variant", lambda r: r.variant, "variant", align="l", keep=True),
    csv_field("family"),
    _coefficient("w", "width"),
    _coefficient("d", "depth"),
    _coefficient("r", "resolution"),
    _coefficient("dropout", "dropout"),
    Column("Params M", lambda r: f"{r.params / 1e6:.3f}", "params", keep=True),
    _paper_column("paper M", "params_m", "params_decimals", "params_m_paper_rounding"),
    Column("Δ M", lambda r: f"{r.params / 1e6 - r.paper.params_m:+.2f}" if r.paper else ""),
    Column("MACs G", lambda r: f"{r.macs / 1e9:.3f}", "macs", keep=True),
    _paper_column("paper G", "flops_b", "flops_decimals", "flops_b_paper_rounding"),
    Column("Δ G", lambda r: f"{r.macs / 1e9 - r.paper.flops_b:+.3f}" if r.paper else ""),
    Column("Weights MiB", lambda r: f"{r.weight_bytes / 2**20:.1f}", "weight_bytes"),
    Column(
        "top-1 %", _paper(lambda p: f"{p.top1:.1f}"), "paper_top1", _paper_value("top1"), keep=True
    ),
    csv_field("weight_dtype"),
    csv_field("param_bytes"),
    csv_field("activation_bytes"),
    csv_field("params_m_paper_rounding"),
    csv_field("flops_b_paper_rounding"),
    csv_field("paper_params_decimals", _paper_value("params_decimals")),
    csv_field("paper_flops_decimals", _paper_value("flops_decimals")),
]


def _section_parts(s: VariantSection) -> list[Part]:
    missing = [r.variant.upper() for r in s.rows if r.paper is None]
    table = s.paper_table
    parts: list[Part] = [
        grid(f"{s.title}: measured vs the paper's {table} — {MACS_LABEL}", LIST, s.rows),
    ]
    if len(missing) < len(s.rows):
        parts += [
            f"paper = {table}'s params and FLOPS (its 'B' is G, 10^9); * marks one our "
            "measurement does not round to. M = 10^6, G = 10^9, MiB = 2^20 bytes.",
            Note("Δ = measured − paper.", ("Δ M", "Δ G")),
            f"{' and '.join(missing)} have no {table} entry. Top-1 is the paper's; it cannot "
            "be measured here.",
        ]
    elif s.paper_note:
        parts.append(s.paper_note)
    return parts


def list_parts(v: VariantList) -> list[Part]:
    names = " and ".join(s.title.split(" ")[0] for s in v.sections)
    parts: list[Part] = [
        f"{names}: released coefficients, measured parameters and MACs, weights as "
        f"{v.rows[0].weight_dtype}",
    ]
    for section in v.sections:
        parts += _section_parts(section)
    parts.append(MACS_NOTE)
    return parts


def list_doc(v: VariantList) -> dict[str, Any]:
    variants = []
    for r in v.rows:
        d = asdict(r)
        keys = ("params", "macs", "param_bytes", "activation_bytes", "weight_dtype", "weight_bytes")
        d["totals"] = {k: d.pop(k) for k in keys}
        variants.append(d)
    return {"variants": variants, "macs_convention": MACS_NOTE}


def list_view(v: VariantList) -> View:
    return View(lambda w: list_parts(v), lambda: list_doc(v), lambda: csv_text(LIST, v.rows))
