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
from ..trace.probe import OpRecord, Trace

STEP = "effnet.step"

FORWARD_KINDS = {
    "aten::conv2d": "conv",
    "aten::batch_norm": "batch_norm",
    "aten::silu": "activation",
    "aten::silu_": "activation",
    "aten::relu": "activation",
    "aten::relu_": "activation",
    "aten::sigmoid": "activation",
    "aten::mul": "multiply",
    "aten::add": "add",
    "aten::add_": "add",
    "aten::adaptive_avg_pool2d": "pooling",
    "aten::adaptive_max_pool2d": "pooling",
    "aten::linear": "linear",
}
"""Top-level aten ops of an EfficientNet forward → the probe's op kind. Anything else
(flatten, an eval-mode dropout) moves no data and is left to the gaps between ops."""
_MATCHED = frozenset(FORWARD_KINDS.values())

OP_KINDS = ("conv", "depthwise", "se_conv", "batch_norm", "activation", "elementwise",
            "pooling", "linear")  # fmt: skip
"""The op kinds profile reports: dense or pointwise conv, depthwise conv, the SE block's two
1×1 convs, batch-norm, activations, element-wise multiply and add, pooling, linear."""

_BACKWARD = {
    "NativeBatchNormBackward": "batch_norm",
    "SiluBackward": "activation",
    "SigmoidBackward": "activation",
    "ReluBackward": "activation",
    "MulBackward": "elementwise",
    "AddBackward": "elementwise",
    "MeanBackward": "pooling",
    "AdaptiveAvgPool2DBackward": "pooling",
    "AdaptiveMaxPool2DBackward": "pooling",
    "AddmmBackward": "linear",
}


def op_kind(op: OpRecord) -> str:
    """The profile's kind of a probe op."""
    if op.kind == "conv":
        return {"depthwise": "depthwise", "se": "se_conv"}.get(op.flavor, "conv")
    if op.kind in ("multiply", "add"):
        return "elementwise"
    return op.kind


def conv_kind(input_shape: list, weight_shape: list) -> str:
    """A conv's kind from the shapes the profiler recorded: depthwise when each group has one
    input channel, SE when it runs on a 1×1 map, else dense or pointwise."""
    if len(weight_shape) == 4 and weight_shape[1] == 1 and input_shape[1] > 1:
        return "depthwise"
    if len(input_shape) == 4 and input_shape[2] * input_shape[3] == 1:
        return "se_conv"
    return "conv"


@dataclass
class OpTimes:
    """Per-op medians over the profiled steps, aligned with ``trace.ops``, plus what the
    profiler saw beyond them (a training step's backward, by kind)."""

    trace: Trace
    seconds: list[float]
    backward: dict[str, float]

    def by_kind(self) -> dict[str, float]:
        totals = dict.fromkeys(OP_KINDS, 0.0)
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


def backward_kind(event) -> str | None:
    """The kind of one autograd node the profiler timed, or None for bookkeeping nodes."""
    node = event.name.rsplit(": ", 1)[-1].rstrip("0123456789")
    if node == "ConvolutionBackward":
        child = _descendant(event, "aten::convolution_backward")
        shapes = child.input_shapes if child is not None else []
        return conv_kind(shapes[1], shapes[2]) if len(shapes) > 2 else "conv"
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
    to sort a backward's ops (and a training batch-norm's counter) and costs time."""
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


def _split(top, cuda: bool) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """One step's forward ops (kind, seconds) in order, and its backward seconds by kind."""
    forward = [
        (FORWARD_KINDS[child.name], _device_seconds(child, cuda))
        for child in top.cpu_children
        if child.name in FORWARD_KINDS and not _bookkeeping(child)
    ]
    bwd: dict[str, float] = {}
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
