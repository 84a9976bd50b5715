"""The machinery every view shares: columns, grids, and the four output formats.

A table is defined once, as a list of ``Column``s: header, alignment, how a cell is
written, whether it survives a narrow terminal, and the CSV field it carries. The same list
gives the Rich table, the Markdown table and the CSV. A view is the parts of its table view
(grids, fact panels, notes), its JSON document and its CSV; ``render`` picks one by
``--format``. No torch, no printing: the CLI decides where the result goes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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

R = TypeVar("R")


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column of a table, for every format at once.

    ``cell`` writes the terminal and Markdown text of a row (None: CSV only); ``field`` is
    the CSV/JSON name of the figure (None: table only) and ``value`` its raw value, by
    default the row's attribute of that name. ``keep`` columns survive a terminal too narrow
    for the whole table, so numbers are never folded or cut; ``mark`` says which cells
    differ from a reference (bold, and ``*`` in the terminal so it survives without colour).
    """

    header: str
    cell: Callable[[R], str] | None
    field: str | None = None
    value: Callable[[R], Any] | None = None
    align: str = "r"
    keep: bool = False
    mark: Callable[[R], bool] | None = None

    def raw(self, row: R) -> Any:
        return self.value(row) if self.value is not None else getattr(row, self.field or "")


def csv_field(name: str, value: Callable[[Any], Any] | None = None) -> Column[Any]:
    """A column that only the CSV carries."""
    return Column("", None, name, value)


@dataclass
class Grid:
    """A table as cells, rendered to Rich or Markdown from the same data.

    ``narrow`` lists the columns kept when the whole table does not fit the terminal (the
    others are descriptive); ``marked`` cells differ from a reference.
    """

    title: str
    header: Sequence[str]
    align: str
    rows: list[list[str]]
    narrow: Sequence[int] | None = None
    marked: set[tuple[int, int]] = field(default_factory=set)


def grid(title: str, columns: Sequence[Column[R]], rows: Iterable[R]) -> Grid:
    """The table view of ``rows`` under the columns that have a cell."""
    shown = [c for c in columns if c.cell is not None]
    cells, marked = [], set()
    for r, row in enumerate(rows):
        cells.append([c.cell(row) for c in shown])  # type: ignore[misc]
        marked |= {(r, i) for i, c in enumerate(shown) if c.mark is not None and c.mark(row)}
    narrow = [i for i, c in enumerate(shown) if c.keep] or None
    return Grid(title, [c.header for c in shown], "".join(c.align for c in shown), cells,
                narrow, marked)  # fmt: skip


@dataclass
class Facts:
    """Label/value lines: a panel in the terminal, a two-column table in Markdown."""

    title: str
    lines: list[tuple[str, str]]


Part = Grid | Facts | str


@dataclass
class View:
    """What one command shows, in every format: table parts, JSON document, CSV text."""

    parts: Callable[[int], list[Part]]
    """The table view's parts for a terminal this many columns wide."""
    doc: Callable[[], dict[str, Any]]
    csv: Callable[[], str]


def render(view: View, fmt: str, width: int = 120) -> RenderableType | str:
    """Dispatch on --format: a Rich renderable for 'table', text for the rest."""
    if fmt == "json":
        return to_json(view.doc())
    if fmt == "csv":
        return view.csv()
    if fmt == "markdown":
        return markdown_view(view.parts(120))
    return rich_view(view.parts(width), width)


# ----------------------------------------------------------------------------- json / csv


def to_dict(obj: Any) -> Any:
    """Plain JSON-ready structure of a dataclass (tuples become lists)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def csv_text(columns: Sequence[Column[R]], rows: Iterable[R], **leading: Any) -> str:
    """One header line and one line per row, for the columns that carry a field; each
    ``leading`` name=value pair becomes a first column with that value on every row."""
    fields = [c for c in columns if c.field is not None]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*leading, *(c.field for c in fields)])
    for row in rows:
        writer.writerow(
            [*map(_csv_cell, leading.values()), *(_csv_cell(c.raw(row)) for c in fields)]
        )
    return buffer.getvalue()


def csv_blocks(*blocks: str) -> str:
    """Several CSV texts for one command, one after another (same header each time)."""
    header = blocks[0].split("\n", 1)[0]
    return blocks[0] + "".join(b.split("\n", 1)[1] for b in blocks[1:] if b.startswith(header))


# ----------------------------------------------------------------------------- rich


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


# ----------------------------------------------------------------------------- markdown


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


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
