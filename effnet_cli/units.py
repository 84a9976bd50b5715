"""Units the tool reads and writes: bytes per weight dtype, and how sizes are spelled.

Every byte figure effnet prints is binary (KiB, MiB, GiB: powers of 1024) and says so by
its unit. No torch here, so options are checked before anything heavy loads.
"""

from __future__ import annotations

import math

from .choices import WEIGHT_DTYPES
from .errors import UsageError


def check_dtype(name: str) -> str:
    """A --dtype value, or one line naming the accepted ones (exit 2)."""
    if name not in WEIGHT_DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(WEIGHT_DTYPES)}, got '{name}'")
    return name


_DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BYTES = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
SIZE_HINT = "e.g. 16GiB, 500MB, 2e9 (KiB/MiB/GiB are powers of 1024, kB/MB/GB of 1000)"
COUNT_HINT = "e.g. 2G, 500M, 2e9 (k, M, G, T are powers of 1000)"
_MILLISECONDS = {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 1e-3}
TIME_HINT = "e.g. 30ms, 0.5s, 250us (a plain number is milliseconds)"


def _split(text: str) -> tuple[float, str]:
    body = text.strip()
    number = body.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = body[len(number) :].strip().lower()
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    return value, unit


def parse_bytes(text: str, option: str, zero_ok: bool = False) -> int:
    """A byte size: decimal (kB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB) units, or
    plain bytes; negative or malformed values (and zero, unless ``zero_ok``: a headroom
    may be none) are one usage error naming them."""
    value, unit = _split(text)
    if unit not in _BYTES or not (math.isfinite(value) and (value > 0 or (zero_ok and value == 0))):
        kind = "a size of 0 or more" if zero_ok else "a positive size"
        raise UsageError(f"{option} '{text}' is not {kind} ({SIZE_HINT})")
    return int(value * _BYTES[unit])


def parse_count(text: str, option: str) -> int:
    """A count with an optional decimal suffix (k, M, G, T) or in e-notation."""
    value, unit = _split(text)
    if unit not in _DECIMAL or not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option} '{text}' is not a positive count ({COUNT_HINT})")
    return int(value * _DECIMAL[unit])


def parse_ms(text: str, option: str) -> float:
    """A duration in milliseconds: ``30ms``, ``0.5s``, ``250us`` or a plain number of ms."""
    value, unit = _split(text)
    if unit not in _MILLISECONDS or not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option} '{text}' is not a positive duration ({TIME_HINT})")
    return value * _MILLISECONDS[unit]


def age_text(seconds: float) -> str:
    """'40 s', '12 min', '2.5 h', '3 d': how long ago, to a useful precision."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
