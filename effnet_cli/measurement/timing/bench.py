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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch

from ..arch.specs import ResolvedSpec
from ..devices import process_peak_rss_bytes, reset_peak_rss
from ..errors import RuntimeFailure
from ..reports import BenchResult
from .prepare import BuildOptions, Prepared, check_train_shape, input_shape, prepare
from .settings import MAX_ITERS, BenchSettings

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


class _PeakMemory:
    """CUDA: peak allocated bytes. CPU: growth of the process's peak RSS over the run, from
    the resident memory just before the model's weights were allocated.

    On Linux the kernel's peak-RSS mark (VmHWM) is reset first, so an earlier, larger
    model in the same process does not hide this one's peak.
    """

    def __init__(self, device: torch.device, base: int) -> None:
        self.device = device
        self.kind = (
            "cuda max_memory_allocated" if device.type == "cuda" else "process peak RSS increase"
        )
        self.base = base

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            reset_peak_rss()

    def peak(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        return max(0, process_peak_rss_bytes() - self.base)


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


def _ready(p: Prepared, s: BenchSettings) -> Any:
    """The prepared model in the layout and mode the settings ask for, compiled if asked."""
    model = p.model
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


def _input(shape: tuple, s: BenchSettings, device: torch.device) -> torch.Tensor:
    x = torch.randn(*shape, device=device)
    return x.contiguous(memory_format=torch.channels_last) if s.channels_last else x


def _check_train_shape(shape: tuple, s: BenchSettings) -> None:
    if s.train:
        check_train_shape(shape)


Progress = Callable[[int, int | None], None]


def benchmark(
    spec: ResolvedSpec, settings: BenchSettings, progress: Progress | None = None
) -> BenchResult:
    """Prepare ``spec`` on the device (built once, checked to fit), warm up, then time steps
    until the budget is spent."""
    s = settings.validate()
    shape = input_shape(spec, s.resolution, s.batch_size)
    _check_train_shape(shape, s)
    build = BuildOptions(num_classes=s.num_classes)
    with _threads(s):
        p = prepare(spec, s.device, shape, build, s.weights, training=s.train, meta_ok=False)
        return _run(p, s, progress)


def benchmark_prepared(
    p: Prepared, settings: BenchSettings, progress: Progress | None = None
) -> BenchResult:
    """Time a model already prepared (and measured) by the caller: ``summary`` on a device."""
    s = settings.validate()
    _check_train_shape(p.shape, s)
    with _threads(s):
        return _run(p, s, progress)


@contextmanager
def _threads(s: BenchSettings) -> Iterator[None]:
    """CPU threads as the settings ask, restored afterwards."""
    before = torch.get_num_threads()
    if s.threads is not None and s.device == "cpu":
        torch.set_num_threads(s.threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_steps(
    step: Callable[[], Any],
    clock: _Clock,
    s: BenchSettings,
    progress: Progress | None = None,
    after: Callable[[], Any] | None = None,
) -> list[float]:
    """Warm up, then time steps until the budget (--iters, or --seconds with at least
    min_iters) is spent; ``after`` runs after each timed step, outside its time (profile
    reads its stage marks there). The one timing loop of bench and profile."""
    for _ in range(s.warmup):
        clock.time(step)
        if after is not None:
            after()
    samples: list[float] = []
    started = time.perf_counter()
    while True:
        samples.append(clock.time(step))
        if after is not None:
            after()
        if progress is not None:
            progress(len(samples), s.iters)
        if s.iters is not None:
            if len(samples) >= s.iters:
                break
        elif len(samples) >= s.min_iters and time.perf_counter() - started >= s.seconds:
            break
        if len(samples) >= MAX_ITERS:
            break
    return samples


def _run(p: Prepared, s: BenchSettings, progress: Progress | None) -> BenchResult:
    device, shape, spec = torch.device(p.device), p.shape, p.spec
    memory = _PeakMemory(device, p.memory_base)
    memory.start()
    model = _ready(p, s)
    x = _input(shape, s, device)
    step = _step_fn(model, x, s, device)
    try:
        samples = time_steps(step, _Clock(device), s, progress)
    except Exception as exc:
        if s.compile:
            raise RuntimeFailure(_compile_message(exc)) from None
        raise
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
        predicted_peak_bytes=p.training_step().peak_bytes if s.train else p.inference_peak,
    )
