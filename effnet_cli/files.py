"""Atomic file output: a reader sees the old file or the whole new one, never half of it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import RuntimeFailure, UsageError


class WeightsError(UsageError):
    """A --weights file that is missing, unreadable or of another architecture (exit 2)."""


def check_checkpoint_path(path: str | Path) -> Path:
    """A --weights path must be an existing file: checked before torch or any model is built."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{path}: is a directory, not a checkpoint file")
    if not path.is_file():
        raise WeightsError(f"{path}: no such checkpoint file")
    return path


def check_writable(path: Path) -> Path:
    """Fail before any work is done when ``path`` cannot be written (exit 1)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise RuntimeFailure(f"cannot write '{path}': it is a directory")
    if not parent.is_dir():
        raise RuntimeFailure(f"cannot write '{path}': directory '{parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise RuntimeFailure(f"cannot write '{path}': directory '{parent}' is not writable")
    return path


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets what open() would give it."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it into place."""
    check_writable(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise RuntimeFailure(f"cannot write '{path}': {exc.strerror or exc}") from None


@contextmanager
def staged(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` for a writer that needs a real path (an exporter)
    and a check of what it wrote; renamed into place only when the block ends cleanly,
    removed otherwise, so a failed export leaves nothing behind."""
    check_writable(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
