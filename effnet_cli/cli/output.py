"""Where results go: stdout at the right width, atomic files, exports, charts, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..errors import UsageError
from ..files import check_writable, write_atomic
from ..measurement.timing.settings import CALIBRATING, calibrating
from .options import Format

if TYPE_CHECKING:
    from ..views.core import View


def console(width: int | None = None) -> Console:
    """stdout console. Rich writes no escape codes when stdout is not a terminal; with
    NO_COLOR it would still write bold and dim, so then all styling is switched off."""
    plain = {"color_system": None} if os.environ.get("NO_COLOR") else {}
    return Console(highlight=False, soft_wrap=False, width=width, **plain)


def table_width(wide: bool = False, output: Path | None = None) -> int | None:
    """Columns the tables may use: the terminal's width on a terminal; on a pipe or file
    COLUMNS when it is set, else no limit (None), so nothing is hidden; None with --wide."""
    if wide:
        return None
    stdout = console()
    if output is None and stdout.is_terminal:
        return stdout.width
    columns = os.environ.get("COLUMNS", "").strip()
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def print_width(result: Any, width: int | None) -> int:
    """The width to print a renderable at: the table width, or all it needs when unlimited."""
    if width is not None:
        return width
    from ..views.core import natural_width

    return max(80, natural_width(result))


def check_paths(output: Path | None, export: Path | None = None, plot: Path | None = None) -> None:
    """Refuse unwritable or mistyped file options before any work, so nothing is half-done."""
    if export is not None and export.suffix.lower() not in (".html", ".svg"):
        raise UsageError(f"--export '{export}' must end in .html or .svg")
    if plot is not None:
        from ..views.plots import plot_format, pyplot

        plot_format(plot)
        pyplot()  # a missing 'plot' extra fails here, before any work or output
    given = [path for path in (output, export, plot) if path is not None]
    if len({path.resolve() for path in given}) < len(given):
        raise UsageError("--output, --export and --plot must name different files")
    for path in given:
        check_writable(path)


def freeze_imports() -> None:
    """Before building many models: everything imported so far lives to the end of the
    process, so leaving it out of the cyclic collector's passes saves about a quarter of
    the build time of a dozen or more models (budget, list)."""
    import gc

    gc.freeze()


def deliver(
    view: View, fmt: Format, output: Path | None, export: Path | None = None, wide: bool = False
) -> None:
    """Emit the view in ``fmt`` to stdout or --output, and its table view to --export."""
    from ..views.core import render
    from ..views.export import export_document

    width = table_width(wide, output)
    emit(render(view, fmt.value, width), output, width)
    if export is not None:
        table = render(view, "table", width)
        title = f"effnet {' '.join(sys.argv[1:])}".strip()
        data = export_document(table, export.suffix.lower(), print_width(table, width), title)
        write_atomic(export, data)
        sys.stderr.write(f"effnet: wrote {export}\n")


def notes_off_table(fmt: Format, lines: Iterable[str]) -> None:
    """Notes and warnings a table shows in itself: the other formats are data for a program,
    so there they go to stderr, one ``effnet:`` line each, and stdout stays parseable."""
    if fmt is Format.table:
        return
    for line in lines:
        sys.stderr.write(f"effnet: {line}\n")


def draw_plot(chart: str, path: Path | None, *data: Any) -> None:
    """Draw ``plots.<chart>(*data, path)`` when --plot was given, and say so on stderr."""
    if path is None:
        return
    from ..views import plots

    getattr(plots, chart)(*data, path)
    sys.stderr.write(f"effnet: wrote {path}\n")


def emit(result: Any, output: Path | None = None, width: int | None = None) -> None:
    """stdout, or an atomically written file (with one confirming line on stderr)."""
    if output is not None:
        from ..views.export import as_text

        write_atomic(output, as_text(result, print_width(result, width)))
        sys.stderr.write(f"effnet: wrote {output}\n")
        return
    try:
        out = console(print_width(result, width))
        if isinstance(result, str) or not out.is_terminal:
            from ..views.export import as_text

            sys.stdout.write(as_text(result, print_width(result, width)))
            sys.stdout.flush()
        else:
            out.print(result)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def progress_bar(label: str):
    """A transient Rich progress bar on stderr, or None when stderr is not a terminal."""
    err = Console(stderr=True)
    if not err.is_terminal:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} steps"),
        TimeElapsedColumn(), console=err, transient=True,
    )  # fmt: skip


def calibration_line(models: int | None, runtime: str = "eager") -> str:
    """What a pipe is told when the latency calibration starts: a pause of seconds with
    nothing on stderr looks like a hang."""
    from ..measurement.timing.cache import cache_path
    from ..measurement.timing.settings import LATENCY_CACHES

    which = "the latency model" if runtime == "eager" else f"{runtime}'s latency model"
    how = "timing" if runtime == "eager" else "exporting and timing"
    return (
        f"effnet: calibrating {which} on this device, once: {how} {models} small "
        f"models (seconds); cached in {cache_path(LATENCY_CACHES[runtime])}\n"
    )


def phase_ticks(bar: Any, title: str) -> Callable[[str, int, int | None], None]:
    """A progress callback: one bar per phase (timing, op kinds, calibration), added the
    first time that phase reports. Without a bar (stderr is not a terminal) nothing is
    drawn, but the calibration's start is still said, in one stderr line."""
    tasks: dict[str, Any] = {}

    def tick(label: str, done: int, total: int | None) -> None:
        if bar is None:
            if label.startswith(CALIBRATING) and done == 0:
                runtime = "onnxruntime" if label == calibrating("onnxruntime") else "eager"
                sys.stderr.write(calibration_line(total, runtime))
            return
        if label not in tasks:
            tasks[label] = bar.add_task(f"{title}: {label}", total=total)
        bar.update(tasks[label], completed=done)

    return tick
