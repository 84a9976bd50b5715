"""The one timing loop, and what it needs: bench and profile both time through it.

The loop adds nothing to what it times: one synchronised clock read before and after each
step (CUDA events on CUDA, ``perf_counter`` elsewhere), no Python work in between beyond
the step itself. ``benchmarks/bench_overhead.py`` compares it with a bare loop.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F

from ...errors import RuntimeFailure
from ...heap import keep_heap
from ..trace.prepare import Prepared
from ..trace.probe import Shape
from .settings import MAX_ITERS, BenchSettings

Progress = Callable[[int, int | None], None]


class Clock:
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


def stats(samples: list[float]) -> dict[str, float]:
    """Median, p90, mean, min and max of the step times (ms)."""
    ordered = sorted(samples)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "median": statistics.median(ordered),
        "p90": p90,
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
    }


def ready(p: Prepared, s: BenchSettings) -> Any:
    """The prepared model in the layout and mode the settings ask for, compiled if asked."""
    model = p.model
    if s.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train(s.train)
    if s.compile:
        try:
            # every model shares EfficientNet.forward's code object: without a reset, the
            # ninth model of one run passes dynamo's recompile limit and runs eager, silently
            torch._dynamo.reset()
            model = torch.compile(model)
        except Exception as exc:  # torch raises many types where compile is unsupported
            raise RuntimeFailure(compile_message(exc)) from None
    return model


def compile_message(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {first[:160]}"
    return f"torch.compile does not work here ({reason}); run without --compile"


def step_fn(model: Any, x: torch.Tensor, s: BenchSettings, device: torch.device) -> Callable:
    """The step bench and profile time, the one the memory engine predicts and the tracker
    measures: a no-grad forward under ``torch.inference_mode``, or the definition's training
    step with optimizer none (forward and cross-entropy under autocast, backward,
    ``zero_grad(set_to_none=True)``). The labels are drawn here, once, outside the timed
    step."""
    amp = torch.autocast(device.type, dtype=getattr(torch, s.amp)) if s.amp else nullcontext()

    def infer() -> None:
        with torch.inference_mode(), amp:
            model(x)

    if not s.train:
        return infer
    labels = torch.randint(0, s.num_classes, (x.shape[0],), device=device)

    def train() -> None:
        with amp:
            loss = F.cross_entropy(model(x), labels)
        loss.backward()
        model.zero_grad(set_to_none=True)

    return train


def make_input(shape: Shape, s: BenchSettings, device: torch.device) -> torch.Tensor:
    x = torch.randn(*shape, device=device)
    return x.contiguous(memory_format=torch.channels_last) if s.channels_last else x


@contextmanager
def threads(s: BenchSettings) -> Iterator[None]:
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
    clock: Clock,
    s: BenchSettings,
    progress: Progress | None = None,
    after: Callable[[], Any] | None = None,
) -> list[float]:
    """Warm up, then time steps until the budget (--iters, or --seconds with at least
    min_iters) is spent; ``after`` runs after each timed step, outside its time (profile
    reads its stage marks there). The one timing loop of bench and profile, on a kept C heap
    (``heap.py``)."""
    keep_heap()
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
