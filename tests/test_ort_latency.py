"""onnxruntime's latency model: the kernels it prices are the ones onnxruntime runs, its
calibration charges every kernel to one, it is cached apart from eager's, and profile
--predict-only and budget --runtime use it; bad input is one line."""

from __future__ import annotations

import json
from collections import Counter

import onnx
import onnxruntime
import pytest
import torch
from conftest import assert_one_line_error, run

from effnet_cli.arch.specs import parse_variant
from effnet_cli.heap import keep_heap
from effnet_cli.measurement.deploy import calibrate, extra
from effnet_cli.measurement.deploy.exporting import _to_onnx, session
from effnet_cli.measurement.timing import latency
from effnet_cli.measurement.timing.fusion import units
from effnet_cli.measurement.timing.optimes import op_kind
from effnet_cli.measurement.trace.probe import probe_forward
from effnet_cli.model import build_model

ORT_KINDS = {"Conv": "conv", "FusedConv": "conv", "QuickGelu": "activation", "Mul": "elementwise",
             "Add": "elementwise", "ReduceMean": "pooling", "MaxPool": "pooling",
             "GlobalAveragePool": "pooling", "Gemm": "linear",
             "BatchNormalization": "batch_norm"}  # fmt: skip
"""onnxruntime's compute kernels by the latency model's kind (convs of all flavours as one);
layout reorders and reshapes are charged to the units around them."""
CONVS = {"conv", "depthwise", "se_conv"}


@pytest.mark.parametrize("spec", ["b0", "resnet50", "mobilenetv2", "v2-b0", "edgetpu-s"])
def test_units_are_the_kernels_onnxruntime_runs(spec: str, tmp_path) -> None:
    """The fusion rule read off the probe's trace gives, kind for kind, the compute kernels
    of the graph onnxruntime optimized from the exported file."""
    shape = (1, 3, 64, 64)
    model = build_model(parse_variant(spec)).eval()
    ours = Counter(
        "conv" if str(op_kind(u.record)) in CONVS else str(op_kind(u.record))
        for u in units(probe_forward(model, shape))
    )
    path = tmp_path / "m.onnx"
    path.write_bytes(_to_onnx(model, torch.randn(shape), 20, False).SerializeToString())
    session(path, 1, profile=tmp_path)
    graph = onnx.load(str(tmp_path / "optimized.onnx")).graph
    theirs = Counter(ORT_KINDS[n.op_type] for n in graph.node if n.op_type in ORT_KINDS)
    assert ours == theirs
    assert not {n.op_type for n in graph.node} - set(ORT_KINDS) - {
        "ReorderInput", "ReorderOutput", "Reshape", "Flatten"}  # fmt: skip


def test_calibration_charges_every_kernel_to_a_unit() -> None:
    """Each unit of a calibration model gets onnxruntime time (a unit left at zero would
    mean its kernel was charged elsewhere), and the model's bare step is timed."""
    spec = "w=0.5,d=0.3,r=96"
    m = calibrate.ort_samples(spec, 1, 1)
    resolved = parse_variant(spec)
    assert len(m.ops) == len(units(probe_forward(build_model(resolved).eval(), m.shape)))
    assert all(o.seconds > 0 for o in m.ops), [o for o in m.ops if o.seconds <= 0]
    assert m.seconds > 0 and m.spread >= 1.0
    assert {o.kind for o in m.ops} >= {"conv", "depthwise", "se_conv", "activation"}
    assert "batch_norm" not in {o.kind for o in m.ops}  # folded into the convs


SMALL = (("w=0.25,d=0.25,r=64", 1, None), ("w=0.5,d=0.3,r=96", 1, None),
         ("w=0.5,d=0.3,r=96,family=resnet50", 1, None))  # fmt: skip


def test_predict_only_calibrates_onnxruntime_once_into_its_own_cache(
    tmp_path, monkeypatch, steady
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(calibrate, "ORT_MODELS", SMALL)
    monkeypatch.setattr(latency, "BUSY", float("inf"))  # cached even on a busy machine
    args = ("profile", "w=0.4,d=0.3,r=80", "--runtime", "onnxruntime", "--predict-only",
            "-f", "json")  # fmt: skip
    first = run(*args)
    assert first.exit_code == 0, first.stderr
    assert "calibrating onnxruntime's latency model" in first.stderr
    doc = json.loads(first.stdout)
    assert doc["runtime"] == "onnxruntime" and doc["measured_ms"] is None
    low, high = doc["predicted_range_ms"]
    assert low < doc["predicted_ms"] < high
    assert len(doc["calibration_models"]) == 3
    assert set(doc["calibration"]) >= {"age_s", "drift_pct", "rescaled"}
    cache = tmp_path / "effnet" / "latency-onnxruntime.json"
    (key,) = json.loads(cache.read_text())
    assert f"onnxruntime {onnxruntime.__version__}" in key
    assert not (tmp_path / "effnet" / "latency.json").exists()  # eager's is apart
    second = run(*args)
    assert second.exit_code == 0 and "calibrating" not in second.stderr
    assert json.loads(second.stdout)["predicted_ms"] == pytest.approx(doc["predicted_ms"])


def test_budget_prices_the_fused_kernels_on_onnxruntime(fixed_clock, steady) -> None:
    """With one cost model for both, onnxruntime's prediction is the cheaper: batch-norm
    folded, activations and adds inside the convs."""
    args = ("budget", "--max-latency", "1s", "-f", "json")
    eager = json.loads(run(*args).stdout)
    ort = json.loads(run(*args, "--runtime", "onnxruntime").stdout)
    assert ort["constraints"]["runtime"] == "onnxruntime"
    assert "in onnxruntime" in ort["limits"][0]
    times = {v["variant"]: v["latency_ms"] for v in eager["variants"]}
    for row in ort["variants"]:
        assert 0 < row["latency_ms"] < times[row["variant"]], row["variant"]


@pytest.mark.parametrize(
    ("args", "code", "fragments"),
    [(["--max-macs", "1G", "--runtime", "onnxruntime"], 2, ("--runtime", "--max-latency")),
     (["--max-latency", "9ms", "--runtime", "compile"], 2, ("no latency model",)),
     (["--max-latency", "9ms", "--runtime", "onnxruntime", "--train"], 2, ("drop --train",)),
     (["--max-latency", "9ms", "--runtime", "onnxruntime", "--device", "cuda", "--measure"], 2,
      ("--device cpu",)),
     (["--max-latency", "9ms", "--runtime", "x"], 2, ("--runtime",))],
)  # fmt: skip
def test_budget_runtime_bad_input_is_one_line(args: list[str], code: int, fragments) -> None:
    assert_one_line_error(run("budget", *args), code, *fragments)


def test_budget_runtime_without_the_extra_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(extra, "find_spec", lambda name: None)
    result = run("budget", "--max-latency", "9ms", "--runtime", "onnxruntime")
    assert_one_line_error(result, 1, "--runtime onnxruntime needs onnx", "effnet[deploy]")


def test_profile_predict_only_refuses_compile_naming_what_is_predicted() -> None:
    result = run("profile", "b0", "--runtime", "compile", "--predict-only")
    assert_one_line_error(result, 2, "eager and onnxruntime, not compile")


def test_the_drift_probe_times_onnxruntime_from_a_cached_export(tmp_path, monkeypatch) -> None:
    """The onnxruntime plan's probe has a fourth part, run in an onnxruntime session of the
    probe model, whose export is kept in the cache directory and made again when it no
    longer loads."""
    from effnet_cli.measurement.timing import drift

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    plan = calibrate.ort_plan()
    assert plan.probe is not None and plan.probe.names == ("onnxruntime",)
    timing = drift.time_probe(plan.probe)
    assert set(timing.seconds) == set(drift.PARTS) | {"onnxruntime"}
    assert all(s > 0 for s in timing.seconds.values())
    (kept,) = (tmp_path / "effnet").glob("latency-onnxruntime-probe-*.onnx")
    made = kept.stat().st_mtime_ns
    d = drift.drift(timing, plan.probe)
    assert set(d.ratios) == set(timing.seconds)
    assert kept.stat().st_mtime_ns == made  # loaded, not exported again
    kept.write_bytes(b"not onnx")
    assert set(drift.time_probe(plan.probe).seconds) == set(timing.seconds)
    assert onnx.load(str(kept)).graph.node  # exported again


def test_an_onnxruntime_calibration_without_its_probe_part_is_taken_again() -> None:
    """A calibration cached before the onnxruntime part existed is not current."""
    from effnet_cli.measurement.timing.drift import PARTS, ProbeTiming

    plan = calibrate.ort_plan()
    models = [latency.ModelSamples(spec, (batch, 3, 8, 8), [], 1e-3)
              for spec, batch, _ in plan.models]  # fmt: skip
    old = latency.Calibration("cpu", torch.__version__, 2, models, 1.0, 0.0,
                              ProbeTiming(dict.fromkeys(PARTS, 1e-3), 0.05), [0.1],
                              malloc=keep_heap(), pricing=latency.PRICING)  # fmt: skip
    assert not latency._current(old, plan)
    old.probe = ProbeTiming(dict.fromkeys((*PARTS, "onnxruntime"), 1e-3), 0.05)
    assert latency._current(old, plan)
