"""bench --runtime: eager, torch.compile (compile time apart) and onnxruntime (a fresh
export or the user's file, through the same timing loop); bad combinations are one line."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from conftest import assert_one_line_error, run

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.deploy import extra
from effnet_cli.measurement.deploy.exporting import export_onnx
from effnet_cli.measurement.deploy.runtime import NOT_TRACKED

TINY = "w=0.25,d=0.25,r=64"
QUICK = ["--iters", "3", "--warmup", "1"]


def test_onnxruntime_rows_time_a_fresh_export() -> None:
    result = run("bench", TINY, "--runtime", "onnxruntime", *QUICK, "-f", "json")
    assert result.exit_code == 0, result.stderr
    r = json.loads(result.stdout)["results"][0]
    assert (r["runtime"], r["iterations"], r["mode"], r["onnx_file"]) == (
        "onnxruntime", 3, "inference", None)  # fmt: skip
    assert r["compile_seconds"] > 0 and r["latency_ms"]["median"] > 0
    assert r["peak_memory_bytes"] == 0 and r["memory_kind"] == NOT_TRACKED
    assert r["threads"] == torch.get_num_threads()


def test_onnxruntime_times_the_users_file(tmp_path) -> None:
    path = tmp_path / "tiny.onnx"
    export_onnx(parse_variant(TINY), path, batch_size=2)
    result = run("bench", TINY, "--runtime", "onnxruntime", "--onnx", str(path), "-b", "2",
                 "--threads", "1", *QUICK, "-f", "csv")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert (row["onnx_file"], row["runtime"], row["threads"]) == (str(path), "onnxruntime", "1")
    table = run("bench", TINY, "--runtime", "onnxruntime", "--onnx", str(path), "-b", "2", *QUICK)
    assert "onnxruntime: a fresh `effnet export`" in table.stdout and "–" in table.stdout
    wrong = run("bench", TINY, "--runtime", "onnxruntime", "--onnx", str(path), *QUICK)
    assert_one_line_error(wrong, 1, "its input is 2×3×64×64", "this run feeds 1×3×64×64")


def test_int8_is_timed_beside_float32() -> None:
    result = run("bench", TINY, "--runtime", "onnxruntime", "--quantize", "int8", *QUICK,
                 "-f", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    fp32, int8 = json.loads(result.stdout)["results"]
    assert (fp32["quantize"], int8["quantize"]) == (None, "int8")
    assert 0 < int8["onnx_bytes"] < fp32["onnx_bytes"] and int8["iterations"] == 3
    table = run("bench", TINY, "--runtime", "onnxruntime", "--quantize", "int8", *QUICK).stdout
    assert "onnxruntime int8" in table and "accuracy cannot be judged" in table


def test_compile_reports_its_first_call_apart(monkeypatch) -> None:
    """The wiring, with torch.compile stood in by the identity (inductor itself is timed in
    the README's table, where a C compiler runs for tens of seconds)."""
    monkeypatch.setattr(torch, "compile", lambda model, **kw: model)
    for flag in (["--runtime", "compile"], ["--compile"]):
        result = run("bench", TINY, *flag, *QUICK, "-f", "json")
        r = json.loads(result.stdout)["results"][0]
        assert r["runtime"] == "compile" and r["compiled"] and r["compile_seconds"] > 0
    eager = json.loads(run("bench", TINY, *QUICK, "-f", "json").stdout)["results"][0]
    assert eager["runtime"] == "eager" and eager["compile_seconds"] is None


@pytest.mark.parametrize(
    ("args", "fragments"),
    [(["--runtime", "x"], ("--runtime",)),
     (["--runtime", "onnxruntime", "--train"], ("float32 inference", "--train")),
     (["--runtime", "onnxruntime", "--amp", "bfloat16"], ("--amp",)),
     (["--runtime", "onnxruntime", "--channels-last"], ("--channels-last",)),
     (["--runtime", "onnxruntime", "--device", "cuda"], ("use --device cpu",)),
     (["--runtime", "onnxruntime", "--compile"], ("--compile is --runtime compile",)),
     (["--onnx", "x.onnx"], ("use --runtime onnxruntime",)),
     (["--runtime", "onnxruntime", "--onnx", "/nonexistent.onnx"], ("no such file",)),
     (["--quantize", "int8"], ("use --runtime onnxruntime",)),
     (["--runtime", "onnxruntime", "--quantize", "int4"], ("--quantize",))],
)  # fmt: skip
def test_bad_runtime_combinations_are_one_line(args: list[str], fragments) -> None:
    assert_one_line_error(run("bench", TINY, *args, *QUICK), 2, *fragments)


def test_onnx_file_names_one_model(tmp_path) -> None:
    path = tmp_path / "x.onnx"
    path.write_bytes(b"")
    result = run("bench", TINY, "b0", "--runtime", "onnxruntime", "--onnx", str(path))
    assert_one_line_error(result, 2, "bench one variant")


def test_missing_extra_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(extra, "find_spec", lambda name: None)
    result = run("bench", TINY, "--runtime", "onnxruntime", *QUICK)
    assert_one_line_error(result, 1, "--runtime onnxruntime needs onnx", "effnet[deploy]")


def test_profile_on_onnxruntime_attributes_every_node_to_a_stage() -> None:
    """Every kernel onnxruntime ran lands in a stage (an unattributable one would be an
    error), so the stages and the op types sum to the same time."""
    result = run("profile", "w=0.5,d=0.3,r=96", "--runtime", "onnxruntime", "--iters", "3",
                 "--warmup", "1", "-f", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    stages = doc["stages"]
    assert [s["stage"] for s in stages] == list(range(1, 11))  # Table 1's 9, FC apart
    assert doc["steps"] == 3 and doc["end_to_end_ms"] > 0
    assert sum(s["ms"] for s in stages) == pytest.approx(doc["stage_sum_ms"])
    assert sum(s["kernel_ms"] for s in stages) == pytest.approx(doc["kernel_sum_ms"])
    assert sum(doc["op_types"].values()) == pytest.approx(doc["kernel_sum_ms"])
    assert all(s["ms"] >= s["kernel_ms"] >= 0 for s in stages)
    assert doc["stage_sum_ms"] >= doc["kernel_sum_ms"]
    assert sum(s["nodes"] for s in stages) == sum(doc["op_nodes"].values())
    assert stages[-1]["operator"] == "Flatten & Dropout & FC" and stages[-1]["nodes"] >= 1
    table = run("profile", "w=0.5,d=0.3,r=96", "--runtime", "onnxruntime", "--iters", "2")
    assert "Attribution:" in table.stdout and "QuickGelu" in table.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [(["--recalibrate"], ("--recalibrate", "go with --predict-only")),
     (["--plot", "x.svg"], ("--plot", "go with --predict-only")),
     (["--train"], ("float32 inference",)), (["--runtime", "compile"], ())],
)  # fmt: skip
def test_profile_runtime_bad_input_is_one_line(args: list[str], fragments) -> None:
    flags = ["--runtime", "onnxruntime"] if "--runtime" not in args else []
    result = run("profile", TINY, *flags, *args, "--iters", "2")
    if args == ["--runtime", "compile"]:
        assert_one_line_error(result, 2, "profile times eager or onnxruntime")
    else:
        assert_one_line_error(result, 2, *fragments)


def test_profile_on_onnxruntime_runs_the_users_file_and_its_int8_copy(tmp_path) -> None:
    """--onnx profiles the user's file by stage (its nodes name their modules); --quantize
    int8 profiles the quantized copy, whose nodes are found by the float32 names they keep."""
    path = tmp_path / "m.onnx"
    export_onnx(parse_variant(TINY), path)
    args = ("profile", TINY, "--runtime", "onnxruntime", "--iters", "2", "--warmup", "1")
    users = json.loads(run(*args, "--onnx", str(path), "-f", "json").stdout)
    assert users["onnx_file"] == str(path) and users["quantize"] is None
    int8 = json.loads(run(*args, "--quantize", "int8", "-f", "json").stdout)
    assert int8["quantize"] == "int8" and "QLinearConv" in int8["op_types"]
    for doc in (users, int8):
        stages = doc["stages"]
        assert sum(s["ms"] for s in stages) == pytest.approx(doc["stage_sum_ms"])
        assert sum(doc["op_types"].values()) == pytest.approx(doc["kernel_sum_ms"])
        assert all(s["nodes"] >= 1 for s in stages)


def test_profile_of_a_file_without_module_paths_is_one_line(tmp_path) -> None:
    import onnx

    path = tmp_path / "m.onnx"
    export_onnx(parse_variant(TINY), path)
    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(path))
    result = run("profile", TINY, "--runtime", "onnxruntime", "--onnx", str(path), "--iters", "2")
    assert_one_line_error(result, 1, "no module paths", "effnet export")


def test_profile_predict_only_refuses_a_file_or_int8() -> None:
    for flag in (["--onnx", "x.onnx"], ["--quantize", "int8"]):
        result = run("profile", TINY, "--runtime", "onnxruntime", "--predict-only", *flag)
        assert_one_line_error(result, 2, "float32 export", "drop --onnx and --quantize")
