"""The view of `effnet profile`: time per stage and per op kind beside MACs, traffic and the
roofline, and the predicted latency beside the measured. No torch, no printing."""

from __future__ import annotations

from typing import Any

from ..arch.checkpointing import span
from ..kinds import CostKind
from ..reports import CalibrationState, ProfileCheckpoint, ProfileReport, ProfileRow
from ..units import age_text
from .bench import NOISY
from .core import Column, Facts, Note, Part, View, csv_blocks, csv_text, grid, to_dict
from .numbers import nbytes, pct, si

ROOFLINE_NOTE = (
    "Traffic: every input and weight read once, every output written once (caches can only "
    "do better). Intensity = MACs per byte. Bound = max(MACs / peak MAC/s, bytes / "
    "bandwidth), both measured on this device."
)
TIMES_BOUND_NOTE = "× bound = measured time / bound."
STAGE_NOTE = (
    "Stage times: one clock mark at each stage boundary, in the same timed loop and step as "
    "`effnet bench`; median over the timed steps."
)
TRAIN_NOTE = (
    "Training step (bench's: forward and cross-entropy, backward, no optimizer): stage times "
    "add each stage's backward; MACs and traffic are counted as 3× the forward's (forward, "
    "input and weight gradients), an approximation."
)
PREDICT_NOTE = (
    "Predicted: each op priced by its kind's cost model, fitted on other models' timed ops "
    "(the calibration set below); this model was not run for it."
)
ORT_PREDICT_NOTE = (
    "onnxruntime: priced by kernel as onnxruntime runs the exported file (a conv with its "
    "batch-norm, residual add and ReLU/ReLU6/sigmoid is one kernel; SiLU, the SE multiply, "
    "pooling and the classifier are their own), each kind's costs fitted on onnxruntime's "
    "profiled kernels of the calibration models; stage traffic is still torch's ops'."
)
TRAIN_PREDICT_NOTE = (
    "A training step is predicted as k × its training forward's priced ops + c per op (the "
    "backward, and autograd's bookkeeping) + its 5×5 depthwise convs' weight gradients at a "
    "timed rate (a slow kernel no multiple of the forward carries), k and c fitted on timed "
    "training steps of the calibration; its band adds their held-out error to the inference "
    "models' and the probe's noise."
)
KIND_NAMES: dict[str, str] = {
    CostKind.CONV: "dense and pointwise conv",
    CostKind.DEPTHWISE: "depthwise conv",
    CostKind.SE_CONV: "SE convs (1×1 on pooled maps)",
    CostKind.BATCH_NORM: "batch-norm",
    CostKind.ACTIVATION: "activations (SiLU, ReLU, sigmoid)",
    CostKind.ELEMENTWISE: "element-wise mul, add",
    CostKind.POOLING: "pooling",
    CostKind.LINEAR: "linear (classifier)",
}


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _share(part: float | None, whole: float | None) -> str:
    return pct(part / whole) if part is not None and whole else ""


def _time_columns(rows: list[ProfileRow], measured: bool) -> list[Column[ProfileRow]]:
    """Measured time and its share, kept at any width, then the prediction; with nothing
    measured (--predict-only) the predicted time is the one kept and shared out."""

    def time(x: ProfileRow) -> float | None:
        return x.measured_ms if measured else x.predicted_ms

    total = sum(time(x) or 0.0 for x in rows)
    share = Column(
        "Time share" if measured else "Predicted share",
        lambda x: _share(time(x), total),
        "time_share",
        lambda x: time(x) / total if time(x) is not None and total else None,
        keep=True,
    )
    predicted = Column("Predicted ms", lambda x: _ms(x.predicted_ms), "predicted_ms",
                       keep=not measured)  # fmt: skip
    if not measured:
        return [Column("", None, "measured_ms"), predicted, share]
    return [Column("Measured ms", lambda x: _ms(x.measured_ms), "measured_ms", keep=True),
            share, predicted]  # fmt: skip


def _columns(rows: list[ProfileRow], first: list[Column[ProfileRow]]) -> list[Column[ProfileRow]]:
    """``first`` (the row's name), then time, shares of the table's time and MACs, work,
    traffic and the roofline."""
    macs = sum(x.macs for x in rows) or 1
    measured = any(x.measured_ms is not None for x in rows)
    return [
        *first,
        *_time_columns(rows, measured),
        Column(
            "MACs share",
            lambda x: pct(x.macs / macs),
            "macs_share",
            lambda x: x.macs / macs,
            keep=True,
        ),
        Column("MACs", lambda x: si(x.macs), "macs"),
        Column("Read", lambda x: nbytes(x.bytes_read), "bytes_read"),
        Column("Written", lambda x: nbytes(x.bytes_written), "bytes_written"),
        Column("MACs/B", lambda x: f"{x.intensity:.1f}", "intensity", lambda x: x.intensity),
        Column("Bound", lambda x: x.bound, "bound", align="l"),
        Column("Bound ms", lambda x: _ms(x.bound_ms), "bound_ms"),
        Column(
            "× bound",
            (lambda x: "" if x.times_bound is None else f"{x.times_bound:.1f}×")
            if measured
            else None,
            "times_bound",
            lambda x: x.times_bound,
            keep=measured,
        ),
    ]
    """× bound is measured time over the bound: with nothing measured the table drops it
    (its JSON and CSV keep the key, empty)."""


STAGE_NAME: list[Column[ProfileRow]] = [
    Column("", None, "row", lambda _: "stage"),
    Column("Stage", lambda x: str(x.stage), "stage", keep=True),
    Column("Operator", lambda x: x.operator, "name", lambda x: x.operator, align="l"),
    Column("", None, "role", lambda x: x.kind),
]
KIND_NAME: list[Column[ProfileRow]] = [
    Column("", None, "row", lambda _: "op_kind"),
    Column("", None, "stage", lambda _: None),
    Column(
        "Op kind",
        lambda x: KIND_NAMES.get(x.kind, x.kind),
        "name",
        lambda x: x.kind,
        align="l",
        keep=True,
    ),
    Column("", None, "role", lambda _: None),
]
"""The CSV puts both tables in one: ``row`` says which, ``name`` holds the operator or the
op kind."""


def predicted_text(ms: float, band: list[float] | None, unit: str = " ms") -> str:
    """'22.0 ms (19.8–24.6)': a prediction with its error band."""
    if band is None:
        return f"{ms:.2f}{unit}"
    return f"{ms:.2f}{unit} ({band[0]:.2f}–{band[1]:.2f})"


def calibration_text(c: CalibrationState) -> str:
    """The calibration's age, the device's drift since, and what was done about it."""
    if c.recalibrated or not c.age_s:
        when = "taken in this run"
    else:
        when = (
            f"taken {age_text(c.age_s)} ago; drift {c.drift_pct:+.0f}% (noise ±{c.noise_pct:.0f}%)"
        )
        when += f", rescaled ×{c.scale:.2f}" if c.rescaled else ", within noise: not rescaled"
    band = f"band ±{c.band_pct:.0f}%"
    if c.range_ms and c.band_outside_pct > c.band_pct:
        band += (f" within the calibration models' {c.range_ms[0]:.1f}–{c.range_ms[1]:.1f} ms, "
                 f"±{c.band_outside_pct:.0f}% beyond")  # fmt: skip
    return f"{when}; {band} (held-out error of the calibration models, plus the probe's noise)"


def _error(r: ProfileReport) -> str:
    if r.measured_ms is None or r.predicted_ms is None:
        return ""
    return f" · error {100 * (r.predicted_ms - r.measured_ms) / r.measured_ms:+.1f}%"


def _facts(r: ProfileReport) -> Facts:
    d = r.device
    threads = f", {d.threads} threads" if d.name == "cpu" else ""
    lines = [
        ("Device", f"{d.name}{threads}"),
        ("Peak (dense matmul)", f"{d.peak_macs_per_s / 1e9:.1f} GMAC/s"),
        ("Bandwidth (large copy)", f"{d.bandwidth_bytes_per_s / 1e9:.1f} GB/s"),
    ]
    if r.measured_ms is not None:
        lines.append(("Measured, end to end", f"{r.measured_ms:.2f} ms median, "
                      f"p90 {r.p90_ms or 0:.2f} ms, {r.iterations} steps"))  # fmt: skip
    if r.predicted_ms is not None:
        guess = predicted_text(r.predicted_ms, r.predicted_range_ms)
        lines.append(("Predicted, not run", guess + _error(r)))
    if r.calibration is not None:
        lines.append(("Calibration", calibration_text(r.calibration)))
    if r.op_kinds_total_ms is not None:
        lines.append(("Op kinds, summed", f"{r.op_kinds_total_ms:.2f} ms over {r.op_steps} "
                      "profiled steps (the rest: Python and dispatch between ops)"))  # fmt: skip
    if r.checkpoint is not None:
        lines += _checkpoint_lines(r.checkpoint)
    return Facts("Time of one step", lines)


def _checkpoint_lines(c: ProfileCheckpoint) -> list[tuple[str, str]]:
    """--checkpoint: the step with and without those stages checkpointed, and the added
    time measured beside the recompute's prediction."""
    lines = []
    if c.added_ms is not None:
        lines.append((f"Checkpointing {span(c.stages)}", f"{c.checkpointed_ms:.2f} ms against "
                      f"{c.plain_ms:.2f} ms plain (medians of {c.pairs} alternating pairs): "
                      f"+{c.added_ms:.2f} ms measured"))  # fmt: skip
    if c.predicted_added_ms is not None:
        band = c.predicted_range_ms or [c.predicted_added_ms] * 2
        lines.append(("Recompute, predicted", f"+{c.predicted_added_ms:.2f} ms "
                      f"({band[0]:.1f}–{band[1]:.1f}), stages {span(c.stages)}"))  # fmt: skip
    return lines


def profile_warnings(r: ProfileReport) -> list[str]:
    """bench's rule: a p90 more than twice the median means the machine was busy."""
    if r.measured_ms and r.p90_ms and r.p90_ms > NOISY * r.measured_ms:
        return [f"warning: the p90 is {r.p90_ms / r.measured_ms:.1f}× the median: the machine "
                "was busy while timing; rerun, or use more --iters"]  # fmt: skip
    return []


def profile_parts(r: ProfileReport) -> list[Part]:
    amp = f"autocast to {r.amp}" if r.amp else "float32"
    layout = "channels-last" if r.channels_last else "NCHW"
    parts: list[Part] = [
        f"{r.title} · {r.mode} · batch {r.batch_size} · {r.resolution}px · {amp} · {layout}"
        + (" · onnxruntime (predicted)" if r.runtime == "onnxruntime" else ""),
        _facts(r),
        grid("Per stage", _columns(r.stages, STAGE_NAME), r.stages),
        grid("Per op kind", _columns(r.op_kinds, KIND_NAME), r.op_kinds),
        Note(STAGE_NOTE, needs=("Measured ms",)) if r.measured_ms is not None else "",
        Note(ROOFLINE_NOTE),
        Note(TIMES_BOUND_NOTE, needs=("× bound",)) if r.measured_ms is not None else "",
    ]
    if r.mode == "train":
        parts.append(Note(TRAIN_NOTE))
    if r.predicted_ms is not None:
        parts.append(Note(f"{PREDICT_NOTE} Calibration: {'; '.join(r.calibration_models)}."))
        if r.runtime == "onnxruntime":
            parts.append(Note(ORT_PREDICT_NOTE))
        if r.mode == "train":
            parts.append(Note(TRAIN_PREDICT_NOTE))
    parts.extend(r.notes)
    parts.extend(profile_warnings(r))
    return [p for p in parts if p]


def profile_doc(r: ProfileReport) -> dict[str, Any]:
    doc = to_dict(r)
    for key, rows in (("stages", r.stages), ("op_kinds", r.op_kinds)):
        for row, out in zip(rows, doc[key], strict=True):
            out["bytes_moved"] = row.bytes_moved
            out["intensity"] = row.intensity
            out["times_bound"] = row.times_bound
        if key == "stages":
            for out in doc[key]:
                out["role"] = out.pop("kind")
        else:
            for out in doc[key]:
                out.pop("stage")
                out.pop("operator")
    measured = [TIMES_BOUND_NOTE] if r.measured_ms is not None else []
    doc["notes"] = [ROOFLINE_NOTE, *measured, *r.notes]
    if r.checkpoint is None:
        doc.pop("checkpoint")
    doc["warnings"] = profile_warnings(r)
    return doc


def _trust_fields(r: ProfileReport) -> dict[str, Any]:
    """The prediction's band and its calibration's state, flat, for the CSV's lead columns."""
    band = r.predicted_range_ms or [None, None]
    c = r.calibration
    return {
        "predicted_low_ms": band[0], "predicted_high_ms": band[1],
        "calibration_age_s": c.age_s if c else None,
        "calibration_drift_pct": c.drift_pct if c else None,
        "calibration_rescaled": c.rescaled if c else None,
        "calibration_recalibrated": c.recalibrated if c else None,
        "calibration_band_pct": c.band_pct if c else None,
        "calibration_band_outside_pct": c.band_outside_pct if c else None,
    }  # fmt: skip


def profile_view(r: ProfileReport) -> View:
    def csv_of() -> str:
        lead = {"variant": r.variant, "device": r.device.name, "batch_size": r.batch_size,
                "resolution": r.resolution, "mode": r.mode, "runtime": r.runtime,
                "total_measured_ms": r.measured_ms,
                "total_predicted_ms": r.predicted_ms} | _trust_fields(r)  # fmt: skip
        stages = csv_text(_columns(r.stages, STAGE_NAME), r.stages, lead)
        return csv_blocks(stages, csv_text(_columns(r.op_kinds, KIND_NAME), r.op_kinds, lead))

    return View(lambda w: profile_parts(r), lambda: profile_doc(r), csv_of)
