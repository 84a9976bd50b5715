"""EfficientNetV2 from its family data: torchvision's layout, the reference counts, one grammar."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import FIXTURES, assert_one_line_error, run
from torch import nn

from effnet_cli import build_model, measure
from effnet_cli.arch.specs import SpecError, parse_variant
from effnet_cli.model.checkpoints import WeightsError, load_weights

PARAMS = {"v2-b0": 7_139_704, "v2-b1": 8_141_052, "v2-b2": 10_096_086,
          "v2-b3": 14_358_406, "v2-s": 21_458_488, "v2-m": 54_139_356,
          "v2-l": 118_515_272, "v2-xl": 208_119_808}  # fmt: skip
MACS = {"v2-b0": (718_086_176, 224), "v2-b1": (1_196_819_360, 240),
        "v2-b2": (1_697_542_832, 260), "v2-b3": (3_011_458_816, 300),
        "v2-s": (8_365_617_152, 384), "v2-m": (24_582_460_384, 480),
        "v2-l": (56_079_699_008, 480), "v2-xl": (93_353_451_520, 512)}  # fmt: skip
TORCHVISION = ("v2-s", "v2-m", "v2-l")


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((FIXTURES / "torchvision_efficientnet_v2.json").read_text())["variants"]


@pytest.mark.parametrize("variant", list(PARAMS))
def test_params_and_macs_at_the_evaluation_size(variant: str) -> None:
    s = measure(variant)
    macs, size = MACS[variant]
    assert (s.totals.params, s.totals.macs, s.input["resolution"]) == (PARAMS[variant], macs, size)


@pytest.mark.parametrize("variant", TORCHVISION)
def test_state_dict_identical_to_torchvision(variant: str, reference: dict) -> None:
    ref = reference[variant]
    model = build_model(variant, device="meta")
    assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == ref["state_dict"]
    bn = model.features[0][1]
    assert (bn.eps, bn.momentum) == (ref["bn_eps"], ref["bn_momentum"])
    assert model.classifier[0].p == ref["dropout"]
    drops = [m.stochastic_depth.p for m in model.modules() if hasattr(m, "stochastic_depth")]
    assert drops == pytest.approx(ref["stochastic_depth"], abs=1e-12)


@pytest.mark.parametrize("variant", TORCHVISION)
def test_blocks_report_what_torchvision_builds(variant: str, reference: dict) -> None:
    s = measure(variant)
    ours = [(b.name, b.kernel, b.stride, b.expanded_channels, b.se_channels, b.residual)
            for b in s.blocks]  # fmt: skip
    theirs = [(b["name"], b["kernel"], b["stride"], b["expanded"], b["se"], b["residual"])
              for b in reference[variant]["blocks"]]  # fmt: skip
    assert ours == theirs


def test_same_logits_as_torchvision_v2_s() -> None:
    """Same seed, same init order: our V2-S reproduces torchvision's weights and logits."""
    expected = torch.tensor(
        json.loads((FIXTURES / "torchvision_logits_v2.json").read_text())["variants"]["v2-s"]
    )
    torch.manual_seed(0)
    model = build_model("v2-s")
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="linear")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
    assert expected.abs().max() > 1e-4
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("variant", list(PARAMS))
def test_fast_and_fvcore_engines_agree_stage_and_block(variant: str) -> None:
    fast = measure(variant, resolution=64)
    slow = measure(variant, resolution=64, device="cpu", engine="fvcore")
    assert [s.macs for s in fast.stages] == [s.macs for s in slow.stages]
    assert [b.macs for b in fast.blocks] == [b.macs for b in slow.blocks]


@pytest.mark.parametrize(
    "text", ["v2-s", "V2-S", "efficientnet_v2_s", "efficientnetv2-s", "efficientnet-v2-s"]
)
def test_v2_names(text: str) -> None:
    spec = parse_variant(text)
    assert spec.name == "v2-s" and spec.family == "v2" and spec.title == "EfficientNetV2-S"


def test_table4_style_operators_and_fused_blocks() -> None:
    stages = parse_variant("v2-s").stages
    assert [s.operator for s in stages] == [
        "Conv3x3", "Fused-MBConv1, k3x3", "Fused-MBConv4, k3x3", "Fused-MBConv4, k3x3",
        "MBConv4, k3x3, SE0.25", "MBConv6, k3x3, SE0.25", "MBConv6, k3x3, SE0.25",
        "Conv1x1 & Pooling & FC",
    ]  # fmt: skip
    assert [s.out_channels for s in stages] == [24, 24, 48, 64, 128, 160, 256, 1280]
    assert [s.layers for s in stages] == [1, 2, 4, 4, 6, 9, 15, 1]
    b3 = parse_variant("v2-b3").stages
    assert [s.out_channels for s in b3] == [40, 16, 40, 56, 112, 136, 232, 1536]  # no 10% bump


def test_custom_scaling_of_the_v2_base() -> None:
    spec = parse_variant("w=1.1,d=1.2,r=260,family=v2")
    assert spec.family == "v2" and spec.stages == parse_variant("v2-b2").stages
    assert measure(spec).totals.params == PARAMS["v2-b2"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("v2-q", "unknown variant 'v2-q'"), ("v2-b9", "unknown variant 'v2-b9'"),
     ("phi=2,family=v2", "no φ"), ("w=1,d=1,r=224,family=v3", "unknown family 'v3'")],
)  # fmt: skip
def test_bad_v2_specs(text: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_variant(text)
    assert fragment in str(info.value)
    assert_one_line_error(run("summary", text), 2, fragment)


def test_v2_checkpoint_on_a_v1_spec_is_one_line(tmp_path) -> None:
    path = tmp_path / "v2.pth"
    torch.save(build_model("v2-b0").state_dict(), path)
    with pytest.raises(WeightsError, match="does not fit EfficientNet-B0"):
        load_weights(build_model("b0"), path)
    torch.save(build_model("b0").state_dict(), path)
    with pytest.raises(WeightsError, match="does not fit EfficientNetV2-B0"):
        load_weights(build_model("v2-b0"), path)


def test_commands_work_across_families() -> None:
    out = run("compare", "b4", "v2-s")
    assert out.exit_code == 0, out.stderr
    assert "v2-s" in out.stdout and "b4" in out.stdout
    rows = run("compare", "b0", "v2-b0").stdout.splitlines()
    head = next(r for r in rows if r.strip().startswith("head") and "ch" in r)
    assert head.count("1280ch") == 2 and "*" not in head  # heads side by side, not stage 8
    summary = run("summary", "v2-s", "--blocks")
    assert "Fused-MBConv4, k3x3" in summary.stdout and "MBConv6, k3x3, SE0.25" in summary.stdout
    memory = json.loads(
        run("memory", "v2-s", "-b", "2", "-r", "64", "--train", "-f", "json").stdout
    )
    assert memory["peak_bytes"] > 0


def test_list_has_a_v2_section_without_unread_figures() -> None:
    doc = json.loads(run("list", "-f", "json").stdout)
    v2 = {r["variant"]: r for r in doc["variants"] if r["family"] == "v2"}
    assert list(v2) == list(PARAMS)
    assert {v: r["totals"]["params"] for v, r in v2.items()} == PARAMS
    assert all(r["paper"] is None for r in v2.values())  # effnet carries no V2 paper figures
    table = run("list").stdout
    assert "EfficientNetV2" in table and "carries no figures from the EfficientNetV2" in table


def test_v2_summary_shows_table4_and_the_training_size() -> None:
    out = run("summary", "v2-s").stdout
    assert "Table 4 for EfficientNetV2-S" in out and "trained at 300px" in out
    doc = json.loads(run("summary", "v2-s", "-f", "json").stdout)
    assert doc["family"] == "v2" and doc["train_resolution"] == 300
    assert [s["kind"] for s in doc["stages"]][:3] == ["conv", "fused", "fused"]


def test_scale_says_v2_has_no_phi() -> None:
    assert_one_line_error(run("scale", "--phi", "2", "--family", "v2"), 2, "no φ", "family=v2")
    assert_one_line_error(run("scale", "--phi", "2", "--family", "v9"), 2, "'v9'")
