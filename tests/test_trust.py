"""Issue 22: a latency prediction that notices the machine's drift and says how sure it is.

The drift probe's decisions (kept, rescaled, calibrated again), the error band, the
'uncertain' verdict, and a busy calibration that is not cached are driven here with chosen
timings; the probe itself runs for real once, and the model predicted never runs."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch
from conftest import run

from effnet_cli.measurement.budget.constraints import budget_constraints, judge
from effnet_cli.measurement.timing import drift, latency, trust
from effnet_cli.measurement.timing.drift import PARTS, Drift, ProbeTiming
from effnet_cli.reports import Figures
from effnet_cli.views.profile import calibration_text

TINY = "w=0.5,d=0.3,r=96"


def _drift(matmul: float, copy: float, model: float, noise: float = 0.05) -> Drift:
    return Drift({"matmul": matmul, "copy": copy, "model": model}, noise, 0.2, noise)


def test_drift_is_the_parts_geometric_mean_and_moves_only_beyond_the_noise() -> None:
    d = _drift(1.2, 1.2, 1.2)
    assert d.ratio == pytest.approx(1.2) and d.drift_pct == pytest.approx(20.0)
    assert d.moved and d.agree
    assert not _drift(1.04, 0.97, 1.03).moved  # within the 5% noise
    assert not _drift(1.10, 1.10, 1.10, noise=0.12).moved
    assert _drift(0.8, 0.8, 0.8).drift_pct == pytest.approx(-20.0)
    uneven = _drift(1.0, 1.0, 1.9)
    assert uneven.moved and not uneven.agree
    assert _drift(1.0, 1.2, 1.4).agree  # within AGREE of each other


def test_a_runtimes_own_part_joins_the_mean_and_the_confirmation() -> None:
    """onnxruntime's probe part is one of four in the ratio (alone, one slow reading of it
    would set every prediction's), and a confirming reading keeps it like torch's."""
    ort_moved = Drift({"matmul": 1.0, "copy": 1.0, "model": 1.0, "onnxruntime": 1.6}, 0.05, 0.2)
    assert ort_moved.ratio == pytest.approx(1.6**0.25) and ort_moved.moved
    again = Drift({"matmul": 1.1, "copy": 0.9, "model": 1.0, "onnxruntime": 1.2}, 0.08, 0.2)
    both = ort_moved.confirmed(again)
    assert both.ratios == pytest.approx({"matmul": 1.0, "copy": 0.9, "model": 1.0,
                                         "onnxruntime": 1.2})  # fmt: skip
    assert both.ratio == pytest.approx((0.9 * 1.2) ** 0.25) and both.noise == 0.08


def test_the_calibrations_reference_is_each_parts_faster_reading(monkeypatch) -> None:
    """The probe is timed before the calibration models and after them; each part keeps its
    faster reading, so one slow moment at either end is not the reference, and how far the
    two readings differed is kept (copy: 3 ms, then 1 ms: 200%)."""
    readings = iter([ProbeTiming({"matmul": 1.0, "copy": 3.0, "model": 2.0}, 0.05),
                     ProbeTiming({"matmul": 2.0, "copy": 1.0, "model": 2.0}, 0.2)])  # fmt: skip
    monkeypatch.setattr(latency, "time_probe", lambda extra=None: next(readings))
    monkeypatch.setattr(latency, "held_out_errors", lambda cal, priced=None: [0.1])
    plan = latency.LatencyPlan("eager", "x.json", (), lambda *a: None, lambda t: t, train=False)
    monkeypatch.setattr(latency, "fit", lambda cal, leave_out=None: None)
    made = latency.calibrate(plan=plan)
    assert made.probe == ProbeTiming({"matmul": 1.0, "copy": 1.0, "model": 2.0}, 0.2, 2.0)
    assert ProbeTiming.load(json.loads(json.dumps(made.probe.dump()))) == made.probe
    # a later reading within how far those two differed is not drift; beyond it, it is
    assert not Drift({"matmul": 2.5, "copy": 2.5, "model": 2.5}, 0.05, 0.2, apart=2.0).moved
    assert Drift({"matmul": 3.5, "copy": 3.5, "model": 3.5}, 0.05, 0.2, apart=2.0).moved


def test_a_probe_timing_without_a_part_does_not_load() -> None:
    with pytest.raises(KeyError):
        ProbeTiming.load({"seconds": {"matmul": 1e-3, "copy": 1e-3}, "noise": 0.05})


def test_the_probe_times_three_parts_and_reports_its_noise() -> None:
    p = drift.time_probe()
    assert set(p.seconds) == set(PARTS) and all(s > 0 for s in p.seconds.values())
    assert p.noise >= drift.NOISE_FLOOR
    assert ProbeTiming.load(json.loads(json.dumps(p.dump()))) == p


def _cached(held_out: list[float], noise: float = 0.05, age: float = 7200.0):
    probe = ProbeTiming(dict.fromkeys(PARTS, 1e-3), noise)
    return latency.Calibration("cpu", torch.__version__, 2, [], 1.0, time.time() - age, probe,
                               held_out)  # fmt: skip


@pytest.fixture
def calibrations(monkeypatch):
    """trust.calibration answers from a list: a cached one first, then fresh ones."""
    made: list[bool] = []

    def install(cached: latency.Calibration, d: Drift) -> list[bool]:
        def calibration(recalibrate=False, progress=None, plan=None):
            made.append(recalibrate)
            if not recalibrate:
                return cached, None
            fresh = _cached([0.1], age=0.0)
            fresh.fresh = True
            return fresh, None

        monkeypatch.setattr(trust, "calibration", calibration)
        monkeypatch.setattr(trust, "drift", lambda then, extra=None: d)
        return made

    return install


def test_a_steady_device_keeps_the_calibration_as_it_is(calibrations) -> None:
    made = calibrations(_cached([0.05, -0.1]), _drift(1.02, 0.99, 1.03))
    t = trust.trusted()
    assert made == [False] and t.state.scale == 1.0 and not t.state.rescaled and not t.notes
    assert t.state.age_s == pytest.approx(7200, abs=5) and t.state.drift_pct != 0


def test_a_uniform_drift_rescales_every_price_and_says_so(calibrations) -> None:
    made = calibrations(_cached([0.05, -0.1]), _drift(1.18, 1.18, 1.18))
    t = trust.trusted()
    assert made == [False] and t.state.rescaled and t.state.scale == pytest.approx(1.18)
    assert t.notes == [
        "calibrated 2.0 h ago; this device now runs 18% slower (drift probe, noise ±5%); "
        "predictions rescaled by 1.18"
    ]


def test_a_drift_inside_the_band_is_said_and_not_rescaled(calibrations) -> None:
    """Held-out errors of ±30% and 5% noise make a ±35% band: an 18% move passes the noise,
    not the band (the probe is noisier than a model's step), so it is named and left; a 50%
    move passes both and rescales."""
    made = calibrations(_cached([0.3, -0.3]), _drift(1.18, 1.18, 1.18))
    t = trust.trusted()
    assert made == [False] and not t.state.rescaled and t.state.scale == 1.0
    assert t.state.drift_pct == pytest.approx(18.0)
    assert t.notes == [
        "calibrated 2.0 h ago; this device now runs 18% slower by the drift probe, inside the "
        "prediction's ±35% band: not rescaled"
    ]
    calibrations(_cached([0.3, -0.3]), _drift(1.5, 1.5, 1.5))
    t = trust.trusted()
    assert t.state.rescaled and t.state.scale == pytest.approx(1.5)


def test_an_uneven_drift_calibrates_again(calibrations) -> None:
    made = calibrations(_cached([0.05]), _drift(1.0, 1.05, 1.9))
    t = trust.trusted()
    assert made == [False, True] and t.state.recalibrated and t.state.scale == 1.0
    assert "moved unevenly" in t.notes[0] and "model ×1.90" in t.notes[0]


def test_the_band_is_the_rms_held_out_error_plus_the_noise(calibrations) -> None:
    calibrations(_cached([0.12, -0.2, 0.03]), _drift(1.0, 1.0, 1.0, noise=0.06))
    t = trust.trusted()
    rms = math.sqrt((0.12**2 + 0.2**2 + 0.03**2) / 3)
    assert t.state.band_pct == pytest.approx(100 * (rms + 0.06))
    low, high = t.band(100.0)
    assert low == pytest.approx(100 / (1 + rms + 0.06)) and high == pytest.approx(
        100 * (1 + rms + 0.06)
    )
    assert t.state.held_out_pct == pytest.approx([12.0, -20.0, 3.0])
    calibrations(_cached([0.0]), _drift(1.0, 1.0, 1.0, noise=0.01))
    assert trust.trusted().state.band_pct == pytest.approx(100 * trust.BAND_FLOOR)


def test_the_drift_scale_reaches_the_prediction(calibrations, monkeypatch) -> None:
    """A rescaled prediction is the unscaled one times the ratio, op by op."""
    model = latency.CostModel(
        {k: (1e-6, 1e-11, 1e-10, 1e-10, 0.0, 0.0) for k in latency.PRICE_KINDS},
        (1.0, 0.0, 0.0), latency.KNEES[0], ("fake",),
    )  # fmt: skip
    from effnet_cli.measurement.trace.probe import probe_forward
    from effnet_cli.model import build_model

    trace = probe_forward(build_model(TINY, device="meta").eval(), (1, 3, 96, 96))
    plain, scaled = latency.estimate(trace, model), latency.estimate(trace, model, 1.3)
    assert scaled.total_ms == pytest.approx(1.3 * plain.total_ms)


def _latency_figures(predicted: float, band: tuple[float, float]) -> Figures:
    return Figures(macs=1, params=1, latency_ms=predicted, latency_source="predicted",
                   predicted_latency_ms=predicted, predicted_range_ms=list(band))  # fmt: skip


@pytest.mark.parametrize(
    ("limit", "predicted", "band", "verdict"),
    [("24ms", 20.0, (16.0, 25.0), "uncertain"),  # predicted under, band over the limit
     ("30ms", 28.0, (22.0, 35.0), "uncertain"),
     ("30ms", 32.0, (29.0, 38.0), "uncertain"),  # predicted over, band under the limit
     ("24ms", 20.0, (17.0, 23.5), "fits"),
     ("30ms", 35.0, (31.0, 40.0), "fails"),
     ("30ms", 29.0, (27.0, 29.5), "marginal")],  # band below, but within 5% of the limit
)  # fmt: skip
def test_a_limit_inside_the_band_is_uncertain(limit, predicted, band, verdict) -> None:
    f = judge(_latency_figures(predicted, band), budget_constraints(max_latency=limit))
    assert f.verdict == verdict
    assert f.fits == (verdict in ("fits", "marginal"))
    assert ("latency" in f.uncertain) == (verdict == "uncertain")
    assert ("latency" in f.failed) == (verdict == "fails")


def test_a_timed_latency_has_no_band_to_be_uncertain_in() -> None:
    f = _latency_figures(20.0, (16.0, 25.0))
    f.latency_source = "measured"
    assert judge(f, budget_constraints(max_latency="24ms")).verdict == "fits"


def test_budget_lists_and_explains_uncertain_verdicts(fixed_clock, monkeypatch) -> None:
    """With a wide band, a limit near B0's prediction is uncertain: shown with '?', not
    ranked, named in the answer, and explained in a note."""
    from effnet_cli.measurement.budget import collect

    monkeypatch.setattr(collect.LatencyModel, "band", lambda self, ms: [ms / 1.5, ms * 1.5])
    doc = json.loads(run("budget", "--max-latency", "1s", "--phi-max", "0", "-f", "json").stdout)
    b0 = next(v for v in doc["variants"] if v["variant"] == "b0")
    limit = 1.2 * b0["latency_ms"]
    out = run("budget", "--max-latency", f"{limit}ms", "--phi-max", "0", "--wide").stdout
    line = next(row for row in out.splitlines() if row.split()[:1] == ["b0"])
    assert "? uncertain: latency" in line and "✓" not in line
    assert "inside the predicted latency's error band" in out and "Uncertain" in out
    doc = json.loads(run("budget", "--max-latency", f"{limit}ms", "--phi-max", "0",
                         "-f", "json").stdout)  # fmt: skip
    b0 = next(v for v in doc["variants"] if v["variant"] == "b0")
    assert b0["verdict"] == "uncertain" and b0["rank"] is None and not b0["fits"]
    assert b0["predicted_range_ms"] == pytest.approx(
        [b0["latency_ms"] / 1.5, b0["latency_ms"] * 1.5]
    )


def test_profile_json_carries_the_band_and_the_calibrations_state(fixed_clock) -> None:
    doc = json.loads(run("profile", TINY, "--predict-only", "-f", "json").stdout)
    low, high = doc["predicted_range_ms"]
    assert low < doc["predicted_ms"] < high
    assert {"age_s", "drift_pct", "rescaled"} <= set(doc["calibration"])
    table = run("profile", TINY, "--predict-only", "--wide").stdout
    assert f"{doc['predicted_ms']:.2f} ms ({low:.2f}–{high:.2f})" in table
    csv_text = run("profile", TINY, "--predict-only", "-f", "csv").stdout
    assert "predicted_low_ms,predicted_high_ms,calibration_age_s" in csv_text.splitlines()[0]


def test_a_busy_calibration_is_used_once_and_not_cached(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    busy = latency.ModelSamples("w=0.5,d=0.5,r=128", (1, 3, 128, 128), [], 0.01, 3.0)
    runs = []

    def calibrate(progress=None, plan=None):
        runs.append(1)
        return latency.Calibration("cpu", torch.__version__, 2, [busy], 1.0, time.time(),
                                   None, [], fresh=True)  # fmt: skip

    monkeypatch.setattr(latency, "calibrate", calibrate)
    cal, note = latency.calibration()
    assert len(runs) == 2 and cal.models == [busy]  # tried twice
    assert "busy" in note and "not cached" in note
    assert not (tmp_path / "effnet" / latency.CACHE_NAME).exists()


def test_a_calibration_from_an_older_effnet_is_taken_again(tmp_path, monkeypatch) -> None:
    """A cached entry without the drift probe cannot be checked for drift: recalibrated."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    plan = latency._plan()
    models = [latency.ModelSamples(s, (b, 3, 64, 64), [], 0.01, 1.0, st) for s, b, st in plan]
    old = latency.Calibration("cpu", torch.__version__, torch.get_num_threads(), models, 1.0)
    entry = latency._dump(old)
    del entry["probe"], entry["held_out"], entry["created"]
    path = tmp_path / "effnet" / latency.CACHE_NAME
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({latency.cache_key("cpu", torch.get_num_threads()): entry}))
    fresh = latency.Calibration("cpu", torch.__version__, 2, models, 1.0, time.time(),
                                ProbeTiming(dict.fromkeys(PARTS, 1e-3), 0.05), [0.1])  # fmt: skip
    monkeypatch.setattr(latency, "calibrate", lambda progress=None, plan=None: fresh)
    assert latency.calibration()[0] is fresh
    assert math.isclose(latency.calibration()[0].held_out[0], 0.1)  # now cached, and current


# ----------------------------------------------------------------------------- training


def test_the_training_fit_recovers_k_and_the_per_op_cost_beside_the_timed_wgrad() -> None:
    from effnet_cli.measurement.timing.training import TrainRow, fit_train, held_out

    k, per_op, wgrad = 2.7, 4e-5, 6e-10
    cases = ((0.01, 150, 0), (0.05, 120, 3e7), (0.2, 160, 9e7), (0.03, 300, 1e7))
    rows = [TrainRow(priced, ops, k * priced + per_op * ops + wgrad * wide, int(wide))
            for priced, ops, wide in cases]  # fmt: skip
    fitted = fit_train(rows, wgrad)
    assert fitted.k == pytest.approx(k, rel=1e-6)
    assert fitted.per_op == pytest.approx(per_op, rel=1e-6) and fitted.wgrad == wgrad
    assert max(abs(e) for e in held_out(rows, wgrad)) < 1e-6
    assert fit_train(rows).k > 1.1 * k  # without its timed part, k carries the wide wgrads
    slow = fit_train(rows, 100 * wgrad)  # a w read far too slow leaves each step its floor
    assert slow.k > 0 and all(math.isfinite(e) for e in held_out(rows, 100 * wgrad))


def test_a_training_prediction_is_k_times_the_forward_plus_the_per_op_and_wgrad_costs(
    monkeypatch,
) -> None:
    from effnet_cli.measurement.timing.training import TrainFit, train_trace, wgrad_macs

    model = latency.CostModel(
        {k: (1e-6, 1e-11, 1e-10, 1e-10, 0.0, 0.0) for k in latency.PRICE_KINDS},
        (1.0, 0.0, 0.0), latency.KNEES[0], ("fake",),
    )  # fmt: skip
    monkeypatch.setattr(latency, "fit", lambda cal, leave_out=None: model)
    monkeypatch.setattr(latency, "train_fit", lambda cal, leave_out=None: TrainFit(3.0, 1e-4, 2e-9))
    trace = train_trace(TINY, (2, 3, 96, 96))
    forward = latency.estimate(trace, model)
    step = latency.estimate_train(trace, None, None, scale=1.1)
    assert len(step.op_seconds) == len(forward.op_seconds)
    wide = sum(wgrad_macs(op) for op in forward.trace.ops)
    expected = 1.1 * (3.0 * sum(forward.op_seconds) + 1e-4 * len(forward.op_seconds) + 2e-9 * wide)
    assert wide > 0 and step.total_ms == pytest.approx(1e3 * expected)


def test_the_wide_depthwise_macs_are_the_5x5_depthwise_convs_macs_counted_on_the_model() -> None:
    """The probe keeps no kernel size: a depthwise conv's MACs per output element are its
    kernel's area. Checked against B0's own 5×5 depthwise convs, hooked on a real forward;
    a ResNet and a MobileNetV2 have none."""
    from torch import nn

    from effnet_cli.arch.specs import parse_variant
    from effnet_cli.measurement.timing.training import train_trace, wgrad_macs
    from effnet_cli.model import build_model

    model, counted = build_model(parse_variant("b0")), []

    def hook(conv: nn.Conv2d, _inputs, out: torch.Tensor) -> None:
        if conv.groups == conv.in_channels > 1 and conv.kernel_size[0] > 3:
            counted.append(out.numel() * conv.kernel_size[0] * conv.kernel_size[1])

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model.eval()(torch.randn(2, 3, 64, 64))
    wide = [wgrad_macs(op) for op in train_trace("b0", (2, 3, 64, 64)).ops]
    assert sorted(w for w in wide if w) == sorted(counted) and len(counted) == 9
    for plain in ("resnet50", "mobilenetv2"):
        assert not any(wgrad_macs(op) for op in train_trace(plain, (1, 3, 64, 64)).ops)


def test_the_wide_wgrad_probe_times_a_positive_rate() -> None:
    from effnet_cli.measurement.timing.training import time_wgrad

    rate = time_wgrad()
    assert 1e-13 < rate < 1e-6  # seconds per MAC: between 1 TMAC/s and 1 MMAC/s


def test_profile_predicts_a_training_step_and_refuses_only_what_it_cannot(fixed_clock) -> None:
    doc = json.loads(
        run("profile", TINY, "-b", "2", "--train", "--predict-only", "-f", "json").stdout
    )
    assert doc["mode"] == "train" and doc["predicted_ms"] > 0 and doc["measured_ms"] is None
    inference = json.loads(run("profile", TINY, "-b", "2", "--predict-only", "-f", "json").stdout)
    assert doc["predicted_ms"] > 2.5 * inference["predicted_ms"]  # k = 3 in the fixed model
    refused = run("profile", TINY, "--predict-only", "--amp", "bfloat16")
    assert refused.exit_code == 2 and "inference or training" in refused.stderr
    assert "--amp" in refused.stderr and "--train" not in refused.stderr.split("drop")[1]


def test_budget_prices_a_training_step_under_max_latency(fixed_clock) -> None:
    train = json.loads(run("budget", "--max-latency", "1s", "--train", "-b", "2", "--phi-max", "0",
                           "-f", "json").stdout)  # fmt: skip
    infer = json.loads(run("budget", "--max-latency", "1s", "-b", "2", "--phi-max", "0",
                           "-f", "json").stdout)  # fmt: skip
    b0 = {d["variant"]: d for d in train["variants"]}["b0"]
    assert b0["latency_ms"] > 2.5 * {d["variant"]: d for d in infer["variants"]}["b0"]["latency_ms"]
    assert "training step of 2" in " ".join(train["limits"])
    bad = run("budget", "--max-macs", "1G", "--train")
    assert bad.exit_code == 2 and "--max-latency" in bad.stderr


def test_a_young_calibration_is_rescaled_not_renewed(calibrations) -> None:
    """Uneven drift minutes after calibrating is a burst of load more often than a new
    machine: rescaled, and said so."""
    made = calibrations(_cached([0.05], age=120.0), _drift(1.0, 1.05, 1.9))
    t = trust.trusted()
    assert made == [False] and t.state.rescaled and not t.state.recalibrated
    assert "calibrated too recently to renew" in t.notes[0]


def test_a_moved_reading_is_confirmed_by_a_second_one_part_by_part() -> None:
    burst = _drift(1.6, 1.0, 1.4).confirmed(_drift(1.02, 1.3, 1.0, noise=0.08))
    assert burst.ratios == {"matmul": 1.02, "copy": 1.0, "model": 1.0}
    assert burst.noise == 0.08 and not burst.moved


def test_a_busy_probe_says_the_band_is_wide_because_of_it(calibrations) -> None:
    calibrations(_cached([0.05]), _drift(1.1, 1.2, 1.3, noise=0.9))
    t = trust.trusted()
    assert any("machine is busy now" in note and "±90%" in note for note in t.notes)
    assert t.state.band_pct == pytest.approx(100 * (0.05 + 0.9))
    calibrations(_cached([0.05]), _drift(1.0, 1.0, 1.0, noise=0.1))
    assert not [n for n in trust.trusted().notes if "busy" in n]
    # wide from the calibration's two readings, not from this probe's runs: not "busy now"
    calibrations(_cached([0.05]), Drift(dict.fromkeys(PARTS, 1.0), 0.9, 0.2, 0.1))
    t = trust.trusted()
    assert not [n for n in t.notes if "busy" in n]
    assert t.state.band_pct == pytest.approx(100 * (0.05 + 0.9))


def test_a_training_band_adds_both_fits_held_out_errors_and_the_noise(calibrations) -> None:
    """A training step is the inference model's forward price carried by the training fit:
    its band is the training samples' held-out RMS plus the inference models' plus the
    noise, never the training samples' alone, and it has no inside/beyond split."""
    cached = _cached([0.1, -0.1], noise=0.07)
    cached.train_held_out = [0.2, -0.2, 0.0, 0.0]
    calibrations(cached, _drift(1.0, 1.0, 1.0, noise=0.07))
    t = trust.trusted().for_training()
    width = math.sqrt(0.08 / 4) + 0.1 + 0.07
    assert t.state.band_pct == pytest.approx(100 * width)
    assert t.state.band_outside_pct == t.state.band_pct and t.state.range_ms == []
    assert t.state.held_out_pct == pytest.approx([20.0, -20.0, 0.0, 0.0])
    assert t.band(200.0) == pytest.approx((200.0 / (1 + width), 200.0 * (1 + width)))


def test_inside_the_calibrations_range_the_band_leaves_out_its_extrapolations() -> None:
    """The fastest and slowest calibration models' held-out errors are extrapolations: a
    prediction between their step times gets the band of the others, one beyond them the
    band of all."""
    times_ms = [0.5, 3.0, 20.0, 30.0, 45.0, 40.0]  # the fastest first, the slowest fifth
    models = [latency.ModelSamples(TINY, (1, 3, 96, 96), [], t / 1e3) for t in times_ms]
    probe = ProbeTiming(dict.fromkeys(PARTS, 1e-3), 0.05)
    cal = latency.Calibration("cpu", torch.__version__, 2, models, 1.0, time.time(), probe,
                              [1.5, 0.1, -0.1, 0.1, -0.9, -0.1])  # fmt: skip
    assert trust.interior(cal) == [0.1, -0.1, 0.1, -0.1]
    state = trust._state(cal, None, False, False)
    assert state.range_ms == pytest.approx([0.5, 45.0])
    assert state.band_pct == pytest.approx(100 * (0.1 + 0.05))
    assert state.band_outside_pct == pytest.approx(100 * (trust.rms(cal.held_out) + 0.05))
    t = trust.Trusted(cal, state)
    assert t.band(10.0) == pytest.approx((10.0 / 1.15, 11.5))
    wide = 1 + state.band_outside_pct / 100
    assert t.band(90.0) == pytest.approx((90.0 / wide, 90.0 * wide))
    assert t.band(0.2) == pytest.approx((0.2 / wide, 0.2 * wide))
    text = calibration_text(state)
    assert "±15% within the calibration models' 0.5–45.0 ms" in text and "beyond" in text
