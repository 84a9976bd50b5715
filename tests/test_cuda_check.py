"""benchmarks/cuda_check.py, the script a first GPU runs: it says so in one line where there
is no CUDA, and its judgements are checked here on made-up outputs (no GPU has run it)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "cuda_check.py"


@pytest.fixture(scope="module")
def cuda_check():
    spec = importlib.util.spec_from_file_location("cuda_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["cuda_check"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so_in_one_line_and_exits_0() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the script would run its checks")
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.count("\n") == 1 and "no CUDA device" in done.stdout


def _memory_doc(predicted: int, measured: int, allocated: int | None) -> dict:
    error = 100 * (predicted - measured) / measured
    return {"peak_bytes": predicted, "measured": {"peak_bytes": measured, "error_pct": error,
            "allocated_bytes": allocated, "reserved_bytes": 2 * measured}}  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "ok"),
    [(_memory_doc(1000, 1000, 1024), True),
     (_memory_doc(1100, 1000, 1024), False),  # the prediction is off
     (_memory_doc(1000, 1000, None), False)],  # CUDA's counter missing
)  # fmt: skip
def test_memory_check_judges_prediction_and_allocator(cuda_check, monkeypatch, doc, ok) -> None:
    monkeypatch.setattr(cuda_check, "effnet", lambda *args, **kw: (0, doc, ""))
    passed, detail = cuda_check.memory("cuda", "b0")()
    assert passed == ok and "max_memory_allocated" in detail  # the figure, or its absence


def test_bench_check_wants_every_models_peak_equal_to_its_prediction(
    cuda_check, monkeypatch
) -> None:
    def result(peak: int, predicted: int) -> dict:
        return {"variant": "b0", "peak_memory_bytes": peak, "predicted_peak_bytes": predicted,
                "process_peak_bytes": peak + 512, "latency_ms": {"median": 3.0}}  # fmt: skip

    good = {"results": [result(100, 100), result(200, 200)]}
    bad = {"results": [result(100, 100), result(210, 200)]}
    for doc, ok in ((good, True), (bad, False)):
        monkeypatch.setattr(cuda_check, "effnet", lambda *a, doc=doc, **k: (0, doc, ""))
        assert cuda_check.bench("cuda")()[0] == ok


def test_a_crashing_check_is_a_failed_check(cuda_check) -> None:
    def boom() -> tuple[bool, str]:
        raise KeyError("measured")

    r = cuda_check.check("x", boom)
    assert not r.ok and "KeyError" in r.detail
