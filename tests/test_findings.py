"""What a new user's trial found (issue 15): hidden columns, CSV totals, hints, units, labels."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import subprocess
import sys

import pytest
import torch
from conftest import PARAMS, assert_one_line_error
from typer.testing import CliRunner

from effnet_cli.cli import app


def invoke(*args: str, columns: int | None = None):
    """The CLI with stdout not a terminal, COLUMNS set or unset."""
    env = {"COLUMNS": str(columns) if columns else None, "NO_COLOR": "1"}
    return CliRunner().invoke(app, list(args), env=env)


SWEEP_HEADERS = ["φ", "w", "d", "r", "Params", "MACs", "×B0", "predicted", "2^φ", "Official",
                 "its r", "its params", "its MACs", "its ×B0"]  # fmt: skip
BLOCK_HEADERS = ["Block", "k/s", "Input", "in→exp→out", "SE", "Skip", "Drop", "Params", "MACs"]


def _headers(out: str, first: str) -> list[str]:
    """The column headers of the table whose first column is ``first``."""
    line = next(line for line in out.splitlines() if line.split()[:1] == [first] and "MACs" in line)
    return re.split(r"\s{2,}", line.strip())


@pytest.mark.parametrize(
    ("args", "first", "headers"),
    [(["scale", "--sweep", "0:7"], "φ", SWEEP_HEADERS),
     (["summary", "b5", "--blocks"], "Block", BLOCK_HEADERS)],
)  # fmt: skip
def test_piped_output_keeps_every_column(args, first, headers) -> None:
    out = invoke(*args).stdout
    assert _headers(out, first) == headers
    assert "hidden:" not in out


def test_a_real_pipe_keeps_every_column() -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k != "COLUMNS"}
    out = subprocess.run([sys.executable, "-m", "effnet_cli", "scale", "--sweep", "0:7"],
                         capture_output=True, text=True, env=env, check=True).stdout  # fmt: skip
    assert _headers(out, "φ") == SWEEP_HEADERS
    assert "predicted is (α·β²·γ²)^φ" in out


def test_narrow_output_says_what_it_hides_and_drops_their_notes() -> None:
    out = invoke("scale", "--sweep", "0:7", columns=70).stdout
    paragraphs = " ".join(out.split("\n")).split("hidden:")
    assert len(paragraphs) == 2 and paragraphs[1].startswith(" w, d, predicted")
    assert "--wide" in paragraphs[1].split("×B0 is")[0]
    assert "predicted is" not in out and "×B0 is measured" in out
    wide = invoke("scale", "--sweep", "0:7", "--wide", columns=70).stdout
    assert _headers(wide, "φ") == SWEEP_HEADERS and "hidden:" not in wide


def _csv(*args: str) -> list[dict[str, str]]:
    result = invoke(*args, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_summary_csv_has_a_total_row() -> None:
    rows = _csv("summary", "b2")
    *stages, total = rows
    assert total["stage"] == "total" and len(stages) == 9
    assert int(total["params"]) == PARAMS["b2"] == sum(int(r["params"]) for r in stages)
    assert int(total["macs"]) == sum(int(r["macs"]) for r in stages)
    assert int(total["weight_bytes"]) == 4 * PARAMS["b2"] and total["weight_dtype"] == "float32"
    assert int(total["elementwise_add"]) == sum(int(r["elementwise_add"]) for r in stages)


def test_compare_csv_has_totals_and_ratios_to_the_first() -> None:
    rows = _csv("compare", "b0", "b4")
    totals = {r["model"]: r for r in rows if r["stage"] == "total"}
    assert set(totals) == {"b0", "b4"} and float(totals["b0"]["params_ratio"]) == 1.0
    assert float(totals["b4"]["params_ratio"]) == pytest.approx(PARAMS["b4"] / PARAMS["b0"], 1e-5)
    assert all(r["params_ratio"] == "" for r in rows if r["stage"] != "total")


def _flat(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}_")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_list_csv_carries_what_its_json_carries() -> None:
    doc = json.loads(invoke("list", "-f", "json").stdout)
    rows = {r["variant"]: r for r in _csv("list")}
    for variant in doc["variants"]:
        flat = _flat(variant)
        row = rows[variant["variant"]]
        for key, value in flat.items():
            if key == "paper" and value is None:  # no paper figures: their columns are blank
                continue
            column = key.removeprefix("coefficients_").removeprefix("totals_")
            assert column in row, column
            if value is not None:
                assert (
                    float(row[column]) == pytest.approx(value)
                    if isinstance(value, (int, float))
                    else row[column] == str(value)
                ), column


def test_typos_of_look_alike_characters_are_suggested() -> None:
    assert_one_line_error(invoke("summary", "bo"), 2, "did you mean 'b0'")
    assert_one_line_error(invoke("summary", "12"), 2, "did you mean 'l2'")


def test_bench_without_cuda_suggests_only_what_bench_accepts(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = invoke("bench", "b0", "--device", "cuda")
    assert_one_line_error(result, 1, "--device cpu")
    assert "meta" not in result.stderr
    assert "meta" in invoke("summary", "b0", "--device", "cuda").stderr  # summary accepts it
    assert_one_line_error(invoke("bench", "b0", "--device", "meta"), 2, "real device")


@pytest.mark.parametrize(("dtype", "size"), [("float32", 4), ("float16", 2), ("int8", 1)])
def test_weight_bytes_per_dtype(dtype: str, size: int) -> None:
    doc = json.loads(invoke("summary", "b0", "--dtype", dtype, "-f", "json").stdout)
    assert doc["totals"]["weight_bytes"] == size * PARAMS["b0"]
    listed = json.loads(invoke("list", "--dtype", dtype, "-f", "json").stdout)
    assert listed["variants"][0]["totals"]["weight_bytes"] == size * PARAMS["b0"]
    assert f"Weights as {dtype}" in invoke("summary", "b0", "--dtype", dtype).stdout


def test_bad_dtype_is_one_line() -> None:
    assert_one_line_error(invoke("list", "--dtype", "float64"), 2, "float64")


_UNIT = re.compile(r"^\s*│?\s*(k|M|G|T|B|KiB|MiB|GiB|ms|img/s|px|%)\b")


@pytest.mark.parametrize("columns", [60, 70, 80, 90, 100, 120])
@pytest.mark.parametrize(
    "args", [["summary", "b0"], ["summary", "b7", "--blocks"], ["compare", "b0", "b7"],
             ["scale", "--phi", "3"], ["list"]],
)  # fmt: skip
def test_no_number_wraps_apart_from_its_unit(args: list[str], columns: int) -> None:
    lines = invoke(*args, columns=columns).stdout.splitlines()
    for before, after in itertools.pairwise(lines):
        ends_in_number = re.search(r"\d\s*│?\s*$", before.rstrip(" │"))
        if ends_in_number and "━" not in after:
            cell = after.split("│")[1] if after.count("│") >= 2 else after
            assert not _UNIT.match(cell), (columns, before, after)


def test_labels_say_what_they_mean() -> None:
    summary = invoke("summary", "b0").stdout
    assert "Input H×W" in summary and "Output H×W" in summary
    assert "Layer outputs, summed" in summary and "not a peak" in summary
    scale = invoke("scale", "--phi", "3").stdout
    assert "never scaled" in scale and "31 MBConv blocks" in scale
    assert "phi=3,alpha=1.3" in invoke("summary", "phi=3,alpha=1.3").stdout.splitlines()[0]
    compare = invoke("compare", "b0", "b4").stdout
    assert "≠" not in compare and "Δ" not in compare
    listed = invoke("list").stdout
    assert "0.386 G" not in listed and "0.39 B" not in listed and "MACs G" in listed


def test_help_lists_commands_without_cutting_them() -> None:
    out = invoke("--help", columns=80).stdout
    assert "…" not in out and "..." not in out.split("Commands:")[1]
    assert "Measured latency, throughput and peak memory on a device." in out
