"""Measured latency, throughput and peak memory of real models on the user's device,
timed by the one loop of ``loop.py``. Nothing here prints: progress goes through an
optional callback.

Two memory figures per model. The peak memory is the one `effnet memory` measures: the
timed step run once more, after timing, under the trace layer's live-storage tracker, so it
means the same for every model of a run and sits beside the memory engine's prediction of
that step. The process peak (CUDA's allocator peak, or the growth of the process's peak
RSS) is read over the warm-up and timed steps only, before the tracked step.
"""

from __future__ import annotations

import torch

from ...arch.specs import ResolvedSpec
from ...devices import process_peak_rss_bytes, reset_peak_rss
from ...errors import RuntimeFailure
from ...heap import keep_heap
from ...reports import BenchResult
from ..trace.prepare import BuildOptions, Prepared, check_train_shape, input_shape, prepare
from ..trace.probe import Shape
from ..trace.simulate import predict
from ..trace.tracker import METHOD, measure_step
from .loop import (
    Clock,
    Progress,
    compile_message,
    make_input,
    ready,
    stats,
    step_fn,
    threads,
    time_steps,
)
from .settings import BenchSettings

# ----------------------------------------------------------------------------- memory


class _ProcessPeak:
    """CUDA: peak allocated bytes. CPU: growth of the process's peak RSS over the run, from
    the resident memory just before the model's weights were allocated.

    On Linux the kernel's peak-RSS mark (VmHWM) is reset first, so an earlier, larger
    model in the same process does not hide this one's peak; pages an earlier model freed
    and the allocator kept are reused without growing the RSS, so a later model can read
    low. That is why bench's peak memory is the tracker's, and this figure comes beside it.
    """

    def __init__(self, device: torch.device, base: int) -> None:
        self.device = device
        self.method = (
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


def _predicted(p: Prepared, s: BenchSettings) -> int:
    """The memory engine's peak of the step bench runs (optimizer none when training):
    prepare's prediction, or under --amp the same step predicted with autocast."""
    if s.amp is None:
        return p.training_step().peak_bytes if s.train else p.inference_peak
    device_type = p.device.partition(":")[0]
    return predict(p.model, p.shape, s.train, "none", device_type, s.amp).peak_bytes


# ----------------------------------------------------------------------------- running


def _check_train_shape(shape: Shape, s: BenchSettings) -> None:
    if s.train:
        check_train_shape(shape)


def benchmark(
    spec: ResolvedSpec, settings: BenchSettings, progress: Progress | None = None
) -> BenchResult:
    """Prepare ``spec`` on the device (built once, checked to fit), warm up, then time steps
    until the budget is spent."""
    s = settings.validate()
    shape = input_shape(spec, s.resolution, s.batch_size)
    _check_train_shape(shape, s)
    build = BuildOptions(num_classes=s.num_classes)
    with threads(s):
        p = prepare(spec, s.device, shape, build, s.weights, training=s.train, meta_ok=False)
        return _run(p, s, progress)


def benchmark_prepared(
    p: Prepared, settings: BenchSettings, progress: Progress | None = None
) -> BenchResult:
    """Time a model already prepared (and measured) by the caller: ``summary`` on a device."""
    s = settings.validate()
    _check_train_shape(p.shape, s)
    with threads(s):
        return _run(p, s, progress)


def _run(p: Prepared, s: BenchSettings, progress: Progress | None) -> BenchResult:
    device, shape, spec = torch.device(p.device), p.shape, p.spec
    process = _ProcessPeak(device, p.memory_base)
    process.start()
    model = ready(p, s)
    x = make_input(shape, s, device)
    step = step_fn(model, x, s, device)
    clock = Clock(device)
    compile_seconds = None
    try:
        if s.compile:  # the first call traces and compiles: timed apart from the steady state
            compile_seconds = clock.time(step) / 1e3
        samples = time_steps(step, clock, s, progress)
    except Exception as exc:
        if s.compile:
            raise RuntimeFailure(compile_message(exc)) from None
        raise
    process_peak = process.peak()  # the timed run's, before the tracked step adds to it
    # the same step once more, on the eager module (ready() set its layout and mode)
    tensors = measure_step(p.model, x, s.train, "none", s.amp)
    latency = stats(samples)
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
        peak_memory_bytes=tensors.peak_bytes,
        memory_method=METHOD,
        samples_ms=samples,
        predicted_peak_bytes=_predicted(p, s),
        process_peak_bytes=process_peak,
        process_peak_method=process.method,
        runtime=s.runtime,
        compile_seconds=compile_seconds,
        malloc=keep_heap(),
    )
