"""Collect for `effnet memory`: the predicted peak of one step, per stage, measured beside
it on a real device, and the largest batch that fits a limit. Nothing here prints."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable

import torch

from ...arch.checkpointing import checkpoint_stages
from ...arch.specs import ResolvedSpec, parse_variant
from ...choices import AMP_DTYPES, OPTIMIZERS
from ...devices import available_bytes, check_available
from ...errors import UsageError
from ...headroom import MARGINAL, Reserve, check_reserve, default_reserve, marginal
from ...model import EfficientNet, build_model, materialize
from ...reports import Checkpointing, MeasuredPeak, MemoryReport, MemoryStage
from ..trace.prepare import check_fits, check_train_shape, input_shape
from ..trace.probe import Shape
from ..trace.simulate import (
    END_OF_FORWARD,
    MemoryPrediction,
    base_bytes,
    predict,
)
from ..trace.stages import StageMap, stage_module
from ..trace.tracker import METHOD, measure_step

MAX_BATCH = 1 << 20
"""The largest batch --max-batch reports (a bound on the search, not a claim)."""


def check_step(train: bool, optimizer: str, shape: Shape, amp: str | None) -> None:
    """The step's options, refused before anything is built (the planner checks them too,
    before its search)."""
    if amp is not None and amp not in AMP_DTYPES:
        raise UsageError(f"--amp must be one of {', '.join(AMP_DTYPES)}, got '{amp}'")
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got '{optimizer}'")
    if train:
        check_train_shape(shape)


def _stages(spec: ResolvedSpec, p: MemoryPrediction, checkpointed: Collection[int]
            ) -> list[MemoryStage]:  # fmt: skip
    where = StageMap(spec)
    saved: Counter = Counter()
    for module, nbytes in p.saved_by_module.items():
        saved[where.stage_of(module)] += nbytes
    rows = []
    for row in spec.stages:
        after = p.live_after.get(stage_module(row.stage), 0)
        if row is spec.stages[-1]:  # the head's pooling and classifier end the forward
            after = p.live_after.get(END_OF_FORWARD, after)
        rows.append(MemoryStage(row.stage, row.operator, saved[row.stage], after,
                                row.stage in checkpointed))  # fmt: skip
    return rows


def _peak_at(spec: ResolvedSpec, p: MemoryPrediction) -> dict[str, str | int | None]:
    phase, module, op = p.peak_at
    stage = StageMap(spec).stage_of(module) if module else None
    return {"phase": phase, "stage": stage, "module": module, "op": op}


def _measure(model: EfficientNet, shape: Shape, train: bool, optimizer: str, device: str,
             predicted: int, amp: str | None, channels_last: bool,
             checkpoint: Collection[str]) -> MeasuredPeak:  # fmt: skip
    """Run the real step on ``device`` (after checking the prediction fits) and compare;
    the ``checkpoint`` modules run as checkpoint segments there too."""
    check_fits(model, device, shape, predicted)
    materialize(model, device)
    x = torch.randn(*shape, device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    m = measure_step(model, x, train, optimizer, amp, checkpoint)
    method = METHOD
    if m.allocated_bytes is not None:
        method += "; CUDA max_memory_allocated / max_memory_reserved"
    error = 100.0 * (predicted - m.peak_bytes) / m.peak_bytes
    return MeasuredPeak(device, m.peak_bytes, error, method,
                        {"phase": m.peak_at.phase, "op": m.peak_at.op},
                        m.allocated_bytes, m.reserved_bytes)  # fmt: skip


def largest_batch(spec: ResolvedSpec, resolution: int, train: bool, optimizer: str,
                  limit: int, device_type: str, num_classes: int = 1000,
                  amp: str | None = None, model: EfficientNet | None = None,
                  known: dict[int, int] | None = None,
                  checkpoint: Collection[str] = (),
                  peak_of: Callable[[Shape], int] | None = None) -> int:  # fmt: skip
    """The largest batch whose predicted peak fits ``limit`` (0 when not even one does).

    The peak is a part the step holds whatever the batch plus a part that grows with it.
    For float32 inference the fixed part is the weights and buffers, so one prediction
    splits the peak and the first guess is exact (two more predictions confirm it); a
    training step's peak moves between phases, and autocast's casts come and go, so there
    the slope is measured from the two smallest batches. A
    bracket around the guess is widened until it holds the answer, then bisected; every
    probe is a full prediction.
    ``known`` holds peaks the caller already predicted for this step, by batch; every
    peak predicted here is added to it, so a second search reuses them. ``checkpoint``
    names the modules run as checkpoint segments. ``peak_of`` predicts the peak of an input
    shape instead of the one-process step (budget's per-rank step: the batch is a rank's).
    """
    model = model or build_model(spec, num_classes, device="meta")  # shapes are all it reads
    peaks: dict[int, int] = known if known is not None else {}

    def peak(batch: int) -> int:
        if batch not in peaks:
            shape = (batch, 3, resolution, resolution)
            peaks[batch] = (
                peak_of(shape) if peak_of is not None
                else predict(model, shape, train, optimizer, device_type, amp,
                             checkpoint).peak_bytes
            )  # fmt: skip
        return peaks[batch]

    smallest = 2 if train and -(-resolution // 32) == 1 else 1  # batch-norm needs two values
    if peak(smallest) > limit:
        return 0
    if train or amp:  # the peak moves between phases (or casts) with the batch: measure it
        per_sample = max(1, peak(smallest + 1) - peak(smallest))
        fixed = peak(smallest) - smallest * per_sample
    else:  # one forward: weights and buffers, plus activations in proportion to the batch
        fixed = _fixed_bytes(model, resolution)
        per_sample = max(1, (peak(smallest) - fixed) // smallest)
    guess = min(MAX_BATCH, max(smallest, (limit - fixed) // per_sample))
    low, high, step = guess, guess + 1, 1
    while peak(low) > limit:  # widen downwards: low must fit
        low, high, step = max(smallest, low - step), low, step * 2
    while high <= MAX_BATCH and peak(high) <= limit:  # widen upwards: high must not fit
        low, high, step = high, high + step, step * 2
    if high > MAX_BATCH:
        return MAX_BATCH
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if peak(mid) <= limit else (low, mid)
    return low


def _fixed_bytes(model: EfficientNet, resolution: int) -> int:
    """What a float32 inference step holds whatever its batch: weights and buffers."""
    base = base_bytes(model, (1, 3, resolution, resolution), False, "none")
    return base["weights"] + base["buffers"]


def memory(
    spec: ResolvedSpec | str,
    *,
    batch_size: int = 1,
    resolution: int | None = None,
    train: bool = False,
    optimizer: str = "sgd",
    device: str = "meta",
    num_classes: int = 1000,
    max_batch: bool = False,
    limit_bytes: int | None = None,
    amp: str | None = None,
    channels_last: bool = False,
    reserve: Reserve | None = None,
    checkpoint: str | Iterable[int] | None = None,
    model: EfficientNet | None = None,
) -> MemoryReport:
    """Predict the peak memory of one step of ``spec``; on a real device also run the step
    and measure it; with ``max_batch``, find the largest batch within ``limit_bytes`` (or
    the device's free memory) less ``reserve`` (default: the device's, see headroom.py).
    ``channels_last`` changes layouts, not sizes: the
    prediction is the same, and the measured step runs in that layout. ``checkpoint``
    (training only: stage numbers, or --checkpoint's text such as '3-7' or 'all') runs
    those Table-1 stages as activation-checkpoint segments, predicted and measured.
    ``model``: ``spec`` already built on meta (the planner's), to build it once."""
    start = time.perf_counter()
    spec = parse_variant(spec) if isinstance(spec, str) else spec
    shape = input_shape(spec, resolution, batch_size)
    check_step(train, optimizer, shape, amp)
    stages = checkpoint_stages(checkpoint, spec, train)
    segments = [stage_module(stage) for stage in stages]
    check_available(device)
    device_type = device.partition(":")[0]
    model = model or build_model(spec, num_classes, device="meta")
    p = predict(model, shape, train, optimizer, device_type, amp, segments)
    predicted = time.perf_counter()
    report = MemoryReport(
        variant=spec.name,
        title=spec.title,
        mode="train" if train else "inference",
        batch_size=shape[0],
        resolution=shape[2],
        optimizer=optimizer if train else None,
        amp=amp,
        channels_last=channels_last,
        device=device,
        peak_bytes=p.peak_bytes,
        breakdown=p.breakdown,
        peak_at=_peak_at(spec, p),
        stages=_stages(spec, p, stages),
        checkpoint=Checkpointing(list(stages)) if stages else None,
    )
    if max_batch:
        fit_batch(report, spec, model, limit_bytes or _free_memory(device),
                  reserve or default_reserve(device), num_classes, segments)  # fmt: skip
    if device != "meta":
        report.measured = _measure(model, shape, train, optimizer, device, p.peak_bytes, amp,
                                   channels_last, segments)  # fmt: skip
    report.seconds = {"predict": predicted - start, "total": time.perf_counter() - start}
    return report


def fit_batch(report: MemoryReport, spec: ResolvedSpec, model: EfficientNet, limit: int,
              reserve: Reserve, num_classes: int, checkpoint: Collection[str], ranks: int = 1,
              peak_of: Callable[[Shape], int] | None = None) -> None:  # fmt: skip
    """The largest batch within the limit less the reserve, how close its peak comes to
    that, and (when it is marginal) the largest batch that leaves 5% free. With ``ranks``
    and ``peak_of`` (a rank's peak at its share), the search runs over one rank's batch
    and the batches reported are global: that times the ranks."""
    check_reserve(reserve, limit, "the limit")
    usable = reserve.usable(limit)
    r, peaks = report, {}
    device_type = r.device.partition(":")[0]

    def search(within: int) -> int:
        return largest_batch(spec, r.resolution, r.mode == "train", r.optimizer or "sgd",
                             within, device_type, num_classes, r.amp, model, peaks,
                             checkpoint, peak_of)  # fmt: skip

    r.limit_bytes, r.reserve_bytes, r.reserve_source = limit, reserve.nbytes, reserve.source
    per_rank = search(usable)
    r.usable_bytes, r.max_batch = usable, per_rank * ranks
    if per_rank in peaks:
        r.max_batch_peak_bytes = peaks[per_rank]
        r.margin_pct = 100.0 * (usable - peaks[per_rank]) / usable
        r.marginal = marginal(r.margin_pct / 100)
        r.headroom_batch = (search(int(usable * (1 - MARGINAL))) * ranks if r.marginal
                            else r.max_batch)  # fmt: skip


def _free_memory(device: str) -> int:
    free = None if device == "meta" else available_bytes(device)
    if free is None:
        raise UsageError(
            "--max-batch needs something to fit into: --limit SIZE (e.g. 16GiB) or a real "
            "--device whose free memory is the limit"
        )
    return free
