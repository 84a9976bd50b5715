"""A training step's time, predicted without running the model.

A training step (bench's and profile's: forward and cross-entropy in train mode, backward,
``zero_grad``; no optimizer) is priced from its forward: every op of the training forward
is priced by the inference cost model (``latency.py``), and the step is

    seconds = k × (the forward's priced seconds) + c × (the number of ops)
              + w × (the MACs of the depthwise convs wider than 3×3)

where k carries the backward (a convolution's input and weight gradients, batch-norm's and
the activations' own) and train mode's extra forward work, c each op's autograd bookkeeping,
and w the one backward no multiple of the forward carries: on this CPU torch computes a 5×5
depthwise conv's weight gradient on a slow path, 1.2-2.8 GMAC/s at every shape and batch
timed, where the 3×3's runs at 4-28 and its own forward at 10-43 (its backward is 16-29× its
forward, a 3×3's 2-4×), so that one k fitted on EfficientNets (whose 5×5s took 15-58 % of
the step in the runs here) priced a ResNet or a V2, which have none, up to 50 % too slow. w is timed
(``time_wgrad``, B0's 5×5 layers at batch 1), never fitted; k and c are fitted (least squares
relative to each time less its w part, both ≥ 0) on timed training steps of a few small
custom scalings, taken with the calibration; leaving each out in turn gives the held-out
errors a training prediction's band is made of.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from ...arch.specs import parse_variant
from ...kinds import OpKind
from ...model import build_model
from ..trace.probe import OpRecord, Shape, Trace
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
WGRAD_PROBE: tuple[tuple[int, int, int], ...] = (
    (144, 56, 2), (240, 28, 1), (480, 14, 1), (672, 14, 1), (672, 14, 2), (1152, 7, 1),
)  # fmt: skip
"""(channels, input side, stride) of the 5×5 depthwise weight gradients ``time_wgrad`` times:
B0's 5×5 layers at batch 1 (15.4 M MACs; the rate moves ±30 % from shape to shape, not with
the batch, so the mix is timed rather than one shape)."""


class TrainSample(NamedTuple):
    """One timed training step: the model, its input, the fastest step (seconds)."""

    spec: str
    shape: Shape
    seconds: float


class TrainFit(NamedTuple):
    """seconds = k × priced forward + per_op × ops + wgrad × slow weight-gradient MACs."""

    k: float
    per_op: float
    wgrad: float = 0.0
    """Seconds per MAC of a wide depthwise conv's weight gradient (``time_wgrad``)."""


class TrainRow(NamedTuple):
    """A timed training step as the fit reads it."""

    priced: float
    """Its training forward's priced seconds (the inference cost model's)."""
    ops: int
    timed: float
    """Seconds, timed."""
    wgrad_macs: int = 0
    """MACs of its depthwise convs wider than 3×3 (``wgrad_macs``)."""


def wgrad_macs(op: OpRecord) -> int:
    """The op's MACs when it is a depthwise conv wider than 3×3 (its kernel area is its MACs
    per output element), whose weight gradient takes torch's slow path; else 0."""
    wide = op.kind == OpKind.CONV and op.flavor == "depthwise" and op.macs > 9 * op.elements
    return op.macs if wide else 0


def wgrad_probe() -> tuple[Callable[[], None], int]:
    """The ``WGRAD_PROBE`` layers' weight gradients, ready to run, and their MACs."""
    parts = []
    for channels, side, stride in WGRAD_PROBE:
        x = torch.randn(1, channels, side, side)
        w = torch.randn(channels, 1, 5, 5)
        grad = torch.randn_like(torch.nn.functional.conv2d(x, w, None, stride, 2, 1, channels))
        parts.append((grad, x, w, stride, channels))

    def backward() -> None:
        for grad, x, w, stride, channels in parts:
            torch.ops.aten.convolution_backward(
                grad, x, w, None, [stride] * 2, [2, 2], [1, 1], False, [0, 0], channels,
                [False, True, False],
            )  # fmt: skip

    return backward, sum(grad.numel() * 25 for grad, *_ in parts)


def time_wgrad() -> float:
    """Seconds per MAC of a 5×5 depthwise conv's weight gradient on the CPU now: the
    ``WGRAD_PROBE`` layers, the fastest of five passes after a warm-up (0.1-0.2 s here), as
    every calibration time is the fastest: the pass read in two modes here, 12-14 and 28-31 ms,
    for seconds at a time."""
    backward, macs = wgrad_probe()
    backward()
    return fastest(backward, 5) / macs


def fastest(run: Callable[[], object], times: int) -> float:
    """The fastest of ``times`` runs, in seconds: what load disturbs least."""
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def training_trace(model: nn.Module, shape: Shape) -> Trace:
    """The trace of the training forward (train mode: batch statistics, dropout, the loss),
    as the memory engine probes it on meta: nothing runs."""
    return predict(model, shape, True, "none", "cpu").trace


def train_trace(spec: str, shape: Shape) -> Trace:
    """``training_trace`` of ``spec`` built on meta."""
    return training_trace(build_model(parse_variant(spec), device="meta"), shape)


def step_for(spec: str, batch: int) -> tuple[Callable[[], None], Shape]:
    """The training step of ``spec`` at ``batch`` on the CPU, built and ready: the very step
    bench and profile time (``loop.step_fn``: forward, cross-entropy, backward, zero_grad),
    with its input's shape."""
    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    model = build_model(resolved).train()
    x = torch.randn(batch, 3, res, res)
    settings = BenchSettings(batch_size=batch, train=True)
    return step_fn(model, x, settings, torch.device("cpu")), (batch, 3, res, res)


def time_train_step(spec: str, batch: int) -> TrainSample:
    """Time the training step of ``spec`` at ``batch`` for real: the fastest of
    ``TIMED_STEPS`` after one warm-up."""
    step, shape = step_for(spec, batch)
    step()
    return TrainSample(spec, shape, fastest(step, TIMED_STEPS))


REST_FLOOR = 0.1
"""The least share of a timed step left to k and c once its w part is taken off: a w read
at a slow moment (the probe reads in two modes here, 2.3× apart) could otherwise leave a
calibration step nothing, or less than nothing, to fit; the held-out errors then say so."""


def fit_train(rows: list[TrainRow], wgrad: float = 0.0) -> TrainFit:
    """k and per_op from the timed steps, each less its ``wgrad`` part (timed, not fitted;
    at least ``REST_FLOOR`` of the step is left), relative to that remainder, both ≥ 0."""
    rest = [(r.priced, r.ops, max(r.timed - wgrad * r.wgrad_macs, REST_FLOOR * r.timed))
            for r in rows]  # fmt: skip
    design = [[priced / left, ops / left] for priced, ops, left in rest]
    k, per_op = nnls(design, [1.0] * len(rows))
    return TrainFit(k, per_op, wgrad)


def step_seconds(fitted: TrainFit, row: TrainRow) -> float:
    """A step's predicted seconds."""
    return fitted.k * row.priced + fitted.per_op * row.ops + fitted.wgrad * row.wgrad_macs


def held_out(rows: list[TrainRow], wgrad: float = 0.0) -> list[float]:
    """Each row predicted by a fit on the others: (predicted − timed) / timed."""
    errors = []
    for i, row in enumerate(rows):
        fitted = fit_train(rows[:i] + rows[i + 1 :], wgrad)
        errors.append((step_seconds(fitted, row) - row.timed) / row.timed)
    return errors
