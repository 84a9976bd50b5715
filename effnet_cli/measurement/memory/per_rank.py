"""Collect `effnet memory --world-size`: each rank's training step when the global batch is
split across ranks (DDP, or DDP with ZeroRedundancyOptimizer), predicted by the memory
engine and, with --device cpu, measured on gloo with one process per rank."""

from __future__ import annotations

from collections.abc import Collection

from torch import nn

from ...arch.specs import ResolvedSpec
from ...errors import UsageError
from ...ranks import MEASURED_RANKS, DataParallel
from ...reports import MeasuredPeak, PerRank, RankMemory
from ..trace.probe import Shape
from ..trace.ranks import DataParallelStep
from ..trace.simulate import MemoryPrediction, predict
from ..trace.stages import StageMap
from ..trace.tracker import METHOD

GLOO_METHOD = f"{METHOD}, in each of the ranks (gloo, one process each, this CPU)"


def check_measured(setting: DataParallel, device: str) -> None:
    """A real device measures the ranks as processes on this machine's CPU (gloo)."""
    if device == "meta":
        return
    if device != "cpu":
        raise UsageError(
            f"--world-size measures its ranks on the CPU (gloo), not {device}: use --device "
            "cpu, or meta (the default) to predict only"
        )
    if setting.world_size > MEASURED_RANKS:
        raise UsageError(
            f"--device cpu runs --world-size {setting.world_size} ranks as processes here: at "
            f"most {MEASURED_RANKS}; --device meta predicts any world size"
        )


def per_rank(spec: ResolvedSpec, model: nn.Module, shape: Shape, optimizer: str, device: str,
             setting: DataParallel, amp: str | None, checkpoint: Collection[str],
             num_classes: int) -> PerRank:  # fmt: skip
    """Predict every rank's step at its share of ``shape``'s batch (ranks whose optimizer
    holds the same parameter sizes share one prediction); on the CPU, measure them."""
    check_measured(setting, device)
    batch = shape[0] // setting.world_size
    rank_shape = (batch, *shape[1:])
    device_type = device.partition(":")[0]
    known: dict[tuple[int, ...], MemoryPrediction] = {}
    predictions = []
    for rank in range(setting.world_size):
        step = DataParallelStep.of(model, setting, rank, optimizer)
        key = tuple(step.stepped(step.sizes))
        if key not in known:
            known[key] = predict(model, rank_shape, True, optimizer, device_type, amp,
                                 checkpoint, step)  # fmt: skip
        predictions.append(known[key])
    ranks = [RankMemory(rank, p.peak_bytes) for rank, p in enumerate(predictions)]
    top = max(range(len(ranks)), key=lambda r: ranks[r].peak_bytes)
    p = predictions[top]
    module = p.peak_at.module
    where = {"phase": p.peak_at.phase, "stage": StageMap(spec).stage_of(module) if module else None,
             "module": module, "op": p.peak_at.op}  # fmt: skip
    report = PerRank(setting.world_size, setting.strategy, setting.bucket_view, batch,
                     p.peak_bytes, p.breakdown, where, ranks)  # fmt: skip
    if device == "cpu":
        _measure(report, spec, num_classes, rank_shape, optimizer, setting, amp, checkpoint)
    return report


def _measure(report: PerRank, spec: ResolvedSpec, num_classes: int, shape: Shape,
             optimizer: str, setting: DataParallel, amp: str | None,
             checkpoint: Collection[str]) -> None:  # fmt: skip
    """Run the ranks on gloo and put each one's measured peak beside its prediction."""
    from ..trace.gloo import measure_ranks

    measured = measure_ranks(spec, num_classes, shape, optimizer, setting, amp, checkpoint)
    for row, real in zip(report.ranks, measured, strict=True):
        row.measured_bytes = real.peak_bytes
        row.error_pct = 100.0 * (row.peak_bytes - real.peak_bytes) / real.peak_bytes
    top = max(measured, key=lambda m: m.peak_bytes)
    error = 100.0 * (report.peak_bytes - top.peak_bytes) / top.peak_bytes
    report.measured = MeasuredPeak("cpu", top.peak_bytes, error, GLOO_METHOD,
                                   {"phase": top.peak_at.phase, "op": top.peak_at.op})  # fmt: skip
