"""A training step's time, predicted without running the model.

A training step (bench's and profile's: forward and cross-entropy in train mode, backward,
``zero_grad``; no optimizer) is priced from its forward: every op of the training forward
is priced by the inference cost model (``latency.py``), and the step is

    seconds = k × (the forward's priced seconds) + c × (the number of ops)

where k carries the backward (a convolution's input and weight gradients, batch-norm's and
the activations' own) and train mode's extra forward work, and c each op's autograd
bookkeeping. k and c are fitted (least squares relative to each time, both ≥ 0) on timed
training steps of a few small custom scalings, taken with the calibration; leaving each out
in turn gives the held-out errors a training prediction's band is made of.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import torch
from torch import nn

from ...arch.specs import parse_variant
from ...model import build_model
from ..trace.probe import Shape, Trace
from ..trace.simulate import predict
from .fitting import nnls
from .loop import step_fn
from .settings import BenchSettings

TRAIN_CALIBRATION: tuple[tuple[str, int], ...] = (
    ("w=1.0,d=0.5,r=224", 2),
    ("w=0.5,d=0.5,r=128", 8),
    ("w=0.8,d=0.4,r=256", 4),
    ("w=1.0,d=0.4,r=256,family=v2", 2),
)
"""(spec, batch) of the timed training steps: both families, 128-256 px, batch 2-8; none is
an official variant, and none is an inference calibration model at the same batch."""
TIMED_STEPS = 2


class TrainSample(NamedTuple):
    """One timed training step: the model, its input, the fastest step (seconds)."""

    spec: str
    shape: Shape
    seconds: float


class TrainFit(NamedTuple):
    """seconds = k × priced forward + per_op × ops."""

    k: float
    per_op: float


def training_trace(model: nn.Module, shape: Shape) -> Trace:
    """The trace of the training forward (train mode: batch statistics, dropout, the loss),
    as the memory engine probes it on meta: nothing runs."""
    return predict(model, shape, True, "none", "cpu").trace


def train_trace(spec: str, shape: Shape) -> Trace:
    """``training_trace`` of ``spec`` built on meta."""
    return training_trace(build_model(parse_variant(spec), device="meta"), shape)


def time_train_step(spec: str, batch: int) -> TrainSample:
    """Time the training step of ``spec`` at ``batch`` for real, the very step bench and
    profile time (``loop.step_fn``): the fastest of ``TIMED_STEPS`` after one warm-up."""
    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    model = build_model(resolved).train()
    x = torch.randn(batch, 3, res, res)
    step = step_fn(model, x, BenchSettings(batch_size=batch, train=True), torch.device("cpu"))
    step()
    best = float("inf")
    for _ in range(TIMED_STEPS):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return TrainSample(spec, (batch, 3, res, res), best)


def fit_train(rows: list[tuple[float, int, float]]) -> TrainFit:
    """k and per_op from (priced forward seconds, ops, timed seconds) rows, relative to
    each time, both ≥ 0."""
    design = [[priced / timed, ops / timed] for priced, ops, timed in rows]
    k, per_op = nnls(design, [1.0] * len(rows))
    return TrainFit(k, per_op)


def held_out(rows: list[tuple[float, int, float]]) -> list[float]:
    """Each row predicted by a fit on the others: (predicted − timed) / timed."""
    errors = []
    for i, (priced, ops, timed) in enumerate(rows):
        fitted = fit_train(rows[:i] + rows[i + 1 :])
        errors.append((fitted.k * priced + fitted.per_op * ops - timed) / timed)
    return errors
