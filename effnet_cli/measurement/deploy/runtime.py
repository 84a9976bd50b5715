"""`bench --runtime onnxruntime`: the exported model timed in an onnxruntime session through
the same timing loop, warm-up and statistics as eager PyTorch.

The session: CPU execution provider, full graph optimisation, intra-op threads = --threads
(default: torch's own thread count, so that eager and onnxruntime rows of one run compare
like for like), built from a fresh `effnet export` in a temporary directory or from the
user's file (--onnx). The timed step is ``session.run`` on one float32 input prepared
before timing, nothing else: ``benchmarks/ort_overhead.py`` compares it with a bare loop.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ...arch.specs import ResolvedSpec
from ...devices import process_peak_rss_bytes, process_rss_bytes, reset_peak_rss
from ...errors import RuntimeFailure
from ...heap import keep_heap, release
from ...reports import BenchResult
from ..timing.loop import Clock, Progress, stats, time_steps
from ..timing.settings import BenchSettings
from ..trace.prepare import input_shape
from .exporting import export_onnx, random_feed, session
from .extra import require_deploy
from .quantize import quantize_int8

NOT_TRACKED = "not measured: onnxruntime's arena holds no torch tensors"
"""What bench's live-tensor peak says for onnxruntime rows (the RSS growth still applies)."""


def check_file_shape(sess: Any, shape: tuple[int, ...], path: Path) -> None:
    """The user's file must take this run's input: its fixed dimensions equal the shape's."""
    dims = sess.get_inputs()[0].shape
    mismatch = len(dims) != len(shape) or any(
        isinstance(d, int) and d != s for d, s in zip(dims, shape, strict=False)
    )
    if mismatch:
        wanted = "×".join(str(s) for s in shape)
        raise RuntimeFailure(
            f"{path}: its input is {'×'.join(str(d) for d in dims)}, this run feeds {wanted}: "
            "set -b and -r to match it"
        )


def benchmark_onnx(
    spec: ResolvedSpec, settings: BenchSettings, progress: Progress | None = None
) -> list[BenchResult]:
    """Export ``spec`` (or read --onnx), and with --quantize int8 quantize it too; time each
    file in its own session: one result per file, float32 first."""
    require_deploy("--runtime onnxruntime")
    s = settings.validate()
    shape = input_shape(spec, s.resolution, s.batch_size)
    threads = s.threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="effnet-ort-") as tmp:
        start = time.perf_counter()
        path = Path(s.onnx) if s.onnx else Path(tmp) / "model.onnx"
        if s.onnx is None:
            export_onnx(spec, path, s.resolution, s.batch_size, weights=s.weights)
        elif not path.is_file():
            raise RuntimeFailure(f"{path}: no such .onnx file")
        files = [(path, None, time.perf_counter() - start)]
        if s.quantize:
            start = time.perf_counter()
            int8 = Path(tmp) / "model.int8.onnx"
            name = session(path, threads).get_inputs()[0].name
            quantize_int8(path, int8, name, shape)
            files.append((int8, s.quantize, time.perf_counter() - start))
        return [_time_file(spec, s, shape, threads, f, progress) for f in files]


def _time_file(
    spec: ResolvedSpec, s: BenchSettings, shape: tuple[int, ...], threads: int,
    file: tuple[Path, str | None, float], progress: Progress | None,
) -> BenchResult:  # fmt: skip
    """One file's session, warmed up and timed; its setup is what made the file plus the
    session."""
    path, quantize, made = file
    release()  # as eager's: from before the session holds the weights, less a kept heap
    base = process_rss_bytes()
    start = time.perf_counter()
    sess = session(path, threads)
    setup = made + time.perf_counter() - start
    check_file_shape(sess, shape, path)
    feed = random_feed(sess, shape)
    reset_peak_rss()
    samples = time_steps(lambda: sess.run(None, feed), Clock(torch.device("cpu")), s, progress)
    latency = stats(samples)
    return BenchResult(
        variant=spec.name, title=spec.title, device="cpu", batch_size=shape[0],
        resolution=shape[2], mode="inference", amp=None, channels_last=False, compiled=False,
        threads=threads, warmup=s.warmup, iterations=len(samples), latency_ms=latency,
        throughput=shape[0] * 1000.0 / latency["median"], peak_memory_bytes=0,
        memory_method=NOT_TRACKED, samples_ms=samples, predicted_peak_bytes=0,
        process_peak_bytes=max(0, process_peak_rss_bytes() - base),
        process_peak_method="process peak RSS increase", runtime="onnxruntime",
        compile_seconds=setup, onnx_file=str(s.onnx) if s.onnx else None, quantize=quantize,
        onnx_bytes=path.stat().st_size, malloc=keep_heap(),
    )  # fmt: skip
