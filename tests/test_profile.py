"""effnet profile: stage and op-kind times, traffic, roofline, the latency prediction."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from collections import Counter

import pytest
import torch
from conftest import assert_one_line_error, calibrate_into, run
from torch.utils._python_dispatch import TorchDispatchMode

from effnet_cli.arch.specs import parse_variant
from effnet_cli.errors import RuntimeFailure
from effnet_cli.measurement.timing import fitting, latency, loop, profiling
from effnet_cli.measurement.timing.optimes import op_kind, time_ops
from effnet_cli.measurement.timing.profiling import profile
from effnet_cli.measurement.trace.probe import probe_forward
from effnet_cli.measurement.trace.simulate import predict
from effnet_cli.measurement.trace.stages import StageMap
from effnet_cli.model import build_model

TINY = "w=0.5,d=0.3,r=96"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    """One calibrated cache (roofline and latency model) shared by this module's tests."""
    path = tmp_path_factory.mktemp("cache")
    cal = calibrate_into(path)
    assert len(cal.models) == len(latency.CALIBRATION) + len(latency.FRONTS)
    return str(path)


@pytest.fixture
def cached(cache, steady, monkeypatch) -> str:
    monkeypatch.setenv("XDG_CACHE_HOME", cache)
    return cache


def test_probe_records_each_ops_traffic_and_conv_flavor() -> None:
    trace = probe_forward(build_model("b0", device="meta").eval(), (2, 3, 224, 224))
    stem = trace.ops[0]
    assert stem.read_bytes == 4 * 2 * 3 * 224 * 224
    assert stem.weight_bytes == 4 * 32 * 3 * 3 * 3
    assert stem.write_bytes == 4 * 2 * 32 * 112 * 112
    flavors = [op.flavor for op in trace.ops if op.kind == "conv"]
    assert flavors.count("depthwise") == 16  # one per MBConv block
    assert flavors.count("se") == 32  # squeeze and excite, every block
    pool = next(op for op in trace.ops if op.kind == "pooling")
    assert pool.read_bytes == 4 * pool.elements and pool.write_bytes < pool.read_bytes


def test_every_timed_op_is_matched_to_its_probe_record() -> None:
    model = build_model(TINY).eval()
    shape = (1, 3, 96, 96)
    trace = probe_forward(model, shape)
    x = torch.randn(*shape)

    def step() -> None:
        with torch.inference_mode():
            model(x)

    times = time_ops(step, trace, 2)
    assert len(times.seconds) == len(trace.ops) and all(s > 0 for s in times.seconds)
    kinds = times.by_kind()
    assert kinds["depthwise"] > 0 and kinds["se_conv"] > 0 and kinds["linear"] > 0
    trace.ops.pop(3)  # a probe that saw one op fewer than the profiler cannot be matched
    with pytest.raises(RuntimeFailure, match="cannot match"):
        time_ops(step, trace, 1)


def test_a_training_steps_backward_is_sorted_by_kind() -> None:
    model = build_model(TINY).train()
    shape = (2, 3, 96, 96)
    trace = predict(model, shape, True, "none", "cpu").trace  # the training forward's ops
    x = torch.randn(*shape)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    backward = time_ops(step, trace, 1).backward
    for kind in ("conv", "depthwise", "se_conv", "batch_norm", "activation", "linear"):
        assert backward.get(kind, 0) > 0, kind


class _FakeTime:
    """A clock that moves only when the model works: each conv or linear forward adds
    1 ms times its stage number, so every stage's time is known in advance."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.mark.parametrize("train", [False, True], ids=["inference", "train"])
def test_stage_times_add_up_to_the_step(cached, monkeypatch, train: bool) -> None:
    """Stage spans, read at the stage boundaries, are exactly each stage's work and add up
    to the step bench times: a fake clock makes it exact, whatever the machine's load."""
    fake = _FakeTime()
    monkeypatch.setattr(loop, "time", fake)
    monkeypatch.setattr(profiling, "time", fake)
    where = StageMap(parse_variant("b0"), timed=True)

    class Tick(torch.autograd.Function):
        """Identity whose backward moves the fake clock: the layer's gradient work."""

        @staticmethod
        def forward(ctx, x, seconds):
            ctx.seconds = seconds
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            fake.now += ctx.seconds
            return grad, None

    for layer in (torch.nn.Conv2d, torch.nn.Linear):
        real = layer.forward

        def work(self, x, real=real):
            out = real(self, x)
            name = getattr(self, "_effnet_name", None)  # None: the probe's pass on meta
            if name is not None:
                fake.now += 1e-3 * where.stage_of(name)
                if out.requires_grad:  # the backward does twice the forward's work
                    out = Tick.apply(out, 2e-3 * where.stage_of(name))
            return out

        monkeypatch.setattr(layer, "forward", work)
    real_prepare = profiling.prepare

    def named(*args, **kwargs):
        p = real_prepare(*args, **kwargs)
        for name, module in p.model.named_modules():
            module._effnet_name = name
        return p

    monkeypatch.setattr(profiling, "prepare", named)
    r = profile("b0", resolution=64, batch_size=2, iters=3, warmup=1, op_steps=1, train=train)
    spec = parse_variant("b0")
    model = build_model(spec, device="meta")
    expected = Counter()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            expected[where.stage_of(name)] += where.stage_of(name) * (3 if train else 1)
    assert [s.measured_ms for s in r.stages] == [
        pytest.approx(float(expected[s.stage])) for s in r.stages
    ]
    assert r.measured_ms == pytest.approx(sum(expected.values()))
    assert r.stages[0].kind == "stem" and r.stages[-1].kind == "classifier"
    assert sum(s.macs for s in r.stages) == sum(k.macs for k in r.op_kinds)
    assert r.predicted_ms is not None  # inference and training steps are both predicted


def test_roofline_columns_follow_their_definitions(cached) -> None:
    r = profile(TINY, iters=3, op_steps=1)
    peak, bw = r.device.peak_macs_per_s, r.device.bandwidth_bytes_per_s
    for row in r.stages + r.op_kinds:
        compute, memory = row.macs / peak, row.bytes_moved / bw
        assert row.bound_ms == pytest.approx(1e3 * max(compute, memory))
        if row.bytes_moved:
            assert row.bound == ("compute" if compute >= memory else "memory")
            assert row.intensity == row.macs / row.bytes_moved
    dw = next(k for k in r.op_kinds if k.kind == "depthwise")
    conv = next(k for k in r.op_kinds if k.kind == "conv")
    assert dw.intensity < conv.intensity  # why depthwise is slower than its MACs


_NETWORK_OPS = {"conv2d", "convolution", "batch_norm", "native_batch_norm", "silu", "silu_",
                "sigmoid", "adaptive_avg_pool2d", "linear", "addmm"}  # fmt: skip
"""The ops any EfficientNet forward runs (the latency fit itself does least squares)."""


class _NoRealCompute(TorchDispatchMode):
    """Records every network op that runs on a real (non-meta) tensor, outside the drift
    probe (which runs a small model of its own, never the one predicted)."""

    def __init__(self) -> None:
        super().__init__()
        self.real: list[str] = []
        self.probing = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if (not self.probing and any(t.device.type != "meta" for t in tensors)
                and _NETWORK_OPS.intersection(str(func).split("."))):  # fmt: skip
            self.real.append(str(func))
        return func(*args, **(kwargs or {}))


def test_predict_only_never_runs_the_model(cached, monkeypatch) -> None:
    """Only the drift probe's small model and, when the probe finds uneven drift, the
    calibration's own models run; they are set apart. B3 itself never runs."""
    from effnet_cli.measurement.timing import drift, trust

    probes = []

    def set_apart(run, counted: bool):
        def wrapped(*args, **kwargs):
            mode.probing += 1
            probes.extend([1] if counted else [])
            try:
                return run(*args, **kwargs)
            finally:
                mode.probing -= 1

        return wrapped

    monkeypatch.setattr(drift, "time_probe", set_apart(drift.time_probe, True))
    monkeypatch.setattr(latency, "calibrate", set_apart(latency.calibrate, False))
    monkeypatch.setattr(trust, "drift", drift.drift)  # the real check, not the steady one
    with _NoRealCompute() as mode:
        r = profile("b3", predict_only=True)
    assert mode.real == [] and probes[:1] == [1]  # the cached calibration was checked
    with _NoRealCompute() as mode, torch.inference_mode():  # the check does see a real run
        build_model(TINY).eval()(torch.randn(1, 3, 96, 96))
    assert "aten.conv2d.default" in mode.real
    assert r.measured_ms is None and r.predicted_ms > 0 and r.iterations == 0
    assert all(s.measured_ms is None for s in r.stages)
    assert sum(s.predicted_ms for s in r.stages) == pytest.approx(r.predicted_ms)


def test_a_calibration_model_is_left_out_of_its_own_prediction(cached) -> None:
    cal, _ = latency.calibration()
    spec, batch = latency.CALIBRATION[1]
    same = parse_variant(spec.replace("w=1.0", "w=1"))  # another spelling, the same model
    res = same.coefficients.resolution
    left = latency.fit(cal, leave_out=(same, (batch, 3, res, res)))
    assert len(left.used) == len(cal.models) - 1 and not any(u.startswith(spec) for u in left.used)
    other = latency.fit(cal, leave_out=(same, (batch + 1, 3, res, res)))
    assert len(other.used) == len(cal.models)


def test_nnls_recovers_nonnegative_coefficients() -> None:
    rows = [[1.0, float(i), float(i * i % 7)] for i in range(1, 30)]
    target = [2.0 * r[0] + 0.5 * r[1] for r in rows]
    coef = fitting.nnls(rows, target)
    assert coef == pytest.approx([2.0, 0.5, 0.0], abs=1e-9)
    negative = [1.0 * r[0] - 0.1 * r[1] for r in rows]  # the best fit wants a negative slope
    assert all(c >= 0 for c in fitting.nnls(rows, negative))


def _enumerated_nnls_error(rows: list[list[float]], target: list[float]) -> float:
    """The least squared error over every subset of features whose unconstrained fit has no
    negative coefficient: the non-negative optimum, the slow way."""
    a = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(target, dtype=torch.float64).unsqueeze(1)
    best = float(y.square().sum())
    for size in range(1, a.shape[1] + 1):
        for cols in itertools.combinations(range(a.shape[1]), size):
            coef = torch.linalg.lstsq(a[:, list(cols)], y).solution
            if not bool((coef < 0).any()):
                best = min(best, float((a[:, list(cols)] @ coef - y).square().sum()))
    return best


def test_nnls_active_set_reaches_the_enumerated_optimum() -> None:
    rng = random.Random(7)
    for _ in range(60):
        m, n = rng.randint(3, 30), rng.randint(1, 6)
        rows = [[rng.gauss(0, 1) * 10 ** rng.randint(0, 6) for _ in range(n)] for _ in range(m)]
        target = [rng.gauss(0, 1) for _ in range(m)]
        coef = fitting.nnls(rows, target)
        assert all(c >= 0 for c in coef)
        fitted = (sum(c * f for c, f in zip(coef, r, strict=True)) for r in rows)
        error = sum((f - t) ** 2 for f, t in zip(fitted, target, strict=True))
        assert error == pytest.approx(_enumerated_nnls_error(rows, target), rel=1e-8, abs=1e-20)


def test_corrupt_calibration_cache_is_ignored_with_a_note(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fake = latency.Calibration("cpu", torch.__version__, torch.get_num_threads(), [], 0.0)
    monkeypatch.setattr(latency, "calibrate", lambda progress=None, plan=None: fake)
    path = tmp_path / "effnet" / latency.CACHE_NAME
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    cal, note = latency.calibration()
    assert cal == fake and "ignored" in note and str(path) in note
    assert json.loads(path.read_text())  # rewritten, valid
    path.write_text(json.dumps({"cpu|torch 0|2 threads": {"models": "foreign"}}))
    _, note = latency.calibration()
    assert note is not None and "ignored" in note


def test_json_has_the_design_keys(cached) -> None:
    result = run("profile", TINY, "--iters", "3", "--op-steps", "1", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    for key in ("variant", "device", "batch_size", "resolution", "stages", "op_kinds",
                "measured_ms", "predicted_ms"):  # fmt: skip
        assert key in doc
    assert set(doc["device"]) >= {"name", "threads", "peak_macs_per_s", "bandwidth_bytes_per_s"}
    for key in ("stage", "measured_ms", "predicted_ms", "macs", "bytes_moved", "intensity",
                "bound"):  # fmt: skip
        assert key in doc["stages"][0]
    for key in ("kind", "measured_ms", "predicted_ms", "macs", "bytes_moved"):
        assert key in doc["op_kinds"][0]
    # no progress where stderr is not a terminal: at most bench's warning of a busy machine
    assert all(line.startswith("effnet: warning: the p90") for line in result.stderr.splitlines())
    only = json.loads(run("profile", TINY, "--predict-only", "-f", "json").stdout)
    assert only["measured_ms"] is None and only["predicted_ms"] > 0


def test_csv_carries_stages_and_op_kinds(cached) -> None:
    result = run("profile", TINY, "--predict-only", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {"row", "stage", "name", "predicted_ms", "bytes_read", "bound_ms"} <= set(rows[0])
    kinds = [row["row"] for row in rows]
    assert kinds.count("stage") == 10 and kinds.count("op_kind") == 8
    assert float(rows[0]["total_predicted_ms"]) > 0


PROFILE_USAGE = [
    (["profile", "b0", "--device", "meta"], ["profile needs a real device", "meta"]),
    (["profile", "b0", "--iters", "0"], ["--iters", "0"]),
    (["profile", "b0", "--threads", "0"], ["--threads", "0"]),
    (["profile", "b0", "--op-steps", "0"], ["--op-steps", "0"]),
    (["profile", "b0", "--seconds", "-1"], ["--seconds"]),
    (["profile", "b0", "--warmup", "-1"], ["--warmup"]),
    (
        ["profile", "b0", "--predict-only", "--channels-last", "--train"],
        ["--predict-only", "training-step prediction", "NCHW only"],
    ),
    (["profile", "b0", "--predict-only", "--amp", "bfloat16"], ["--predict-only", "--amp"]),
    (["profile", "b0", "--device", "tpu"], ["'tpu'"]),
    (["profile", "b0", "--plot", "x.pdf"], ["x.pdf"]),
    (["profile", "b0", "--train", "-r", "32"], ["--train", "batch 1"]),
]


@pytest.mark.parametrize(
    ("args", "fragments"), PROFILE_USAGE, ids=[" ".join(a) for a, _ in PROFILE_USAGE]
)
def test_profile_usage_errors(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(*args), 2, *fragments)


def test_cuda_requested_where_there_is_none(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    result = run("profile", "b0", "--device", "cuda")
    assert_one_line_error(result, 1, "'cuda'", "--device cpu")


def test_op_kinds_cover_every_op_of_the_trace() -> None:
    trace = probe_forward(build_model("v2-s", device="meta").eval(), (1, 3, 384, 384))
    kinds = {op_kind(op) for op in trace.ops}
    assert kinds == {"conv", "depthwise", "se_conv", "batch_norm", "activation", "elementwise",
                     "pooling", "linear"}  # fmt: skip


# ----------------------------------------------------------------------------- the CLI's views


def test_table_and_markdown_show_every_stage_and_the_totals(cached) -> None:
    """One report in three formats (two runs may differ: each checks the device's drift)."""
    from effnet_cli.views.core import render
    from effnet_cli.views.export import as_text
    from effnet_cli.views.profile import profile_view

    view = profile_view(profile(TINY, predict_only=True))
    doc = json.loads(render(view, "json"))
    md = render(view, "markdown")
    table = as_text(render(view, "table", None), 400)
    for stage in doc["stages"]:
        assert f"| {stage['stage']} |" in md
    assert "Flatten & Dropout & FC" in md and "Flatten & Dropout & FC" in table
    assert f"{doc['predicted_ms']:.2f}" in md and f"{doc['predicted_ms']:.2f}" in table


def test_plot_writes_a_chart(cached, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "profile.png"
    result = run("profile", TINY, "--predict-only", "--plot", str(path))
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {path}" in result.stderr


def test_train_on_the_cli_times_the_backward_beside_its_prediction(cached) -> None:
    result = run("profile", TINY, "--train", "-b", "2", "--iters", "2", "--warmup", "0",
                 "--op-steps", "1", "-f", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["measured_ms"] > 0 and doc["predicted_ms"] > 0
    low, high = doc["predicted_range_ms"]
    assert low < doc["predicted_ms"] < high
    assert doc["calibration"]["held_out_pct"]  # the training samples' held-out errors
    assert any(k["measured_ms"] for k in doc["op_kinds"] if k["kind"] == "depthwise")


def test_recalibrate_on_the_cli_runs_the_calibration_again(cached, monkeypatch) -> None:
    calls: list[bool] = []
    real = latency.calibrate

    def counted(progress=None, plan=latency.EAGER):
        calls.append(True)
        return real(progress, plan)

    monkeypatch.setattr(latency, "calibrate", counted)
    assert run("profile", TINY, "--predict-only", "-f", "json").exit_code == 0
    assert calls == []  # cached: nothing calibrated
    assert run("profile", TINY, "--predict-only", "--recalibrate", "-f", "json").exit_code == 0
    assert calls in ([True], [True, True])  # twice when the first ran busy
