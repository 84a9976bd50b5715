"""Error types the CLI turns into one line on stderr and an exit code. No torch here."""

from __future__ import annotations


class EffnetError(Exception):
    """Base: the message is user-facing and complete; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class UsageError(EffnetError, ValueError):
    """The user asked for something the tool does not accept (exit 2)."""

    exit_code = 2


class RuntimeFailure(EffnetError, RuntimeError):
    """A valid request that this machine cannot carry out, e.g. CUDA where none is (exit 1)."""

    exit_code = 1
