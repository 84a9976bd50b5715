"""`effnet paper TABLE`: the EfficientNet paper's Tables 1-4 rebuilt from real models, beside
the paper's own figures. In a module of its own: commands.py holds the model commands."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer

from ..arch.paper import TABLES
from ..errors import UsageError
from .app import app
from .options import Format, FormatOpt, OutputOpt, WideOpt, _choice
from .output import check_paths, deliver, freeze_imports, progress_bar

Table = _choice("Table", TABLES)
TableArg = Annotated[
    Table,
    typer.Argument(
        help="table1 (B0's stages), table2 (B0-B7 and the ConvNets of similar accuracy), "
        "table3 (scaling MobileNets and ResNet-50), table4 (latency: B1 against ResNet-152)."
    ),
]
PaperThreadsOpt = Annotated[
    int | None,
    typer.Option("--threads", help="table4: CPU threads [default: 1, the paper's one core]."),
]
PaperItersOpt = Annotated[
    int | None, typer.Option("--iters", help="table4: alternating rounds timed [default: 10].")
]
PaperWarmupOpt = Annotated[
    int | None, typer.Option("--warmup", help="table4: untimed rounds first [default: 1].")
]


@app.command(short_help="The paper's Tables 1-4, rebuilt from real models, beside the paper.")
def paper(
    table: TableArg,
    threads: PaperThreadsOpt = None,
    iters: PaperItersOpt = None,
    warmup: PaperWarmupOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
) -> None:
    """The paper's table rebuilt: every model effnet can build is built and measured (params
    and MACs; Table 4's latency on this CPU), beside the figures the paper printed."""
    check_paths(output)
    timing = {"--threads": threads, "--iters": iters, "--warmup": warmup}
    given = [name for name, value in timing.items() if value is not None]
    if table.value != "table4" and given:
        raise UsageError(f"{', '.join(given)} time Table 4 only; {table.value} is counted")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")
    from ..measurement.paper import paper_table
    from ..views.paper import paper_view

    freeze_imports()
    options = {"threads": threads or 1, "iters": 10 if iters is None else iters,
               "warmup": 1 if warmup is None else warmup}  # fmt: skip
    bar = progress_bar("paper") if table.value == "table4" else None
    with bar or nullcontext():
        label = "B1 and ResNet-152, alternating"
        task = bar.add_task(label, total=options["iters"]) if bar else None
        tick = (lambda n, total: bar.update(task, completed=n)) if bar else None
        report = paper_table(table.value, progress=tick, **options)
    deliver(paper_view(report), fmt, output, wide=wide)
