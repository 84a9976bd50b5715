"""Measured time of every op of a forward pass, each matched to the probe's record of it.

torch.profiler times each top-level aten op of a few forward passes; the k-th timed op of a
kind is the k-th op of that kind in the probe trace (the real forward runs the very ops the
probe saw, in the same order), so each time lands on an op whose module, MACs and bytes are
known exactly. Used twice: by ``effnet profile`` for its op-kind times, and by the latency
calibration, which fits its per-kind efficiencies on these samples.

Only forward passes are matched; a training step's backward ops are grouped by kind from
their autograd node's name and the shapes torch recorded (see ``backward_kind``).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from torch.profiler import ProfilerActivity, profile, record_function

from ...errors import RuntimeFailure
from ...heap import keep_heap
from ...kinds import CostKind, OpKind
from ..trace.probe import OpRecord, Trace

STEP = "effnet.step"

FORWARD_KINDS: dict[str, OpKind] = {
    "aten::conv2d": OpKind.CONV,
    "aten::batch_norm": OpKind.BATCH_NORM,
    "aten::silu": OpKind.ACTIVATION,
    "aten::silu_": OpKind.ACTIVATION,
    "aten::relu": OpKind.ACTIVATION,
    "aten::relu_": OpKind.ACTIVATION,
    "aten::hardtanh": OpKind.ACTIVATION,
    "aten::hardtanh_": OpKind.ACTIVATION,
    "aten::sigmoid": OpKind.ACTIVATION,
    "aten::mul": OpKind.MULTIPLY,
    "aten::add": OpKind.ADD,
    "aten::add_": OpKind.ADD,
    "aten::adaptive_avg_pool2d": OpKind.POOLING,
    "aten::adaptive_max_pool2d": OpKind.POOLING,
    "aten::max_pool2d": OpKind.POOLING,
    "aten::linear": OpKind.LINEAR,
}
"""Top-level aten ops of a forward of any family (ReLU6 runs as hardtanh, ResNet's stem
pools with max_pool2d) → the probe's op kind. Anything else
(flatten, an eval-mode dropout) moves no data and is left to the gaps between ops."""
_MATCHED = frozenset(FORWARD_KINDS.values())

OP_KINDS = tuple(CostKind)
"""The op kinds profile reports: dense or pointwise conv, depthwise conv, the SE block's two
1×1 convs, batch-norm, activations, element-wise multiply and add, pooling, linear."""

_BACKWARD: dict[str, CostKind] = {
    "NativeBatchNormBackward": CostKind.BATCH_NORM,
    "SiluBackward": CostKind.ACTIVATION,
    "SigmoidBackward": CostKind.ACTIVATION,
    "ReluBackward": CostKind.ACTIVATION,
    "HardtanhBackward": CostKind.ACTIVATION,
    "MulBackward": CostKind.ELEMENTWISE,
    "AddBackward": CostKind.ELEMENTWISE,
    "MeanBackward": CostKind.POOLING,
    "AdaptiveAvgPool2DBackward": CostKind.POOLING,
    "AdaptiveMaxPool2DBackward": CostKind.POOLING,
    "MaxPool2DWithIndicesBackward": CostKind.POOLING,
    "AddmmBackward": CostKind.LINEAR,
}


_CONV_FLAVORS = {"depthwise": CostKind.DEPTHWISE, "se": CostKind.SE_CONV}
_AS_IS = {OpKind.BATCH_NORM: CostKind.BATCH_NORM, OpKind.ACTIVATION: CostKind.ACTIVATION,
          OpKind.POOLING: CostKind.POOLING, OpKind.LINEAR: CostKind.LINEAR}  # fmt: skip


def op_kind(op: OpRecord) -> CostKind | OpKind:
    """The profile's kind of a probe op; an op no cost kind covers (dropout, the loss)
    keeps its own kind, which nothing prices."""
    if op.kind == OpKind.CONV:
        return _CONV_FLAVORS.get(op.flavor, CostKind.CONV)
    if op.kind in (OpKind.MULTIPLY, OpKind.ADD):
        return CostKind.ELEMENTWISE
    return _AS_IS.get(op.kind, op.kind)


CLAMP = "clamp"
"""The latency model's price kind for ReLU and ReLU6 (hardtanh): a compare per element, where
SiLU and sigmoid compute an exponential. One fit for both priced MobileNetV2's activations at
2.4× their timed 2.8 ms (batch 8) and Lite0's at 3.8×; profile still reports them as
activations."""
CLAMPS = frozenset({"relu", "relu6", "hardtanh"})
PRICE_KINDS: tuple[str, ...] = (*OP_KINDS, CLAMP)
"""What the latency model fits a cost for: profile's op kinds, the clamps apart."""


def price_kind(op: OpRecord) -> str:
    """The kind an op is priced as by the latency model: its profile kind, except a clamp."""
    if op.kind == OpKind.ACTIVATION and op.flavor in CLAMPS:
        return CLAMP
    return op_kind(op)


def conv_kind(input_shape: list, weight_shape: list) -> CostKind:
    """A conv's kind from the shapes the profiler recorded: depthwise when each group has one
    input channel, SE when it runs on a 1×1 map, else dense or pointwise."""
    if len(weight_shape) == 4 and weight_shape[1] == 1 and input_shape[1] > 1:
        return CostKind.DEPTHWISE
    if len(input_shape) == 4 and input_shape[2] * input_shape[3] == 1:
        return CostKind.SE_CONV
    return CostKind.CONV


@dataclass
class OpTimes:
    """Per-op medians over the profiled steps, aligned with ``trace.ops``, plus what the
    profiler saw beyond them (a training step's backward, by kind)."""

    trace: Trace
    seconds: list[float]
    backward: dict[CostKind, float]

    def by_kind(self) -> dict[CostKind | OpKind, float]:
        totals: dict[CostKind | OpKind, float] = dict.fromkeys(OP_KINDS, 0.0)
        for op, s in zip(self.trace.ops, self.seconds, strict=True):
            if op.kind in _MATCHED:
                totals[op_kind(op)] += s
        for kind, s in self.backward.items():
            totals[kind] = totals.get(kind, 0.0) + s
        return totals


def _quiet_profiler() -> None:
    """Kineto logs a line per profiler start and stop to stderr unless told not to."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")


def _device_seconds(event, cuda: bool) -> float:
    if cuda:
        return float(getattr(event, "device_time_total", 0.0)) / 1e6
    return event.cpu_time_total / 1e6


def backward_kind(event) -> CostKind | None:
    """The kind of one autograd node the profiler timed, or None for bookkeeping nodes."""
    node = event.name.rsplit(": ", 1)[-1].rstrip("0123456789")
    if node == "ConvolutionBackward":
        child = _descendant(event, "aten::convolution_backward")
        shapes = child.input_shapes if child is not None else []
        return conv_kind(shapes[1], shapes[2]) if len(shapes) > 2 else CostKind.CONV
    return _BACKWARD.get(node)


def _descendant(event, name: str):
    """The first event called ``name`` under ``event`` (the node wraps the aten op)."""
    stack = list(event.cpu_children)
    while stack:
        child = stack.pop(0)
        if child.name == name:
            return child
        stack.extend(child.cpu_children)
    return None


def time_ops(
    step: Callable[[], object],
    trace: Trace,
    steps: int,
    cuda: bool = False,
    reduce: Callable[[list[float]], float] = statistics.median,
    shapes: bool = True,
) -> OpTimes:
    """Run ``step`` ``steps`` times under torch.profiler and give each probe op its median
    over the steps (or what ``reduce`` makes of them). Recording ``shapes`` is needed only
    to sort a backward's ops (and a training batch-norm's counter) and costs time. On a kept
    C heap, as every CPU timing (``heap.py``)."""
    keep_heap()
    _quiet_profiler()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=shapes) as prof:
        for _ in range(steps):
            with record_function(STEP):
                step()
    per_step: list[list[float]] = []
    backward: list[dict[str, float]] = []
    for top in (e for e in prof.events() if e.name == STEP and e.cpu_parent is None):
        forward, bwd = _split(top, cuda)
        per_step.append(forward)
        backward.append(bwd)
    return _aligned(trace, per_step, backward, reduce)


def _split(top, cuda: bool) -> tuple[list[tuple[OpKind, float]], dict[CostKind, float]]:
    """One step's forward ops (kind, seconds) in order, and its backward seconds by kind."""
    forward = [
        (FORWARD_KINDS[child.name], _device_seconds(child, cuda))
        for child in top.cpu_children
        if child.name in FORWARD_KINDS and not _bookkeeping(child)
    ]
    bwd: dict[CostKind, float] = {}
    for event in _backward_nodes(top):
        kind = backward_kind(event)
        if kind is not None:
            bwd[kind] = bwd.get(kind, 0.0) + _device_seconds(event, cuda)
    return forward, bwd


def _bookkeeping(event) -> bool:
    """A training batch-norm's ``num_batches_tracked += 1``: an op on a 0-d tensor."""
    shapes = event.input_shapes
    return bool(shapes) and shapes[0] == []


def _backward_nodes(top) -> list:
    """Autograd nodes run under the step (CPU backward runs on the calling thread)."""
    found, stack = [], list(top.cpu_children)
    while stack:
        event = stack.pop()
        if event.name.startswith("autograd::engine::evaluate_function"):
            found.append(event)
        else:
            stack.extend(event.cpu_children)
    return found


def _aligned(trace: Trace, per_step: list, backward: list,
             reduce: Callable[[list[float]], float]) -> OpTimes:  # fmt: skip
    """Match each step's timed ops to the probe's, kind by kind in order; refuse a mismatch
    rather than charge a time to the wrong op."""
    timed = [op.kind for op in trace.ops if op.kind in _MATCHED]
    for step in per_step:
        seen = [kind for kind, _ in step]
        if seen != timed:
            raise RuntimeFailure(
                f"the profiler saw {len(seen)} ops where the probe saw {len(timed)}; "
                "cannot match them"
            )
    if not per_step:
        raise RuntimeFailure("the profiler recorded no step")
    medians = iter([reduce([s for _, s in ops]) for ops in zip(*per_step, strict=True)])
    seconds = [next(medians) if op.kind in _MATCHED else 0.0 for op in trace.ops]
    kinds = {k for b in backward for k in b}
    bwd = {k: reduce([b.get(k, 0.0) for b in backward]) for k in kinds}
    return OpTimes(trace, seconds, bwd)
