"""The device roofline: measured by two microbenchmarks, cached per device, torch and threads."""

from __future__ import annotations

import json

import torch

from effnet_cli.measurement.timing.cache import cache_path
from effnet_cli.measurement.timing.roofline import CACHE_NAME, measure_roofline, roofline


def test_measured_roofline_is_plausible_for_a_cpu() -> None:
    r = measure_roofline("cpu")
    assert 1e8 < r.peak_macs_per_s < 1e13  # 0.1 GMAC/s .. 10 TMAC/s
    assert 1e8 < r.bandwidth_bytes_per_s < 1e12  # 0.1 GB/s .. 1 TB/s
    assert r.seconds > 0  # how long it took is recorded (its budget is a benchmark's)
    assert r.bound(r.peak_macs_per_s, 0) == (1.0, "compute")
    assert r.bound(0, r.bandwidth_bytes_per_s * 2) == (2.0, "memory")
    assert r.bound(r.peak_macs_per_s, r.bandwidth_bytes_per_s) == (1.0, "compute")  # a tie


def test_cache_is_reused_per_device_torch_and_threads(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first, note = roofline("cpu")
    assert note is None and cache_path(CACHE_NAME) == tmp_path / "effnet" / "roofline.json"
    again, _ = roofline("cpu")
    assert again == first  # read back, not measured again
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads != 1 else 2)
        other, _ = roofline("cpu")
    finally:
        torch.set_num_threads(threads)
    assert other.threads != first.threads
    assert len(json.loads(cache_path(CACHE_NAME).read_text())) == 2
    fresh, _ = roofline("cpu", recalibrate=True)
    assert fresh.key == first.key and fresh != first


def test_corrupt_or_foreign_cache_is_ignored_with_a_note(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = cache_path(CACHE_NAME)
    path.parent.mkdir(parents=True)
    for content in ("{not json", "[1, 2]", json.dumps({"cpu|x": {"device": "cpu"}})):
        path.write_text(content)
        r, note = roofline("cpu")
        assert r.peak_macs_per_s > 0
        assert note is not None and "ignored" in note and "\n" not in note
    assert roofline("cpu")[1] is None  # rewritten whole by the last measurement
