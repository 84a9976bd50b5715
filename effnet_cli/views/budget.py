"""The view of `effnet budget`: the limits, every official variant against them, the best
by the paper's top-1, the compound-scaling answer and the φ search behind it. No torch, no
printing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ..arch.checkpointing import span
from ..arch.rules import Compound
from ..arch.specs import compound_label
from ..choices import OPTIMIZER_NAMES, STRATEGY_NAMES
from ..headroom import STORAGE_ONLY
from ..reports import (
    BudgetCheckpoint,
    BudgetConstraints,
    BudgetReport,
    BudgetRow,
    CompoundAnswer,
    Figures,
    PhiCandidate,
)
from .bench import noise_warnings
from .core import (
    MACS_NOTE,
    Column,
    Facts,
    Note,
    Part,
    View,
    csv_field,
    csv_text,
    grid,
    renamed,
    to_dict,
)
from .memory import limit_text
from .numbers import macs_g, nbytes, si
from .profile import calibration_text

MARGIN_NOTE = (
    "Margin = (limit − figure) / limit: the headroom left, negative when over the limit "
    "by that share. M, G = 10^6, 10^9; MiB, GiB = 2^20, 2^30 bytes."
)
UNRANKED_NOTE = (
    "Variants that fit are ranked by the paper's published top-1; those with no published "
    "top-1 in effnet's data (B8, L2, EfficientNetV2) are listed after them, unranked: "
    "effnet does not predict accuracy."
)
VARIANTS_TITLE = "Official variants against the budget, ranked by the paper's top-1"
ROLES = {"BudgetRow": "official", "PhiCandidate": "phi_search", "CompoundAnswer": "compound"}
PASS_KEY = "stage"
"""The JSON key and CSV field of PhiCandidate.search_pass: the field was called ``stage``,
and the key is kept so that existing JSON and CSV readers keep working."""
JSON_NAMES = {"search_pass": PASS_KEY}


Line = BudgetRow | CompoundAnswer | PhiCandidate
"""A line of the budget's CSV: an official variant, the compound answer or a φ candidate."""


def _get(name: str) -> Callable[[Line], object]:
    """A CSV value only some kinds of line have (None on the others)."""
    return lambda row: getattr(row, name, None)


def _scaled(value: float | None, unit: float, decimals: int) -> str:
    return "" if value is None else f"{value / unit:,.{decimals}f}"


def _mib(value: int | None) -> str:
    return _scaled(value, 2**20, 1)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _margin(name: str, shown: bool) -> Column[Figures]:
    def cell(r: Figures) -> str:
        m = r.margins.get(name)
        return "" if m is None else f"{100 * m:+.1f}%"

    return Column("margin", cell if shown else None, f"margin_{name}",
                  lambda r: r.margins.get(name), keep=True)  # fmt: skip


def _latency_cell(r: Figures) -> str:
    """'22.00 (19.8–24.6)': a predicted latency with its band; a timed one as it is."""
    if r.latency_ms is None or r.latency_source != "predicted" or not r.predicted_range_ms:
        return _ms(r.latency_ms)
    low, high = r.predicted_range_ms
    return f"{r.latency_ms:,.2f} ({low:,.1f}–{high:,.1f})"


def _top1(r: BudgetRow) -> str:
    return "—" if r.top1 is None else f"{r.top1:.1f}"


def _fits(r: Figures) -> str:
    if r.uncertain and not r.failed:
        return "? uncertain: " + ", ".join(r.uncertain)
    if r.marginal:
        return "≈ marginal: " + ", ".join(r.marginal)
    if r.fits:
        return "✓"
    return "✗ " + ", ".join(r.failed) if r.failed else "✗"


def _shown(on: bool, cell: Callable[[Figures], str]) -> Callable[[Figures], str] | None:
    """The cell when the table shows its figure (a limit is set on it); else CSV only."""
    return cell if on else None


def _mib_column(header: str, name: str, on: bool) -> Column[Figures]:
    return Column(header, _shown(on, lambda r: _mib(getattr(r, name))), name, keep=True)


def figure_columns(c: BudgetConstraints) -> list[Column[Figures]]:
    """Each figure with its margin beside it; the table shows the figures under a limit
    (MACs and parameters always), the CSV every one. They read only ``Figures``, which
    official variants, φ candidates and the compound answer all are."""
    on = set(c.active())
    latency, measured = "latency" in on, c.measure
    return [
        Column("MACs G", lambda r: _scaled(r.macs, 1e9, 3), "macs", keep=True),
        _margin("macs", "macs" in on),
        Column("Params M", lambda r: _scaled(r.params, 1e6, 2), "params", keep="params" in on),
        _margin("params", "params" in on),
        _mib_column(f"Weights MiB {c.dtype}", "weight_bytes", "weights" in on),
        _margin("weights", "weights" in on),
        _mib_column(_peak_header(c), "peak_bytes", "memory" in on),
        _margin("memory", "memory" in on),
        Column(
            "Max batch",
            _shown(c.max_batch, lambda r: _scaled(r.max_batch, 1, 0)),
            "max_batch",
            keep=True,
        ),
        Column(
            "Predicted ms",
            _shown(measured, lambda r: _ms(r.predicted_latency_ms)),
            "predicted_latency_ms",
        ),
        Column(
            "Latency ms",
            _shown(latency and not measured, _latency_cell),
            "latency_ms",
            keep=True,
        ),
        csv_field("predicted_low_ms", lambda r: (r.predicted_range_ms or [None])[0]),
        csv_field("predicted_high_ms", lambda r: (r.predicted_range_ms or [None, None])[1]),
        csv_field("latency_source"),
        Column(
            "Measured ms",
            _shown(measured, lambda r: _ms(r.measured_latency_ms) or "not timed"),
            "measured_latency_ms",
            keep=True,
        ),
        _margin("latency", latency),
        *(checkpoint_columns(c) if c.checkpointing else []),
        Column("Fits", _fits, "fits", align="l", keep=True),
        csv_field("verdict"),
        csv_field("marginal", lambda r: ";".join(r.marginal)),
        csv_field("uncertain", lambda r: ";".join(r.uncertain)),
        csv_field("failed", lambda r: ";".join(r.failed)),
    ]


def _peak_header(c: BudgetConstraints) -> str:
    """The peak's column: the step's at --batch-size, or with --world-size a rank's at its
    share of it."""
    if c.world_size is None:
        return f"Peak MiB b{c.batch_size}"
    return f"Peak MiB/rank b{c.batch_per_rank}"


def _stages(k: BudgetCheckpoint | None) -> str:
    return span(k.stages) or "none" if k is not None else "—"


def _needed(r: Figures) -> str:
    """The stages checkpointed at --batch-size; 'none fits' when even they cannot fit it."""
    if r.checkpoint is None and "memory" in r.failed:
        return "none fits"
    return _stages(r.checkpoint)


def _added(k: BudgetCheckpoint | None) -> str:
    return _ms(k.recompute_ms) if k is not None else ""


def checkpoint_columns(c: BudgetConstraints) -> list[Column[Figures]]:
    """--checkpointing: which stages a model checkpoints to fit (— : none needed) and the
    time that adds per step, at --batch-size and at the largest batch."""
    columns = [
        Column("Checkpoint", _needed, "checkpoint_stages", _needed, align="l", keep=True),
        Column("Added ms", lambda r: _added(r.checkpoint), "checkpoint_recompute_ms",
               lambda r: r.checkpoint and r.checkpoint.recompute_ms, keep=True),
    ]  # fmt: skip
    if c.max_batch:
        columns += [
            Column("Max-batch checkpoint", lambda r: _stages(r.max_batch_checkpoint),
                   "max_batch_checkpoint_stages", lambda r: _stages(r.max_batch_checkpoint),
                   align="l", keep=True),
            Column("Added ms", lambda r: _added(r.max_batch_checkpoint),
                   "max_batch_checkpoint_recompute_ms",
                   lambda r: r.max_batch_checkpoint and r.max_batch_checkpoint.recompute_ms,
                   keep=True),
        ]  # fmt: skip
    return columns


def variant_columns(c: BudgetConstraints) -> list[Column[BudgetRow]]:
    return [
        Column("#", lambda r: str(r.rank or ""), "rank", keep=True),
        Column("Variant", lambda r: r.variant, "variant", align="l", keep=True),
        Column("Res", lambda r: str(r.resolution), "resolution"),
        *figure_columns(c),
        Column("paper top-1 %", _top1, "top1", keep=True),
    ]


def phi_columns(c: BudgetConstraints) -> list[Column[PhiCandidate]]:
    return [
        Column("φ", lambda r: f"{r.phi:g}", "phi", keep=True),
        Column("pass", lambda r: r.search_pass, PASS_KEY, align="l"),
        Column("w", lambda r: f"{r.width:.3f}", "width"),
        Column("d", lambda r: f"{r.depth:.3f}", "depth"),
        Column("r", lambda r: str(r.resolution), "resolution"),
        *figure_columns(c),
    ]


def compound_name(a: CompoundAnswer, phi: float | None = None) -> str:
    """'phi=1.2', with α, β, γ and base where they are not the paper's."""
    value = a.phi if phi is None else phi
    return compound_label(Compound(value or 0.0, a.alpha, a.beta, a.gamma, a.base_resolution))


def _step(c: BudgetConstraints) -> str:
    step = f"training step ({OPTIMIZER_NAMES[c.optimizer or 'sgd']})" if c.train else "inference"
    step += f", autocast to {c.amp}" if c.amp else ""
    return step + (", stages may be checkpointed" if c.checkpointing else "")


def _ranks(c: BudgetConstraints) -> str:
    """--world-size: how the batch is split, and that the limit is each device's."""
    if c.world_size is None:
        return ""
    view = ", gradients as bucket views" if c.bucket_view else ""
    return (f" over {c.world_size} ranks ({c.batch_per_rank} a rank, "
            f"{STRATEGY_NAMES[c.strategy or 'ddp']}{view}): the highest rank's peak")  # fmt: skip


def limits_text(c: BudgetConstraints) -> list[str]:
    """Each limit in words, with what its figure is taken at."""
    out = []
    if c.max_macs is not None:
        out.append(f"MACs ≤ {si(c.max_macs, 4)} (conv+linear, batch 1)")
    if c.max_params is not None:
        out.append(f"params ≤ {si(c.max_params, 4)}")
    if c.max_weight_bytes is not None:
        out.append(f"weights ≤ {nbytes(c.max_weight_bytes)} ({c.max_weight_bytes:,} bytes) "
                   f"as {c.dtype}")  # fmt: skip
    if c.max_memory_bytes is not None:
        limit = limit_text(c.max_memory_bytes or 0, c.reserve_bytes, c.reserve_source)
        out.append(f"peak memory ≤ {limit}, {_step(c)}, batch {c.batch_size}{_ranks(c)}")
    if c.max_latency_ms is not None:
        how = "timed" if c.measure else "predicted"
        step = "training step" if c.train else "batch"
        runtime = " in onnxruntime" if c.runtime == "onnxruntime" else ""
        out.append(f"latency ≤ {c.max_latency_ms:g} ms per {step} of {c.batch_size} on "
                   f"{c.device}{runtime} ({how})")  # fmt: skip
    return out


def marginal_text(f: Figures) -> str:
    """'' when nothing is marginal; else which limits it passes with under 5% to spare."""
    if not f.marginal:
        return ""
    margins = ", ".join(f"{name} {100 * f.margins[name]:+.1f}%" for name in f.marginal)
    return f"marginal: under 5% to spare ({margins}); a real device may not fit it"


def _figures_text(f: Figures, c: BudgetConstraints) -> str:
    on = set(c.active())
    parts = [f"{macs_g(f.macs or 0)} MACs", f"{si(f.params or 0, 4)} params"]
    if "weights" in on:
        parts.append(f"{nbytes(f.weight_bytes or 0)} weights as {c.dtype}")
    if "memory" in on:
        where = f"batch {c.batch_size}"
        if c.world_size is not None:
            where = f"{c.batch_per_rank} a rank (batch {c.batch_size}), highest rank"
        parts.append(f"peak {nbytes(f.peak_bytes or 0)} at {where}")
    if f.max_batch is not None:
        parts.append(f"largest batch {f.max_batch:,}")
    if f.latency_ms is not None:
        parts.append(f"{f.latency_ms:,.2f} ms ({f.latency_source})")
    if f.marginal:
        parts.append(marginal_text(f))
    return ", ".join(parts)


def _best_line(r: BudgetReport) -> str:
    fitting = [row for row in r.variants if row.fits]
    unranked = [row.variant for row in fitting if row.top1 is None]
    if r.best_official is None:
        text = "none of the variants with a published top-1 fits"
        return text + (f" (fitting, without one: {', '.join(unranked)})" if unranked else "")
    best = next(row for row in r.variants if row.variant == r.best_official)
    ranked = len(fitting) - len(unranked)
    figures = _figures_text(best, r.constraints)
    return (f"{best.variant} ({best.title}): paper top-1 {best.top1:.1f}%, the highest of the "
            f"{ranked} ranked variant(s) that fit; {figures}")  # fmt: skip


def _search_line(a: CompoundAnswer) -> str:
    whole = [f"{p.phi:g}" for p in a.checked if p.search_pass == "whole"]
    fine = [f"{p.phi:g}" for p in a.checked if p.search_pass == "fine"]
    text = f"{len(a.checked)} models measured: whole φ {', '.join(whole)}"
    if fine:
        text += f"; then φ {fine[0]}" + (f" down to {fine[-1]}" if len(fine) > 1 else "")
    return text


def answer_lines(r: BudgetReport) -> list[tuple[str, str]]:
    a, c = r.compound, r.constraints
    lines = [("Best official variant", _best_line(r))]
    coefficients = f"α {a.alpha:g}, β {a.beta:g}, γ {a.gamma:g}, base {a.base_resolution} px"
    if a.phi is None:
        first = a.checked[0] if a.checked else None
        if first is not None and not first.failed and first.uncertain:
            why = f"is uncertain on {', '.join(first.uncertain)} (the limit is inside its band)"
        else:
            why = f"already exceeds {', '.join(first.failed) if first else ''}"
        lines.append(("Largest φ", f"none: φ = 0 (B0) {why} ({coefficients})"))
    else:
        lines += [
            ("Largest φ", f"{compound_name(a)}: w {a.width:.4f}, d {a.depth:.4f}, "
                          f"r {a.resolution} px ({coefficients})"),
            ("Its figures", _figures_text(a, c)),
            ("Nearest official", a.nearest_official or ""),
        ]  # fmt: skip
        if a.reached_max:
            lines.append(("Ceiling", f"every φ up to {a.phi_max:g} fits: raise --phi-max"))
    lines.append(("φ search", _search_line(a)))
    unsure = [row.variant for row in r.variants if row.verdict == "uncertain"]
    if unsure:
        lines.append(("Uncertain", f"{', '.join(unsure)}: the latency limit lies inside "
                      "their predicted band; --measure times them"))  # fmt: skip
    if r.calibration is not None:
        lines.append(("Latency model", calibration_text(r.calibration)))
    return lines


def search_note(a: CompoundAnswer) -> str:
    return (
        f"φ search on a grid of {a.phi_step:g} up to {a.phi_max:g}: whole φ first (0, 1, 2, … "
        "until two fail in a row), then every grid point downwards from the first failing "
        "whole φ until one fits. Each candidate is built and measured (MACs and params on "
        "the module, peak memory by the memory engine, latency by the latency model), never "
        "interpolated, so a figure that dips with rounding cannot hide a larger φ below "
        "that failure; a candidate stops at the first limit it fails (cheapest first)."
    )


def budget_parts(r: BudgetReport) -> list[Part]:
    c = r.constraints
    parts: list[Part] = [
        "Budget: " + " · ".join(limits_text(c)),
        grid(VARIANTS_TITLE, variant_columns(c), r.variants),
        Facts("Answer", answer_lines(r)),
        grid(
            f"φ search: every candidate measured ({compound_name(r.compound, 0)} upwards)",
            phi_columns(c),
            r.compound.checked,
        ),
        Note(MARGIN_NOTE),
        *_memory_notes(r),
        f"top-1: {r.top1_source}.",
        Note(UNRANKED_NOTE),
        Note(search_note(r.compound)),
        *r.notes,
        *noise_warnings(r.timings),
        MACS_NOTE,
    ]
    return parts


MARGINAL_NOTE = (
    "≈ marginal: fits, but peak memory or latency passes its limit with under 5% to spare; "
    "a real device can move both. MACs, params and weights are exact counts, never marginal."
)


UNCERTAIN_NOTE = (
    "? uncertain: the limit lies inside the predicted latency's error band (its calibration's "
    "held-out error plus the drift probe's noise), so the prediction cannot say on which side "
    "of it the real time falls: neither ✓ nor ✗, and not ranked; --measure times it."
)


CHECKPOINTING_NOTE = (
    "Checkpoint: the Table-1 stages a model over --max-memory checkpoints to fit it (— : it "
    "fits without; none fits: no subset of its stages brings the peak under the limit), the "
    "cheapest set by predicted added time among every subset of its stages "
    "(as memory --checkpoint auto); Added ms: that recompute time per training step, "
    "predicted on this CPU and included in a predicted latency. Max-batch checkpoint: the "
    "same for the largest batch, searched with every stage checkpointed."
)


def _memory_notes(r: BudgetReport) -> list[Note]:
    """What a marginal verdict means (where one is shown), and what a peak leaves out
    (under --max-memory)."""
    lines: list[Figures] = [*r.variants, r.compound, *r.compound.checked]
    notes = [Note(MARGINAL_NOTE)] if any(f.marginal for f in lines) else []
    if any(f.uncertain for f in lines):
        notes.append(Note(UNCERTAIN_NOTE))
    if r.constraints.max_memory_bytes is not None:
        notes.append(Note(STORAGE_ONLY))
    if r.constraints.checkpointing:
        notes.append(Note(CHECKPOINTING_NOTE))
    if r.constraints.world_size is not None:
        notes.append(Note(RANKS_NOTE))
    return notes


RANK_KEYS = ("world_size", "strategy", "bucket_view")
"""--world-size's constraints: absent from the JSON and CSV without it."""
RANKS_NOTE = (
    "Per rank (--world-size): each rank runs the training step on its share of the batch "
    "and holds what the strategy adds (ddp: DDP's gradient buckets; zero1: its shard of the "
    "optimizer state; fsdp: its shards of parameters, gradients and optimizer state, and a "
    "stage's whole parameters while it runs), as memory --world-size predicts; the peak "
    "shown is the highest rank's, judged against --max-memory as one device's limit. Max "
    "batch: the global batch, the ranks times the largest batch one rank holds."
)
CHECKPOINT_KEYS = ("checkpoint", "max_batch_checkpoint")
"""Each line's --checkpointing answer: absent from the JSON without it."""


def _figures_dict(f: Figures, c: BudgetConstraints) -> dict[str, Any]:
    d = to_dict(f)
    for key in CHECKPOINT_KEYS if not c.checkpointing else ():
        d.pop(key)
    return d


def _constraints(c: BudgetConstraints) -> dict[str, Any]:
    """The constraints as JSON and CSV carry them: --checkpointing only when given."""
    d = asdict(c)
    if not c.checkpointing:
        d.pop("checkpointing")
    if c.world_size is None:
        for key in RANK_KEYS:
            d.pop(key)
    return d


def _row_dict(row: BudgetRow, c: BudgetConstraints) -> dict[str, Any]:
    d = _figures_dict(row, c)
    head = {k: d.pop(k) for k in ("variant", "title", "family", "rank", "resolution", "batch_size")}
    return head | d


def _compound_dict(a: CompoundAnswer, c: BudgetConstraints) -> dict[str, Any]:
    d = _figures_dict(a, c)
    d["checked"] = [renamed(_figures_dict(p, c), JSON_NAMES) for p in a.checked]
    head = {k: d.pop(k) for k in ("phi", "width", "depth", "resolution", "nearest_official")}
    return {"spec": compound_name(a) if a.phi is not None else None} | head | d


def budget_doc(r: BudgetReport) -> dict[str, Any]:
    return {
        "constraints": _constraints(r.constraints),
        "limits": limits_text(r.constraints),
        "variants": [_row_dict(row, r.constraints) for row in r.variants],
        "best_official": r.best_official,
        "compound": _compound_dict(r.compound, r.constraints),
        "top1_source": r.top1_source,
        "notes": [
            MARGIN_NOTE,
            *(n.text for n in _memory_notes(r)),
            UNRANKED_NOTE,
            search_note(r.compound),
            *r.notes,
            MACS_NOTE,
        ],
        "warnings": noise_warnings(r.timings),
        "latency_notes": r.latency_notes,
        "calibration": asdict(r.calibration) if r.calibration else None,
        "seconds": r.seconds,
    }


def _csv(r: BudgetReport) -> str:
    """One line per official variant, then the compound answer, then each φ candidate;
    ``role`` says which, and the limits lead every line."""
    c = r.constraints
    columns: list[Column[Line]] = [
        csv_field("role", lambda row: ROLES[type(row).__name__]),
        csv_field("variant", lambda row: _line_name(r, row)),
        csv_field("best", lambda row: getattr(row, "variant", None) == r.best_official),
        *(csv_field(name, _get(name)) for name in ("rank", "phi")),
        csv_field(PASS_KEY, _get("search_pass")),
        *(csv_field(name, _get(name)) for name in ("width", "depth", "resolution",
                                                   "nearest_official")),
        *figure_columns(c),
        csv_field("top1", _get("top1")),
    ]  # fmt: skip
    taken = {column.field for column in columns}
    lead = {f"budget_{k}" if k in taken else k: v for k, v in _constraints(c).items()}
    answer = [r.compound] if r.compound.phi is not None else []
    return csv_text(columns, [*r.variants, *answer, *r.compound.checked], lead)


def _line_name(r: BudgetReport, row: Line) -> str:
    """The official variant's name, or the φ model's spec."""
    return row.variant if isinstance(row, BudgetRow) else compound_name(r.compound, row.phi)


def budget_view(r: BudgetReport) -> View:
    return View(lambda w: budget_parts(r), lambda: budget_doc(r), lambda: _csv(r))
