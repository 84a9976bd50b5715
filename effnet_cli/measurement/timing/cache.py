"""The JSON caches of device measurements (the roofline, the latency calibration).

Each is one file in the user's cache directory (``$XDG_CACHE_HOME/effnet`` or
``~/.cache/effnet``) holding entries keyed by device, torch version and thread count. A
corrupt or foreign file is ignored with a one-line note for the caller to show; a file that
cannot be written is a note too, never an error. Nothing here prints or imports torch
beyond its version string.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ...files import write_atomic


def cache_key(device: str, threads: int) -> str:
    """One entry per device, torch version and thread count: each changes the speed."""
    return f"{device}|torch {torch.__version__}|{threads} threads"


def cache_path(name: str) -> Path:
    """``$XDG_CACHE_HOME/effnet/NAME``, or ``~/.cache/effnet/NAME``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "effnet" / name


def read_cache(path: Path, check: Callable[[dict], Any], what: str) -> tuple[dict, str | None]:
    """The entries of a JSON cache file, each passed through ``check`` (which raises on a
    malformed one), and a one-line note when the file had to be ignored."""
    if not path.exists():
        return {}, None
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(entries, dict):
            raise ValueError("not an object")
        for value in entries.values():
            check(value)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return {}, f"ignored the {what} cache {path} ({type(exc).__name__}); measuring again"
    return entries, None


def write_cache(path: Path, entries: dict, what: str) -> str | None:
    """Write the entries atomically; a note instead of an error when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(entries) + "\n")
    except OSError:
        return f"could not write the {what} cache {path}; it will be measured again next time"
    return None
