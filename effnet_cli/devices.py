"""Device names: validated as text without torch, checked against the hardware with it."""

from __future__ import annotations

import re

from .errors import RuntimeFailure, UsageError

DEVICE_HINT = "cpu, cuda, cuda:N, mps or meta"
_DEVICE = re.compile(r"^(cpu|meta|mps|cuda)(?::(\d+))?$")


REAL_DEVICE_HINT = "cpu, cuda, cuda:N or mps"


def parse_device(text: str, meta_ok: bool = True, command: str = "this command") -> str:
    """Normalise a --device value; reject anything but cpu, cuda, cuda:N, mps and (where the
    command accepts it) meta, naming only what ``command`` accepts (exit 2)."""
    name = text.strip().lower()
    match = _DEVICE.match(name)
    if not match or (match.group(2) is not None and match.group(1) != "cuda"):
        raise UsageError(f"unknown device '{text}' (accepted: {_accepted(meta_ok)})")
    if name == "meta" and not meta_ok:
        raise UsageError(f"{command} needs a real device, not meta (accepted: {REAL_DEVICE_HINT})")
    return name


def _accepted(meta_ok: bool) -> str:
    return DEVICE_HINT if meta_ok else REAL_DEVICE_HINT


def fallback(meta_ok: bool = True) -> str:
    """What to suggest instead of a missing accelerator: only devices the command accepts."""
    return "--device cpu or meta" if meta_ok else "--device cpu"


def check_available(device: str, meta_ok: bool = True) -> str:
    """Fail with one line (exit 1) when the named accelerator is not on this machine; the
    hint names only devices the command accepts (``meta_ok``: whether meta is one)."""
    if device in ("cpu", "meta"):
        return device
    import torch

    if device == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            raise RuntimeFailure(
                "device 'mps' requested but no MPS (Apple GPU) is available; "
                f"use {fallback(meta_ok)}"
            )
        return device
    if not torch.cuda.is_available():
        raise RuntimeFailure(
            f"device '{device}' requested but CUDA is not available on this machine "
            f"(torch {torch.__version__}); use {fallback(meta_ok)}"
        )
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise RuntimeFailure(
            f"device '{device}' requested but this machine has {count} CUDA device(s)"
            f" (cuda:0-cuda:{count - 1})"
        )
    return device


def proc_bytes(path: str, key: str) -> int | None:
    """The ``key:  N kB`` line of a Linux /proc file, in bytes; None where there is none.

    The one place /proc is read: free memory for the fit check, resident and peak memory
    for bench's CPU figure.
    """
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def process_rss_bytes() -> int:
    """This process's resident memory now (0 where /proc is missing)."""
    return proc_bytes("/proc/self/status", "VmRSS") or 0


def process_peak_rss_bytes() -> int:
    """This process's peak resident memory since start or the last ``reset_peak_rss``."""
    peak = proc_bytes("/proc/self/status", "VmHWM")
    if peak is None:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return peak


def reset_peak_rss() -> None:
    """Reset Linux's peak-RSS mark (VmHWM) to the current RSS; a no-op elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass


def available_bytes(device: str) -> int | None:
    """Memory free for a new model on ``device`` now, or None where it cannot be known."""
    if device.startswith("cuda"):
        import torch

        index = int(device.partition(":")[2] or 0)
        return int(torch.cuda.mem_get_info(index)[0])
    free = proc_bytes("/proc/meminfo", "MemAvailable")
    if free is not None:
        return free
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
