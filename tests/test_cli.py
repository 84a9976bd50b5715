"""The CLI through Typer's CliRunner: formats, options, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
import torch
from conftest import PARAMS, assert_one_line_error, run

from effnet_cli import build_model

STAGE_KEYS = {
    "stage", "operator", "kernel", "stride", "expand_ratio", "input_resolution",
    "output_resolution", "in_channels", "out_channels", "layers", "params", "macs",
}  # fmt: skip


def test_summary_table_b0() -> None:
    result = run("summary", "b0")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in ("EfficientNet-B0", "5,288,548", "0.386 G", "MACs (conv+linear)", "Table 1"):
        assert text in out
    assert "MBConv6, k5x5" in out and "Conv1x1 & Pooling & FC" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes


def test_summary_json_b5_has_design_keys() -> None:
    result = run("summary", "b5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["variant"] == "b5"
    assert doc["coefficients"] == {"width": 1.6, "depth": 2.2, "resolution": 456, "dropout": 0.4}
    assert doc["input"] == {"batch_size": 1, "resolution": 456}
    assert len(doc["stages"]) == 9 and all(set(s) >= STAGE_KEYS for s in doc["stages"])
    assert doc["stages"][0]["input_resolution"] == [456, 456]
    assert {"params", "macs", "param_bytes", "activation_bytes"} <= set(doc["totals"])
    assert doc["totals"]["params"] == PARAMS["b5"]
    assert "conv + linear" in doc["macs_convention"]


def test_summary_csv_parses_and_sums() -> None:
    result = run("summary", "b1", "-f", "csv")
    rows = [r for r in csv.DictReader(io.StringIO(result.stdout)) if r["stage"] != "total"]
    assert len(rows) == 9 and rows[0]["variant"] == "b1"
    assert sum(int(r["params"]) for r in rows) == PARAMS["b1"]
    assert rows[0]["input_resolution"] == "240x240"


def test_summary_csv_blocks() -> None:
    out = run("summary", "b0", "-f", "csv", "--blocks").stdout
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["stage"] != "total"]
    assert len(rows) == 16 and rows[0]["name"] == "features.1.0"


def test_summary_markdown_tables_are_well_formed() -> None:
    result = run("summary", "b3", "--format", "markdown", "--blocks")
    assert result.exit_code == 0
    tables, current = [], []
    for line in result.stdout.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    assert len(tables) == 5  # Table 1, cost per stage, where the cost goes, per block, totals
    for table in tables:
        widths = {line.count("|") for line in table}
        assert len(widths) == 1, table[:3]
        assert set(table[1].replace("|", "").split()) <= {"---", "--:"}
    assert "| 1 | Conv3x3 | 300×300 | 40 | 1 |" in result.stdout


def test_summary_options() -> None:
    doc = json.loads(
        run("summary", "phi=1", "-r", "128", "-b", "2", "--num-classes", "10", "-f", "json").stdout
    )
    assert doc["input"] == {"batch_size": 2, "resolution": 128}
    assert doc["num_classes"] == 10 and doc["output_shape"] == [2, 10]
    assert doc["kind"] == "compound" and doc["compound"]["phi"] == 1


def test_summary_no_top_and_pooling() -> None:
    doc = json.loads(run("summary", "b0", "--no-top", "--pooling", "max", "-f", "json").stdout)
    assert doc["include_top"] is False and doc["output_shape"] == [1, 1280]


def test_summary_device_cpu_uses_fvcore() -> None:
    doc = json.loads(run("summary", "b0", "--device", "cpu", "-r", "64", "-f", "json").stdout)
    assert doc["device"] == "cpu" and doc["engine"] == "fvcore"
    assert doc["totals"]["engine_counts"]["conv"] > 0


def test_summary_weights(tmp_path) -> None:
    good, bad = tmp_path / "good.pth", tmp_path / "bad.pth"
    torch.save(build_model("b0").state_dict(), good)
    torch.save(build_model("b1").state_dict(), bad)
    ok = run("summary", "b0", "--weights", str(good), "-r", "32", "-f", "json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["device"] == "cpu"
    assert json.loads(ok.stdout)["weights"] == str(good)
    table = run("summary", "b0", "--weights", str(good), "-r", "32").stdout
    assert "(loaded, strict)" in table
    assert_one_line_error(run("summary", "b0", "--weights", str(bad)), 2, "does not fit")
    assert_one_line_error(run("summary", "b0", "--weights", str(tmp_path / "x")), 2, "no such")


def test_cuda_absent_is_one_line_exit_1(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        result = run("summary", "b5", "--device", device)
        assert_one_line_error(result, 1, f"'{device}'", "CUDA is not available")


def test_cuda_index_beyond_present_devices(monkeypatch) -> None:
    from effnet_cli.devices import check_available

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_available("cuda:0") == "cuda:0"
    assert_one_line_error(run("summary", "b0", "--device", "cuda:3"), 1, "1 CUDA device")


def test_mps_absent(monkeypatch) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert_one_line_error(run("summary", "b0", "--device", "mps"), 1, "mps")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["summary", "b9"], ["'b9'", "did you mean 'b8'"]),
        (["summary", "w=1,d=1"], ["w=1,d=1"]),
        (["summary", "b0", "--device", "tpu"], ["'tpu'", "cuda:N"]),
        (["summary", "b0", "--format", "xml"], ["xml"]),
        (["summary", "b0", "-r", "0"], ["--resolution"]),
        (["summary", "b0", "--bogus"], ["--bogus"]),
        (["summary"], ["variant"]),
        (["frobnicate"], ["frobnicate"]),
        (["summary", "b0", "--engine", "fvcore"], ["fvcore", "--device cpu"]),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(*args), 2, *fragments)


TORCH_CHECK = "torch imported:"


def _imports_torch(*argv: str) -> tuple[bool, str]:
    """Run the CLI in a fresh interpreter and report whether torch got imported. The child
    must exit 0 and end its stderr with exactly the check's line: a crash is no pass."""
    code = (
        "import sys\n"
        "from effnet_cli.cli import app\n"
        "try:\n"
        f"    app({list(argv)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print({TORCH_CHECK!r}, 'torch' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last in (f"{TORCH_CHECK} False", f"{TORCH_CHECK} True"), out.stderr
    return last.endswith("True"), out.stdout


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("summary", "--help"), ("summary", "b9"), ("summary", "b0", "-r", "x"),
     ("budget", "--help"), ("budget",), ("budget", "--max-macs", "2GB"),
     ("budget", "--max-latency", "30ms", "--device", "meta"), ("export", "--help"),
     ("paper", "--help"), ("export", "b9", "x.onnx")],
)  # fmt: skip
def test_help_and_errors_do_not_import_torch(argv: tuple[str, ...]) -> None:
    imported, stdout = _imports_torch(*argv)
    assert not imported
    assert ("Usage" in stdout) == ("--help" in argv)  # help printed, or an error instead


def test_the_torch_check_sees_torch_when_it_is_imported() -> None:
    """The check can fail: a command that measures does import torch."""
    imported, stdout = _imports_torch("summary", "b0", "-r", "64", "-f", "json")
    assert imported and json.loads(stdout)["variant"] == "b0"


def test_python_dash_m_and_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "effnet_cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("effnet ")


def test_summary_layers_view_from_torchinfo() -> None:
    from torchinfo import summary as torchinfo_summary

    from effnet_cli import build_model

    doc = json.loads(run("summary", "b0", "--layers", "2", "-r", "64", "-f", "json").stdout)
    layers = doc["layers"]
    assert {r["depth"] for r in layers} == {1, 2}
    top = [r for r in layers if r["depth"] == 1]
    assert [r["name"] for r in top] == ["features", "avgpool", "classifier"]
    assert sum(r["params"] for r in top) == PARAMS["b0"]
    stats = torchinfo_summary(build_model("b0"), input_size=(1, 3, 64, 64), verbose=0)
    assert sum(r["mult_adds"] for r in top) == stats.total_mult_adds
    assert "features.3.1" not in {r["name"] for r in layers}  # depth 3 is cut
    out = run("summary", "b0", "--layers", "3", "-r", "64").stdout
    assert "Per layer (torchinfo)" in out and "features.3.1" in out
