"""The Typer app and its error handling: every failure becomes one line and an exit code.

This package is the only place that prints or exits. torch is imported inside the commands,
never at module level, so `effnet --help`, `effnet summary --help` and every argument error
answer without loading it.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import EffnetError

INTERNAL_ERROR = 70
"""Exit code of a bug in effnet itself (sysexits' EX_SOFTWARE): never 1 or 2, which promise
that the input or the machine was the problem."""


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


def _internal_message(exc: Exception) -> str:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return (
        f"internal error: {type(exc).__name__}: {first}. This is a bug in effnet: please "
        "report it with the command line (EFFNET_DEBUG=1 shows the traceback)"
    )


class OneLineErrors(TyperGroup):
    """Turns every failure into one line on stderr and the documented exit code.

    2 for usage errors (click's and ours), 1 for runtime failures, 130 for Ctrl-C; an
    unexpected exception is a bug: one line asking for a report, exit 70 (EFFNET_DEBUG=1
    re-raises it for the traceback).
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
            _fail(_internal_message(exc), INTERNAL_ERROR)
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C outside a command (e.g. while importing)
        sys.exit(130)
