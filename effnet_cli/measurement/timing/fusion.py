"""The kernels onnxruntime runs, read off the probe's trace: its graph optimizer fuses ops
that torch runs one by one, and the latency model for onnxruntime prices what it runs.

onnxruntime's CPU execution provider (full graph optimisation, NCHWc layout) folds a
batch-norm into the conv before it, takes a residual add after a conv as the conv's extra
"Sum" input, and applies ReLU, ReLU6 (Clip) and sigmoid inside the conv kernel. SiLU is
not among them: it runs as its own kernel (QuickGelu). So a conv, the batch-norm after it,
a residual add after that and a ReLU/ReLU6/sigmoid after that are one unit here, and every
other op is a unit of its own. A unit keeps the conv's kind and MACs, reads the conv's
input, the residual and every weight, and writes the last op's output.

The rule mirrors what onnxruntime (1.32 here) does to the exported file (``profile --runtime
onnxruntime`` shows the kernels it ran); a test checks it against onnxruntime's optimized
graph. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

from ...kinds import OpKind
from ..trace.probe import OpRecord, Trace

FUSED_ACTIVATIONS = frozenset({"relu", "relu6", "hardtanh", "sigmoid"})
"""Activations onnxruntime applies inside a conv kernel (Relu, Clip, Sigmoid)."""
UNTIMED = (OpKind.DROPOUT, OpKind.LOSS)


@dataclass(frozen=True)
class Unit:
    """One kernel onnxruntime runs: the fused record, and the modules of its ops (what the
    exported nodes' module paths name, so that a profiled kernel finds its unit)."""

    record: OpRecord
    modules: tuple[str, ...]


def _members(ops: list[OpRecord], i: int) -> list[OpRecord]:
    """The ops that run as one kernel from ``ops[i]`` on."""
    members = [ops[i]]
    if ops[i].kind != OpKind.CONV:
        return members
    for kind in (OpKind.BATCH_NORM, OpKind.ADD, OpKind.ACTIVATION):
        j = i + len(members)
        if j >= len(ops) or ops[j].kind != kind:
            continue
        if kind == OpKind.ACTIVATION and ops[j].flavor not in FUSED_ACTIVATIONS:
            continue
        members.append(ops[j])
    return members


def _merge(members: list[OpRecord]) -> OpRecord:
    """One record for a fused kernel: the first op's kind, every op's MACs and weights, the
    first op's input plus each added operand (a residual), the last op's output."""
    first, last = members[0], members[-1]
    read = first.read_bytes
    for before, op in pairwise(members):
        read += max(0, op.read_bytes - before.write_bytes)  # an operand beyond the chain
    return replace(
        first,
        macs=sum(op.macs for op in members),
        elements=last.elements,
        read_bytes=read,
        weight_bytes=sum(op.weight_bytes for op in members),
        write_bytes=last.write_bytes,
    )


def units(trace: Trace) -> list[Unit]:
    """The trace's ops grouped as onnxruntime runs them, in order (dropout and the loss,
    which the exported inference graph does not hold, left out)."""
    ops = [op for op in trace.ops if op.kind not in UNTIMED]
    out, i = [], 0
    while i < len(ops):
        members = _members(ops, i)
        out.append(Unit(_merge(members), tuple(op.module for op in members)))
        i += len(members)
    return out


def fused(trace: Trace) -> Trace:
    """The trace as onnxruntime runs it: one record per kernel."""
    records = [u.record for u in units(trace)]
    return Trace(records, trace.shapes, trace.leaf_output_elements, trace.output_shape)
