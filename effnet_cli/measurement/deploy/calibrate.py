"""The onnxruntime latency model's calibration samples: each calibration model exported,
run under onnxruntime's profiler, and every kernel it ran charged to the fused unit of the
probe's trace it computes (``timing/fusion.py``); then timed bare, in a session without the
profiler. The fit itself is the eager model's per-kind costs (``timing/latency.py``), over
units instead of torch ops; no whole-step layer is fitted on top, since the units are scaled
to add up to each model's step (below).

A kernel finds its unit through the module path its exported node carries (the attribution
``profile --runtime onnxruntime`` uses): among the units holding that module (a shared
module, such as ResNet's one ReLU per block, is in several), the one nearest the last unit
charged, in execution order. A kernel no unit holds (a reshape at the top level) is charged
to the last unit. Each unit keeps its fastest time over the profiled runs, as the eager
calibration does, and is then scaled so that the units add up to the model's bare step
(the median of its timed steps): under the profiler each kernel also pays for its own
timing (its kernels summed to 1.5× the bare step of the smallest calibration model here,
0.9-1.1× for the others), which is not onnxruntime's time.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ...arch.specs import ResolvedSpec, parse_variant
from ...errors import RuntimeFailure
from ...files import write_atomic
from ...model import build_model
from ...reports import ProfileReport
from ..timing.cache import cache_key, cache_path
from ..timing.drift import ProbeExtra, probe_input
from ..timing.fusion import Unit, fused, units
from ..timing.latency import CALIBRATION, LatencyPlan, ModelSamples, OpSample
from ..timing.optimes import price_kind
from ..timing.profiling import Progress, profile
from ..timing.settings import LATENCY_CACHES, ProfileSettings
from ..trace.probe import probe_forward
from .exporting import _to_onnx, check_opset, random_feed, session
from .extra import require_deploy
from .profiling import _events, _module_of, _scopes

WARMUP = 2
PROFILED = 3
TIMED = 9
"""Bare steps per calibration model; their median is its time. (Not the fastest, as eager's:
onnxruntime's steps spread widely, its thread pool waking and spinning, and the median is
what bench reports and a user meets.)"""


def _charge(nodes: list[dict], runs: int, us: list[Unit], graph: Any, scopes: dict) -> list[float]:
    """Seconds per unit: each kernel charged to its unit, each unit's fastest run."""
    optimized = {n.name: n for n in graph.node}
    holders: dict[str, list[int]] = {}
    for k, unit in enumerate(us):
        for module in unit.modules:
            holders.setdefault(module, []).append(k)
    per_run = len(nodes) // runs
    times = [[0.0] * runs for _ in us]
    for r in range(runs):
        at = 0
        for event in nodes[r * per_run : (r + 1) * per_run]:
            node = optimized.get(event["name"].removesuffix("_kernel_time"))
            module = _module_of(node, scopes) if node is not None else None
            found = holders.get(module or "", [])
            if found:
                at = min(found, key=lambda k: (k < at, abs(k - at)))
            times[at][r] += event["dur"] * 1e-6
    return [min(t) for t in times]


def ort_samples(spec: str, batch: int, threads: int) -> ModelSamples:
    """One calibration model exported and run in onnxruntime: its units' times and its step."""
    import onnx

    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    shape = (batch, 3, res, res)
    model = build_model(resolved).eval()
    us = units(probe_forward(model, shape))
    with tempfile.TemporaryDirectory(prefix="effnet-ortcal-") as tmp:
        path = Path(tmp) / "model.onnx"
        proto = _to_onnx(model, torch.randn(shape), check_opset(None), False)
        path.write_bytes(proto.SerializeToString())
        profiled = session(path, threads, profile=Path(tmp))
        feed = random_feed(profiled, shape)
        for _ in range(WARMUP + PROFILED):
            profiled.run(None, feed)
        nodes, runs = _events(profiled.end_profiling(), WARMUP)
        graph = onnx.load(str(Path(tmp) / "optimized.onnx")).graph
        seconds = _charge(nodes, len(runs), us, graph, _scopes(proto))
        del profiled  # its idle thread pool would spin beside the timed one
        bare = _bare(session(path, threads), feed)
    step = statistics.median(bare)
    share = step / sum(seconds) if sum(seconds) > 0 else 1.0
    ops = [
        OpSample(price_kind(u.record), u.record.macs, u.record.read_bytes + u.record.weight_bytes,
                 u.record.write_bytes, s * share)
        for u, s in zip(us, seconds, strict=True)
    ]  # fmt: skip
    return ModelSamples(spec, shape, ops, step, step / min(bare))


def _bare(sess: Any, feed: dict) -> list[float]:
    """Timed steps of a session without the profiler, after a warm-up."""
    for _ in range(WARMUP):
        sess.run(None, feed)
    out = []
    for _ in range(TIMED):
        start = time.perf_counter()
        sess.run(None, feed)
        out.append(time.perf_counter() - start)
    return out


ORT_MODELS: tuple[tuple[str, int, int | None], ...] = tuple(
    (spec, batch, None) for spec, batch in CALIBRATION
)
"""The eager calibration's whole models, its two ReLU families among them (onnxruntime
applies ReLU and ReLU6 inside the conv, and ResNet's bottleneck folds its residual add there
too): custom scalings, none an official variant. No front parts: a part of a network exports
as another graph."""


def _probe_file(version: str) -> Path:
    """The drift probe's model as onnxruntime runs it: exported once and kept beside the
    calibration (the export takes seconds; loading it, 25 ms), one file per torch and
    onnxruntime version, so every later probe times the very graph the calibration's did.
    Where the cache directory cannot be written, a temporary file serves this probe only."""
    key = hashlib.sha256(f"{cache_key('cpu', 0)}|{version}".encode()).hexdigest()[:12]
    path = cache_path(f"latency-onnxruntime-probe-{key}.onnx")
    if path.is_file():
        return path
    resolved, shape = probe_input()
    proto = _to_onnx(build_model(resolved).eval(), torch.randn(*shape), check_opset(None), False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, proto.SerializeToString())
    except (OSError, RuntimeFailure):
        tmp = tempfile.mkdtemp(prefix="effnet-ortprobe-")
        atexit.register(shutil.rmtree, tmp, True)
        path = Path(tmp) / "probe.onnx"
        path.write_bytes(proto.SerializeToString())
    return path


def _probe_steps(version: str) -> dict[str, Callable[[], object]]:
    """The onnxruntime part of the drift probe: one step of the probe model in a session
    like bench's. A file that no longer loads is exported again."""
    path = _probe_file(version)
    try:
        sess = session(path, torch.get_num_threads())
    except RuntimeFailure:
        path.unlink(missing_ok=True)
        sess = session(_probe_file(version), torch.get_num_threads())
    feed = random_feed(sess, probe_input()[1])
    return {"onnxruntime": lambda: sess.run(None, feed)}


def ort_probe(version: str) -> ProbeExtra:
    """The drift probe's onnxruntime part. It joins torch's three parts in the geometric
    mean an onnxruntime prediction is rescaled by, rather than rescaling alone: in the
    accuracy runs here, rescaling by it alone was the worst rule whenever it acted (once a
    slow reading of it at calibration set every prediction's ratio); in the mean of four,
    one part's bad reading moves the ratio by a quarter of its logarithm."""
    return ProbeExtra(("onnxruntime",), lambda: _probe_steps(version))


def ort_plan() -> LatencyPlan:
    """The onnxruntime latency model's plan, cached apart from eager's and keyed by the
    onnxruntime version too."""
    import onnxruntime

    version = f"onnxruntime {onnxruntime.__version__}"
    return LatencyPlan(
        "onnxruntime", LATENCY_CACHES["onnxruntime"], ORT_MODELS,
        lambda spec, batch, stages: ort_samples(spec, batch, torch.get_num_threads()),
        fused, train=False, version=version, probe=ort_probe(version),
    )  # fmt: skip


def predict_onnx(spec: ResolvedSpec, settings: ProfileSettings,
                 progress: Progress | None = None) -> ProfileReport:  # fmt: skip
    """`profile --runtime onnxruntime --predict-only`: the latency onnxruntime would take,
    priced by its own calibration from the probe's trace; nothing is exported or run."""
    require_deploy("--runtime onnxruntime")
    return profile(spec, settings, progress, plan=ort_plan())
