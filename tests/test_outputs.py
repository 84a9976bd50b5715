"""Paths the other tests did not reach: memory's CSV and Markdown and its --channels-last and
--max-batch from free memory, scale --search as CSV, bench --weights and -o, writes that
fail half-way, two processes writing one cache, and the CUDA logic that needs no kernel."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run

import effnet_cli.files as files
from effnet_cli.errors import RuntimeFailure
from effnet_cli.measurement.memory import memory
from effnet_cli.model import build_model
from effnet_cli.reports import MeasuredPeak
from effnet_cli.views.core import render
from effnet_cli.views.memory import memory_view

TINY = "w=0.5,d=0.3,r=96"


# ----------------------------------------------------------------------------- memory


def test_memory_csv_carries_the_json_stages_and_peak() -> None:
    doc = json.loads(run("memory", TINY, "--train", "-b", "2", "-f", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(run("memory", TINY, "--train", "-b", "2",
                                               "-f", "csv").stdout)))  # fmt: skip
    stages = [r for r in rows if r["stage"].isdigit()]
    breakdown = {r["stage"].removeprefix("at peak: "): int(r["saved_bytes"])
                 for r in rows if not r["stage"].isdigit()}  # fmt: skip
    assert [int(r["stage"]) for r in stages] == [s["stage"] for s in doc["stages"]]
    assert [int(r["saved_bytes"]) for r in stages] == [s["saved_bytes"] for s in doc["stages"]]
    assert breakdown == doc["breakdown"] and sum(breakdown.values()) == doc["peak_bytes"]
    assert {int(r["peak_bytes"]) for r in rows} == {doc["peak_bytes"]}
    assert {r["optimizer"] for r in rows} == {"sgd"} and {r["mode"] for r in rows} == {"train"}


def test_memory_markdown_has_the_peak_and_every_stage() -> None:
    doc = json.loads(run("memory", TINY, "-f", "json").stdout)
    md = run("memory", TINY, "-f", "markdown").stdout
    assert f"{doc['peak_bytes']:,} bytes" in md
    for stage in doc["stages"]:
        assert f"| {stage['stage']} | {stage['operator']} |" in md  # no '|' in an operator


def test_channels_last_measures_the_same_peak_in_nhwc() -> None:
    """The layout changes strides, not sizes: the prediction is the same and so is the
    real step's peak of live storages."""
    nchw = memory(TINY, batch_size=2, device="cpu")
    nhwc = memory(TINY, batch_size=2, device="cpu", channels_last=True)
    assert nhwc.peak_bytes == nchw.peak_bytes and nhwc.channels_last
    assert nhwc.measured.peak_bytes == nchw.measured.peak_bytes


def test_max_batch_without_limit_fits_the_devices_free_memory(monkeypatch) -> None:
    import effnet_cli.measurement.memory.peak as peak

    free = memory(TINY, batch_size=5).peak_bytes  # exactly batch 5's peak is free
    monkeypatch.setattr(peak, "available_bytes", lambda device: free)
    monkeypatch.setattr(peak, "_measure", lambda *a, **k: None)  # the step itself is not run
    report = memory(TINY, device="cpu", max_batch=True)
    assert report.limit_bytes == free and report.max_batch == 5


# ----------------------------------------------------------------------------- scale, bench


def test_scale_search_as_csv_has_every_row_of_json() -> None:
    args = ("scale", "--search", "--grid-step", "0.1", "--top", "5")
    doc = json.loads(run(*args, "-f", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(run(*args, "-f", "csv").stdout)))
    assert len(rows) == len(doc["rows"]) == 5
    for row, item in zip(rows, doc["rows"], strict=True):
        assert float(row["alpha"]) == item["alpha"] and int(row["macs"]) == item["macs"]


def test_bench_loads_weights_and_writes_its_output_file(tmp_path: Path) -> None:
    weights, out = tmp_path / "tiny.pt", tmp_path / "bench.json"
    torch.save(build_model(TINY, num_classes=10).state_dict(), weights)
    result = run("bench", TINY, "--num-classes", "10", "--weights", str(weights),
                 "--iters", "2", "--warmup", "0", "-f", "json", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote {out}" in result.stderr
    (entry,) = json.loads(out.read_text())["results"]
    assert entry["variant"] == TINY and entry["iterations"] == 2


def test_bench_refuses_weights_of_another_model_in_one_line(tmp_path: Path) -> None:
    weights = tmp_path / "b0.pt"
    torch.save(build_model(TINY, num_classes=10).state_dict(), weights)
    result = run("bench", TINY, "--weights", str(weights), "--iters", "2")  # at 1,000 classes
    assert_one_line_error(result, 2, "b0.pt", "classifier.1.weight")


# ----------------------------------------------------------------------------- files


def test_a_failing_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    out = tmp_path / "summary.json"
    out.write_text("old\n")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken)
    result = run("summary", "b0", "-f", "json", "-o", str(out))
    assert_one_line_error(result, 1, "cannot write", "No space left on device")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


WRITER = """
import sys
from pathlib import Path
from effnet_cli.measurement.timing.cache import read_cache, write_cache
path, me = Path(sys.argv[1]), sys.argv[2]
for i in range(60):
    entries, note = read_cache(path, lambda value: value["n"], "test")
    assert note is None, note  # never a torn file
    entries[me] = {"n": i}
    assert write_cache(path, entries, "test") is None
"""


def test_two_processes_writing_one_cache_never_tear_it(tmp_path: Path) -> None:
    """Each write is a rename of a whole file: readers see one writer's file or the other's,
    never a mix (entries may be lost to the last writer, which is harmless for a cache)."""
    path = tmp_path / "effnet" / "test.json"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name],
                              stderr=subprocess.PIPE) for name in ("a", "b")]  # fmt: skip
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    entries = json.loads(path.read_text())
    assert set(entries) <= {"a", "b"} and {"n": 59} in entries.values()  # the last writer's
    assert not [p for p in path.parent.iterdir() if p.name != "test.json"]


# ----------------------------------------------------------------------------- CUDA logic


def test_the_fit_check_refuses_a_model_larger_than_cuda_has_free(monkeypatch) -> None:
    import effnet_cli.measurement.trace.prepare as prepare

    monkeypatch.setattr(prepare, "available_bytes", lambda device: 1 << 30)
    model = build_model("b7", device="meta")
    with pytest.raises(RuntimeFailure) as info:
        prepare.check_fits(model, "cuda:1", (64, 3, 600, 600), 5 << 30, meta_ok=False)
    message = str(info.value)
    assert message == (
        "EfficientNet-B7 at 600px, batch 64 needs 5.0 GiB on cuda:1, which has 1.0 GiB free; "
        "use a smaller --resolution or --batch-size"
    )
    prepare.check_fits(model, "cuda:1", (1, 3, 600, 600), 1 << 29)  # fits: no error


def test_cuda_allocator_figures_are_shown_beside_the_live_storages() -> None:
    """What memory shows once CUDA's counters exist, without a GPU: the report's figures."""
    report = memory(TINY)
    report.device = "cuda:0"
    report.measured = MeasuredPeak("cuda:0", 1_000_000, 2.5, "live tensor storages", {},
                                   1_048_576, 2_097_152)  # fmt: skip
    text = render(memory_view(report), "markdown")
    assert "CUDA max allocated | 1.0 MiB" in text and "CUDA max reserved | 2.0 MiB" in text
    doc = json.loads(render(memory_view(report), "json"))
    assert doc["measured"]["allocated_bytes"] == 1_048_576
    assert doc["measured"]["reserved_bytes"] == 2_097_152


def test_no_temporary_files_left_by_a_good_write(tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    assert run("list", "-f", "csv", "-o", str(out)).exit_code == 0
    assert os.listdir(tmp_path) == ["list.csv"] and out.read_text().startswith("variant,")
