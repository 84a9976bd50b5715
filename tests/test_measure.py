"""Measurement: reference params/MACs, Table 1, engines agreeing, sums adding up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import (
    B0_TABLE1,
    B5_CHANNELS,
    B5_LAYERS,
    B5_RESOLUTIONS,
    FIXTURES,
    MACS_G,
    PARAMS,
    REFERENCE,
    TORCHVISION,
)
from torch import nn

from effnet_cli import build_model, measure
from effnet_cli.errors import UsageError
from effnet_cli.measurement.trace.probe import UnsupportedOp, probe_forward


@pytest.fixture(scope="module")
def fast() -> dict:
    """Every official variant measured once by the fast engine (meta device)."""
    return {v: measure(v) for v in PARAMS}


@pytest.mark.parametrize("variant", list(PARAMS))
def test_reference_params_and_macs(variant: str, fast: dict) -> None:
    """Exact integers: params as the design's table (torchvision, timm, TF and Keras agree),
    MACs as torch's FlopCounterMode counts torchvision's or timm's model; the design's
    3-decimal G figures are those integers rounded."""
    totals = fast[variant].totals
    reference = REFERENCE["variants"][variant]
    assert totals.params == PARAMS[variant] == reference["params"]
    assert totals.macs == reference["macs"]
    assert round(totals.macs / 1e9, 3) == MACS_G[variant]


@pytest.mark.parametrize("variant", [v for v in REFERENCE["variants"] if v.startswith("v2")])
def test_v2_params_and_macs_are_flop_counter_exact(variant: str) -> None:
    reference = REFERENCE["variants"][variant]
    totals = measure(variant).totals
    assert (totals.params, totals.macs) == (reference["params"], reference["macs"])


def _pinned_versions(script: Path) -> dict:
    """The VERSIONS a generator script pins (read, not run: it needs its own venv)."""
    import ast

    tree = ast.parse(script.read_text())
    return next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "VERSIONS"
    )


@pytest.mark.parametrize(
    "fixture",
    ["reference_macs.json", "torchvision_efficientnet.json", "torchvision_logits.json",
     "torchvision_efficientnet_v2.json", "torchvision_logits_v2.json", "timm_v2.json"],
)  # fmt: skip
def test_fixtures_say_how_they_were_made(fixture: str) -> None:
    """Each reference fixture names its generator, which exists here, and records the
    versions that generator pins (and checks before it writes anything)."""
    doc = json.loads((FIXTURES / fixture).read_text())
    script = FIXTURES / doc["generator"]
    assert script.exists() and f'"{fixture}"' in script.read_text()
    assert _pinned_versions(script) == doc["versions"]


def test_reference_fixture_counts_every_official_variant() -> None:
    """The FlopCounterMode reference covers every official variant, each at the resolution
    the family data gives it."""
    from effnet_cli.arch.families import FAMILIES

    officials = {n: v for f in FAMILIES.values() for n, v in f.variants.items()}
    assert set(REFERENCE["variants"]) == set(officials)
    for name, ref in REFERENCE["variants"].items():
        assert ref["resolution"] == officials[name].coefficients.resolution, name


@pytest.mark.parametrize("variant", list(PARAMS))
def test_stages_and_blocks_sum_to_totals(variant: str, fast: dict) -> None:
    s = fast[variant]
    assert sum(st.params for st in s.stages) == s.totals.params
    assert sum(st.macs for st in s.stages) == s.totals.macs
    assert sum(st.params_share for st in s.stages) == pytest.approx(1.0)
    assert sum(st.macs_share for st in s.stages) == pytest.approx(1.0)
    assert len(s.blocks) == sum(st.layers for st in s.stages[1:8])
    stem, head = s.stages[0], s.stages[8]
    assert sum(b.macs for b in s.blocks) + stem.macs + head.macs == s.totals.macs
    assert sum(b.params for b in s.blocks) + stem.params + head.params == s.totals.params
    assert s.totals.param_bytes == 4 * s.totals.params


def test_b0_table1_measured(fast: dict) -> None:
    rows = [
        (st.stage, st.operator, st.input_resolution, st.out_channels, st.layers)
        for st in fast["b0"].stages
    ]
    assert rows == [(i, op, [r, r], ch, n) for i, op, r, ch, n in B0_TABLE1]


def test_b5_scaled_table1_measured(fast: dict) -> None:
    stages = fast["b5"].stages
    assert [st.input_resolution[0] for st in stages] == B5_RESOLUTIONS
    assert [st.out_channels for st in stages] == B5_CHANNELS
    assert [st.layers for st in stages] == B5_LAYERS
    assert [st.in_channels for st in stages[1:]] == [st.out_channels for st in stages[:-1]]


def test_block_details_b0(fast: dict) -> None:
    first, second = fast["b0"].blocks[1], fast["b0"].blocks[2]
    assert (first.name, first.in_channels, first.expanded_channels, first.se_channels) == (
        "features.2.0", 16, 96, 4,
    )  # fmt: skip
    assert (first.stride, first.residual, second.residual) == (2, False, True)
    assert first.output_resolution == [56, 56]


@pytest.mark.parametrize("variant", TORCHVISION)
def test_fvcore_and_fast_engine_agree(variant: str, fast: dict) -> None:
    """fvcore on real CPU tensors counts the same conv + linear MACs, stage by stage."""
    real = measure(variant, device="cpu")
    assert real.engine == "fvcore"
    assert [st.macs for st in real.stages] == [st.macs for st in fast[variant].stages]
    assert [b.macs for b in real.blocks] == [b.macs for b in fast[variant].blocks]
    counts = real.totals.engine_counts
    assert counts["conv"] + counts["linear"] == real.totals.macs
    # fvcore counts eval batch-norm as 2 per element (scale + shift); we count elements.
    assert counts["batch_norm"] == 2 * real.totals.elementwise_ops["batch_norm"]
    assert counts["adaptive_avg_pool2d"] == real.totals.elementwise_ops["pooling"]


def test_activation_bytes_match_torchinfo() -> None:
    from torchinfo import summary

    model = build_model("b0")
    stats = summary(model, input_size=(2, 3, 64, 64), verbose=0, device="cpu")
    leaf_bytes = sum(layer.output_bytes for layer in stats.summary_list if layer.is_leaf_layer)
    ours = measure(model, resolution=64, batch_size=2, engine="fast")
    assert ours.totals.activation_bytes == leaf_bytes
    assert ours.totals.params == stats.total_params


def test_probe_matches_real_forward_shapes() -> None:
    model = build_model("b2", num_classes=17)
    with torch.no_grad():
        real = model(torch.randn(3, 3, 97, 131))
    probe = probe_forward(model, (3, 3, 97, 131))
    assert tuple(real.shape) == probe.output_shape == (3, 17)


def test_resolution_and_batch_scale_macs(fast: dict) -> None:
    b0 = fast["b0"].totals.macs
    assert measure("b0", batch_size=4).totals.macs == 4 * b0
    at_448 = measure("b0", resolution=448)
    assert at_448.input == {"batch_size": 1, "resolution": 448}
    assert at_448.totals.macs == pytest.approx(4 * b0, rel=0.01)
    assert at_448.totals.params == PARAMS["b0"]


def test_fast_engine_on_meta_allocates_nothing_and_skips_dynamo() -> None:
    code = (
        "import sys\n"
        "from effnet_cli import build_model, measure\n"
        "m = build_model('l2', device='meta')\n"
        "assert all(p.is_meta for p in m.parameters())\n"
        "assert all(b.is_meta for b in m.buffers())\n"
        "s = measure(m)\n"
        "assert s.totals.params == 480309308, s.totals.params\n"
        "assert 'torch._dynamo' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unknown_op_is_an_error_not_a_zero() -> None:
    class Odd(nn.Module):
        def forward(self, x):
            return torch.tanh(x)

    with pytest.raises(UnsupportedOp, match="tanh"):
        probe_forward(Odd().eval(), (1, 3, 8, 8))


def test_engine_choice_rules() -> None:
    with pytest.raises(UsageError, match="fvcore"):
        measure("b0", engine="fvcore")
    with pytest.raises(UsageError, match="--weights needs a real device"):
        measure("b0", weights="x.pth")
    assert measure("b0", device="cpu", engine="fast", resolution=32).engine == "fast"


def test_no_top_measures_without_classifier() -> None:
    s = measure("b0", include_top=False)
    assert s.num_classes == 0 and s.output_shape == [1, 1280]
    assert s.totals.params == PARAMS["b0"] - (1280 * 1000 + 1000)
