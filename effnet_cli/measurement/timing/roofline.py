"""The device's roofline: peak multiply-accumulates per second and memory bandwidth,
measured by two short microbenchmarks and cached per device, torch version and threads.

- Compute: a dense float32 matmul (n×n by n×n, n³ MACs), the best of several runs.
- Bandwidth: a large tensor copied into another (its bytes read plus its bytes written),
  the best of several runs.
The result is cached (``cache.py``); a corrupt or foreign cache file is ignored, with a
one-line note for the caller to show, and measured afresh. Nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from .cache import cache_key, cache_path, read_cache, write_cache

CACHE_NAME = "roofline.json"
MATMUL_SIZE = 1024
COPY_BYTES = 64 << 20
RUNS = 7


@dataclass(frozen=True)
class Roofline:
    """What one device sustains, and what it was measured with."""

    device: str
    torch_version: str
    threads: int
    peak_macs_per_s: float
    bandwidth_bytes_per_s: float
    seconds: float
    """How long the calibration took."""

    @property
    def key(self) -> str:
        return cache_key(self.device, self.threads)

    def bound(self, macs: float, nbytes: float) -> tuple[float, str]:
        """The roofline bound of an op, max(MACs / peak, bytes / bandwidth), in seconds,
        and which side sets it: "compute" (ties too) or "memory"."""
        compute, memory = macs / self.peak_macs_per_s, nbytes / self.bandwidth_bytes_per_s
        return max(compute, memory), "compute" if compute >= memory else "memory"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _best_seconds(step, device: torch.device, runs: int = RUNS) -> float:
    step()  # warm-up: first-call allocations and kernel selection
    best = float("inf")
    for _ in range(runs):
        _sync(device)
        start = time.perf_counter()
        step()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def _matmul_seconds(device: torch.device) -> float:
    n = MATMUL_SIZE
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    out = torch.empty(n, n, device=device)
    return _best_seconds(lambda: torch.mm(a, b, out=out), device)


def _copy_seconds(device: torch.device) -> float:
    src = torch.empty(COPY_BYTES // 4, device=device).uniform_()
    dst = torch.empty_like(src)
    return _best_seconds(lambda: dst.copy_(src), device)


def measure_roofline(device: str = "cpu") -> Roofline:
    """Run both microbenchmarks on ``device`` now (under a second on this CPU)."""
    start = time.perf_counter()
    dev = torch.device(device)
    macs_per_s = MATMUL_SIZE**3 / _matmul_seconds(dev)
    bytes_per_s = 2 * COPY_BYTES / _copy_seconds(dev)  # every byte read once, written once
    threads = torch.get_num_threads() if dev.type == "cpu" else 0
    return Roofline(device, torch.__version__, threads, macs_per_s, bytes_per_s,
                    time.perf_counter() - start)  # fmt: skip


def roofline(device: str = "cpu", recalibrate: bool = False) -> tuple[Roofline, str | None]:
    """The device's roofline from the cache, or measured (and cached) when there is none for
    this device, torch version and thread count, or when ``recalibrate`` is set. Returns it
    with a one-line note when a corrupt or foreign cache file was ignored."""
    path = cache_path(CACHE_NAME)
    entries, note = read_cache(path, lambda value: Roofline(**value), "roofline")
    threads = torch.get_num_threads() if device == "cpu" else 0
    key = cache_key(device, threads)
    if not recalibrate and key in entries:
        return Roofline(**entries[key]), note
    fresh = measure_roofline(device)
    entries[fresh.key] = asdict(fresh)
    return fresh, write_cache(path, entries, "roofline") or note
