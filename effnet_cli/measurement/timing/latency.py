"""Latency predicted without running the model: per-op-kind costs fitted on other models.

Calibration (once per device, torch version and thread count; cached beside the roofline):
a small set of custom scalings, none of them an official variant, is run for real, and
every op of their forward passes is timed by torch.profiler and matched to its probe record
(``optimes.py``). Each op keeps its fastest time over the profiled steps and each model its
fastest bare step: on a shared machine the minimum is what load disturbs least.

The fit, in two layers:
- per op kind, seconds = fixed + MACs × a + bytes read × b + bytes written × c, plus two
  more byte rates for ops whose footprint passes a knee (out of cache; on the CPU, fresh
  pages for the output). Least squares weighted by 1/time, every coefficient ≥ 0; the
  knee is the candidate with the least relative error;
- per model, the end-to-end time from its priced ops: a scale on their sum, plus seconds per
  op and per large byte written between ops (Python, dispatch, freeing large outputs).
A prediction probes the model on meta (no arithmetic, nothing allocated) and prices each op.
A calibration model with the same spec and input shape as the one predicted is left out of
the fit, so the set never includes the model being predicted.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ...arch.specs import ResolvedSpec, parse_variant
from ...heap import DEFAULT, keep_heap
from ...kinds import OpKind
from ...model import build_model
from ..trace.probe import OpRecord, Shape, Trace, probe_forward
from ..trace.stages import in_first_stages
from .cache import cache_key, cache_path, read_cache, write_cache
from .drift import ProbeExtra, ProbeTiming, probe_parts, time_probe
from .fitting import KNEES, OpSample, features, fit_kind, nnls
from .optimes import PRICE_KINDS, op_kind, price_kind, time_ops
from .settings import CHANNELS_LAST, LATENCY_CACHES
from .training import (
    TRAIN_CALIBRATION,
    TrainFit,
    TrainRow,
    TrainSample,
    fit_train,
    time_train_step,
    time_wgrad,
    train_trace,
    wgrad_macs,
)
from .training import held_out as training_held_out

CACHE_NAME = LATENCY_CACHES["eager"]
CALIBRATION: tuple[tuple[str, int], ...] = (
    ("w=0.5,d=0.5,r=128", 1),
    ("w=1.0,d=0.5,r=224", 1),
    ("w=2.0,d=0.3,r=528", 1),
    ("w=0.8,d=0.5,r=224", 8),
    ("w=0.6,d=0.3,r=300", 8),
    ("w=1.0,d=0.5,r=320,family=v2", 4),
    ("w=0.5,d=0.5,r=160,family=resnet50", 2),
    ("w=0.75,d=0.5,r=192,family=mobilenetv2", 4),
)
"""(spec, batch) of the calibration models: shallow custom scalings from 128 px to 528 px
and batch 1 to 8, so the samples span tiny ops ruled by overheads, ops whose tensors are far
beyond any cache, V2's fused k3×3 convs, and ReLU and ReLU6 (priced apart from SiLU: their
own kind, ``optimes.CLAMP``) in a ResNet and a MobileNetV2 scaling. None is an official
variant or a φ scaling; ``FRONTS`` adds larger ops still."""
FRONTS: tuple[tuple[str, int, int], ...] = (("w=1.0,d=0.3,r=600", 8, 3),)
"""(spec, batch, stages): the first stages only of a network, for ops larger than any whole
calibration model can afford (0.55 GB read and written by one batch-norm)."""
PRICING = 2
"""How ops are sorted into priced kinds: 2 since ReLU and ReLU6 are priced apart from SiLU
(``optimes.price_kind``). A cached calibration sorted otherwise is taken again."""
PROFILED_STEPS = 2
TIMED_STEPS = 2
BUSY = 2.0
"""A calibration model whose median bare step took this many times its fastest ran on a
busy machine; the calibration says so."""

Progress = Callable[[int, int], None]


@dataclass
class ModelSamples:
    """One calibration model's ops and its end-to-end time. ``spec`` is the grammar's text
    (what the cache stores); ``resolved`` is parsed once, when the samples are made or
    loaded, so a search that fits many times never parses it again."""

    spec: str
    shape: Shape
    ops: list[OpSample]
    seconds: float
    spread: float = 1.0
    """The median bare step over the fastest: far above 1 means the machine was busy for
    most of the steps (one slow step is common, and the fastest is what is kept)."""
    stages: int | None = None
    """A front part: only the first ``stages`` Table-1 stages ran (never a whole model)."""
    resolved: ResolvedSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.resolved = parse_variant(self.spec)

    @property
    def name(self) -> str:
        """How reports name it: the spec, and the stages of a front part."""
        return self.spec if self.stages is None else f"{self.spec}, stages 1-{self.stages}"

    def dump(self) -> dict[str, Any]:
        """The cache's JSON form (the resolved spec is parsed again on loading)."""
        return {"spec": self.spec, "shape": list(self.shape), "ops": [list(o) for o in self.ops],
                "seconds": self.seconds, "spread": self.spread, "stages": self.stages}  # fmt: skip


@dataclass(frozen=True)
class LatencyPlan:
    """What one runtime's latency model is calibrated on and how it reads a trace: eager
    PyTorch here; onnxruntime's lives with the exporter (``deploy/calibrate.py``), which
    this package does not import. Each plan has its own cache file."""

    runtime: str
    cache_name: str
    models: tuple[tuple[str, int, int | None], ...]
    sample: Callable[[str, int, int | None], ModelSamples]
    """Runs one calibration model (spec, batch, stages) for real: its priced units' times."""
    priced: Callable[[Trace], Trace]
    """The probe's trace as the runtime runs it (onnxruntime fuses ops): what is priced."""
    train: bool = True
    """Whether training steps are calibrated too (eager only)."""
    version: str = ""
    """The runtime's library version, part of the cache key beside torch's."""
    probe: ProbeExtra | None = None
    """The drift probe's parts of this runtime's own, beside torch's (``drift.py``)."""


@dataclass
class Calibration:
    device: str
    torch_version: str
    threads: int
    models: list[ModelSamples]
    seconds: float
    """How long the calibration took."""
    created: float = 0.0
    """When it was taken (seconds since the epoch): its age is said with every prediction."""
    probe: ProbeTiming | None = None
    """The drift probe timed right after the models: what later probes are compared with."""
    held_out: list[float] = field(default_factory=list)
    """Per whole calibration model, the signed relative error of its time predicted by a fit
    without it, (predicted − timed) / timed: the error band's width comes from these."""
    fresh: bool = field(default=False, compare=False)
    """Taken in this process (not read from the cache): nothing can have drifted."""
    train: list[TrainSample] = field(default_factory=list)
    """Timed training steps (``training.py``): what a training step's price is fitted on."""
    train_held_out: list[float] = field(default_factory=list)
    """Per training sample, the signed relative error of its time predicted without it."""
    wgrad: float = 0.0
    """Seconds per MAC of a wide depthwise conv's weight gradient, timed with the training
    steps (``training.time_wgrad``); 0 where training is not calibrated, or in a cache taken
    before it was (such a cache is taken again)."""
    cost_model: CostModel | None = field(default=None, compare=False)
    """The fit on every calibration model, cached with it: most predictions (any model
    that is not a calibration model) use it, and need not fit again (0.3 s here)."""
    runtime: str = "eager"
    """The runtime it was timed on (its plan's)."""
    malloc: str = DEFAULT
    """The C heap it was timed on (``heap.py``): a calibration taken on another is taken
    again (the same model ran up to 2.6x faster on a kept heap than on glibc's default)."""
    pricing: int = 1
    """How its ops were sorted into priced kinds (``PRICING``; 1 before the clamps)."""


@dataclass(frozen=True)
class CostModel:
    """Fitted costs: per kind (fixed s, s per MAC, s per byte read, s per byte written), and
    the seconds between consecutive ops."""

    kinds: dict[str, tuple[float, ...]]
    """By cost kind (a CostKind, or its plain string when read back from the cache)."""
    whole: tuple[float, float, float]
    """From the ops to the step: a scale on the ops' sum, seconds per op between ops and
    seconds per byte written by an op beyond the knee (see ``_fit_whole``)."""
    knee: int
    used: tuple[str, ...] = ()
    """The calibration models it was fitted on."""

    def sample_seconds(self, kind: str, macs: int, read: int, write: int) -> float:
        """The fitted time of one op of ``kind`` from its MACs and bytes read and written."""
        coef = self.kinds.get(kind)
        if coef is None:
            return 0.0
        x = features(macs, read, write, self.knee)
        return sum(c * f for c, f in zip(coef, x, strict=True))

    def op_seconds(self, op: OpRecord) -> float:
        """An op's share of the step: its priced time scaled, plus the time after it."""
        read = op.read_bytes + op.weight_bytes
        scale, per_op, per_byte = self.whole
        priced = self.sample_seconds(price_kind(op), op.macs, read, op.write_bytes)
        big = read + op.write_bytes > self.knee
        return scale * priced + per_op + per_byte * (op.write_bytes if big else 0)


@dataclass
class LatencyEstimate:
    """A prediction: seconds per op (aligned with the trace's ops), per kind, the whole."""

    trace: Trace
    op_seconds: list[float]
    model: CostModel

    @property
    def total_ms(self) -> float:
        return 1e3 * sum(self.op_seconds)

    def by_kind(self) -> dict[str, float]:
        """Seconds per op kind."""
        totals: Counter = Counter()
        for op, s in zip(self.trace.ops, self.op_seconds, strict=True):
            totals[op_kind(op)] += s
        return dict(totals)


# ----------------------------------------------------------------------------- calibrate


def _timed_ops(trace: Trace) -> list[OpRecord]:
    return [op for op in trace.ops if op.kind not in (OpKind.DROPOUT, OpKind.LOSS)]


def _front(trace: Trace, stages: int) -> Trace:
    """The ops of the first ``stages`` Table-1 stages."""
    ops = [op for op in trace.ops if in_first_stages(op.module, stages)]
    return Trace(ops, trace.shapes, trace.leaf_output_elements, trace.output_shape)


def _samples(spec: str, batch: int, stages: int | None = None, channels_last: bool = False
             ) -> ModelSamples:  # fmt: skip
    """Run one calibration model (or its first ``stages`` stages) for real: its ops under
    the profiler, then bare steps, after a warm-up step; a front part gets one of each (its
    steps are long). The warm-up matters most there: on the kept C heap the front's first
    step faults in 0.9 GB of fresh pages (236,746 faults, 0.4-3.0 s against 0.15 s for each
    later step, in four processes here), and priced off that step the whole model's fit
    predicted unseen models 22 % too fast (median). With
    ``channels_last`` the weights and the input are in NHWC, as bench and profile run them:
    the same ops in the same order, other kernels."""
    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    shape = (batch, 3, res, res)
    model = build_model(resolved).eval()
    x = torch.randn(*shape)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    trace = probe_forward(model, shape)
    run, steps = model, (PROFILED_STEPS, TIMED_STEPS)
    if stages is not None:
        run, trace, steps = model.features[:stages], _front(trace, stages), (1, 1)

    def step() -> None:
        with torch.inference_mode():
            run(x)

    step()
    times = time_ops(step, trace, steps[0], reduce=min, shapes=False)
    bare = []
    for _ in range(steps[1]):
        start = time.perf_counter()
        step()
        bare.append(time.perf_counter() - start)
    ops = [
        OpSample(price_kind(op), op.macs, op.read_bytes + op.weight_bytes, op.write_bytes, s)
        for op, s in zip(trace.ops, times.seconds, strict=True)
        if op.kind not in (OpKind.DROPOUT, OpKind.LOSS)
    ]
    return ModelSamples(spec, shape, ops, min(bare), statistics.median(bare) / min(bare),
                        stages)  # fmt: skip


def _plan() -> list[tuple[str, int, int | None]]:
    return [(spec, batch, None) for spec, batch in CALIBRATION] + list(FRONTS)


def _as_run(trace: Trace) -> Trace:
    """Eager PyTorch runs every op of the trace."""
    return trace


EAGER = LatencyPlan(
    "eager", CACHE_NAME, tuple(_plan()),
    lambda spec, batch, stages: _samples(spec, batch, stages), _as_run,
)  # fmt: skip
EAGER_CHANNELS_LAST = LatencyPlan(
    CHANNELS_LAST, LATENCY_CACHES[CHANNELS_LAST], tuple(_plan()),
    lambda spec, batch, stages: _samples(spec, batch, stages, channels_last=True), _as_run,
    train=False,
)  # fmt: skip
"""Eager inference in channels-last (NHWC): oneDNN's NHWC kernels cost otherwise per op
kind (in 7 alternating pairs here, B0 ran at 0.86× its NCHW time at batch 1 and 0.66× at
batch 16, ResNet-50 at 0.94×), so no single ratio carries NCHW's model over; the same
calibration set timed in NHWC, its own cache. Training steps are calibrated in NCHW only."""


def calibrate(progress: Progress | None = None, plan: LatencyPlan = EAGER) -> Calibration:
    """Time the calibration set on the CPU now (eager: under ten seconds), on a kept C heap
    as every CPU timing (``heap.py``)."""
    start = time.perf_counter()
    malloc = keep_heap()
    models = []
    trains = TRAIN_CALIBRATION if plan.train else ()
    total = len(plan.models) + len(trains)
    if progress is not None:  # before the first model: a caller may announce the pause
        progress(0, total)
    before = time_probe(plan.probe)
    for i, (spec, batch, stages) in enumerate(plan.models):
        models.append(plan.sample(spec, batch, stages))
        if progress is not None:
            progress(i + 1, total)
    train = []
    for i, (spec, batch) in enumerate(trains):
        train.append(time_train_step(spec, batch))
        if progress is not None:
            progress(len(plan.models) + i + 1, total)
    wgrad = time_wgrad() if plan.train else 0.0
    probe = before.fastest(time_probe(plan.probe))
    made = Calibration("cpu", torch.__version__, torch.get_num_threads(), models, 0.0,
                       time.time(), probe, fresh=True, train=train, wgrad=wgrad,
                       runtime=plan.runtime, malloc=malloc, pricing=PRICING)  # fmt: skip
    made.held_out = held_out_errors(made, plan.priced)
    if plan.train:
        made.train_held_out = training_held_out(_train_rows(made), wgrad)
    made.cost_model = fit(made)
    made.seconds = time.perf_counter() - start
    return made


_TRAIN_ROWS: dict[tuple[float, float], list[tuple[tuple, TrainRow]]] = {}
_TRAIN_FITS: dict[tuple[float, float, tuple[TrainRow, ...]], TrainFit] = {}


def _train_rows(cal: Calibration, leave_out: tuple[ResolvedSpec, Shape] | None = None
                ) -> list[TrainRow]:  # fmt: skip
    """Each timed training step but the one that is ``leave_out``, its forward priced by the
    cost model fitted on the whole inference calibration (priced once per calibration)."""
    key = (cal.created, cal.seconds)
    if key not in _TRAIN_ROWS:
        model = fit(cal)
        rows = []
        for sample in cal.train:
            resolved = parse_variant(sample.spec)
            forward = estimate(train_trace(sample.spec, sample.shape), model)
            wide = sum(wgrad_macs(op) for op in forward.trace.ops)
            row = TrainRow(forward.total_ms / 1e3, len(forward.op_seconds), sample.seconds, wide)
            rows.append(((resolved.family, resolved.stages, tuple(sample.shape)), row))
        _TRAIN_ROWS[key] = rows
    left = (leave_out[0].family, leave_out[0].stages, tuple(leave_out[1])) if leave_out else None
    return [row for which, row in _TRAIN_ROWS[key] if which != left]


def train_fit(cal: Calibration, leave_out: tuple[ResolvedSpec, Shape] | None = None) -> TrainFit:
    """The training step's k and per-op cost for this calibration, without the timed step
    that is the model predicted (fitted once per calibration and rows used)."""
    rows = _train_rows(cal, leave_out)
    key = (cal.created, cal.seconds, tuple(rows))
    if key not in _TRAIN_FITS:
        _TRAIN_FITS[key] = fit_train(rows, cal.wgrad)
    return _TRAIN_FITS[key]


def estimate_train(trace: Trace, cal: Calibration, leave_out: tuple[ResolvedSpec, Shape] | None,
                   scale: float = 1.0) -> LatencyEstimate:  # fmt: skip
    """Price a training step from the probe of its training forward; nothing runs. Each
    op's share is k × its forward price + the per-op cost (+ its weight gradient's, for a
    wide depthwise conv), so stages and kinds add up."""
    model, step = fit(cal, leave_out=leave_out), train_fit(cal, leave_out)
    forward = estimate(trace, model)
    ops = [scale * (step.k * sec + step.per_op + step.wgrad * wgrad_macs(op))
           for op, sec in zip(forward.trace.ops, forward.op_seconds, strict=True)]  # fmt: skip
    return LatencyEstimate(forward.trace, ops, model)


def held_out_errors(cal: Calibration, priced: Callable[[Trace], Trace] = _as_run) -> list[float]:
    """Leave each whole calibration model out in turn, fit on the rest, predict it (on meta:
    nothing runs) and compare with its timed step: (predicted − timed) / timed."""
    errors = []
    for m in cal.models:
        if m.stages is not None:
            continue
        trace = priced(probe_forward(build_model(m.resolved, device="meta").eval(), m.shape))
        predicted = estimate(trace, fit(cal, leave_out=(m.resolved, m.shape))).total_ms / 1e3
        errors.append((predicted - m.seconds) / m.seconds)
    return errors


# ----------------------------------------------------------------------------- fit


def _same(samples: ModelSamples, spec: ResolvedSpec, shape: Shape) -> bool:
    """Whether a calibration model is ``spec`` at ``shape``: same family, multipliers and
    input, whatever the spelling. Part of a network is never the whole one."""
    mine = samples.resolved
    return (
        samples.stages is None
        and tuple(samples.shape) == tuple(shape)
        and mine.family == spec.family
        and mine.stages == spec.stages
    )


_FITTED: dict[tuple[float, float, int, tuple[tuple[str, Shape], ...]], CostModel] = {}
"""Cost models fitted in this process, by calibration and models used: a search pricing
many candidates fits once."""


def fit(calibration: Calibration, leave_out: tuple[ResolvedSpec, Shape] | None = None
        ) -> CostModel:  # fmt: skip
    """The cost model from every calibration model except ``leave_out`` (spec, shape)."""
    used = [m for m in calibration.models if leave_out is None or not _same(m, *leave_out)]
    if len(used) == len(calibration.models) and calibration.cost_model is not None:
        return calibration.cost_model
    key = (calibration.created, calibration.seconds, calibration.threads,
           tuple((m.name, m.shape) for m in used))  # fmt: skip
    if key not in _FITTED:
        _FITTED[key] = _fit(used, whole=calibration.runtime not in SUMMED)
    return _FITTED[key]


SUMMED = ("onnxruntime",)
"""Runtimes whose calibration scales each model's op times to add up to its step
(``deploy/calibrate.py``): their whole step is the sum of its priced ops, nothing fitted."""


def _fit(used: list[ModelSamples], whole: bool = True) -> CostModel:
    """Each kind's coefficients at the knee that fits best overall, then the whole step
    (unless ``whole`` is False: the ops' sum is the step)."""
    by_kind = {
        k: [o for m in used for o in m.ops if o.kind == k and o.seconds > 0] for k in PRICE_KINDS
    }
    best: tuple[float, int, dict] | None = None
    for knee in KNEES:
        fits = {k: fit_kind(samples, knee) for k, samples in by_kind.items() if samples}
        err = sum(e for _, e in fits.values())
        if best is None or err < best[0]:
            best = (err, knee, {k: tuple(c) for k, (c, _) in fits.items()})
    _, knee, kinds = best if best is not None else (0.0, KNEES[0], {})
    used_names = tuple(f"{m.name} (batch {m.shape[0]})" for m in used)
    step = _fit_whole(used, kinds, knee) if whole else (1.0, 0.0, 0.0)
    return CostModel(kinds, step, knee, used_names)


def _fit_whole(used: list[ModelSamples], kinds: dict, knee: int) -> tuple[float, float, float]:
    """Each calibration model's end-to-end time from its priced ops: a scale on their sum
    (the profiler's own cost inflates small ops), plus seconds per op between ops (Python,
    dispatch) and per large byte written (freeing large outputs happens between ops, outside
    any op's time); least squares relative to each model's time, coefficients ≥ 0."""
    if not used:
        return (1.0, 0.0, 0.0)
    draft = CostModel(kinds, (1.0, 0.0, 0.0), knee)
    rows = []
    for m in used:
        priced = sum(draft.sample_seconds(o.kind, o.macs, o.read, o.write) for o in m.ops)
        big = sum(o.write for o in m.ops if o.read + o.write > knee)
        rows.append([priced / m.seconds, len(m.ops) / m.seconds, big / m.seconds])
    scale, per_op, per_byte = nnls(rows, [1.0] * len(rows))
    return (scale, per_op, per_byte)


def estimate(trace: Trace, model: CostModel, scale: float = 1.0) -> LatencyEstimate:
    """Price every op of a probe trace; nothing runs. ``scale`` rescales every price by how
    much slower (above 1) the device runs now than when it was calibrated."""
    ops = _timed_ops(trace)
    timed = Trace(ops, trace.shapes, trace.leaf_output_elements, trace.output_shape)
    return LatencyEstimate(timed, [scale * model.op_seconds(op) for op in ops], model)


# ----------------------------------------------------------------------------- cache


def _load(value: dict) -> Calibration:
    """A cached calibration (raises on a malformed entry: the cache reader ignores it)."""
    models = [ModelSamples(m["spec"], tuple(m["shape"]), [OpSample(*o) for o in m["ops"]],
                           float(m["seconds"]), float(m.get("spread", 1.0)), m.get("stages"))
              for m in value["models"]]  # fmt: skip
    probe = ProbeTiming.load(value["probe"]) if value.get("probe") else None
    train = [TrainSample(t[0], tuple(t[1]), float(t[2])) for t in value.get("train", [])]
    errors = [float(e) for e in value.get("train_held_out", [])]
    wgrad = float(value.get("wgrad", 0.0))
    return Calibration(value["device"], value["torch_version"], int(value["threads"]), models,
                       float(value["seconds"]), float(value.get("created", 0.0)), probe,
                       [float(e) for e in value.get("held_out", [])], train=train,
                       train_held_out=errors, wgrad=wgrad,
                       cost_model=_load_cost(value.get("cost_model")),
                       runtime=value.get("runtime", "eager"),
                       malloc=value.get("malloc", DEFAULT),
                       pricing=int(value.get("pricing", 1)))  # fmt: skip


def _load_cost(value: dict | None) -> CostModel | None:
    """The cached full fit (None when absent: it is fitted on use)."""
    if not value:
        return None
    kinds = {kind: tuple(float(c) for c in coef) for kind, coef in value["kinds"].items()}
    whole = tuple(float(c) for c in value["whole"])
    return CostModel(kinds, whole, int(value["knee"]), tuple(value["used"]))  # type: ignore[arg-type]


def _dump_cost(c: CostModel | None) -> dict | None:
    if c is None:
        return None
    return {"kinds": {str(k): list(v) for k, v in c.kinds.items()}, "whole": list(c.whole),
            "knee": c.knee, "used": list(c.used)}  # fmt: skip


def _dump(c: Calibration) -> dict[str, Any]:
    return {"device": c.device, "torch_version": c.torch_version, "threads": c.threads,
            "models": [m.dump() for m in c.models], "seconds": c.seconds,
            "created": c.created, "probe": c.probe.dump() if c.probe else None,
            "held_out": c.held_out, "train": [[t.spec, list(t.shape), t.seconds] for t in c.train],
            "train_held_out": c.train_held_out, "wgrad": c.wgrad,
            "cost_model": _dump_cost(c.cost_model),
            "runtime": c.runtime, "malloc": c.malloc, "pricing": c.pricing}  # fmt: skip


def _current(cached: Calibration, plan: LatencyPlan = EAGER) -> bool:
    """Whether a cached calibration was taken with this calibration set, with the drift
    probe's parts and held-out errors (an older effnet's lacks some: it is taken again), and
    on the C heap this process times on, its ops sorted into today's priced kinds, and (where
    training is calibrated) the wide depthwise weight gradient timed."""
    models = [(m.spec, m.shape[0], m.stages) for m in cached.models] == list(plan.models)
    trains = list(TRAIN_CALIBRATION) if plan.train else []
    train = [(t.spec, t.shape[0]) for t in cached.train] == trains
    train = train and (cached.wgrad > 0 or not plan.train)
    probed = cached.probe is not None and set(cached.probe.seconds) == probe_parts(plan.probe)
    heap = cached.malloc == keep_heap()
    priced = cached.pricing == PRICING
    return models and train and probed and bool(cached.held_out) and heap and priced


def calibration(recalibrate: bool = False, progress: Progress | None = None,
                plan: LatencyPlan = EAGER) -> tuple[Calibration, str | None]:  # fmt: skip
    """The CPU's calibration from the cache, or run (and cached) when missing or asked."""
    path = cache_path(plan.cache_name)
    what = "latency calibration" if plan is EAGER else f"{plan.runtime} latency calibration"
    entries, note = read_cache(path, _load, what)
    key = cache_key("cpu", torch.get_num_threads()) + (f"|{plan.version}" if plan.version else "")
    if not recalibrate and key in entries:
        cached = _load(entries[key])
        if _current(cached, plan):
            return cached, note
        # another calibration set, or no probe (an older effnet): calibrate with this one
    fresh = calibrate(progress, plan)
    if _spread(fresh) > BUSY:  # once more: a burst of load is often over in seconds
        fresh = calibrate(progress, plan)
    if _spread(fresh) > BUSY:
        return fresh, (
            f"the machine was busy while calibrating (one model's median step took "
            f"{_spread(fresh):.1f}× its fastest, twice); this calibration serves this run only "
            "and is not cached: predictions may be off"
        )
    entries[key] = _dump(fresh)
    note = write_cache(path, entries, what) or note
    return fresh, note


def _spread(c: Calibration) -> float:
    return max((m.spread for m in c.models), default=1.0)
