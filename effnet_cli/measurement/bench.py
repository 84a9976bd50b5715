"""Measured latency, throughput and peak memory of real models on the user's device.

The harness adds nothing to what it times: one synchronised clock read before and after
each step (CUDA events on CUDA, ``perf_counter`` elsewhere), no Python work in between
beyond the step itself. ``benchmarks/bench_overhead.py`` compares it with a bare loop.
Nothing here prints: progress goes through an optional callback.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from ..arch.specs import ResolvedSpec
from ..devices import check_available
from ..errors import RuntimeFailure, UsageError
from ..model.network import build_model, load_weights
from .settings import MAX_ITERS, BenchSettings
from .summary import check_fits, input_shape


@dataclass
class BenchResult:
    """Timing of one model: per-batch latency, images per second, peak memory."""

    variant: str
    title: str
    device: str
    batch_size: int
    resolution: int
    mode: str
    amp: str | None
    channels_last: bool
    compiled: bool
    threads: int
    warmup: int
    iterations: int
    latency_ms: dict[str, float]
    throughput: float
    peak_memory_bytes: int
    memory_kind: str
    samples_ms: list[float] = field(default_factory=list, repr=False)


# ----------------------------------------------------------------------------- clocks


class _Clock:
    """Milliseconds of one step: CUDA events on CUDA, synchronised perf_counter elsewhere."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    def time(self, step: Callable[[], Any]) -> float:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))
        self.sync()
        t0 = time.perf_counter()
        step()
        self.sync()
        return (time.perf_counter() - t0) * 1e3


# ----------------------------------------------------------------------------- memory


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _PeakMemory:
    """CUDA: peak allocated bytes. CPU: growth of the process's peak RSS over the run.

    On Linux the kernel's peak-RSS mark (VmHWM) is reset first, so an earlier, larger
    model in the same process does not hide this one's peak.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = (
            "cuda max_memory_allocated" if device.type == "cuda" else "process peak RSS increase"
        )
        self.base = 0

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")
        except OSError:
            pass
        self.base = _proc_status("VmRSS") or 0

    def peak(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        high = _proc_status("VmHWM")
        if high is None:
            import resource

            high = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return max(0, high - self.base)


# ----------------------------------------------------------------------------- running


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "median": statistics.median(ordered),
        "p90": p90,
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
    }


def _prepare_model(spec: ResolvedSpec, s: BenchSettings, device: torch.device) -> Any:
    model = build_model(spec, s.num_classes, device=device)
    if s.weights is not None:
        load_weights(model, s.weights)
    if s.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train(s.train)
    if s.compile:
        try:
            model = torch.compile(model)
        except Exception as exc:  # torch raises many types where compile is unsupported
            raise RuntimeFailure(_compile_message(exc)) from None
    return model


def _compile_message(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {first[:160]}"
    return f"torch.compile does not work here ({reason}); run without --compile"


def _step_fn(model: Any, x: torch.Tensor, s: BenchSettings, device: torch.device) -> Callable:
    amp = torch.autocast(device.type, dtype=getattr(torch, s.amp)) if s.amp else nullcontext()

    def infer() -> None:
        with torch.inference_mode(), amp:
            model(x)

    def train() -> None:
        model.zero_grad(set_to_none=True)
        with amp:
            out = model(x)
        out.float().sum().backward()

    return train if s.train else infer


def _input(spec: ResolvedSpec, s: BenchSettings, device: torch.device) -> torch.Tensor:
    shape = input_shape(spec, s.resolution, s.batch_size)
    x = torch.randn(*shape, device=device)
    return x.contiguous(memory_format=torch.channels_last) if s.channels_last else x


def benchmark(
    spec: ResolvedSpec,
    settings: BenchSettings,
    progress: Callable[[int, int | None], None] | None = None,
) -> BenchResult:
    """Build ``spec`` on the device, warm up, then time steps until the budget is spent."""
    s = settings.validate()
    check_available(s.device)
    device = torch.device(s.device)
    shape = input_shape(spec, s.resolution, s.batch_size)
    if s.train and shape[0] == 1 and math.ceil(shape[2] / 32) == 1:
        raise UsageError(
            f"--train at {shape[2]}px with batch 1 leaves batch-norm one value per channel "
            "(1×1 maps in the last stages): use --batch-size 2 or a resolution above 32"
        )
    check_fits(spec, s.device, shape, training=s.train, num_classes=s.num_classes)
    threads_before = torch.get_num_threads()
    if s.threads is not None and device.type == "cpu":
        torch.set_num_threads(s.threads)
    try:
        return _run(spec, s, device, shape, progress)
    finally:
        torch.set_num_threads(threads_before)


def _run(spec: ResolvedSpec, s: BenchSettings, device: torch.device, shape: tuple,
         progress: Callable | None) -> BenchResult:  # fmt: skip
    memory = _PeakMemory(device)
    memory.start()
    model = _prepare_model(spec, s, device)
    x = _input(spec, s, device)
    step = _step_fn(model, x, s, device)
    clock = _Clock(device)
    try:
        for _ in range(s.warmup):
            clock.time(step)
    except Exception as exc:
        if s.compile:
            raise RuntimeFailure(_compile_message(exc)) from None
        raise
    samples: list[float] = []
    started = time.perf_counter()
    while True:
        samples.append(clock.time(step))
        if progress is not None:
            progress(len(samples), s.iters)
        if s.iters is not None:
            if len(samples) >= s.iters:
                break
        elif len(samples) >= s.min_iters and time.perf_counter() - started >= s.seconds:
            break
        if len(samples) >= MAX_ITERS:
            break
    latency = _stats(samples)
    return BenchResult(
        variant=spec.name,
        title=spec.title,
        device=s.device,
        batch_size=shape[0],
        resolution=shape[2],
        mode="train" if s.train else "inference",
        amp=s.amp,
        channels_last=s.channels_last,
        compiled=s.compile,
        threads=torch.get_num_threads() if device.type == "cpu" else 0,
        warmup=s.warmup,
        iterations=len(samples),
        latency_ms=latency,
        throughput=shape[0] * 1000.0 / latency["median"],
        peak_memory_bytes=memory.peak(),
        memory_kind=memory.kind,
        samples_ms=samples,
    )
