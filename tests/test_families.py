"""The families beyond EfficientNet (Lite, EdgeTPU, ResNet, MobileNetV1/V2) from their data:
the reference counts, timm's and torchvision's block structure, torchvision's checkpoints,
and the memory engine's exactness on every new block kind."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import FIXTURES, REFERENCE, assert_one_line_error, run

from effnet_cli import build_model, measure
from effnet_cli.arch.families import ACTIVATIONS, FAMILIES
from effnet_cli.arch.specs import SpecError, parse_variant
from effnet_cli.measurement.trace.simulate import predict
from effnet_cli.measurement.trace.tracker import measure_step
from effnet_cli.model.checkpoints import WeightsError, load_weights
from effnet_cli.model.layers import ACTIVATION_LAYERS

PARAMS = {"lite0": 4_652_008, "lite1": 5_416_680, "lite2": 6_092_072, "lite3": 8_197_096,
          "lite4": 13_006_568, "edgetpu-s": 5_438_392, "edgetpu-m": 6_899_496,
          "edgetpu-l": 10_589_712, "resnet50": 25_557_032, "resnet101": 44_549_160,
          "resnet152": 60_192_808, "mobilenetv1": 4_231_976, "mobilenetv2": 3_504_872}  # fmt: skip
"""The design's reference counts at 1000 classes (timm and torchvision agree)."""
RESOLUTION = {"lite0": 224, "lite1": 240, "lite2": 260, "lite3": 280, "lite4": 300,
              "edgetpu-s": 224, "edgetpu-m": 240, "edgetpu-l": 300}  # fmt: skip
ACTIVATION_CLASSES = {"silu": "SiLU", "relu": "ReLU", "relu6": "ReLU6"}
LOGITS = ("resnet50", "resnet152", "mobilenetv2")


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((FIXTURES / "families_reference.json").read_text())


@pytest.mark.parametrize("variant", list(PARAMS))
def test_params_and_macs_equal_the_reference_implementation(variant: str) -> None:
    """Params equal the design's count; MACs equal FlopCounterMode on timm's or
    torchvision's model (tests/fixtures/reference_macs.json), at the family's resolution."""
    s = measure(variant)
    ref = REFERENCE["variants"][variant]
    assert s.totals.params == PARAMS[variant] == ref["params"]
    assert (s.totals.macs, s.input["resolution"]) == (ref["macs"], ref["resolution"])
    assert s.input["resolution"] == RESOLUTION.get(variant, 224)


def _block(b) -> dict:
    return {"in": b.in_channels, "mid": b.expanded_channels, "out": b.out_channels,
            "kernel": b.kernel, "stride": b.stride, "skip": b.residual,
            "se": b.se_channels}  # fmt: skip


@pytest.mark.parametrize("variant", list(PARAMS))
def test_blocks_are_the_reference_implementations(variant: str, reference: dict) -> None:
    """Stage by stage, block for block: channels in, middle and out, kernel, stride,
    residual and SE width as timm or torchvision builds them; stem, head and activation."""
    ref = reference["variants"][variant]
    s = measure(variant)
    stages = [[b for b in s.blocks if b.stage == row.stage] for row in s.stages[1:-1]]
    assert [len(blocks) for blocks in stages] == [st["blocks"] for st in ref["stages"]]
    keys = ("in", "mid", "out", "kernel", "stride", "skip", "se")
    for blocks, st in zip(stages, ref["stages"], strict=True):
        assert _block(blocks[0]) == {k: st["first"][k] for k in keys}
        for b in blocks[1:]:
            assert _block(b) == {k: st["rest"][k] for k in keys}
    stem = s.stages[0]
    assert (stem.out_channels, stem.kernel, stem.stride) == (
        ref["stem"]["out"], ref["stem"]["kernel"], ref["stem"]["stride"])  # fmt: skip
    assert ("MaxPool" in stem.operator) == bool(ref["stem"].get("maxpool"))
    head = s.stages[-1]
    assert head.out_channels == ref["num_features"]
    assert (head.kernel > 0) == (ref["head"] is not None)
    family = FAMILIES[parse_variant(variant).family]
    assert [ACTIVATION_CLASSES[family.activation]] == ref["activations"]


def test_every_activation_has_a_layer() -> None:
    assert set(ACTIVATION_LAYERS) == set(ACTIVATIONS)
    assert {f.activation for f in FAMILIES.values()} <= set(ACTIVATIONS)


@pytest.mark.parametrize(
    ("text", "name"),
    [("efficientnet_lite0", "lite0"), ("tf_efficientnet_lite3", "lite3"), ("LITE4", "lite4"),
     ("efficientnet_es", "edgetpu-s"), ("efficientnet-edgetpu-m", "edgetpu-m"),
     ("efficientnet_el", "edgetpu-l"), ("resnet-50", "resnet50"), ("ResNet152", "resnet152"),
     ("mobilenet_v1", "mobilenetv1"), ("mobilenetv1_100", "mobilenetv1"),
     ("mobilenet_v2", "mobilenetv2"), ("mobilenetv2_100", "mobilenetv2")],
)  # fmt: skip
def test_timm_and_torchvision_names(text: str, name: str) -> None:
    assert parse_variant(text).name == name


def test_family_takes_a_base_network_by_name() -> None:
    spec = parse_variant("w=2,d=1,r=224,family=resnet50")
    assert spec.family == "resnet" and spec.stages[1].out_channels == 512
    assert parse_variant("w=1,d=1,r=224,family=resnet").stages == parse_variant("resnet50").stages
    with pytest.raises(SpecError, match=r"family=resnet101 is not a base network; .* resnet50"):
        parse_variant("w=1,d=1,r=224,family=resnet101")


def _protocol_state(entries: list) -> dict[str, torch.Tensor]:
    """The fixture's weights, drawn in torchvision's key order (see its "protocol")."""
    g = torch.Generator().manual_seed(0)
    state = {}
    for key, shape, dtype in entries:
        leaf = key.rpartition(".")[2]
        if leaf == "num_batches_tracked":
            state[key] = torch.zeros(shape, dtype=getattr(torch, dtype.removeprefix("torch.")))
        elif len(shape) >= 2:
            state[key] = torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
        elif leaf == "weight":
            state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        elif leaf in ("bias", "running_mean"):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        else:
            assert leaf == "running_var", key
            state[key] = 0.5 + torch.rand(shape, generator=g)
    return state


@pytest.mark.parametrize("variant", LOGITS)
def test_torchvision_checkpoint_loads_with_equal_logits(variant, reference, tmp_path) -> None:
    """A state_dict in torchvision's own layout (layer1.0.conv1…, flat features.i.conv…)
    loads strictly, tensor for tensor, and gives torchvision's logits."""
    ref = reference["variants"][variant]
    path = tmp_path / f"{variant}.pth"
    torch.save(_protocol_state(ref["state_dict"]), path)
    model = load_weights(build_model(variant), path).eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
    expected = torch.tensor(ref["protocol_logits"]["logits"])
    scale = expected.abs().max().item()
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5 * scale)


def test_foreign_layout_with_a_wrong_shape_is_refused(reference, tmp_path) -> None:
    entries = reference["variants"]["mobilenetv2"]["state_dict"]
    state = _protocol_state(entries)
    key = next(k for k in state if k.endswith("conv.1.weight"))
    state[key] = state[key][:, :-1]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match=r"does not fit MobileNetV2: .*missing key"):
        load_weights(build_model("mobilenetv2", device="meta"), tmp_path / "bad.pth")


MEMORY = [("resnet50", True, "sgd", None), ("resnet50", True, "adamw", "bfloat16"),
          ("resnet50", False, "sgd", None), ("lite0", True, "sgd", None),
          ("lite0", True, "adam", None), ("lite0", True, "sgd", "bfloat16"),
          ("mobilenetv1", True, "sgd", None), ("mobilenetv2", True, "sgd", None),
          ("edgetpu-s", True, "sgd", None), ("edgetpu-m", False, "sgd", None)]  # fmt: skip


@pytest.mark.parametrize(("variant", "train", "optimizer", "amp"), MEMORY)
def test_memory_prediction_equals_the_real_step(variant, train, optimizer, amp) -> None:
    """Bottleneck (max pool, ReLU after the sum), separable convs, ReLU6's saved copy, the
    fused expansion: the engine's peak equals the real step's live tensors, to the byte."""
    shape = (2, 3, 64, 64)
    predicted = predict(build_model(variant, device="meta"), shape, train, optimizer, amp=amp)
    torch.manual_seed(0)
    measured = measure_step(build_model(variant), torch.randn(shape), train, optimizer, amp)
    slack = 64 if amp else 0  # autocast's float32 bookkeeping, as in test_memory
    assert abs(predicted.peak_bytes - measured.peak_bytes) <= slack
    assert predicted.peak_at[0] == measured.peak_at[0]


# ----------------------------------------------------------------------------- scaling


@pytest.mark.parametrize("spec", list(REFERENCE["scaled"]))
def test_width_follows_the_reference_implementations_multiplier(spec: str) -> None:
    """w= on MobileNetV2 is torchvision's width_mult (the head grows, never shrinks), on
    MobileNetV1 timm's channel multiplier: params and MACs equal theirs."""
    ref = REFERENCE["scaled"][spec]
    t = measure(spec).totals
    assert (t.params, t.macs) == (ref["params"], ref["macs"])


def test_lite_scaling_keeps_stem_head_and_the_outer_stages() -> None:
    assert parse_variant("w=1.4,d=1.8,r=300,family=lite").stages == parse_variant("lite4").stages
    stages = parse_variant("w=2,d=3,r=224,family=lite0").stages
    assert (stages[0].out_channels, stages[-1].out_channels) == (32, 1280)
    assert (stages[1].layers, stages[-2].layers) == (1, 1) and stages[2].layers == 6


def test_phi_scales_any_base_and_names_it() -> None:
    spec = parse_variant("phi=2,family=resnet50")
    assert spec.name == "phi=2,family=resnet50" and spec.family == "resnet"
    assert [s.layers for s in spec.block_stages] == [5, 6, 9, 5]  # ⌈(3, 4, 6, 3)·1.44⌉
    assert parse_variant(spec.name).stages == spec.stages
    assert parse_variant("phi=0,family=mobilenetv2").stages == parse_variant("mobilenetv2").stages
    with pytest.raises(SpecError, match="EfficientNetV2 has no φ"):
        parse_variant("phi=1,family=v2")


def test_scale_base_derives_states_the_rule_and_measures() -> None:
    result = run("scale", "--phi", "2", "--base", "resnet50", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["family"] == "resnet" and doc["base"]["variant"] == "resnet50"
    assert doc["model"]["totals"]["params"] == measure("phi=2,family=resnet50").totals.params
    table = run("scale", "--phi", "2", "--base", "resnet50").stdout
    assert "no width multiplier" in table and "FLOPs ratio to resnet50" in table
    assert "ratio to B0" not in table and "×B0" not in table and "B0 →" not in table


@pytest.mark.parametrize(
    ("args", "fragments"),
    [(["--base", "resnet18"], ("unknown base 'resnet18'", "resnet50")),
     (["--base", "v2-b0"], ("no φ", "family=v2")),
     (["--base", "resnet101"], ("not a base network", "resnet50"))],
)  # fmt: skip
def test_scale_bad_base_is_one_line(args: list[str], fragments: tuple[str, ...]) -> None:
    assert_one_line_error(run("scale", "--phi", "1", *args), 2, *fragments)
