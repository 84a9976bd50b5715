"""The latency model's arithmetic, deterministically: a synthetic calibration drawn from known
costs must give those costs back, and a prediction must price a trace exactly as they say.
No timing happens here; accuracy against real runs is benchmarks/latency_accuracy.py's."""

from __future__ import annotations

import random

import pytest

from effnet_cli.arch.specs import parse_variant
from effnet_cli.heap import DEFAULT, KEPT, keep_heap
from effnet_cli.measurement.timing import latency
from effnet_cli.measurement.timing.drift import PARTS, ProbeTiming
from effnet_cli.measurement.timing.latency import (
    Calibration,
    ModelSamples,
    OpSample,
    estimate,
    fit,
)
from effnet_cli.measurement.timing.optimes import PRICE_KINDS, price_kind
from effnet_cli.measurement.timing.training import TrainSample
from effnet_cli.measurement.trace.probe import probe_forward
from effnet_cli.model import build_model

MIB = 1 << 20
KNEE = 4 * MIB  # one of latency.KNEES: the fit must find it
COSTS = {  # per kind: fixed s, s/MAC, s/byte read, s/byte written, big s/byte read, written
    kind: (
        (1 + i) * 1e-6,
        (2 + i) * 1e-12,
        (3 + i) * 1e-11,
        (1 + i) * 2e-11,
        0.0 if i % 2 else (1 + i) * 1e-11,
        (1 + i) * 1e-11,
    )
    for i, kind in enumerate(PRICE_KINDS)
}
WHOLE = (1.25, 4e-6, 3e-11)  # scale on the ops' sum, s per op, s per large byte written
SPECS = ("w=0.5,d=0.5,r=128", "w=1.0,d=0.5,r=224", "w=0.6,d=0.3,r=300", "w=0.8,d=0.5,r=224")


def _op_seconds(kind: str, macs: int, read: int, write: int) -> float:
    fixed, per_mac, per_read, per_write, big_read, big_write = COSTS[kind]
    big = read + write > KNEE
    return (fixed + per_mac * macs + per_read * read + per_write * write
            + big * (big_read * read + big_write * write))  # fmt: skip


def _ops(rng: random.Random, count: int) -> list[OpSample]:
    """Ops of every kind, bytes log-uniform from 4 KiB to 32 MiB: both sides of every knee."""
    ops = []
    for i in range(count):
        kind = PRICE_KINDS[i % len(PRICE_KINDS)]
        read, write = (int(2 ** rng.uniform(12, 25)) for _ in range(2))
        macs = rng.randint(0, 5 * 10**8)
        ops.append(OpSample(kind, macs, read, write, _op_seconds(kind, macs, read, write)))
    return ops


def _model(spec: str, ops: list[OpSample]) -> ModelSamples:
    scale, per_op, per_byte = WHOLE
    big = sum(o.write for o in ops if o.read + o.write > KNEE)
    seconds = scale * sum(o.seconds for o in ops) + per_op * len(ops) + per_byte * big
    return ModelSamples(spec, (1, 3, 64, 64), ops, seconds)


@pytest.fixture(scope="module")
def synthetic() -> Calibration:
    rng = random.Random(7)
    models = [_model(spec, _ops(rng, 40 + 24 * i)) for i, spec in enumerate(SPECS)]
    return Calibration("cpu", "synthetic", 1, models, 0.0)


def test_fit_recovers_every_kinds_costs_and_the_knee(synthetic: Calibration) -> None:
    model = fit(synthetic)
    assert model.knee == KNEE
    for kind, costs in COSTS.items():
        assert model.kinds[kind] == pytest.approx(costs, rel=1e-5, abs=1e-16), kind


def test_fit_recovers_the_whole_step_terms(synthetic: Calibration) -> None:
    assert fit(synthetic).whole == pytest.approx(WHOLE, rel=1e-5)


@pytest.mark.parametrize("text", ["w=0.5,d=0.3,r=96", "w=0.5,d=0.3,r=96,family=mobilenetv2"])
def test_estimate_prices_a_probe_trace_as_the_costs_say(text: str, synthetic: Calibration) -> None:
    """SiLU at the activations' costs, MobileNetV2's ReLU6 at the clamps' (the synthetic
    costs differ per kind, so pricing one as the other would miss)."""
    spec = parse_variant(text)
    trace = probe_forward(build_model(spec, device="meta").eval(), (2, 3, 96, 96))
    guess = estimate(trace, fit(synthetic))
    scale, per_op, per_byte = WHOLE
    expected = 0.0
    for op in trace.ops:
        if op.kind in ("dropout", "loss"):
            continue
        read = op.read_bytes + op.weight_bytes
        big = read + op.write_bytes > KNEE
        expected += scale * _op_seconds(price_kind(op), op.macs, read, op.write_bytes)
        expected += per_op + per_byte * (op.write_bytes if big else 0)
    assert guess.total_ms == pytest.approx(1e3 * expected, rel=1e-5)
    assert sum(guess.by_kind().values()) == pytest.approx(expected, rel=1e-9)
    assert "clamp" not in guess.by_kind()  # reported as activations, as profile names them


def test_relu_and_relu6_are_priced_apart_from_silu_and_sigmoid() -> None:
    kinds = {}
    for text in ("w=0.5,d=0.3,r=96", "w=0.5,d=0.3,r=96,family=mobilenetv2",
                 "w=0.5,d=0.3,r=96,family=resnet50"):  # fmt: skip
        trace = probe_forward(build_model(parse_variant(text), device="meta").eval(),
                              (1, 3, 96, 96))  # fmt: skip
        for op in trace.ops:
            if op.kind == "activation":
                kinds[op.flavor] = price_kind(op)
    assert kinds == {"silu": "activation", "sigmoid": "activation", "relu6": "clamp",
                     "relu": "clamp"}  # fmt: skip


def test_leaving_a_model_out_refits_without_it(synthetic: Calibration) -> None:
    """The model predicted is never in its own fit: leaving one out uses the other three."""
    first = synthetic.models[0]
    left = fit(synthetic, leave_out=(first.resolved, first.shape))
    assert len(left.used) == len(SPECS) - 1 and first.name not in " ".join(left.used)
    assert left.whole == pytest.approx(WHOLE, rel=1e-5)  # the costs are the same everywhere


def test_samples_round_trip_through_the_cache_form(synthetic: Calibration) -> None:
    value = latency._dump(synthetic)
    again = latency._load(value)
    assert [m.dump() for m in again.models] == [m.dump() for m in synthetic.models]
    assert again.models[0].resolved == synthetic.models[0].resolved


# ----------------------------------------------------------------------------- the cache


def _seed(tmp_path, monkeypatch, value: dict, key: str | None = None) -> list[str]:
    """A cache file holding ``value`` under this machine's key (or ``key``); returns the log
    of calibrations run, which a fake ``calibrate`` appends to."""
    import json

    import torch

    from effnet_cli.measurement.timing.cache import cache_key

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = tmp_path / "effnet" / latency.CACHE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    key = key or cache_key("cpu", torch.get_num_threads())
    path.write_text(json.dumps({key: value}))
    ran: list[str] = []
    fresh = Calibration("cpu", "fresh", 1, [], 1.0)
    monkeypatch.setattr(
        latency, "calibrate", lambda progress=None, plan=None: ran.append("run") or fresh
    )
    return ran


def _plan_calibration(synthetic: Calibration) -> Calibration:
    """The synthetic samples under the names and batches of the real calibration plan."""
    models = [
        ModelSamples(spec, (batch, 3, 64, 64), synthetic.models[0].ops, 0.01, 1.0, stages)
        for spec, batch, stages in latency._plan()
    ]
    probe = ProbeTiming(dict.fromkeys(PARTS, 1e-3), 0.05)
    train = [
        TrainSample(spec, (batch, 3, 64, 64), 0.05) for spec, batch in latency.TRAIN_CALIBRATION
    ]
    return Calibration("cpu", "cached", 2, models, 3.0, 1.7e9, probe, [0.1, -0.1], train=train,
                       train_held_out=[0.05], wgrad=5e-10, malloc=keep_heap(),
                       pricing=latency.PRICING)  # fmt: skip


def test_a_cached_calibration_of_this_plan_is_used_as_it_is(
    synthetic: Calibration, tmp_path, monkeypatch
) -> None:
    cached = _plan_calibration(synthetic)
    ran = _seed(tmp_path, monkeypatch, latency._dump(cached))
    cal, note = latency.calibration()
    assert ran == [] and note is None
    assert [m.dump() for m in cal.models] == [m.dump() for m in cached.models]


def test_a_calibration_of_another_set_is_run_again(
    synthetic: Calibration, tmp_path, monkeypatch
) -> None:
    """An older effnet's set (here: one model short) is foreign: calibrate with this one."""
    cached = _plan_calibration(synthetic)
    cached.models.pop()
    ran = _seed(tmp_path, monkeypatch, latency._dump(cached))
    cal, _ = latency.calibration()
    assert ran == ["run"] and cal.torch_version == "fresh"


def test_a_calibration_timed_on_another_c_heap_is_run_again(
    synthetic: Calibration, tmp_path, monkeypatch
) -> None:
    """One timed on glibc's default heap (every calibration before the heap was kept) ran
    its models up to 2.6x slower than this process times them: calibrate again."""
    cached = _plan_calibration(synthetic)
    cached.malloc = KEPT if keep_heap() == DEFAULT else DEFAULT
    ran = _seed(tmp_path, monkeypatch, latency._dump(cached))
    cal, _ = latency.calibration()
    assert ran == ["run"] and cal.torch_version == "fresh"


def test_a_calibration_priced_with_the_old_kinds_is_run_again(
    synthetic: Calibration, tmp_path, monkeypatch
) -> None:
    """One taken before ReLU and ReLU6 had a price kind of their own holds their samples as
    SiLU's: priced today, a clamp would find no cost at all. Calibrate again."""
    cached = _plan_calibration(synthetic)
    value = latency._dump(cached)
    del value["pricing"]  # as an older effnet wrote it
    ran = _seed(tmp_path, monkeypatch, value)
    cal, _ = latency.calibration()
    assert ran == ["run"] and cal.torch_version == "fresh"


def test_a_calibration_without_the_wide_depthwise_weight_gradient_is_run_again(
    synthetic: Calibration, tmp_path, monkeypatch
) -> None:
    """One taken before the 5×5 depthwise weight gradient was timed would price every
    training step as before (one k for all, up to 50 % off on a ResNet): calibrate again."""
    value = latency._dump(_plan_calibration(synthetic))
    del value["wgrad"]  # as an older effnet wrote it
    ran = _seed(tmp_path, monkeypatch, value)
    cal, _ = latency.calibration()
    assert ran == ["run"] and cal.torch_version == "fresh"


def test_another_machines_entry_is_kept_beside_this_ones(
    synthetic: Calibration, tmp_path, monkeypatch
) -> None:
    import json

    other = "cpu|torch 0.0|64 threads"
    ran = _seed(tmp_path, monkeypatch, latency._dump(_plan_calibration(synthetic)), other)
    latency.calibration()
    entries = json.loads((tmp_path / "effnet" / latency.CACHE_NAME).read_text())
    assert ran == ["run"] and other in entries and len(entries) == 2


def test_a_malformed_entry_is_ignored_with_a_note(tmp_path, monkeypatch) -> None:
    bad = {"spec": "b99", "shape": [1, 3, 64, 64], "ops": [], "seconds": 1.0}  # no such spec
    value = {"device": "cpu", "torch_version": "x", "threads": 2, "models": [bad], "seconds": 1}
    ran = _seed(tmp_path, monkeypatch, value)
    _, note = latency.calibration()
    assert ran == ["run"] and note is not None and "ignored" in note


def test_a_calibration_run_on_a_busy_machine_says_so(tmp_path, monkeypatch) -> None:
    """A model whose median bare step took over BUSY× its fastest marks the calibration busy:
    the note says so, and that it is not cached."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rng = random.Random(3)
    busy = ModelSamples(SPECS[0], (1, 3, 64, 64), _ops(rng, 8), 0.01, latency.BUSY + 0.5)
    quiet = ModelSamples(SPECS[1], (1, 3, 64, 64), _ops(rng, 8), 0.01, 1.1)
    for models, noted in (([quiet], False), ([quiet, busy], True)):
        fresh = Calibration("cpu", "fresh", 1, models, 1.0)
        monkeypatch.setattr(latency, "calibrate", lambda progress=None, plan=None, c=fresh: c)
        _, note = latency.calibration(recalibrate=True)
        assert (note is not None and "busy" in note and "not cached" in note) == noted


def test_the_full_fit_is_cached_with_the_calibration_and_equals_a_new_fit(synthetic) -> None:
    """A prediction of any model that is not a calibration model reads the cached fit; it
    is the fit itself, coefficient for coefficient, and a leave-one-out still fits anew."""
    import json

    cal = Calibration("cpu", "synthetic", 1, synthetic.models, 1.0, 1.7e9)
    cal.cost_model = latency._fit(cal.models)
    loaded = latency._load(json.loads(json.dumps(latency._dump(cal))))
    cached = latency.fit(loaded)
    assert cached is loaded.cost_model and cached.whole == cal.cost_model.whole  # exact
    assert {str(k): v for k, v in cal.cost_model.kinds.items()} == cached.kinds
    fresh = latency._fit(loaded.models)  # equal to rounding (least squares in float64)
    assert cached.knee == fresh.knee and cached.used == fresh.used
    for kind, coef in fresh.kinds.items():
        assert cached.kinds[kind] == pytest.approx(coef, rel=1e-9, abs=1e-20)
    assert cached.whole == pytest.approx(fresh.whole, rel=1e-9)
    first = loaded.models[0]
    assert latency.fit(loaded, leave_out=(first.resolved, first.shape)) is not cached


def test_channels_last_is_calibrated_in_nhwc_into_its_own_cache(tmp_path, monkeypatch) -> None:
    """profile --predict-only --channels-last runs the channels-last plan: its calibration
    models are timed in NHWC (weights and input), cached in a file of its own, beside which
    the NCHW cache is never written; the training prediction stays NCHW only."""
    import torch
    from conftest import assert_one_line_error, run

    from effnet_cli.measurement.timing.profiling import profile
    from effnet_cli.measurement.timing.settings import LATENCY_CACHES

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    seen: list[tuple[str, bool, bool]] = []
    real_samples, real_build = latency._samples, latency.build_model

    def build(*args, **kwargs):  # the calibration's model, to see its layout after the run
        model = real_build(*args, **kwargs)
        built.append(model)
        return model

    def samples(spec, batch, stages=None, channels_last=False):
        built.clear()
        small = latency.CALIBRATION[0]  # every model timed as the smallest: a fast test
        out = real_samples(small[0], small[1], None, channels_last)
        weight = next(m.weight for m in built[0].modules() if isinstance(m, torch.nn.Conv2d))
        nhwc = weight.is_contiguous(memory_format=torch.channels_last) and weight.shape[-1] > 1
        seen.append((spec, channels_last, nhwc))
        return ModelSamples(spec, (batch, *out.shape[1:]), out.ops, out.seconds, 1.0, stages)

    built: list = []
    monkeypatch.setattr(latency, "build_model", build)
    monkeypatch.setattr(latency, "_samples", samples)
    report = profile("b0", predict_only=True, channels_last=True)
    assert report.predicted_ms is not None and report.predicted_ms > 0 and report.channels_last
    assert len(seen) == len(latency._plan()) and all(cl and nhwc for _, cl, nhwc in seen)
    cache = tmp_path / "effnet"
    assert (cache / LATENCY_CACHES["eager channels-last"]).exists()
    assert not (cache / LATENCY_CACHES["eager"]).exists()
    refused = run("profile", "b0", "--predict-only", "--channels-last", "--train")
    assert_one_line_error(refused, 2, "--predict-only", "NCHW only", "--channels-last")
