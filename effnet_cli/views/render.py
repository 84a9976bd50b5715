"""Rendering: Rich tables and the json / csv / markdown writers. No torch, no printing.

Every function takes collected figures (the dataclasses of ``measurement.py``) and returns a
Rich renderable or a string; ``cli.py`` decides where it goes. Every FLOP figure carries
its convention: MACs are multiply-accumulates of conv + linear layers (the paper's "FLOPS").
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "json", "csv", "markdown")
MACS_LABEL = "MACs (conv+linear)"
MACS_NOTE = (
    "MACs = multiply-accumulates of conv + linear layers, the paper's 'FLOPS'; "
    "2 FLOPs per MAC gives torch FlopCounterMode's convention."
)

# ----------------------------------------------------------------------------- numbers


def si(value: float, digits: int = 3) -> str:
    """Compact figure with an SI suffix: 5288548 → '5.29 M', 385814752 → '0.386 G'."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {suffix}"
    return f"{value:.{digits}g}"


def macs_g(value: int) -> str:
    """MACs in G with three decimals, as the reference list gives them (T from 10^12 up)."""
    if value >= 1e12:
        return f"{value / 1e12:.3f} T"
    return f"{value / 1e9:.3f} G"


def nbytes(value: int) -> str:
    """Bytes in binary units (MiB/GiB), as memory is usually reported."""
    for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= scale:
            return f"{value / scale:.1f} {suffix}"
    return f"{value} B"


def hw(pair: Sequence[int]) -> str:
    """'224×224' for a [h, w] pair."""
    return f"{pair[0]}×{pair[1]}"


def pct(share: float) -> str:
    return f"{100 * share:.1f}%"


_EIGHTHS = " ▏▎▍▌▋▊▉"
_LEVELS = "▁▂▃▄▅▆▇█"


def bar(share: float, cells: int) -> str:
    """A horizontal bar of ``cells`` characters filled to ``share`` (block eighths): it
    reads without colour and copies as text."""
    eighths = round(max(0.0, min(1.0, share)) * cells * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(cells)


def spark(values: Sequence[float]) -> str:
    """One character per value, its height scaled to the largest: '▁▁▄▃▄▇█▃▂'."""
    top = max(values) if values else 0
    if top <= 0:
        return _LEVELS[0] * len(values)
    return "".join(_LEVELS[min(7, int(v / top * 7.999))] for v in values)


def bar_cells(width: int) -> int:
    """Bar length for a terminal ``width`` columns wide (two bars share a row)."""
    return max(6, min(30, (width - 30) // 2))


# ----------------------------------------------------------------------------- dict / json


def to_dict(obj: Any) -> Any:
    """Plain JSON-ready structure of a dataclass (tuples become lists)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def summary_dict(summary: Any) -> dict[str, Any]:
    """The summary JSON document: DESIGN.md's keys plus the per-block breakdown."""
    doc = to_dict(summary)
    doc["macs_convention"] = MACS_NOTE
    return doc


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- csv / markdown

STAGE_COLUMNS = (
    "stage", "operator", "kernel", "stride", "expand_ratio", "input_resolution",
    "output_resolution", "in_channels", "out_channels", "layers", "params", "macs",
    "params_share", "macs_share", "activation_bytes",
)  # fmt: skip
BLOCK_COLUMNS = (
    "stage", "block", "name", "kernel", "stride", "in_channels", "expanded_channels",
    "se_channels", "out_channels", "input_resolution", "output_resolution", "residual",
    "stochastic_depth", "params", "macs",
)  # fmt: skip


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """One header line and one line per row; lists become 'HxW'."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    return buffer.getvalue()


def summary_csv(summary: Any, blocks: bool = False) -> str:
    """Per-stage (or per-block) rows, each prefixed with the variant it belongs to."""
    columns = BLOCK_COLUMNS if blocks else STAGE_COLUMNS
    items = summary.blocks if blocks else summary.stages
    rows = [{"variant": summary.variant, **to_dict(item)} for item in items]
    return to_csv(rows, ("variant", *columns))


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


# ----------------------------------------------------------------------------- views as data


@dataclass
class Grid:
    """A table as data, rendered to Rich or Markdown from the same cells.

    ``narrow`` lists the columns kept when the whole table does not fit the terminal (the
    others are descriptive), so digits are never folded or cut; ``marked`` cells differ
    from a reference and are shown bold (Rich) or strong (Markdown), plus ``*`` in the
    terminal so the difference survives without colour.
    """

    title: str
    header: Sequence[str]
    align: str
    rows: list[list[str]]
    narrow: Sequence[int] | None = None
    marked: set[tuple[int, int]] = field(default_factory=set)


@dataclass
class Facts:
    """Label/value lines: a panel in the terminal, a two-column table in Markdown."""

    title: str
    lines: list[tuple[str, str]]


Part = Grid | Facts | str


def _table(grid: Grid, keep: Sequence[int]) -> Table:
    table = Table(title=grid.title, box=box.SIMPLE_HEAVY, title_justify="left", pad_edge=False)
    for i in keep:
        text = grid.align[i] == "l"
        table.add_column(
            grid.header[i],
            justify="left" if text else "right",
            overflow="fold",
            no_wrap=not text,
        )
    for r, row in enumerate(grid.rows):
        cells = []
        for i in keep:
            marked = (r, i) in grid.marked
            cells.append(Text(row[i] + "*", style="bold") if marked else Text(row[i]))
        table.add_row(*cells)
    return table


def _natural_width(table: Table) -> int:
    """Columns the table needs to show every cell unwrapped, as Rich measures it."""
    console = Console(width=100_000)
    return Measurement.get(console, console.options, table).maximum


def _rich_grid(grid: Grid, width: int) -> Table:
    """Every column when they fit; only the grid's number columns when they do not."""
    table = _table(grid, range(len(grid.header)))
    if grid.narrow is None or _natural_width(table) <= width:
        return table
    return _table(grid, grid.narrow)


def _rich_facts(facts: Facts) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, value in facts.lines:
        table.add_row(label, value)
    return Panel(table, title=facts.title, title_align="left", box=box.ROUNDED, expand=False)


def rich_view(parts: Sequence[Part], width: int) -> RenderableType:
    """The terminal rendering of a view; text parts are dim notes, the first is bold."""
    out: list[RenderableType] = []
    for i, part in enumerate(parts):
        if isinstance(part, Grid):
            out.append(_rich_grid(part, width))
        elif isinstance(part, Facts):
            out.append(_rich_facts(part))
        else:
            out.append(Text(part, style="bold" if i == 0 else "dim"))
    return Group(*out)


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str) -> str:
    """A GitHub-flavoured pipe table; ``align`` gives 'l' or 'r' per column."""
    rule = ["---" if a == "l" else "--:" for a in align]
    lines = [list(header), rule, *[[md_escape(str(c)) for c in row] for row in rows]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"


def _md_grid(grid: Grid) -> str:
    rows = [
        [f"**{c}**" if (r, i) in grid.marked else c for i, c in enumerate(row)]
        for r, row in enumerate(grid.rows)
    ]
    return f"\n**{grid.title}**\n\n" + md_table(grid.header, rows, grid.align)


def markdown_view(parts: Sequence[Part]) -> str:
    """Paste-ready Markdown of a view: the first text part is the heading."""
    out = []
    for i, part in enumerate(parts):
        if isinstance(part, Grid):
            out.append(_md_grid(part))
        elif isinstance(part, Facts):
            out.append(f"\n**{part.title}**\n\n" + md_table(("Figure", "Value"), part.lines, "ll"))
        elif i == 0:
            out.append(f"### {part}\n")
        else:
            out.append(f"\n_{part}_\n")
    return "".join(out)


# ----------------------------------------------------------------------------- summary views


def short_operator(s: Any) -> str:
    """'MBConv6 k5' for the narrow cost table; the full name stays in Table 1."""
    if s.operator.startswith("MBConv"):
        return f"MBConv{s.expand_ratio} k{s.kernel}"
    return {1: "Stem", 9: "Head"}.get(s.stage, s.operator)


def _stage_cells(s: Any) -> list[str]:
    return [
        str(s.stage), short_operator(s), hw(s.output_resolution),
        f"{s.in_channels}→{s.out_channels}",
        si(s.params, 4), pct(s.params_share), si(s.macs, 4), pct(s.macs_share),
        nbytes(s.activation_bytes),
    ]  # fmt: skip


STAGE_HEADER = (
    "Stage", "Operator", "Output", "Channels", "Params", "%", "MACs", "%", "Activations",
)  # fmt: skip
STAGE_ALIGN = "rlrrrrrrr"
TABLE1_HEADER = ("Stage", "Operator", "Resolution", "Channels", "Layers")
TABLE1_ALIGN = "rlrrr"


def _table1_cells(s: Any) -> list[str]:
    return [str(s.stage), s.operator, hw(s.input_resolution), str(s.out_channels), str(s.layers)]


def describe(summary: Any) -> str:
    """Two lines: the model and its head; the input, device, engine and weights."""
    c = summary.coefficients
    res = summary.input["resolution"]
    head = f"{summary.num_classes} classes" if summary.include_top else "no top"
    pooling = getattr(summary, "pooling", "avg")
    weights = getattr(summary, "weights", None)
    return (
        f"{summary.title} · w {c.width:.4g} · d {c.depth:.4g} · {c.resolution}px"
        f" · dropout {c.dropout:g} · {pooling} pool · {head}\n"
        f"input {summary.input['batch_size']}×3×{res}×{res} · device {summary.device}"
        f" · engine {summary.engine} · "
        + (f"weights {weights} (loaded, strict)" if weights else "random weights")
    )


def _totals_lines(summary: Any) -> list[tuple[str, str]]:
    t = summary.totals
    ew = t.elementwise_ops
    lines = [
        ("Parameters", f"{t.params:,} ({si(t.params)})"),
        ("Parameter memory", f"{nbytes(t.param_bytes)} ({summary.dtype})"),
        (MACS_LABEL, f"{t.macs:,} ({macs_g(t.macs)})"),
        ("FLOPs at 2 per MAC", si(2 * t.macs)),
        ("Element-wise ops (not in MACs)", f"{sum(ew.values()):,} ({si(sum(ew.values()))})"),
        ("  of which", ", ".join(f"{k} {si(v)}" for k, v in ew.items())),
        ("Activations (all layer outputs)", nbytes(t.activation_bytes)),
    ]
    bench = getattr(summary, "benchmark", None)
    if bench is not None:
        lat = bench.latency_ms
        lines.append(
            (
                f"Latency on {bench.device} ({bench.iterations} runs)",
                f"median {lat['median']:.2f} ms · p90 {lat['p90']:.2f} ms · "
                f"{bench.throughput:.1f} img/s",
            )
        )
        lines.append(("Peak memory", f"{nbytes(bench.peak_memory_bytes)} ({bench.memory_kind})"))
    if t.engine_counts:
        fv = ", ".join(f"{k} {si(v)}" for k, v in sorted(t.engine_counts.items()))
        lines.append(("fvcore's own counts", fv))
        lines.append(("fvcore's cost", f"{summary.seconds['count']:.2f} s on {summary.device}"))
    return lines


def _block_cells(b: Any) -> list[str]:
    return [
        f"{b.stage}.{b.block}", f"k{b.kernel} s{b.stride}", hw(b.input_resolution),
        f"{b.in_channels}→{b.expanded_channels}→{b.out_channels}", str(b.se_channels),
        "yes" if b.residual else "", f"{b.stochastic_depth:.3f}", si(b.params, 4), si(b.macs, 4),
    ]  # fmt: skip


BLOCK_HEADER = (
    "Block", "k/s", "Input", "in→exp→out", "SE", "Skip", "Drop", "Params", "MACs",
)  # fmt: skip
BLOCK_ALIGN = "rlrrrlrrr"


STAGE_NARROW = (0, 4, 5, 6, 7, 8)
BLOCK_NARROW = (0, 3, 7, 8)


def _where_cost_goes(summary: Any, cells: int) -> Grid:
    """Share of MACs and params per stage as text bars; the largest stage fills its bar."""
    top_macs = max(s.macs_share for s in summary.stages) or 1.0
    top_params = max(s.params_share for s in summary.stages) or 1.0
    rows = [
        [str(s.stage), f"{bar(s.macs_share / top_macs, cells)} {pct(s.macs_share):>6}",
         f"{bar(s.params_share / top_params, cells)} {pct(s.params_share):>6}"]
        for s in summary.stages
    ]  # fmt: skip
    return Grid("Where the cost goes, per stage", ("Stage", "MACs", "Params"), "rll", rows)


def summary_parts(summary: Any, blocks: bool = False, width: int = 120) -> list[Part]:
    """Header line, the variant's Table 1, cost per stage, (blocks,) totals, the convention."""
    res = summary.input["resolution"]
    parts: list[Part] = [
        describe(summary),
        Grid(
            f"Table 1 for {summary.title} at {res}px",
            TABLE1_HEADER,
            TABLE1_ALIGN,
            [_table1_cells(s) for s in summary.stages],
        ),
        Grid(
            f"Cost per stage — {MACS_LABEL}",
            STAGE_HEADER,
            STAGE_ALIGN,
            [_stage_cells(s) for s in summary.stages],
            STAGE_NARROW,
        ),
        _where_cost_goes(summary, bar_cells(width)),
    ]
    if blocks:
        rows = [_block_cells(b) for b in summary.blocks]
        parts.append(Grid("Per MBConv block", BLOCK_HEADER, BLOCK_ALIGN, rows, BLOCK_NARROW))
    if getattr(summary, "layers", None):
        parts.append(_layers_grid(summary.layers))
    parts += [Facts("Totals", _totals_lines(summary)), MACS_NOTE]
    return parts


LAYERS_NOTE = (
    "Per layer (torchinfo): its Mult-Adds are params × output positions per layer, so they "
    "include biases and batch-norm; its total is a little above the MACs here."
)


def _layers_grid(layers: Any) -> Grid:
    rows = [
        ["  " * (r.depth - 1) + r.name, r.type, "×".join(map(str, r.output_shape)),
         si(r.params, 4) if r.params else "–", si(r.mult_adds, 4) if r.mult_adds else "–"]
        for r in layers
    ]  # fmt: skip
    header = ("Layer", "Type", "Output", "Params", "Mult-Adds")
    return Grid(LAYERS_NOTE, header, "lllrr", rows, (0, 3, 4))


def render_summary(
    summary: Any, fmt: str, blocks: bool = False, width: int = 120
) -> RenderableType | str:
    """Dispatch on --format: a Rich renderable for 'table', text for the rest."""
    if fmt == "json":
        return to_json(summary_dict(summary))
    if fmt == "csv":
        return summary_csv(summary, blocks)
    if fmt == "markdown":
        return markdown_view(summary_parts(summary, blocks))
    return rich_view(summary_parts(summary, blocks, width), width)
