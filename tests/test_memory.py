"""The memory engine against the real step: predicted peaks equal the live-storage
tracker's, byte for byte, on small models (the definition of peak in DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from effnet_cli.measurement.memory import BREAKDOWN, predict
from effnet_cli.measurement.tracker import LiveStorages, measure_step
from effnet_cli.model import build_model

CASES = [("w=0.25,d=0.5,r=32", 32, 2), ("b0", 64, 1), ("phi=0.5,alpha=1.3", 48, 3)]
MODES = [(False, "sgd"), (True, "none"), (True, "sgd"), (True, "adam"), (True, "adamw")]


@pytest.mark.parametrize(("train", "optimizer"), MODES, ids=[f"{t}-{o}" for t, o in MODES])
@pytest.mark.parametrize(("spec", "res", "batch"), CASES, ids=[c[0] for c in CASES])
def test_prediction_equals_the_real_step(spec, res, batch, train, optimizer) -> None:
    shape = (batch, 3, res, res)
    predicted = predict(build_model(spec, device="meta"), shape, train, optimizer)
    torch.manual_seed(0)
    measured = measure_step(build_model(spec), torch.randn(shape), train, optimizer)
    assert predicted.peak_bytes == measured.peak_bytes
    assert predicted.peak_at[0] == measured.peak_at[0]  # the same phase
    assert sum(predicted.breakdown.values()) == predicted.peak_bytes


def test_breakdown_names_what_is_live_at_the_peak() -> None:
    model = build_model("w=0.25,d=0.5,r=32", device="meta")
    params = sum(p.numel() * 4 for p in model.parameters())
    shape = (2, 3, 32, 32)
    p = predict(model, shape, True, "adam")
    assert set(p.breakdown) == set(BREAKDOWN)
    assert p.breakdown["weights"] == params
    assert p.breakdown["optimizer_state"] == 2 * params + 4 * len(list(model.parameters()))
    assert p.breakdown["input"] == 2 * 3 * 32 * 32 * 4 + 2 * 8  # images and int64 labels
    inference = predict(model, shape, False)
    assert inference.breakdown["gradients"] == inference.breakdown["optimizer_state"] == 0
    assert inference.peak_bytes < p.peak_bytes


def test_training_keeps_more_for_backward_than_inference_holds() -> None:
    """B0 at batch 8: the figures the issue quotes, about 110 MB and 760 MB."""
    model = build_model("b0", device="meta")
    inference = predict(model, (8, 3, 224, 224), False).peak_bytes
    training = predict(model, (8, 3, 224, 224), True, "sgd").peak_bytes
    assert 100e6 < inference < 120e6 and 700e6 < training < 800e6


def test_tracker_counts_views_and_in_place_results_once() -> None:
    x = torch.randn(4, 8)
    with LiveStorages([x]) as tracker:
        a = x * 2  # 128 bytes
        b = a.view(-1)
        a.add_(1)
        assert tracker.current == 256
        del a, b
        assert tracker.current == 128
    assert tracker.peak == 256 and tracker.base == 128


def test_prediction_allocates_nothing_for_l2() -> None:
    code = (
        "import resource, sys\n"
        "from effnet_cli.model import build_model\n"
        "from effnet_cli.measurement.memory import predict\n"
        "p = predict(build_model('l2', device='meta'), (8, 3, 800, 800), True, 'adam')\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(p.peak_bytes, int(rss), 'torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak, rss_mib, dynamo = out.stdout.split()
    assert int(peak) > 100 * 2**30  # the prediction: over 100 GiB
    assert int(rss_mib) < 600 and dynamo == "False"  # the process: torch and a few modules
