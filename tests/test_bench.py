"""effnet bench: real timings on the CPU, small and quick (b0 at low resolution)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import assert_one_line_error, run

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.timing.bench import benchmark
from effnet_cli.measurement.timing.settings import BenchSettings

SMALL = ["-r", "64", "--iters", "4", "--warmup", "1"]


@pytest.fixture(scope="module")
def b0_result():
    return benchmark(parse_variant("b0"), BenchSettings(resolution=64, iters=6, warmup=1))


def test_numbers_are_positive_and_consistent(b0_result) -> None:
    r = b0_result
    lat = r.latency_ms
    assert r.iterations == 6 == len(r.samples_ms)
    assert all(v > 0 for v in r.samples_ms)
    assert lat["min"] <= lat["median"] <= lat["p90"] <= lat["max"]
    assert r.throughput == pytest.approx(r.batch_size * 1000 / lat["median"])
    assert r.peak_memory_bytes > 0 and r.memory_method == "process peak RSS increase"
    assert (r.device, r.resolution, r.mode) == ("cpu", 64, "inference")


def test_batch_and_seconds_budget() -> None:
    r = benchmark(
        parse_variant("b0"),
        BenchSettings(resolution=32, batch_size=3, seconds=0.2, min_iters=3, warmup=0),
    )
    assert r.iterations >= 3 and r.batch_size == 3
    assert r.throughput == pytest.approx(3000 / r.latency_ms["median"])


def test_train_channels_last_amp_threads() -> None:
    s = BenchSettings(
        resolution=32,
        batch_size=2,
        iters=2,
        warmup=1,
        train=True,
        channels_last=True,
        amp="bfloat16",
        threads=1,
    )
    r = benchmark(parse_variant("b0"), s)
    assert (r.mode, r.amp, r.channels_last, r.threads) == ("train", "bfloat16", True, 1)
    assert r.latency_ms["median"] > 0


def test_threads_are_restored() -> None:
    before = torch.get_num_threads()
    benchmark(parse_variant("b0"), BenchSettings(resolution=32, iters=1, warmup=0, threads=1))
    assert torch.get_num_threads() == before


def test_cli_json_keys() -> None:
    result = run("bench", "b0", "b1", *SMALL, "--format", "json")
    assert result.exit_code == 0, result.stderr
    results = json.loads(result.stdout)["results"]
    assert [r["variant"] for r in results] == ["b0", "b1"]
    for r in results:
        assert {"variant", "device", "batch_size", "latency_ms", "throughput",
                "peak_memory_bytes"} <= set(r)  # fmt: skip
        assert {"median", "p90"} <= set(r["latency_ms"])
        assert r["latency_ms"]["p90"] >= r["latency_ms"]["median"] > 0


def test_cli_table_and_csv() -> None:
    out = run("bench", "b0", *SMALL).stdout
    assert "EfficientNet-B0" in out and "img/s" in out and "4 timed steps" in out
    csv_out = run("bench", "b0", *SMALL, "-f", "csv").stdout.splitlines()
    assert csv_out[0].startswith("variant,title,device")
    assert csv_out[1].startswith("b0,EfficientNet-B0,cpu")


def test_cuda_absent(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert_one_line_error(run("bench", "b0", "--device", "cuda", *SMALL), 1, "'cuda'", "CUDA")


def test_compile_failure_is_one_line(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nmore detail")

    monkeypatch.setattr(torch, "compile", broken)
    result = run("bench", "b0", *SMALL, "--compile")
    assert_one_line_error(result, 1, "torch.compile does not work here", "no C++ compiler")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--iters", "0"], ["--iters", "0"]),
        (["--seconds", "0"], ["--seconds", "0"]),
        (["--seconds", "nan"], ["--seconds", "nan"]),
        (["--warmup", "-1"], ["--warmup", "-1"]),
        (["--threads", "0"], ["--threads", "0"]),
        (["--amp", "int8"], ["'int8'"]),
        (["--device", "meta"], ["meta"]),
        (["-b", "0"], ["'0'"]),
        (["--train", "-r", "32"], ["--train", "32px", "--batch-size 2"]),
    ],
)
def test_bench_usage_errors(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run("bench", "b0", *args), 2, *fragments)


def test_a_busy_machine_does_not_go_unnoticed(b0_result) -> None:
    from dataclasses import replace

    from effnet_cli.views.bench import noise_warnings

    quiet = b0_result
    assert noise_warnings([replace(quiet, latency_ms={"median": 10.0, "p90": 12.0})]) == []
    busy = replace(quiet, latency_ms={"median": 10.0, "p90": 25.0})
    (line,) = noise_warnings([busy])
    assert "2.5×" in line and "busy" in line and "\n" not in line
