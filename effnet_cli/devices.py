"""Device names: validated as text without torch, checked against the hardware with it."""

from __future__ import annotations

import re

from .errors import RuntimeFailure, UsageError

DEVICE_HINT = "cpu, cuda, cuda:N, mps or meta"
_DEVICE = re.compile(r"^(cpu|meta|mps|cuda)(?::(\d+))?$")


def parse_device(text: str) -> str:
    """Normalise a --device value; reject anything but cpu, cuda, cuda:N, mps, meta (exit 2)."""
    name = text.strip().lower()
    match = _DEVICE.match(name)
    if not match or (match.group(2) is not None and match.group(1) != "cuda"):
        raise UsageError(f"unknown device '{text}' (accepted: {DEVICE_HINT})")
    return name


def check_available(device: str) -> str:
    """Fail with one line (exit 1) when the named accelerator is not on this machine."""
    if device in ("cpu", "meta"):
        return device
    import torch

    if device == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            raise RuntimeFailure("device 'mps' requested but no MPS (Apple GPU) is available")
        return device
    if not torch.cuda.is_available():
        raise RuntimeFailure(
            f"device '{device}' requested but CUDA is not available on this machine "
            f"(torch {torch.__version__}); use --device cpu or meta"
        )
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise RuntimeFailure(
            f"device '{device}' requested but this machine has {count} CUDA device(s)"
            f" (cuda:0-cuda:{count - 1})"
        )
    return device
