"""The view of `effnet memory`: the peak, what is live at it, where it happens, per stage,
and the measurement beside the prediction. No torch, no printing."""

from __future__ import annotations

from typing import Any

from ..arch.checkpointing import span
from ..choices import OPTIMIZER_NAMES, STRATEGY_NAMES
from ..headroom import STORAGE_ONLY
from ..reports import CheckpointPlan, MemoryReport, MemoryStage, PerRank, PlanOption, RankMemory
from .core import Column, Facts, Note, Part, View, csv_text, grid, to_dict
from .numbers import nbytes, pct

DEFINITION = (
    "Peak = the most bytes of tensor storages alive at once: weights, buffers, the batch and "
    "every tensor the step creates while something references it (views and in-place "
    "results add nothing). 1 MiB = 2^20 bytes."
)
TRAIN_NOTE = (
    "Training step, steady state: train(), cross_entropy(model(x), labels), backward(), "
    "optimizer.step(), zero_grad(set_to_none=True); the second step's peak, when the "
    "optimizer's state exists."
)
LABELS = {
    "weights": "weights",
    "buffers": "buffers (batch-norm statistics)",
    "gradients": "parameter gradients",
    "optimizer_state": "optimizer state",
    "input": "input batch (and labels)",
    "activations": "activations (forward tensors alive)",
    "transient": "transient (backward and optimizer temporaries)",
    "gradient_buckets": "DDP's gradient buckets",
    "unsharded_parameters": "FSDP's whole parameters (all-gathered, padded)",
    "all_gather_buffers": "FSDP's all-gather buffers",
    "reduce_scatter_buffers": "FSDP's reduce-scatter inputs",
    "sharded_gradients": "FSDP's sharded gradients (this rank's)",
}
AMP_WEIGHTS = "weights (and autocast's cached {dtype} copies)"
"""The weights' label under --amp, where autocast's cached casts are counted with them."""
RESERVED_NOTE = "what the caching allocator kept from the driver: closer to nvidia-smi"
CHECKPOINT_NOTE = (
    "Checkpointed: the stage ran as one torch.utils.checkpoint segment (non-reentrant): its "
    "forward kept only its input, and backward recomputed its forward, up to its last saved "
    "tensor, when it first needed one. Kept for backward is then that input."
)


def _step(r: MemoryReport) -> str:
    if r.mode == "inference":
        return "inference (eval, no grad, one forward)"
    return f"training step ({OPTIMIZER_NAMES[r.optimizer or 'none']})"


def _where(at: dict[str, str | int | None]) -> str:
    stage = f"stage {at['stage']}, " if at.get("stage") else ""
    module = f"{at['module']}, " if at.get("module") else ""
    return f"{at['phase']}: {stage}{module}{at['op']}"


def added_ms(ms: float | None, band: list[float] | None) -> str:
    """'+12.30 ms (9.1–16.6), predicted on this CPU', or why there is no figure."""
    if ms is None:
        return "not predicted (--amp)"
    around = f" ({band[0]:,.1f}–{band[1]:,.1f})" if band else ""
    return f"+{ms:,.2f} ms{around} per step, predicted on this CPU"


def _checkpoint_lines(r: MemoryReport) -> list[tuple[str, str]]:
    """Which stages ran as checkpoint segments, the peak they save, the time they add."""
    c = r.checkpoint
    assert c is not None
    lines = []
    if c.plan is not None:
        lines += plan_lines(c.plan, c.stages)
    if c.stages:
        lines.append(("Checkpointed", f"stages {span(c.stages)}, recomputed in backward"))
        lines.append(("Time added", added_ms(c.recompute_ms, c.recompute_range_ms)))
    if c.peak_without_bytes is not None and c.saved_bytes is not None:
        lines.append(("Memory saved", f"{nbytes(c.saved_bytes)} of the peak "
                      f"({nbytes(c.peak_without_bytes)} with nothing checkpointed)"))  # fmt: skip
    return lines


def plan_lines(p: CheckpointPlan, chosen: list[int]) -> list[tuple[str, str]]:
    """--checkpoint auto's verdict: the stages chosen within the limit, or none fits."""
    limit = limit_text(p.limit_bytes, p.reserve_bytes, p.reserve_source)
    how = (f"{p.subsets} subsets of the stages weighed, each peak "
           f"{'from 2 simulations (phase account)' if p.method == 'decomposed' else 'simulated'}"
           f", in {p.seconds:.2f} s")  # fmt: skip
    if p.world_size:
        how += f"; each peak the highest of {p.world_size} ranks' (a rank's share of the batch)"
    if not p.fits:
        over = p.smallest_peak_bytes - p.usable_bytes
        verdict = (f"none fits: the smallest peak checkpointing reaches is "
                   f"{nbytes(p.smallest_peak_bytes)} (stages {span(chosen) or 'none'}), "
                   f"{nbytes(over)} over")  # fmt: skip
    elif chosen:
        verdict = f"checkpoint stages {span(chosen)}: the least added time that fits"
    else:
        verdict = "no checkpointing needed: the plain step fits"
    return [("Limit per rank" if p.world_size else "Limit", limit), ("Plan", verdict),
            ("Searched", how)]  # fmt: skip


def _peak_lines(r: MemoryReport) -> list[tuple[str, str]]:
    lines = [
        ("Predicted peak", f"{nbytes(r.peak_bytes)} ({r.peak_bytes:,} bytes)"),
        ("Where", _where(r.peak_at)),
    ]
    if r.checkpoint is not None:
        lines[:0] = _checkpoint_lines(r)
    m = r.measured
    if m is not None:
        lines.append((f"Measured on {m.device}", f"{nbytes(m.peak_bytes)} ({m.peak_bytes:,} "
                       f"bytes) · error {m.error_pct:+.2f}%"))  # fmt: skip
        lines.append(("Measured with", m.method))
        if m.allocated_bytes is not None:
            lines.append(("CUDA max allocated", nbytes(m.allocated_bytes)))
            reserved = nbytes(m.reserved_bytes or 0)
            lines.append(("CUDA max reserved", f"{reserved} ({RESERVED_NOTE})"))
    if r.max_batch is not None:
        lines += _fit_lines(r)
    return lines


def limit_text(limit: int, reserve: int, source: str) -> str:
    """A memory limit in words, less the reserve kept free of it (memory and budget)."""
    text = f"{nbytes(limit)} ({limit:,} bytes)"
    if reserve:
        text += f" − reserve {nbytes(reserve)} ({source}) = {nbytes(limit - reserve)} for tensors"
    return text


def _fit_lines(r: MemoryReport) -> list[tuple[str, str]]:
    """The limit less the reserve, and the largest batch with how near its peak comes; with
    --world-size the limit is each rank's device and the batches are global."""
    ranks = r.per_rank.world_size if r.per_rank is not None else None
    within = limit_text(r.limit_bytes or 0, r.reserve_bytes, r.reserve_source)
    lines = [("Limit per rank" if ranks else "Limit",
              within if r.reserve_bytes else within + ", no reserve kept")]  # fmt: skip
    label = "Largest global batch that fits" if ranks else "Largest batch that fits"
    if r.max_batch_peak_bytes is None:
        lines.append((label, f"{_batch(r.max_batch or 0, ranks)} (predicted)"))
        return lines
    fit = (f"{_batch(r.max_batch or 0, ranks)}: predicted peak "
           f"{'per rank ' if ranks else ''}{nbytes(r.max_batch_peak_bytes)}, "
           f"{r.margin_pct:.1f}% of the usable limit free")  # fmt: skip
    if r.marginal:
        fit += (f" — marginal (under 5%); batch {_batch(r.headroom_batch or 0, ranks)} "
                "leaves 5% free")  # fmt: skip
    lines.append((label, fit))
    return lines


def _batch(batch: int, ranks: int | None) -> str:
    """A batch as the fit reports it: global, with its split over the ranks when it has one."""
    return f"{batch} ({ranks} ranks × {batch // ranks})" if ranks else str(batch)


Share = tuple[str, int, int]
BREAKDOWN: list[Column[Share]] = [
    Column("Live at the peak", lambda s: s[0], align="l", keep=True),
    Column("Bytes", lambda s: nbytes(s[1]), "bytes", lambda s: s[1], keep=True),
    Column("Share", lambda s: pct(s[1] / s[2]) if s[2] else "", keep=True),
]
STAGES: list[Column[MemoryStage]] = [
    Column("Stage", lambda s: str(s.stage), "stage", keep=True),
    Column("Operator", lambda s: s.operator, "operator", align="l"),
    Column("Kept for backward", lambda s: nbytes(s.saved_bytes), "saved_bytes", keep=True),
    Column("Live after it", lambda s: nbytes(s.live_bytes_after), "live_bytes_after", keep=True),
]
CHECKPOINTED = [
    Column[MemoryStage]("Checkpointed", lambda s: "yes" if s.checkpointed else "",
                        "checkpointed", keep=True),
    Column[MemoryStage]("Saves alone", lambda s: _maybe(s.saves_bytes, nbytes), "saves_bytes",
                        keep=True),
    Column[MemoryStage]("Recompute ms", lambda s: _maybe(s.recompute_ms, "{:,.2f}".format),
                        "recompute_ms", keep=True),
]  # fmt: skip
"""Shown with --checkpoint; the CSV carries them always, as the JSON does."""
SAVES_NOTE = (
    "Saves alone: the predicted peak with nothing checkpointed less the peak with that stage "
    "alone checkpointed. Recompute ms: its forward run again in backward, each op priced by "
    "the latency model (train mode, up to its last saved tensor), predicted on this CPU."
)
PLAN_TITLE = "Checkpointing options: the Pareto front of peak against added time"
PLAN_NOTE = (
    "Every subset of the checkpointable stages was weighed (its peak by the memory engine, its "
    "added time as the sum of its stages' recomputes); a row is shown when no cheaper subset "
    "has a lower peak. The plan is the cheapest row within the limit (less the reserve)."
)


def _maybe(value: Any, text: Any) -> str:
    return "" if value is None else text(value)


def _plan_columns(p: CheckpointPlan, chosen: list[int]) -> list[Column[PlanOption]]:
    return [
        Column("Stages", lambda o: span(o.stages) or "none", "stages", align="l", keep=True),
        Column("Peak", lambda o: nbytes(o.peak_bytes), "peak_bytes", keep=True),
        Column(
            "Added ms",
            lambda o: _maybe(o.recompute_ms, "{:,.2f}".format),
            "recompute_ms",
            keep=True,
        ),
        Column("Fits", lambda o: "✓" if o.peak_bytes <= p.usable_bytes else "✗", keep=True),
        Column("", lambda o: "← chosen" if o.stages == chosen else "", align="l"),
    ]


def _label(r: MemoryReport, part: str) -> str:
    """What a part of the peak holds: under --amp the weights include autocast's casts."""
    if part == "weights" and r.amp:
        return AMP_WEIGHTS.format(dtype=r.amp)
    return LABELS[part]


def _stage_columns(r: MemoryReport, table: bool) -> list[Column[MemoryStage]]:
    """The per-stage columns: with the checkpoint mark where stages were checkpointed (the
    table) or always (the CSV, like the JSON)."""
    return [*STAGES, *CHECKPOINTED] if r.checkpoint is not None or not table else STAGES


PER_RANK_NOTE = (
    "Per rank: each of --world-size ranks runs the training step on its share of the batch. "
    "DDP adds its gradient buckets (one flat tensor per bucket, every parameter's gradient, "
    "kept for the reducer's life) and copies each gradient into them as it is accumulated; "
    "with --bucket-view the gradients are views of the buckets instead. zero1 keeps each "
    "parameter's optimizer state on one rank (ZeroRedundancyOptimizer's partition). A rank's "
    "steady state is its third step (DDP rebuilds its buckets before the second forward). The "
    "figures above the per-rank panel are one process's step at the whole batch."
)
RANKS: list[Column[RankMemory]] = [
    Column("Rank", lambda m: str(m.rank), "rank", keep=True),
    Column("Predicted", lambda m: f"{m.peak_bytes:,}", "peak_bytes", keep=True),
    Column(
        "Measured",
        lambda m: "" if m.measured_bytes is None else f"{m.measured_bytes:,}",
        "measured_bytes",
        keep=True,
    ),
    Column(
        "Error",
        lambda m: "" if m.error_pct is None else f"{m.error_pct:+.3f}%",
        "error_pct",
        keep=True,
    ),
]

FSDP_NOTE = (
    "fsdp: FSDP2's fully_shard on each Table-1 stage, then on the whole model (the root "
    "group: the classifier), default options. Weights are this rank's shards: each parameter "
    "split along its first dimension into --world-size chunks, every chunk padded to the "
    "first's size; a stage's whole parameters are all-gathered before its forward (freed "
    "after it) and again in backward, where the stage before is all-gathered early "
    "(prefetch); gradients are reduce-scattered into this rank's sharded gradients, kept "
    "until zero_grad; the optimizer holds and steps this rank's rows only."
)


def _rank_lines(pr: PerRank) -> list[tuple[str, str]]:
    """The ranks, the largest rank's predicted peak and where, and its measured peak."""
    view = ", gradients as bucket views" if pr.bucket_view else ""
    lines = [
        ("Ranks", f"{pr.world_size} × batch {pr.batch_per_rank} "
                  f"({STRATEGY_NAMES[pr.strategy]}{view})"),
        ("Predicted peak per rank", f"{nbytes(pr.peak_bytes)} ({pr.peak_bytes:,} bytes)"),
        ("Where", _where(pr.peak_at)),
    ]  # fmt: skip
    m = pr.measured
    if m is not None:
        lines.append(("Measured per rank", f"{nbytes(m.peak_bytes)} ({m.peak_bytes:,} bytes, "
                      f"the largest rank) · error {m.error_pct:+.2f}%"))  # fmt: skip
        lines.append(("Measured with", m.method))
    return lines


def _rank_parts(r: MemoryReport) -> list[Part]:
    pr = r.per_rank
    if pr is None:
        return []
    shares = [(_label(r, k), v, pr.peak_bytes) for k, v in pr.breakdown.items() if v]
    parts: list[Part] = [Facts(f"Per rank, {pr.world_size} ranks", _rank_lines(pr))]
    if pr.measured is not None or len({m.peak_bytes for m in pr.ranks}) > 1:
        columns = RANKS if pr.measured is not None else RANKS[:2]  # no empty columns
        parts.append(grid("Each rank's peak, bytes", columns, pr.ranks))
    parts += [grid("What is live at a rank's peak", BREAKDOWN, shares), Note(PER_RANK_NOTE)]
    return [*parts, Note(FSDP_NOTE)] if pr.strategy == "fsdp" else parts


def memory_parts(r: MemoryReport) -> list[Part]:
    shares = [(_label(r, k), v, r.peak_bytes) for k, v in r.breakdown.items() if v]
    parts: list[Part] = [
        f"{r.title} · {_step(r)} · batch {r.batch_size} · {r.resolution}px · "
        + (f"autocast to {r.amp} (float32 weights)" if r.amp else "float32"),
        Facts("Peak memory", _peak_lines(r)),
        STORAGE_ONLY,
        grid("What is live at the peak", BREAKDOWN, shares),
        grid("Per stage, forward", _stage_columns(r, table=True), r.stages),
        *_rank_parts(r),
        Note(DEFINITION),
    ]
    c = r.checkpoint
    if c is not None and c.plan is not None:
        title = PLAN_TITLE + (f", per rank (the highest of {c.plan.world_size} ranks' peak, a "
                              "rank's added time)" if c.plan.world_size else "")  # fmt: skip
        parts.insert(5, grid(title, _plan_columns(c.plan, c.stages), c.plan.pareto))
        parts.append(Note(PLAN_NOTE))
    if c is not None:
        parts += [Note(CHECKPOINT_NOTE), Note(SAVES_NOTE), *c.notes]
    if r.mode == "train":
        parts.append(Note(TRAIN_NOTE))
    parts.append(
        Note(
            "The prediction ran on shape probes of the model built on the meta device: "
            "nothing was allocated for it."
        )
    )
    return parts


FIT_KEYS = ("max_batch", "limit_bytes", "reserve_bytes", "reserve_source", "usable_bytes",
            "max_batch_peak_bytes", "margin_pct", "marginal", "headroom_batch")  # fmt: skip
"""The keys of --max-batch's answer: absent from the JSON without it."""

LEADING_KEYS = ("variant", "title", "mode", "batch_size", "resolution", "optimizer", "amp",
                "channels_last", "device")  # fmt: skip
"""The keys memory's JSON has always opened with, in its own order (its report's fields
open in RunSetup's, bench's order)."""


def memory_doc(r: MemoryReport) -> dict[str, Any]:
    fields = to_dict(r)
    doc = {key: fields.pop(key) for key in LEADING_KEYS} | fields
    if r.max_batch is None:
        for key in FIT_KEYS:
            doc.pop(key)
    if r.checkpoint is None:
        doc.pop("checkpoint")
    if r.per_rank is None:
        doc.pop("per_rank")
    doc["definition"] = DEFINITION
    doc["storage_only"] = STORAGE_ONLY
    return doc


def _rank_lead(pr: PerRank | None) -> dict[str, object]:
    """The per-rank setting and peaks as leading CSV fields (blank without --world-size)."""
    measured = pr.measured if pr is not None else None
    return {
        "world_size": pr.world_size if pr else "",
        "strategy": pr.strategy if pr else "",
        "bucket_view": pr.bucket_view if pr else "",
        "batch_per_rank": pr.batch_per_rank if pr else "",
        "per_rank_peak_bytes": pr.peak_bytes if pr else "",
        "per_rank_measured_peak_bytes": measured.peak_bytes if measured else "",
    }


def _rank_totals(pr: PerRank | None) -> list[dict[str, object]]:
    """The largest rank's breakdown and each rank's peaks, as the CSV's closing rows."""
    if pr is None:
        return []
    rows: list[dict[str, object]] = [
        {"stage": f"per rank at peak: {k}", "saved_bytes": v} for k, v in pr.breakdown.items()
    ]
    for m in pr.ranks:
        rows.append({"stage": f"rank {m.rank}: predicted peak", "saved_bytes": m.peak_bytes})
        if m.measured_bytes is not None:
            rows.append({"stage": f"rank {m.rank}: measured peak", "saved_bytes": m.measured_bytes})
    return rows


def memory_view(r: MemoryReport) -> View:
    def csv_of() -> str:
        lead = {"variant": r.variant, "mode": r.mode, "batch_size": r.batch_size,
                "resolution": r.resolution, "optimizer": r.optimizer or "",
                "peak_bytes": r.peak_bytes,
                "measured_peak_bytes": r.measured.peak_bytes if r.measured else "",
                "max_batch": r.max_batch if r.max_batch is not None else "",
                "checkpoint": span(r.checkpoint.stages) if r.checkpoint else "",
                "recompute_ms": r.checkpoint and r.checkpoint.recompute_ms}  # fmt: skip
        totals = [{"stage": f"at peak: {k}", "saved_bytes": v} for k, v in r.breakdown.items()]
        lead |= _rank_lead(r.per_rank)
        totals += _rank_totals(r.per_rank)
        return csv_text(_stage_columns(r, table=False), r.stages, lead, totals)

    return View(lambda w: memory_parts(r), lambda: memory_doc(r), csv_of)
