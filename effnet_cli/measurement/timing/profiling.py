"""Collect for `effnet profile`: where one step's time goes, stage by stage and by op kind,
beside its work, its memory traffic, the device's roofline and the predicted latency.

- Stages are timed by one clock mark at each stage boundary (a forward hook on eleven or
  so modules; CUDA events on CUDA), inside the very loop and step ``bench`` times, so the
  stage times add up to the step and the step is bench's. In a training step a gradient
  hook on each boundary's output marks the backward too.
- Op kinds are timed apart, on a few more steps under torch.profiler (``optimes.py``):
  hooks on every op would slow the step they measure.
- Work and traffic come from the probe trace: MACs, and bytes read and written per op.
- The prediction (``latency.py``) prices the probe trace; it never runs the model.
Nothing here prints; progress goes through a callback.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import torch

from ...arch.specs import ResolvedSpec, parse_variant
from ...devices import check_available
from ...kinds import CostKind, OpKind, StageRole
from ...model import build_model
from ...reports import DeviceRoofline, ProfileCheckpoint, ProfileReport, ProfileRow
from ..trace.prepare import BuildOptions, check_train_shape, input_shape, prepare
from ..trace.probe import OpRecord, Shape, Trace, probe_forward
from ..trace.stages import StageMap, stage_module
from ..trace.tracker import checkpointed
from .latency import (
    EAGER,
    EAGER_CHANNELS_LAST,
    LatencyEstimate,
    LatencyPlan,
    estimate,
    estimate_train,
    fit,
)
from .loop import Clock, make_input, ready, stats, step_fn, threads, time_steps
from .optimes import OP_KINDS, OpTimes, op_kind, time_ops
from .recompute import RecomputePrice, price_trace
from .roofline import Roofline, roofline
from .settings import ProfileSettings, calibrating
from .training import training_trace
from .trust import Trusted, trusted

Progress = Callable[[str, int, int | None], None]


# ----------------------------------------------------------------------------- stages


class StageClock:
    """Clock marks at the stage boundaries of every step, forward and (training) backward.

    Boundaries: the end of each Table-1 stage but the head, the end of pooling (the head is
    its 1×1 conv and pooling) and the end of the classifier; a pre-hook on the stem marks
    the start. Each stage's time is the span from the previous mark to its own.
    """

    def __init__(self, model: Any, spec: ResolvedSpec, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.sync = device.type == "mps"
        self.names = StageMap(spec, timed=True).boundaries()
        modules = dict(model.named_modules())
        self.forward: list[Any] = []
        self.backward: list[tuple[int, Any]] = []
        self.handles = [modules[stage_module(1)].register_forward_pre_hook(self._start)]
        for i, name in enumerate(self.names):
            self.handles.append(modules[name].register_forward_hook(partial(self._end, i)))

    def now(self) -> Any:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        if self.sync:
            torch.mps.synchronize()
        return time.perf_counter()

    def _start(self, module: Any, args: Any) -> None:
        self.forward = [self.now()]
        self.backward = []

    def _end(self, index: int, module: Any, args: Any, output: Any) -> None:
        self.forward.append(self.now())
        if torch.is_grad_enabled() and getattr(output, "requires_grad", False):
            output.register_hook(partial(self._grad, index))

    def _grad(self, index: int, grad: Any) -> None:
        self.backward.append((index, self.now()))

    def spans(self) -> list[float]:
        """Milliseconds per stage of the step just run: forward, plus backward if any (it
        ends with the step, so this is called right after)."""
        step_end = self.now()
        times = [_elapsed(a, b) for a, b in zip(self.forward, self.forward[1:], strict=False)]
        if self.backward:  # gradient of stage i's output ready → of its input ready
            marks = dict(self.backward)
            ends = [marks.get(i - 1, step_end) for i in range(len(self.names))]
            starts = [marks.get(i, self.forward[-1]) for i in range(len(self.names))]
            times = [t + _elapsed(a, b) for t, a, b in zip(times, starts, ends, strict=True)]
        return times

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _elapsed(a: Any, b: Any) -> float:
    if isinstance(a, float):
        return (b - a) * 1e3
    b.synchronize()
    return float(a.elapsed_time(b))


# ----------------------------------------------------------------------------- run


class Measured(NamedTuple):
    """What the measured part of a profile ran: the trace timed, the step times (ms),
    each step's stage spans (ms), the op-kind times and, with --checkpoint, the alternating
    plain and checkpointed steps (ms)."""

    trace: Trace
    samples: list[float]
    spans: list[list[float]]
    ops: OpTimes
    pairs: tuple[list[float], list[float]] | None = None


CHECKPOINT_PAIRS = 7
"""--checkpoint: plain and checkpointed steps timed in alternation, this many of each (after
one of each untimed): what the recompute adds is the median of their differences."""


def _time_checkpointed(model: Any, step: Callable, device: torch.device, stages: tuple[int, ...]
                       ) -> tuple[list[float], list[float]]:  # fmt: skip
    """The training step plain and with ``stages`` as checkpoint segments, alternating, so
    that a machine whose speed drifts slows both alike."""
    clock, modules = Clock(device), [stage_module(s) for s in stages]
    plain: list[float] = []
    again: list[float] = []
    for i in range(CHECKPOINT_PAIRS + 1):
        first = clock.time(step)
        with checkpointed(model, modules):
            second = clock.time(step)
        if i:  # the first pair warms the checkpointed path up
            plain.append(first)
            again.append(second)
    return plain, again


def _time_stages(model: Any, spec: ResolvedSpec, step: Callable, device: torch.device,
                 s: ProfileSettings, progress: Progress | None) -> tuple[list, list]:  # fmt: skip
    """bench's loop with the stage clock on: the step times and each step's stage spans."""
    stages = StageClock(model, spec, device)
    spans: list[list[float]] = []

    def tick(done: int, total: int | None) -> None:
        if progress is not None:
            progress("timing stages", done, total)

    try:
        samples = time_steps(step, Clock(device), s, tick, lambda: spans.append(stages.spans()))
    finally:
        stages.remove()
    return samples, spans[s.warmup :]


def _measure(spec: ResolvedSpec, shape: Shape, s: ProfileSettings,
             progress: Progress | None) -> Measured:  # fmt: skip
    p = prepare(spec, s.device, shape, BuildOptions(s.num_classes), s.weights,
                training=s.train, meta_ok=False)  # fmt: skip
    device = torch.device(p.device)
    trace = p.training_step().trace if s.train else p.trace  # a training forward's ops
    model = ready(p, s)
    step = step_fn(model, make_input(shape, s, device), s, device)
    samples, spans = _time_stages(model, spec, step, device, s, progress)
    if progress is not None:
        progress("timing op kinds", 0, s.op_steps)
    ops = time_ops(step, trace, s.op_steps, device.type == "cuda", shapes=s.train)
    if progress is not None:
        progress("timing op kinds", s.op_steps, s.op_steps)
    pairs = _time_checkpointed(model, step, device, s.checkpoint) if s.checkpoint else None
    return Measured(trace, samples, spans, ops, pairs)


class Guess(NamedTuple):
    """The latency prediction and how far it is trusted (``trust.py``); with --checkpoint,
    the recompute's predicted time."""

    estimate: LatencyEstimate
    trust: Trusted
    recompute: RecomputePrice | None = None


def _predict(trace: Trace, spec: ResolvedSpec, shape: Shape, s: ProfileSettings,
             progress: Progress | None, notes: list[str], plan: LatencyPlan
             ) -> Guess | None:  # fmt: skip
    why = s.unpredictable()
    if why:
        notes.append(f"no prediction: {why}")
        return None
    t = trusted(s.recalibrate, _calibrating(progress, plan.runtime), plan)
    notes.extend(t.notes)
    if s.train:
        again = price_trace(trace, s.checkpoint, t, spec, shape) if s.checkpoint else None
        t = t.for_training()
        return Guess(estimate_train(trace, t.calibration, (spec, shape), t.state.scale), t, again)
    model = fit(t.calibration, leave_out=(spec, shape))
    return Guess(estimate(plan.priced(trace), model, t.state.scale), t)


def _calibrating(progress: Progress | None, runtime: str = "eager"
                 ) -> Callable[[int, int], None] | None:  # fmt: skip
    if progress is None:
        return None
    label = calibrating(runtime)
    return lambda done, total: progress(label, done, total)


def profile(
    spec: ResolvedSpec | str,
    settings: ProfileSettings | None = None,
    progress: Progress | None = None,
    plan: LatencyPlan = EAGER,
    **options: Any,
) -> ProfileReport:
    """Profile ``spec`` (settings, or their fields as keyword arguments): measured stage and
    op-kind times (unless ``predict_only``), traffic, roofline and the predicted latency
    (by ``plan``'s latency model: onnxruntime's comes from ``deploy``, predict-only)."""
    s = (settings or ProfileSettings(**options)).validate()
    plan = EAGER_CHANNELS_LAST if plan is EAGER and s.channels_last else plan
    check_available(s.device, meta_ok=False)
    spec = parse_variant(spec) if isinstance(spec, str) else spec
    shape = input_shape(spec, s.resolution, s.batch_size)
    if s.train:
        check_train_shape(shape)
    notes: list[str] = []
    with threads(s):
        line, note = roofline(s.device, s.recalibrate)
        notes.extend([note] if note else [])
        if s.predict_only:
            model = build_model(spec, s.num_classes, device="meta")
            trace = training_trace(model, shape) if s.train else probe_forward(model, shape)
            measured = None
        else:
            measured = _measure(spec, shape, s, progress)
            trace = measured.trace
        guess = _predict(trace, spec, shape, s, progress, notes, plan)
    return _report(spec, shape, s, line, trace, measured, guess, notes)


# ----------------------------------------------------------------------------- total


def _rows_of(ops: list[OpRecord], key: Callable[[OpRecord], Any]) -> dict[Any, list[int]]:
    """MACs, bytes read, bytes written per key."""
    out: dict[Any, list[int]] = {}
    for op in ops:
        acc = out.setdefault(key(op), [0, 0, 0])
        acc[0] += op.macs
        acc[1] += op.read_bytes + op.weight_bytes
        acc[2] += op.write_bytes
    return out


def _row(line: Roofline, stage: int | None, kind: StageRole | CostKind, operator: str,
         work: list[int], measured: float | None, predicted: float | None,
         scale: int) -> ProfileRow:  # fmt: skip
    macs, read, written = (scale * w for w in work)
    seconds, bound = line.bound(macs, read + written)
    return ProfileRow(stage, kind, operator, measured, predicted, macs, read, written,
                      1e3 * seconds, bound if macs or read else "")  # fmt: skip


def _report(spec: ResolvedSpec, shape: Shape, s: ProfileSettings, line: Roofline,
            trace: Trace, measured: Measured | None, predicted: Guess | None,
            notes: list[str]) -> ProfileReport:  # fmt: skip
    scale = 3 if s.train else 1  # forward, input gradients, weight gradients
    ops = [op for op in trace.ops if op.kind not in (OpKind.DROPOUT, OpKind.LOSS)]
    where = StageMap(spec, timed=True)
    work = _rows_of(ops, lambda op: where.stage_of(op.module))
    kinds_work = _rows_of(ops, op_kind)
    stage_ms: dict[int, float] = {}
    kind_ms: dict[CostKind | OpKind, float] = {}
    samples: list[float] = []
    if measured is not None:
        samples, spans = measured.samples, measured.spans
        medians = [statistics.median(col) for col in zip(*spans, strict=True)]
        stage_ms = {i + 1: m for i, m in enumerate(medians)}
        kind_ms = {k: 1e3 * v for k, v in measured.ops.by_kind().items()}
    guess = predicted.estimate if predicted is not None else None
    pred_stage: Counter = Counter()
    predicted_kinds = guess.by_kind() if guess is not None else {}
    if guess is not None:
        for op, sec in zip(guess.trace.ops, guess.op_seconds, strict=True):
            pred_stage[where.stage_of(op.module)] += 1e3 * sec
    stages = [
        _row(line, stage, role, operator, work.get(stage, [0, 0, 0]), stage_ms.get(stage),
             pred_stage.get(stage) if guess else None, scale)
        for stage, role, operator in where.timed_rows()
    ]  # fmt: skip
    kinds = [
        _row(line, None, kind, kind, kinds_work.get(kind, [0, 0, 0]), kind_ms.get(kind),
             1e3 * predicted_kinds.get(kind, 0.0) if guess else None, scale)
        for kind in OP_KINDS
    ]  # fmt: skip
    step_stats = stats(samples) if samples else None
    device = DeviceRoofline(s.device, line.threads, line.peak_macs_per_s,
                            line.bandwidth_bytes_per_s, line.seconds)  # fmt: skip
    return ProfileReport(
        variant=spec.name,
        title=spec.title,
        device=device,
        batch_size=shape[0],
        resolution=shape[2],
        mode="train" if s.train else "inference",
        runtime=s.runtime,
        amp=s.amp,
        channels_last=s.channels_last,
        warmup=s.warmup,
        iterations=len(samples),
        stages=stages,
        op_kinds=kinds,
        measured_ms=step_stats["median"] if step_stats else None,
        p90_ms=step_stats["p90"] if step_stats else None,
        op_steps=0 if measured is None else s.op_steps,
        op_kinds_total_ms=sum(kind_ms.values()) if kind_ms else None,
        notes=notes,
        samples_ms=samples,
        checkpoint=_checkpoint(s, measured, predicted),
        **_prediction_fields(predicted),
    )


def _checkpoint(s: ProfileSettings, measured: Measured | None, predicted: Guess | None
                ) -> ProfileCheckpoint | None:  # fmt: skip
    """--checkpoint's time: measured in alternating pairs, and predicted."""
    if not s.checkpoint:
        return None
    c = ProfileCheckpoint(list(s.checkpoint), 0, None, None, None)
    if measured is not None and measured.pairs is not None:
        plain, again = measured.pairs
        c.pairs, c.plain_ms = len(plain), statistics.median(plain)
        c.checkpointed_ms = statistics.median(again)
        c.added_ms = statistics.median([b - a for a, b in zip(plain, again, strict=True)])
    if predicted is not None and predicted.recompute is not None:
        c.predicted_added_ms = predicted.recompute.total(s.checkpoint)
        c.predicted_range_ms = predicted.recompute.band(c.predicted_added_ms)
    return c


def _prediction_fields(predicted: Guess | None) -> dict[str, Any]:
    """The report's prediction: the time, its band, its calibration and what it was fitted on."""
    if predicted is None:
        return {"predicted_ms": None}
    total = predicted.estimate.total_ms
    return {
        "predicted_ms": total,
        "predicted_range_ms": list(predicted.trust.band(total)),
        "calibration": predicted.trust.state,
        "calibration_models": list(predicted.estimate.model.used),
    }
