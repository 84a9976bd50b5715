"""The Typer app: parse, call, render. The only module that prints or exits.

torch is imported inside the commands, never at module level, so `effnet --help`,
`effnet summary --help` and every argument error answer without loading it.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from . import __version__
from .devices import DEVICE_HINT, parse_device
from .errors import EffnetError
from .specs import GRAMMAR_HINT, parse_variant


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
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
                _fail(message + hint, getattr(exc, "exit_code", 2))
        except typer.Abort:
            sys.stderr.write("\n")
            code = 130
        except EffnetError as exc:
            _fail(str(exc), exc.exit_code)
        except Exception as exc:
            if os.environ.get("EFFNET_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (EFFNET_DEBUG=1 shows more)", 1)
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
        "--resolution", "-r", min=1, help="Input size in pixels [default: variant's own]."
    ),
]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Images per batch.")]
ClassesOpt = Annotated[int, typer.Option("--num-classes", min=1, help="Classifier outputs.")]
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device",
        help=f"{DEVICE_HINT}. meta (default) allocates nothing; a real device builds the model "
        "and counts with fvcore on real tensors. [default: meta, or cpu with --weights]",
        show_default=False,
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _console() -> Console:
    """stdout console; Rich drops colour itself when stdout is no terminal or NO_COLOR is set."""
    return Console(highlight=False, soft_wrap=False)


def _emit(result: Any) -> None:
    if isinstance(result, str):
        sys.stdout.write(result)
        sys.stdout.flush()
    else:
        _console().print(result)


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


@app.command()
def summary(
    variant: VariantArg,
    resolution: ResolutionOpt = None,
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    device: DeviceOpt = None,
    fmt: FormatOpt = Format.table,
    blocks: Annotated[
        bool, typer.Option("--blocks", help="Add the per-MBConv-block table.")
    ] = False,
    engine: Annotated[
        Engine, typer.Option("--engine", help="FLOP engine: fast (shape probe), fvcore, or auto.")
    ] = Engine.auto,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="Load this state_dict checkpoint (strict).")
    ] = None,
    no_top: Annotated[
        bool, typer.Option("--no-top", help="Drop the classifier (Keras include_top=False).")
    ] = False,
    pooling: Annotated[Pooling, typer.Option("--pooling", help="Global pooling.")] = Pooling.avg,
) -> None:
    """Per-stage table, the paper's Table 1 for this variant, and totals for one model."""
    spec = parse_variant(variant)
    dev = parse_device(device) if device else ("cpu" if weights else "meta")
    from .measure import measure
    from .render import render_summary

    result = measure(
        spec,
        resolution=resolution,
        batch_size=batch_size,
        num_classes=num_classes,
        include_top=not no_top,
        pooling=pooling.value,
        device=dev,
        engine=engine.value,
        weights=weights,
    )
    _emit(render_summary(result, fmt.value, blocks, _console().width))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
