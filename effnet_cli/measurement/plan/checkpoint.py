"""Collect for `effnet memory --train --checkpoint STAGES|auto`: the step's report (``memory``)
with checkpointing's price — per checkpointed stage, the peak it saves alone and the time its
recompute adds — and, for ``auto``, the plan that chose the stages. Nothing here prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ...arch.checkpointing import (
    check_auto,
    checkpoint_stages,
    checkpointable,
    is_auto,
)
from ...arch.specs import ResolvedSpec, parse_variant
from ...devices import check_available
from ...headroom import Reserve, check_reserve, default_reserve
from ...model import build_model
from ...ranks import DataParallel
from ...reports import Checkpointing, CheckpointPlan, MemoryReport, PlanOption
from ..memory.peak import check_step, memory
from ..timing.recompute import RecomputePrice, price_recompute
from ..timing.settings import CALIBRATING
from ..trace.prepare import input_shape
from .search import (
    Option,
    Step,
    SubsetPeaks,
    highest_rank_subsets,
    options,
    pareto,
    plan_stages,
    subset_peaks,
)

Progress = Callable[[str, int, int | None], None]
AMP_NOTE = ("no recompute time under --amp: the latency model prices float32 steps; the "
            "stages' memory is predicted as usual")  # fmt: skip


def priced_memory(
    spec: ResolvedSpec | str,
    *,
    checkpoint: str | Iterable[int],
    limit_bytes: int | None = None,
    reserve: Reserve | None = None,
    progress: Progress | None = None,
    ranks: DataParallel | None = None,
    **step: Any,
) -> MemoryReport:
    """``memory()`` of a training step with ``checkpoint`` (stage numbers, their text, or
    'auto': the cheapest stages within ``limit_bytes`` less ``reserve``), its report's
    checkpoint priced: memory saved against time added. ``step`` holds memory()'s other
    options (``train`` included); ``limit_bytes`` and ``reserve`` go to --max-batch unless
    ``checkpoint`` is 'auto'. ``ranks``: 'auto' chooses the stages on the highest rank's step
    under that data parallelism (the report is still one process's step, with them named)."""
    spec = parse_variant(spec) if isinstance(spec, str) else spec
    shape = input_shape(spec, step.get("resolution"), step.get("batch_size", 1))
    train, amp, device = step.get("train", False), step.get("amp"), step.get("device", "meta")
    auto = is_auto(checkpoint)
    if auto:
        check_auto(train, amp, limit_bytes, step.get("max_batch", False))
        reserve = reserve or default_reserve(device)
        check_reserve(reserve, limit_bytes, "--limit")
        if ranks is not None:
            return _rank_auto(spec, shape, ranks, limit_bytes or 0, reserve, progress, step)
    else:
        step |= {"limit_bytes": limit_bytes, "reserve": reserve}
    named = checkpointable(spec) if auto else checkpoint_stages(checkpoint, spec, train)
    check_step(train, step.get("optimizer", "sgd"), shape, amp)
    check_available(device)
    price = None
    for decompose in (True, False):  # the second pass only if the decomposition is wrong
        model = build_model(spec, step.get("num_classes", 1000), device="meta")
        walk = Step(model, shape, step.get("optimizer", "sgd"), device.partition(":")[0], amp)
        start = time.perf_counter()
        found = subset_peaks(walk, named, decompose)
        searched = time.perf_counter() - start
        price = price or _price(found, spec, shape, amp, progress)
        plan, chosen = None, list(named)
        if auto and reserve is not None:
            plan, chosen = _plan(found, price, limit_bytes or 0, reserve, searched)
        report = memory(spec, checkpoint=chosen or None, model=model, **step)
        if report.peak_bytes == found.peak(chosen):
            break
    return _fill(report, found, chosen, price, plan)


def _rank_auto(spec: ResolvedSpec, shape: tuple[int, ...], ranks: DataParallel, limit: int,
               reserve: Reserve, progress: Progress | None, step: dict[str, Any]
               ) -> MemoryReport:  # fmt: skip
    """--checkpoint auto with --world-size: every subset weighed on the highest rank (each
    distinct rank step's subsets, at its share of the batch), the cheapest that fits one
    rank's device chosen; then the one-process report with those stages named, carrying
    that plan."""
    optimizer, amp, device = step.get("optimizer", "sgd"), step.get("amp"), step["device"]
    rank_shape = (shape[0] // ranks.world_size, *shape[1:])
    check_step(True, optimizer, rank_shape, amp)
    check_available(device)
    model = build_model(spec, step.get("num_classes", 1000), device="meta")
    walk = Step(model, rank_shape, optimizer, device.partition(":")[0], amp, ranks)
    start = time.perf_counter()
    found = highest_rank_subsets(walk, checkpointable(spec))
    searched = time.perf_counter() - start
    plan, chosen = _plan(found, _price(found, spec, rank_shape, amp, progress), limit, reserve,
                         searched)  # fmt: skip
    plan.world_size = ranks.world_size
    if chosen:
        report = priced_memory(spec, checkpoint=chosen, progress=progress, **step)
    else:
        report = memory(spec, model=model, **step)
    report.checkpoint = report.checkpoint or Checkpointing([])
    report.checkpoint.plan = plan
    return report


def _price(found: SubsetPeaks, spec: ResolvedSpec, shape: tuple[int, ...], amp: str | None,
           progress: Progress | None) -> RecomputePrice | None:  # fmt: skip
    """Each stage's recompute, predicted from the training forward (None under --amp)."""
    if amp is not None:
        return None
    tick = None
    if progress is not None:
        tick = lambda done, total: progress(CALIBRATING, done, total)  # noqa: E731
    return price_recompute(found.trace, found.stages, spec, shape, tick)


def _plan(found: SubsetPeaks, price: RecomputePrice | None, limit: int, reserve: Reserve,
          searched: float) -> tuple[CheckpointPlan, list[int]]:  # fmt: skip
    """The cheapest subset within the limit less the reserve, and the Pareto front;
    ``searched``: the seconds the subsets' peaks took (the pricing apart)."""
    start = time.perf_counter()
    usable = reserve.usable(limit)
    weighed = options(found, price.per_stage if price else None)
    best, fits = plan_stages(weighed, usable)
    plan = CheckpointPlan(
        limit_bytes=limit, reserve_bytes=reserve.nbytes, reserve_source=reserve.source,
        usable_bytes=usable, fits=fits, smallest_peak_bytes=min(found.peaks),
        subsets=len(weighed), method=found.method, simulations=found.simulations,
        pareto=[_row(o) for o in pareto(weighed)],
        seconds=searched + time.perf_counter() - start,
    )  # fmt: skip
    return plan, best.stages


def _row(o: Option) -> PlanOption:
    return PlanOption(o.stages, o.peak_bytes, o.recompute_ms)


def _fill(report: MemoryReport, found: SubsetPeaks, chosen: list[int],
          price: RecomputePrice | None, plan: CheckpointPlan | None) -> MemoryReport:  # fmt: skip
    """The report's checkpoint: the stages, the peak they save, the time they add."""
    without = found.peaks[0]
    c = Checkpointing(sorted(chosen), peak_without_bytes=without,
                      saved_bytes=without - report.peak_bytes, plan=plan)  # fmt: skip
    if price is not None:
        c.recompute_ms = price.total(chosen)
        c.recompute_range_ms = price.band(c.recompute_ms)
        c.notes = list(price.notes)
    else:
        c.notes = [AMP_NOTE]
    for row in report.stages:
        if row.stage in chosen:
            row.saves_bytes = without - found.peak([row.stage])
            row.recompute_ms = price.per_stage[row.stage] if price else None
    report.checkpoint = c
    return report
