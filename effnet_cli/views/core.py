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
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

MACS_LABEL = "MACs (conv+linear)"
MACS_NOTE = (
    "MACs = multiply-accumulates of conv + linear layers, the paper's 'FLOPS'; "
    "2 FLOPs per MAC gives torch FlopCounterMode's convention."
)

R = TypeVar("R")
Row = TypeVar("Row", contravariant=True)
"""A column only reads its rows, so a column of a base type serves a derived one: the
budget's figure columns (``Column[Figures]``) sit in a table of ``BudgetRow``."""


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One column of a table, for every format at once.

    ``cell`` writes the terminal and Markdown text of a row (None: CSV only); ``field`` is
    the CSV/JSON name of the figure (None: table only) and ``value`` its raw value, by
    default the row's attribute of that name. ``keep`` columns survive a terminal too narrow
    for the whole table, so numbers are never folded or cut; ``mark`` says which cells
    differ from a reference (bold, and ``*`` in the terminal so it survives without colour).
    """

    header: str
    cell: Callable[[Row], str] | None
    field: str | None = None
    value: Callable[[Row], Any] | None = None
    align: str = "r"
    keep: bool = False
    mark: Callable[[Row], bool] | None = None

    def raw(self, row: Row) -> Any:
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


@dataclass
class Note:
    """A footnote explaining columns of the grid before it (``needs``, by header): dropped
    when a narrow terminal hides one of them, so no note explains what is not shown."""

    text: str
    needs: tuple[str, ...] = ()


Part = Grid | Facts | Note | str


@dataclass
class View:
    """What one command shows, in every format: table parts, JSON document, CSV text."""

    parts: Callable[[int | None], list[Part]]
    """The table view's parts for a terminal this many columns wide (None: no limit)."""
    doc: Callable[[], dict[str, Any]]
    csv: Callable[[], str]


def render(view: View, fmt: str, width: int | None = 120) -> RenderableType | str:
    """Dispatch on --format: a Rich renderable for 'table', text for the rest. A table
    ``width`` of None keeps every column (a pipe, a file, ``--wide``)."""
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


def renamed(doc: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``doc`` with keys renamed where they stand: for a field renamed in the code whose
    JSON key (and CSV field) keeps the name readers already know."""
    return {names.get(key, key): value for key, value in doc.items()}


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


def total_field(name: str) -> Column[Any]:
    """A CSV field only the total row fills (blank on the per-item rows)."""
    return Column("", None, name, lambda _row: None)


def csv_text(
    columns: Sequence[Column[R]],
    rows: Iterable[R],
    leading: dict[str, Any] | None = None,
    totals: Sequence[dict[str, Any]] = (),
) -> str:
    """One header line and one line per row, for the columns that carry a field. Each
    ``leading`` name=value pair becomes a first column with that value on every line;
    each ``totals`` dict becomes a last line, by field name, blank where it has no value
    (the spreadsheet convention of a ``total`` row under the items)."""
    leading = leading or {}
    fields = [c for c in columns if c.field is not None]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*leading, *(c.field for c in fields)])
    head = [_csv_cell(v) for v in leading.values()]
    for row in rows:
        writer.writerow([*head, *(_csv_cell(c.raw(row)) for c in fields)])
    for total in totals:
        writer.writerow([*head, *(_csv_cell(total.get(c.field or "")) for c in fields)])
    return buffer.getvalue()


def csv_blocks(*blocks: str) -> str:
    """Several CSV texts for one command, one after another (same header each time)."""
    header = blocks[0].split("\n", 1)[0]
    return blocks[0] + "".join(b.split("\n", 1)[1] for b in blocks[1:] if b.startswith(header))


# ----------------------------------------------------------------------------- rich


def _table(grid: Grid, keep: Sequence[int]) -> Table:
    table = Table(box=box.SIMPLE_HEAVY, pad_edge=False)
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


def _rich_grid(grid: Grid, width: int | None) -> tuple[Table, list[str]]:
    """Every column when they fit (or no width is set); only the grid's number columns when
    they do not. Returns the table and the headers it had to hide."""
    table = _table(grid, range(len(grid.header)))
    if grid.narrow is None or width is None or natural_width(table) <= width:
        return table, []
    hidden = [h for i, h in enumerate(grid.header) if i not in grid.narrow]
    return _table(grid, grid.narrow), list(dict.fromkeys(hidden))


_UNIT = re.compile(r"^\(?(k|M|G|T|B|KiB|MiB|GiB|ms|img/s|px|%|bytes)\b")


def _atoms(text: str) -> list[str]:
    """Words of ``text``, a number and the unit after it kept as one."""
    atoms: list[str] = []
    for word in text.split(" "):
        if atoms and atoms[-1][-1:].isdigit() and _UNIT.match(word):
            atoms[-1] += " " + word
        else:
            atoms.append(word)
    return atoms


def wrap_value(text: str, width: int) -> str:
    """Break a long value into lines of at most ``width`` columns: between its items
    ('batch_norm 6.74 M, add 210 k') where it has them, else between words, and never
    between a number and its unit; an atom longer than ``width`` stays whole."""
    items = text.split(", ")
    atoms: list[str] = []
    for i, item in enumerate(items):
        tail = "," if i < len(items) - 1 else ""
        atoms += [item + tail] if len(item) < width else _atoms(item + tail)
    lines: list[str] = []
    for atom in atoms:
        if lines and len(lines[-1]) + 1 + len(atom) <= width:
            lines[-1] += " " + atom
        else:
            lines.append(atom)
    return "\n".join(lines)


def _rich_facts(facts: Facts, width: int | None) -> Panel:
    """Label/value lines in a rounded panel; long values break only between their items."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    label_width = max(len(label) for label, _ in facts.lines)
    # the panel's borders and padding take 4 columns, the gap between label and value 4
    room = None if width is None else max(16, width - label_width - 8)
    for label, value in facts.lines:
        table.add_row(label, value if room is None else wrap_value(value, room))
    return Panel(table, title=facts.title, title_align="left", box=box.ROUNDED, expand=False)


PHRASE_BREAKS = (" — ", ": ", " (", ", ", " · ")
"""Where a title too long for the terminal may break: between its phrases, in this order
of preference (the space stays at the end of the first line, the mark with its phrase)."""


def title_lines(title: str, width: int | None) -> str:
    """A table's title on one line; on a terminal narrower than it, broken between
    phrases, never inside one (Rich would wrap it at the table's own width, mid-phrase)."""
    if width is None or len(title) <= width:
        return title
    for mark in PHRASE_BREAKS:
        cut = title.rfind(mark, 0, width)
        if cut > 0:
            head, tail = title[:cut], title[cut:].lstrip(" ")
            if mark in (": ", ", "):
                head, tail = title[: cut + 1], title[cut + 2 :]
            return head + "\n" + title_lines(tail, width)
    return title


HIDDEN_HINT = "widen the terminal, use --wide or -f markdown"


def rich_view(parts: Sequence[Part], width: int | None) -> RenderableType:
    """The terminal rendering of a view; text parts are dim notes, the first is bold. A
    table that must hide columns says which, in one dim line below it."""
    out: list[RenderableType] = []
    hidden: set[str] = set()
    for i, part in enumerate(parts):
        if isinstance(part, Grid):
            table, gone = _rich_grid(part, width)
            out += [Text(title_lines(part.title, width), style="italic", no_wrap=True), table]
            if gone:
                out.append(Text(f"hidden: {', '.join(gone)} — {HIDDEN_HINT}", style="dim"))
                hidden.update(gone)
        elif isinstance(part, Facts):
            out.append(_rich_facts(part, width))
        elif isinstance(part, Note):
            if not hidden.intersection(part.needs):
                out.append(Text(part.text, style="dim"))
        else:
            out.append(Text(part, style="bold" if i == 0 else "dim"))
    return Group(*out)


def natural_width(renderable: RenderableType) -> int:
    """Columns a renderable needs to show everything unwrapped: the width a pipe or file
    gets when no COLUMNS is set."""
    console = Console(width=100_000)
    return Measurement.get(console, console.options, renderable).maximum


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
        elif isinstance(part, Note):
            out.append(f"\n_{part.text}_\n")
        elif i == 0:
            out.append(f"### {part}\n")
        else:
            out.append(f"\n_{part}_\n")
    return "".join(out)
