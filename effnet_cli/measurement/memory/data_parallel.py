"""Collect `effnet memory --world-size`: each rank's training step when the global batch of a
``memory()`` report is split across ranks (DDP, DDP with ZeroRedundancyOptimizer, or FSDP2),
predicted by the memory engine and, with --device cpu, measured on gloo with one process per
rank. A function of its own beside ``memory()``: the report's step, then its ranks."""

from __future__ import annotations

from collections.abc import Collection

from torch import nn

from ...arch.specs import ResolvedSpec, parse_variant
from ...errors import UsageError
from ...headroom import Reserve
from ...model import build_model
from ...ranks import MEASURED_RANKS, DataParallel, data_parallel
from ...reports import MeasuredPeak, MemoryReport, PerRank, RankMemory
from ..trace.probe import Shape
from ..trace.ranks import rank_step
from ..trace.simulate import MemoryPrediction, predict
from ..trace.stages import StageMap, stage_module
from ..trace.tracker import METHOD
from .peak import fit_batch

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


def per_rank(spec: ResolvedSpec | str, report: MemoryReport, setting: DataParallel,
             num_classes: int = 1000) -> PerRank:  # fmt: skip
    """Each rank's step of ``report``'s training step (its batch split over the ranks, its
    optimizer, autocast and checkpointed stages; ``num_classes`` as it was built with):
    every rank predicted (ranks whose optimizer holds the same parameter sizes share one
    prediction) and, when the report's device is the CPU, measured on gloo."""
    spec = parse_variant(spec) if isinstance(spec, str) else spec
    setting = _checked(setting, report)
    device, optimizer, amp = report.device, report.optimizer or "none", report.amp
    batch = report.batch_size // setting.world_size
    rank_shape = (batch, 3, report.resolution, report.resolution)
    checkpoint = [stage_module(s) for s in report.checkpoint.stages] if report.checkpoint else []
    model = build_model(spec, num_classes, device="meta")
    predictions = rank_predictions(model, rank_shape, setting, optimizer,
                                   device.partition(":")[0], amp, checkpoint)  # fmt: skip
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


def rank_predictions(model: nn.Module, rank_shape: Shape, setting: DataParallel, optimizer: str,
                     device_type: str, amp: str | None = None,
                     checkpoint: Collection[str] = ()) -> list[MemoryPrediction]:  # fmt: skip
    """Every rank's predicted training step at its share of the batch (``rank_shape``), in
    rank order; ranks whose optimizer holds the same parameter sizes share one prediction."""
    groups = _rank_groups(model, setting, optimizer)
    known = {rank: predict(model, rank_shape, True, optimizer, device_type, amp, checkpoint,
                           rank=rank_step(model, setting, rank, optimizer))
             for rank in dict.fromkeys(groups)}  # fmt: skip
    return [known[rank] for rank in groups]


def distinct_ranks(model: nn.Module, setting: DataParallel, optimizer: str) -> list[int]:
    """One rank for each distinct step (the lowest of the ranks whose optimizer holds the
    same parameter sizes): the ranks whose peaks can differ."""
    return list(dict.fromkeys(_rank_groups(model, setting, optimizer)))


def _rank_groups(model: nn.Module, setting: DataParallel, optimizer: str) -> list[int]:
    """For each rank, the lowest rank whose optimizer holds the same parameter sizes (its
    step, and so its peak, is the same)."""
    first: dict[tuple[int, ...], int] = {}
    groups = []
    for rank in range(setting.world_size):
        step = rank_step(model, setting, rank, optimizer)
        groups.append(first.setdefault(tuple(step.stepped(step.sizes)), rank))
    return groups


def highest_rank_peak(model: nn.Module, rank_shape: Shape, setting: DataParallel,
                      optimizer: str, device_type: str, amp: str | None = None,
                      checkpoint: Collection[str] = ()) -> int:  # fmt: skip
    """The largest predicted peak of any rank: what a per-device memory limit is judged on."""
    return max(p.peak_bytes for p in rank_predictions(model, rank_shape, setting, optimizer,
                                                      device_type, amp, checkpoint))  # fmt: skip


def fit_ranks(spec: ResolvedSpec | str, report: MemoryReport, setting: DataParallel,
              limit_bytes: int, reserve: Reserve, num_classes: int = 1000) -> None:  # fmt: skip
    """--max-batch with --world-size: the largest global batch (a multiple of the ranks)
    whose highest rank's step fits ``limit_bytes`` less ``reserve``, the limit being one
    rank's device, as budget --world-size searches it; into ``report``'s fit fields, which
    then count global batches (the peaks are a rank's)."""
    spec = parse_variant(spec) if isinstance(spec, str) else spec
    setting = _checked(setting, report)
    checkpoint = [stage_module(s) for s in report.checkpoint.stages] if report.checkpoint else []
    model = build_model(spec, num_classes, device="meta")
    optimizer, device_type = report.optimizer or "none", report.device.partition(":")[0]

    def peak_of(rank_shape: Shape) -> int:
        return highest_rank_peak(model, rank_shape, setting, optimizer, device_type, report.amp,
                                 checkpoint)  # fmt: skip

    fit_batch(report, spec, model, limit_bytes, reserve, num_classes, checkpoint,
              ranks=setting.world_size, peak_of=peak_of)  # fmt: skip


def _checked(setting: DataParallel, report: MemoryReport) -> DataParallel:
    """The setting, checked against the report's step (as the CLI checks its options)."""
    check_measured(setting, report.device)
    checked = data_parallel(setting.world_size, setting.strategy, setting.bucket_view,
                            report.batch_size, report.mode == "train")  # fmt: skip
    assert checked is not None
    return checked


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
