"""A latency prediction that knows how far to trust itself.

Before a model is priced, the cached calibration is checked against the device as it is
now (``drift.py``): when the drift probe moved beyond its own noise and beyond the
prediction's band, and its parts agree, every price is rescaled by the measured ratio; when
its parts disagree, the machine changed in a way one ratio cannot carry, and the calibration
is taken again. A move inside the band is said and left alone: the probe's few milliseconds
are noisier than a model's step, and in the one accuracy run here whose drift (+14 % to
+25 %) passed the probe's noise but not the band, rescaling made 7 of the 8 rescaled
predictions worse (inference within ±10 %: 10 of 18 rescaled, 15 of 18 had it not been).
Every prediction carries a band: as wide as the root-mean-square error of the
calibration's own held-out predictions (each calibration model predicted by a fit without
it) plus the probe's noise, and never narrower than ``BAND_FLOOR``; inside the calibration
models' range of step times the fastest's and the slowest's held-out errors
(extrapolations) are left out of it.
Nothing here runs the model being predicted.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from ...reports import CalibrationState
from ...units import age_text
from .drift import Drift, drift
from .latency import EAGER, Calibration, LatencyPlan, Progress, calibration

RENEW_AFTER_S = 600.0
"""A calibration younger than this is rescaled, never renewed, even when the probe's parts
moved unevenly: on a shared machine that is a burst of load more often than a change of
machine, and renewing costs ten seconds."""
BUSY_NOISE = 0.5
"""A probe whose own runs spread more than this was timed on a busy machine: said in a note."""
BAND_FLOOR = 0.05
"""The narrowest band a prediction is given (±5%): the held-out errors of six models can
be small by luck."""


@dataclass
class Trusted:
    """The calibration to price with, how far it is trusted, and what to tell the user."""

    calibration: Calibration
    state: CalibrationState
    notes: list[str] = field(default_factory=list)

    def for_training(self) -> Trusted:
        """The same calibration, trusted for a training step. A step's price stacks two
        fits, the inference cost model pricing its forward and the training fit carrying
        that to a step, so its band adds both fits' held-out errors (the training samples',
        each timed step predicted without it, and the inference models' inside the range)
        and the probe's noise. The training samples alone are four EfficientNet scalings:
        their held-out errors say little of a forward priced for another family, and bands
        from them and the noise alone held 4 of 7 timed steps in each of two accuracy runs."""
        c, noise = self.calibration, self.state.noise_pct / 100
        width = 100 * max(BAND_FLOOR, rms(c.train_held_out) + rms(interior(c)) + noise)
        state = replace(self.state, held_out_pct=[100 * e for e in c.train_held_out],
                        band_pct=width, band_outside_pct=width, range_ms=[])  # fmt: skip
        return Trusted(c, state, self.notes)

    def band(self, predicted_ms: float) -> tuple[float, float]:
        """[low, high] around a prediction, in ms: the narrower band inside the calibration
        models' range of step times, the wider one beyond it (an extrapolation)."""
        unscaled, span = predicted_ms / self.state.scale, self.state.range_ms
        inside = bool(span) and span[0] <= unscaled <= span[1]
        width = 1.0 + (self.state.band_pct if inside else self.state.band_outside_pct) / 100
        return predicted_ms / width, predicted_ms * width


def rms(errors: list[float]) -> float:
    """The root-mean-square of the held-out errors: their typical size, which one outlier
    (the smallest calibration model, alone in pricing per-op overheads) does not decide
    alone as the worst would."""
    return math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else 0.0


def _whole(cal: Calibration) -> list[float]:
    """The whole calibration models' step times (s), in the order of their held-out errors."""
    return [m.seconds for m in cal.models if m.stages is None]


def interior(cal: Calibration) -> list[float]:
    """The held-out errors of every whole calibration model but the fastest and the slowest:
    predicting those two without them is an extrapolation (the smallest model's, alone in
    pricing the tiniest ops, ran from +101% to +215% in onnxruntime here, the others within
    ±35%), which a prediction inside the calibration's range never makes."""
    times = _whole(cal)
    if len(times) < 4 or len(times) != len(cal.held_out):
        return list(cal.held_out)
    ends = {times.index(min(times)), times.index(max(times))}
    return [e for k, e in enumerate(cal.held_out) if k not in ends]


def _state(
    cal: Calibration, d: Drift | None, rescaled: bool, recalibrated: bool
) -> CalibrationState:
    noise = d.noise if d is not None else (cal.probe.noise if cal.probe else 0.0)
    times = _whole(cal)
    return CalibrationState(
        age_s=max(0.0, time.time() - cal.created) if cal.created else 0.0,
        drift_pct=d.drift_pct if d is not None else 0.0,
        rescaled=rescaled,
        recalibrated=recalibrated,
        scale=d.ratio if rescaled and d is not None else 1.0,
        noise_pct=100 * noise,
        apart_pct=100 * cal.probe.apart if cal.probe else 0.0,
        probe_ratios=dict(d.ratios) if d is not None else {},
        probe_s=d.probe_seconds if d is not None else 0.0,
        held_out_pct=[100 * e for e in cal.held_out],
        band_pct=100 * max(BAND_FLOOR, rms(interior(cal)) + noise),
        band_outside_pct=100 * max(BAND_FLOOR, rms(cal.held_out) + noise),
        range_ms=[1e3 * min(times), 1e3 * max(times)] if times else [],
    )


def _moved_text(d: Drift) -> str:
    direction = "slower" if d.ratio > 1 else "faster"
    return f"this device now runs {abs(d.drift_pct):.0f}% {direction}"


def trusted(
    recalibrate: bool = False, progress: Progress | None = None, plan: LatencyPlan = EAGER
) -> Trusted:
    """The calibration of ``plan``'s runtime, checked against the device now: kept,
    rescaled, or taken again. One drift probe serves every runtime: it times the device
    (compute, memory, dispatch), which is what moves under a runtime."""
    cal, note = calibration(recalibrate, progress, plan)
    notes = [note] if note else []
    if cal.fresh or cal.probe is None:
        return Trusted(cal, _state(cal, None, False, cal.fresh), notes)
    d = drift(cal.probe, plan.probe)
    if d.moved or not d.agree:
        d = d.confirmed(drift(cal.probe, plan.probe))
    seconds = max(0.0, time.time() - cal.created)
    age = age_text(seconds)
    if d.own_noise > BUSY_NOISE:
        notes.append(f"the machine is busy now: the drift probe's own runs spread by "
                     f"±{100 * d.own_noise:.0f}%, so every band is wide; rerun when it is "
                     "quiet")  # fmt: skip
    state = _state(cal, d, False, False)
    if not d.moved:
        return Trusted(cal, state, notes)
    if abs(math.log(d.ratio)) <= math.log1p(state.band_pct / 100):
        notes.append(f"calibrated {age} ago; {_moved_text(d)} by the drift probe, inside "
                     f"the prediction's ±{state.band_pct:.0f}% band: not rescaled")  # fmt: skip
        return Trusted(cal, state, notes)
    if d.agree or seconds < RENEW_AFTER_S:
        uneven = "" if d.agree else ", its parts unevenly (calibrated too recently to renew)"
        notes.append(f"calibrated {age} ago; {_moved_text(d)} (drift probe, noise "
                     f"±{100 * d.noise:.0f}%{uneven}); predictions rescaled by "
                     f"{d.ratio:.2f}")  # fmt: skip
        return Trusted(cal, _state(cal, d, True, False), notes)
    parts = ", ".join(f"{part} ×{ratio:.2f}" for part, ratio in d.ratios.items())
    notes.append(f"calibrated {age} ago; the device's speed moved unevenly since ({parts}): "
                 "one ratio cannot carry it, so it was calibrated again")  # fmt: skip
    cal, note = calibration(True, progress, plan)
    notes.extend([note] if note else [])
    return Trusted(cal, _state(cal, None, False, True), notes)
