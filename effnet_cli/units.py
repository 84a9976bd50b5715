"""Units the tool reads and writes: bytes per weight dtype, and how sizes are spelled.

Every byte figure effnet prints is binary (KiB, MiB, GiB: powers of 1024) and says so by
its unit. No torch here, so options are checked before anything heavy loads.
"""

from __future__ import annotations

from .errors import UsageError

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
"""Bytes one weight takes in each storage type --dtype accepts."""


def check_dtype(name: str) -> str:
    """A --dtype value, or one line naming the accepted ones (exit 2)."""
    if name not in DTYPE_BYTES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPE_BYTES)}, got '{name}'")
    return name
