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
Aligned = list[StageFigures | None]
"""A model's stages on the rows of a comparison: None where a shorter network has none."""


def _stage_at(m: Summary, row: int, rows: int) -> StageFigures | None:
    """Model ``m``'s stage on a row of ``rows``, lined up by role: the stem on the first row,
    the head on the last, block stages in between (a shorter network leaves rows empty)."""
    if row == rows - 1:
        return m.stages[-1]
    if row < len(m.stages) - 1:
        return m.stages[row]
    return None


def aligned(c: Comparison) -> tuple[list[str], list[Aligned]]:
    """The comparison's rows by role: their labels (the stage number, and "head" for the
    last row where the networks' lengths differ) and each model's stage on each row. Every
    view of a comparison (tables, sparklines, the chart) lines the models up this way."""
    rows = max(len(m.stages) for m in c.models)
    same_length = all(len(m.stages) == rows for m in c.models)
    labels = [str(i + 1) if same_length or i < rows - 1 else "head" for i in range(rows)]
    return labels, [[_stage_at(m, i, rows) for i in range(rows)] for m in c.models]


def spark_row(stages: Aligned, figure: Callable[[StageFigures], float]) -> str:
    """A sparkline over the aligned rows: a space where the model has no stage."""
    values = [figure(st) for st in stages if st is not None]
    marks = iter(spark(values))
    return "".join(" " if st is None else next(marks) for st in stages)


Profile = tuple[Summary, Aligned]
PROFILES: list[Column[Profile]] = [
    Column("Model", lambda p: p[0].variant, align="l"),
    Column("MACs", lambda p: spark_row(p[1], lambda st: st.macs), align="l"),
    Column("Params", lambda p: spark_row(p[1], lambda st: st.params), align="l"),
]


def _per_stage(
    c: Comparison, title: str, cell: Callable[[StageFigures], str], align: str = "r"
) -> Grid:
    """One row per stage, one column per model; a cell that differs from the first model's
    is marked, with one mark (*). Networks of different lengths (V1 beside V2) are lined up
    stem to stem and head to head."""
    labels, columns_of = aligned(c)

    def value(j: int, i: int) -> str:
        stage = columns_of[j][i]
        return cell(stage) if stage is not None else ""

    def model_column(j: int) -> Column[int]:
        def differs(i: int) -> bool:
            return value(j, i) != "" and value(j, i) != value(0, i)

        return Column(c.models[j].variant, lambda i: value(j, i), align=align,
                      mark=differs if j else None)  # fmt: skip

    columns = [
        Column("Stage", lambda i: labels[i]),
        *(model_column(j) for j in range(len(c.models))),
    ]
    return grid(title, columns, range(len(labels)))


def _structure(st: StageFigures) -> str:
    return f"{hw(st.input_resolution)} {st.out_channels}ch ×{st.layers}"


def compare_parts(c: Comparison) -> list[Part]:
    names = ", ".join(m.variant for m in c.models)
    labels, stages = aligned(c)
    title = f"Cost profile, stages {labels[0]}→{labels[-1]} (per row, tallest = largest stage)"
    parts: list[Part] = [
        f"Comparing {names} — ratios to {c.models[0].variant}; * marks what differs from it",
        grid("Totals", COMPARE_TOTALS, zip(c.models, c.params_ratio, c.macs_ratio, strict=True)),
        grid(title, PROFILES, zip(c.models, stages, strict=True)),
        _per_stage(c, "Per stage: block (kind, expansion, kernel)", lambda st: st.operator, "l"),
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


PAPER_HEADERS = {"paper M", "Δ M", "paper G", "Δ G", "top-1 %"}
"""The table's columns that show the paper's figures: a family with none drops them (its
JSON and CSV keep their keys, empty)."""


def _section_parts(s: VariantSection) -> list[Part]:
    missing = [r.variant.upper() for r in s.rows if r.paper is None]
    table = s.paper_table
    if len(missing) == len(s.rows):
        shown = [c for c in LIST if c.header not in PAPER_HEADERS]
        return [grid(f"{s.title}: measured — {MACS_LABEL}", shown, s.rows), s.paper_note]
    verb = "has" if len(missing) == 1 else "have"
    absent = f"{' and '.join(missing)} {verb} no {table} entry. " if missing else ""
    whose = f"the {s.paper_name} paper's" if s.paper_name else "the paper's"
    return [
        grid(f"{s.title}: measured vs {whose} {table} — {MACS_LABEL}", LIST, s.rows),
        f"paper = {table}'s params and FLOPS (its 'B' is G, 10^9); * marks one our "
        "measurement does not round to. M = 10^6, G = 10^9, MiB = 2^20 bytes.",
        Note("Δ = measured − paper.", ("Δ M", "Δ G")),
        f"{absent}Top-1 is the paper's; it cannot be measured here.",
    ]


def list_parts(v: VariantList) -> list[Part]:
    titles = [s.title.split(" ")[0] for s in v.sections]
    names = " and ".join([", ".join(titles[:-1]), titles[-1]] if len(titles) > 1 else titles)
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
