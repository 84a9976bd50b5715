"""The Typer app: parse, call, render. The only module that prints or exits.

torch is imported inside the commands, never at module level, so `effnet --help`,
`effnet summary --help` and every argument error answer without loading it.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from . import __version__
from .arch.specs import (
    BASE_RESOLUTION,
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_GAMMA,
    GRAMMAR_HINT,
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    Compound,
    parse_variant,
)
from .devices import DEVICE_HINT, parse_device
from .errors import EffnetError, UsageError
from .files import check_checkpoint_path, check_writable, write_atomic

if TYPE_CHECKING:
    from .views.core import View

SUMMARY_TIMED_STEPS = 5
"""Forward passes `summary --device cpu|cuda` times for its latency line (after 1 warm-up)."""


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class Engine(str, Enum):
    auto = "auto"
    fast = "fast"
    fvcore = "fvcore"


class Pooling(str, Enum):
    avg = "avg"
    max = "max"


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"effnet: error: {_one_line(message)}\n")
    sys.stderr.flush()
    sys.exit(code)


def _given_value(args: list[str], opts: list[str]) -> str | None:
    """The raw text the user gave an option, so the error can quote it back."""
    for i, token in enumerate(args):
        for opt in opts:
            if token == opt and i + 1 < len(args):
                return args[i + 1]
            if opt.startswith("--") and token.startswith(opt + "="):
                return token[len(opt) + 1 :]
            if not opt.startswith("--") and token.startswith(opt) and len(token) > len(opt):
                return token[len(opt) :]
    return None


def _usage_message(exc: Exception, args: Any) -> str:
    """Typer's message plus the bad value as typed and a help hint."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    param = getattr(exc, "param", None)
    argv = list(sys.argv[1:] if args is None else args)
    value = _given_value(argv, list(getattr(param, "opts", []))) if param is not None else None
    if value is not None and f"'{value}'" not in message:
        message += f" (got '{value}')"
    ctx = getattr(exc, "ctx", None)
    return message + (f" (see '{ctx.command_path} --help')" if ctx is not None else "")


class OneLineErrors(TyperGroup):
    """Turns every failure into one line on stderr and the documented exit code.

    2 for usage errors (click's and ours), 1 for runtime failures, 130 for Ctrl-C; an
    unexpected exception is one line too (EFFNET_DEBUG=1 re-raises it for a traceback).
    """

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's usage errors, vendored by typer
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                sys.stdout.write(ctx.get_help() + "\n")
                code = 0
            else:
                _fail(_usage_message(exc, args), getattr(exc, "exit_code", 2))
        except typer.Abort:
            sys.stderr.write("\n")
            code = 130
        except EffnetError as exc:
            _fail(str(exc), exc.exit_code)
        except Exception as exc:
            if os.environ.get("EFFNET_DEBUG"):
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            _fail(f"internal error: {type(exc).__name__}: {first} (EFFNET_DEBUG=1 shows more)", 1)
        if standalone_mode:
            sys.exit(code if isinstance(code, int) else 0)
        return code


app = typer.Typer(
    cls=OneLineErrors,
    help="Inspect EfficientNet: stages, parameters, measured MACs and compound scaling.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

VariantArg = Annotated[str, typer.Argument(help=f"Model spec: {GRAMMAR_HINT}.", show_default=False)]
ResolutionOpt = Annotated[
    int | None,
    typer.Option(
        "--resolution",
        "-r",
        min=MIN_RESOLUTION,
        max=MAX_RESOLUTION,
        help="Input size in pixels [default: variant's own].",
    ),
]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Images per batch.")]
ClassesOpt = Annotated[int, typer.Option("--num-classes", min=1, help="Classifier outputs.")]
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device",
        help=f"{DEVICE_HINT}. meta (default) allocates nothing; a real device builds the model "
        "and counts with fvcore on real tensors. [default: meta]",
        show_default=False,
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ExportOpt = Annotated[
    Path | None,
    typer.Option("--export", help="Also save the table view as self-contained .html or .svg."),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option("--plot", help="Also save a chart, .png or .svg (needs the 'plot' extra)."),
]


class Dtype(str, Enum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    int8 = "int8"


DtypeOpt = Annotated[
    Dtype,
    typer.Option("--dtype", help="Storage type for the weight-memory figure (MiB = 2^20 bytes)."),
]
WideOpt = Annotated[
    bool,
    typer.Option("--wide", help="Show every column even where the terminal is too narrow."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
]
WeightsOpt = Annotated[
    Path | None, typer.Option("--weights", help="Load this state_dict checkpoint (strict).")
]
EngineOpt = Annotated[
    Engine, typer.Option("--engine", help="FLOP engine: fast (shape probe), fvcore, or auto.")
]


def _console(width: int | None = None) -> Console:
    """stdout console. Rich writes no escape codes when stdout is not a terminal; with
    NO_COLOR it would still write bold and dim, so then all styling is switched off."""
    plain = {"color_system": None} if os.environ.get("NO_COLOR") else {}
    return Console(highlight=False, soft_wrap=False, width=width, **plain)


def _table_width(wide: bool = False, output: Path | None = None) -> int | None:
    """Columns the tables may use: the terminal's width on a terminal; on a pipe or file
    COLUMNS when it is set, else no limit (None), so nothing is hidden; None with --wide."""
    if wide:
        return None
    console = _console()
    if output is None and console.is_terminal:
        return console.width
    columns = os.environ.get("COLUMNS", "").strip()
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def _print_width(result: Any, width: int | None) -> int:
    """The width to print a renderable at: the table width, or all it needs when unlimited."""
    if width is not None:
        return width
    from .views.core import natural_width

    return max(80, natural_width(result))


def _check_paths(output: Path | None, export: Path | None = None, plot: Path | None = None) -> None:
    """Refuse unwritable or mistyped file options before any work, so nothing is half-done."""
    if export is not None and export.suffix.lower() not in (".html", ".svg"):
        raise UsageError(f"--export '{export}' must end in .html or .svg")
    if plot is not None:
        from .views.plots import plot_format, pyplot

        plot_format(plot)
        pyplot()  # a missing 'plot' extra fails here, before any work or output
    given = [path for path in (output, export, plot) if path is not None]
    if len({path.resolve() for path in given}) < len(given):
        raise UsageError("--output, --export and --plot must name different files")
    for path in given:
        check_writable(path)


def _deliver(
    view: View, fmt: Format, output: Path | None, export: Path | None = None, wide: bool = False
) -> None:
    """Emit the view in ``fmt`` to stdout or --output, and its table view to --export."""
    from .views.core import render
    from .views.export import export_document

    width = _table_width(wide, output)
    _emit(render(view, fmt.value, width), output, width)
    if export is not None:
        table = render(view, "table", width)
        title = f"effnet {' '.join(sys.argv[1:])}".strip()
        data = export_document(table, export.suffix.lower(), _print_width(table, width), title)
        write_atomic(export, data)
        sys.stderr.write(f"effnet: wrote {export}\n")


def _plot(chart: str, path: Path | None, *data: Any) -> None:
    """Draw ``plots.<chart>(*data, path)`` when --plot was given, and say so on stderr."""
    if path is None:
        return
    from .views import plots

    getattr(plots, chart)(*data, path)
    sys.stderr.write(f"effnet: wrote {path}\n")


def _emit(result: Any, output: Path | None = None, width: int | None = None) -> None:
    """stdout, or an atomically written file (with one confirming line on stderr)."""
    if output is not None:
        from .views.export import as_text

        write_atomic(output, as_text(result, _print_width(result, width)))
        sys.stderr.write(f"effnet: wrote {output}\n")
        return
    try:
        if isinstance(result, str):
            sys.stdout.write(result)
            sys.stdout.flush()
        else:
            _console(_print_width(result, width)).print(result)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"effnet {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Inspect EfficientNet: stages, parameters, measured MACs and compound scaling."""


@app.command(short_help="One model: its Table 1, cost per stage and block, totals.")
def summary(
    variant: VariantArg,
    resolution: ResolutionOpt = None,
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    device: DeviceOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    dtype: DtypeOpt = Dtype.float32,
    blocks: Annotated[
        bool, typer.Option("--blocks", help="Add the per-MBConv-block table.")
    ] = False,
    engine: EngineOpt = Engine.auto,
    weights: WeightsOpt = None,
    no_top: Annotated[
        bool, typer.Option("--no-top", help="Drop the classifier (Keras include_top=False).")
    ] = False,
    pooling: Annotated[Pooling, typer.Option("--pooling", help="Global pooling.")] = Pooling.avg,
    layers: Annotated[
        int | None,
        typer.Option(
            "--layers", min=1, max=6, help="Add torchinfo's per-layer view to this depth."
        ),
    ] = None,
) -> None:
    """Per-stage table, the paper's Table 1 for this variant, and totals for one model.

    With --weights the model is built on the CPU (unless --device says otherwise) and the
    checkpoint must load with strict=True.
    """
    _check_paths(output, export)
    spec = parse_variant(variant)
    if weights is not None:
        check_checkpoint_path(weights)
    dev = parse_device(device) if device else ("cpu" if weights else "meta")
    timing = None
    if dev != "meta":
        timing = _bench_settings(
            device=dev, batch_size=batch_size, resolution=resolution, num_classes=num_classes,
            iters=SUMMARY_TIMED_STEPS, warmup=1, weights=weights,
        )  # fmt: skip
    from .measurement.bench import benchmark_prepared
    from .measurement.prepare import BuildOptions, input_shape, prepare
    from .measurement.summary import measure_prepared
    from .views.summary import summary_view

    shape = input_shape(spec, resolution, batch_size)
    build = BuildOptions(num_classes, not no_top, pooling.value)
    prepared = prepare(spec, dev, shape, build, weights)
    result = measure_prepared(prepared, engine.value, layers, dtype.value)
    if timing is not None:  # the same model, timed after it was counted
        result.benchmark = benchmark_prepared(prepared, timing)
    _deliver(summary_view(result, blocks), fmt, output, export, wide)


AlphaOpt = Annotated[float, typer.Option("--alpha", help="Depth base α (d = α^φ).")]
BetaOpt = Annotated[float, typer.Option("--beta", help="Width base β (w = β^φ).")]
GammaOpt = Annotated[float, typer.Option("--gamma", help="Resolution base γ (r = base·γ^φ).")]
BaseResOpt = Annotated[
    int,
    typer.Option(
        "--base-resolution",
        min=MIN_RESOLUTION,
        max=MAX_RESOLUTION,
        help="B0's input size the scaling starts from.",
    ),
]


@app.command(short_help="Compound scaling: φ, α, β, γ → d, w, r → the measured model.")
def scale(
    phi: Annotated[
        float | None,
        typer.Option("--phi", help="Compound coefficient φ (0 is B0; may be fractional)."),
    ] = None,
    alpha: AlphaOpt = DEFAULT_ALPHA,
    beta: BetaOpt = DEFAULT_BETA,
    gamma: GammaOpt = DEFAULT_GAMMA,
    base_resolution: BaseResOpt = BASE_RESOLUTION,
    sweep: Annotated[
        str | None,
        typer.Option("--sweep", help="START:STOP[:STEP], STOP included: one row per φ."),
    ] = None,
    search: Annotated[
        bool, typer.Option("--search", help="The paper's step 1: grid over α, β, γ at φ=1.")
    ] = False,
    grid_step: Annotated[float, typer.Option("--grid-step", help="--search grid step.")] = 0.05,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="--search: allowed |α·β²·γ² − 2|.")
    ] = 0.1,
    top: Annotated[int, typer.Option("--top", min=1, help="--search: rows shown.")] = 20,
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Compound scaling explorer: α, β, γ, φ → d, w, r → the measured model, stage by stage."""
    _check_paths(output, export, plot)
    if plot is not None and sweep is None:
        raise UsageError("--plot draws a sweep: use it with --sweep START:STOP[:STEP]")
    from .arch import scaling

    if (phi is not None) + (sweep is not None) + search != 1:
        raise UsageError("scale needs exactly one of --phi F, --sweep START:STOP[:STEP], --search")
    common = {"batch_size": batch_size, "num_classes": num_classes}
    compound = Compound(phi or 0.0, alpha, beta, gamma, base_resolution)
    if search:
        candidates = scaling.search_grid(grid_step, tolerance)
        from .measurement.analysis import search as run_search
        from .views.analysis import search_view

        found = run_search(candidates, base_resolution, (grid_step, tolerance, top), **common)
        _deliver(search_view(found), fmt, output, export, wide)
        return
    if sweep is not None:
        phis = scaling.parse_sweep(sweep)
        for value in phis:
            scaling.derive(compound.at(value))  # validate before torch
        from .measurement.analysis import sweep as run_sweep
        from .views.analysis import sweep_view

        swept = run_sweep(phis, compound, **common)
        _deliver(sweep_view(swept), fmt, output, export, wide)
        _plot("plot_sweep", plot, swept)
        return
    scaling.derive(compound)  # validate before torch
    from .measurement.analysis import scale_report
    from .views.analysis import scale_view

    _deliver(scale_view(scale_report(compound, **common)), fmt, output, export, wide)


@app.command(short_help="Two or more models side by side, with ratios to the first.")
def compare(
    variants: Annotated[
        list[str], typer.Argument(help=f"Two or more specs: {GRAMMAR_HINT}.", show_default=False)
    ],
    resolution: ResolutionOpt = None,
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    device: DeviceOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    dtype: DtypeOpt = Dtype.float32,
    plot: PlotOpt = None,
    engine: EngineOpt = Engine.auto,
) -> None:
    """Side-by-side comparison of two or more models, with ratios to the first."""
    _check_paths(output, export, plot)
    if len(variants) < 2:
        raise UsageError(f"compare needs at least two variants, got {len(variants)}")
    specs = [parse_variant(v) for v in variants]
    dev = parse_device(device) if device else "meta"
    from .measurement.analysis import compare as run_compare
    from .views.analysis import compare_view

    result = run_compare(
        specs,
        resolution=resolution,
        batch_size=batch_size,
        num_classes=num_classes,
        device=dev,
        engine=engine.value,
        dtype=dtype.value,
    )
    _deliver(compare_view(result), fmt, output, export, wide)
    _plot("plot_compare", plot, result)


@app.command("list", short_help="Every official variant, measured, beside the paper.")
def list_(
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    dtype: DtypeOpt = Dtype.float32,
    plot: PlotOpt = None,
) -> None:
    """Every official variant: coefficients, measured params/MACs, the paper's figures."""
    _check_paths(output, export, plot)
    from .measurement.analysis import list_variants
    from .views.analysis import list_view

    variants = list_variants(batch_size=batch_size, num_classes=num_classes, dtype=dtype.value)
    _deliver(list_view(variants), fmt, output, export, wide)
    _plot("plot_list", plot, variants)


class Amp(str, Enum):
    bfloat16 = "bfloat16"
    float16 = "float16"


def _progress(label: str):
    """A transient Rich progress bar on stderr, or None when stderr is not a terminal."""
    err = Console(stderr=True)
    if not err.is_terminal:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} steps"),
        TimeElapsedColumn(), console=err, transient=True,
    )  # fmt: skip


class Optimizer(str, Enum):
    sgd = "sgd"
    adam = "adam"
    adamw = "adamw"
    none = "none"


@app.command(short_help="Peak memory of inference or a training step: predicted, measured.")
def memory(
    variant: VariantArg,
    batch_size: BatchOpt = 1,
    resolution: ResolutionOpt = None,
    num_classes: ClassesOpt = 1000,
    train: Annotated[
        bool, typer.Option("--train", help="A training step instead of one inference forward.")
    ] = False,
    optimizer: Annotated[
        Optimizer | None,
        typer.Option(
            "--optimizer",
            help="With --train: sgd (momentum 0.9, default), adam, "
            "adamw, or none (gradients only).",
        ),
    ] = None,
    device: DeviceOpt = None,
    max_batch: Annotated[
        bool, typer.Option("--max-batch", help="Find the largest batch that fits --limit.")
    ] = False,
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit",
            help="Memory to fit into, e.g. 16GiB, 500MB, 2e9 (GiB = 2^30 "
            "bytes, GB = 10^9) [default: the device's free memory].",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
) -> None:
    """Peak memory of inference or of a training step, predicted without allocating; on a
    real device the step also runs and its measured peak is shown beside the prediction."""
    _check_paths(output)
    spec = parse_variant(variant)
    if optimizer is not None and not train:
        raise UsageError("--optimizer applies to a training step: add --train")
    if limit is not None and not max_batch:
        raise UsageError("--limit is what --max-batch fits into: add --max-batch")
    from .units import parse_bytes

    limit_bytes = parse_bytes(limit, "--limit") if limit is not None else None
    dev = parse_device(device) if device else "meta"
    from .measurement.peak import memory as run_memory
    from .views.memory import memory_view

    report = run_memory(
        spec, batch_size=batch_size, resolution=resolution, train=train,
        optimizer=(optimizer or Optimizer.sgd).value, device=dev, num_classes=num_classes,
        max_batch=max_batch, limit_bytes=limit_bytes,
    )  # fmt: skip
    _deliver(memory_view(report), fmt, output, None, wide)


@app.command(short_help="Measured latency, throughput and peak memory on a device.")
def bench(
    variants: Annotated[
        list[str], typer.Argument(help=f"One or more specs: {GRAMMAR_HINT}.", show_default=False)
    ],
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:N or mps.")] = "cpu",
    batch_size: BatchOpt = 1,
    resolution: ResolutionOpt = None,
    num_classes: ClassesOpt = 1000,
    iters: Annotated[
        int | None, typer.Option("--iters", help="Timed steps (default: a --seconds budget).")
    ] = None,
    seconds: Annotated[
        float, typer.Option("--seconds", help="Time budget per model (at least 5 steps).")
    ] = 5.0,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed steps first.")] = 2,
    amp: Annotated[
        Amp | None, typer.Option("--amp", help="Autocast to bfloat16 or float16.")
    ] = None,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="NHWC memory format.")
    ] = False,
    compile_: Annotated[
        bool, typer.Option("--compile", help="torch.compile the model first.")
    ] = False,
    threads: Annotated[
        int | None, typer.Option("--threads", help="CPU threads (torch.set_num_threads).")
    ] = None,
    train: Annotated[
        bool, typer.Option("--train", help="Time forward + backward instead of inference.")
    ] = False,
    weights: WeightsOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
) -> None:
    """Measured latency, throughput and peak memory on a real device."""
    _check_paths(output)
    specs = [parse_variant(v) for v in variants]
    if weights is not None:
        check_checkpoint_path(weights)
    settings = _bench_settings(
        device=parse_device(device, meta_ok=False), batch_size=batch_size, resolution=resolution,
        num_classes=num_classes, iters=iters, seconds=seconds, warmup=warmup,
        amp=amp.value if amp else None, channels_last=channels_last, compile=compile_,
        threads=threads, train=train, weights=weights,
    )  # fmt: skip
    from .measurement.bench import benchmark
    from .views.bench import bench_view
    from .views.core import render

    results = []
    bar = _progress("bench")
    with bar or nullcontext():
        for spec in specs:
            task = bar.add_task(spec.title, total=iters) if bar else None
            tick = (lambda n, total, t=task: bar.update(t, completed=n)) if bar else None
            results.append(benchmark(spec, settings, tick))
    width = _table_width(wide, output)
    _emit(render(bench_view(results), fmt.value, width), output, width)


def _bench_settings(**values: Any):
    """Validated bench settings, before torch is imported for the run."""
    from .measurement.settings import BenchSettings

    return BenchSettings(**values).validate()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C outside a command (e.g. while importing)
        sys.exit(130)


if __name__ == "__main__":
    main()
