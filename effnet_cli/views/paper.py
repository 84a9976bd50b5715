"""The view of `effnet paper TABLE`: the paper's table, row by row, measured beside printed.
No torch, no printing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..reports import PaperRow, PaperTable
from .core import MACS_NOTE, Column, Facts, Part, View, csv_field, csv_text, grid, to_dict

__all__ = ["paper_view"]


def _printed(key: str) -> Callable[[PaperRow], str]:
    """A paper figure as the paper printed it, '—' where it printed none."""
    return lambda r: r.paper.get("printed", {}).get(key) or "—"


def _measured(key: str, fmt: Callable[[Any], str]) -> Callable[[PaperRow], str]:
    return lambda r: fmt(r.measured[key]) if r.measured.get(key) is not None else "—"


def _delta(key: str) -> Callable[[PaperRow], str]:
    return lambda r: f"{r.delta_pct[key]:+.1f}" if key in r.delta_pct else ""


def _differs(key: str) -> Callable[[PaperRow], bool]:
    return lambda r: bool(r.measured) and r.measured.get(key) != r.paper.get(key)


def _g(value: float) -> str:
    return f"{value / 1e9:.3f} G"


def _m(value: float) -> str:
    return f"{value / 1e6:.2f} M"


def _x(value: float) -> str:
    return f"{value:.2f}×"


TABLE1: list[Column[PaperRow]] = [
    Column("Stage", lambda r: r.name, keep=True),
    Column(
        "Operator",
        lambda r: r.measured["operator"],
        align="l",
        keep=True,
        mark=_differs("operator"),
    ),
    Column("Input (paper)", lambda r: r.paper["resolution"]),
    Column("Input", lambda r: r.measured["resolution"], keep=True, mark=_differs("resolution")),
    Column("Channels (paper)", lambda r: str(r.paper["channels"])),
    Column("Channels", lambda r: str(r.measured["channels"]), keep=True, mark=_differs("channels")),
    Column("Layers (paper)", lambda r: str(r.paper["layers"])),
    Column("Layers", lambda r: str(r.measured["layers"]), keep=True, mark=_differs("layers")),
]
TABLE2: list[Column[PaperRow]] = [
    Column("", lambda r: r.group, align="l"),
    Column("Model", lambda r: r.name + (" (quoted)" if r.quoted else ""), align="l", keep=True),
    Column("Top-1", _printed("top1")),
    Column("Params (paper)", _printed("params"), keep=True),
    Column("Params", _measured("params", _m), keep=True),
    Column("Δ% params", _delta("params")),
    Column("× (paper)", _printed("params_ratio")),
    Column("×", _measured("params_ratio", _x)),
    Column("FLOPS (paper)", _printed("flops"), keep=True),
    Column("MACs", _measured("macs", _g), keep=True),
    Column("Δ% MACs", _delta("macs"), keep=True),
    Column("× (paper) ", _printed("flops_ratio")),
    Column("× ", _measured("macs_ratio", _x)),
]
TABLE3: list[Column[PaperRow]] = [
    Column("Row", lambda r: r.name, align="l", keep=True),
    Column("Printed as", lambda r: r.paper.get("printed", {}).get("row", "—"), align="l"),
    Column("Built", lambda r: r.spec or "nothing (quoted)", align="l"),
    Column("FLOPS (paper)", _printed("flops"), keep=True),
    Column("MACs", _measured("macs", _g), keep=True),
    Column("Δ%", _delta("macs"), keep=True),
    Column("× baseline", _measured("macs_ratio", _x)),
    Column("Top-1 (paper)", _printed("top1")),
]
TABLE4: list[Column[PaperRow]] = [
    Column("", lambda r: r.group, align="l"),
    Column("Model", lambda r: r.name + (" (quoted)" if r.quoted else ""), align="l", keep=True),
    Column("Top-1 (paper)", _printed("top1")),
    Column("Latency (paper)", _printed("latency"), keep=True),
    Column("Latency here", _measured("latency_ms", lambda v: f"{v:.1f} ms"), keep=True),
    Column("Speed-up (paper)", _printed("speedup"), keep=True),
    Column("Speed-up here", _measured("ratio", lambda v: f"{v:.2f}x"), keep=True),
    Column("Δ%", _delta("ratio")),
]
COLUMNS = {"table1": TABLE1, "table2": TABLE2, "table3": TABLE3, "table4": TABLE4}


def _keys(rows: list[PaperRow], side: str) -> list[str]:
    """Every key a side (measured, paper, delta_pct) has in any row, in first-seen order;
    the paper's printed strings are flattened as printed_*."""
    keys: dict[str, None] = {}
    for row in rows:
        for key, value in getattr(row, side).items():
            if isinstance(value, dict):
                keys |= {f"printed_{k}": None for k in value}
            else:
                keys[key] = None
    return list(keys)


def _csv_columns(rows: list[PaperRow]) -> list[Column[PaperRow]]:
    """CSV carries what JSON carries: each row's name, group, spec, quoted and note, then
    every measured, paper and delta figure under a prefixed name."""
    columns = [csv_field(name) for name in ("name", "group", "spec", "quoted")]
    for side, prefix in (
        ("measured", "measured_"),
        ("paper", "paper_"),
        ("delta_pct", "delta_pct_"),
    ):
        for key in _keys(rows, side):
            if key.startswith("printed_"):
                inner = key.removeprefix("printed_")
                value = lambda r, k=inner: r.paper.get("printed", {}).get(k)  # noqa: E731
            else:
                value = lambda r, s=side, k=key: getattr(r, s).get(k)  # noqa: E731
            columns.append(csv_field(prefix + key, value))
    return [*columns, csv_field("note")]


def _setup_lines(t: PaperTable) -> list[tuple[str, str]]:
    s = t.setup
    low, high = s["ratio_spread"]
    return [
        ("Device", f"{s['device']}, {s['threads']} thread(s), batch {s['batch_size']}"),
        ("Timing", f"{s['rounds']} alternating rounds after {s['warmup']} warm-up; median"),
        ("Per-round speed-up", f"{low:.2f}x to {high:.2f}x"),
    ]


def paper_parts(t: PaperTable) -> list[Part]:
    parts: list[Part] = [
        f"Rebuilt by effnet from real models, beside the paper as printed: {t.source}"
    ]
    if t.setup:
        parts.append(Facts("How Table 4 was measured here", _setup_lines(t)))
    parts.append(grid(t.title, COLUMNS[t.table], t.rows))
    grouped: dict[str, list[str]] = {}
    for r in t.rows:
        if r.note and not r.quoted:
            grouped.setdefault(r.note, []).append(r.name)
    notes = [f"{', '.join(names)}: {note}" for note, names in grouped.items()]
    quoted = [r.name for r in t.rows if r.quoted]
    if quoted:
        parts.append(f"Quoted only ({', '.join(quoted)}): {_quoted_reason(t)}")
    parts += notes + t.notes
    if t.table in ("table2", "table3"):
        parts.append("Δ% = (measured − paper) / paper × 100, against the printed figure.")
        parts.append(MACS_NOTE)
    return parts


def _quoted_reason(t: PaperTable) -> str:
    reasons = dict.fromkeys(r.note for r in t.rows if r.quoted)
    return "; ".join(reason.removeprefix("quoted: ") for reason in reasons)


def paper_doc(t: PaperTable) -> dict[str, Any]:
    return to_dict(t)


def paper_view(t: PaperTable) -> View:
    leading = {"table": t.table}
    return View(lambda w: paper_parts(t), lambda: paper_doc(t),
                lambda: csv_text(_csv_columns(t.rows), t.rows, leading))  # fmt: skip
