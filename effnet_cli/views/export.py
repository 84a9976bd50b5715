"""The table view as plain text for a file, or as Rich's own self-contained HTML / SVG."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

EXPORTS = (".html", ".svg")


def as_text(result: RenderableType | str, width: int) -> str:
    """What the terminal would show, as plain text: no colour codes, and no spaces at the
    ends of lines, which Rich pads tables and titles with to the table's width."""
    if isinstance(result, str):
        return result
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(result)
    return "".join(line.rstrip() + "\n" for line in console.file.getvalue().splitlines())


def export_document(renderable: RenderableType, suffix: str, width: int, title: str) -> str:
    """Rich's HTML (inline styles) or SVG export of exactly the table view."""
    console = Console(record=True, file=io.StringIO(), width=width, force_terminal=True,
                      color_system="truecolor", highlight=False)  # fmt: skip
    console.print(renderable)
    if suffix == ".svg":
        return console.export_svg(title=title)
    return console.export_html(inline_styles=True)
