"""The nn.Module: torchvision-identical layout, real forward, checkpoint loading."""

from __future__ import annotations

import pytest
import torch
from conftest import PARAMS, TORCHVISION
from torch import nn

from effnet_cli import build_model
from effnet_cli.model.checkpoints import WeightsError, load_weights


def _layout(model: nn.Module) -> list[list]:
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


@pytest.mark.parametrize("variant", TORCHVISION)
def test_state_dict_identical_to_torchvision(variant: str, torchvision_reference: dict) -> None:
    ref = torchvision_reference[variant]
    model = build_model(variant, device="meta")
    assert _layout(model) == ref["state_dict"]
    bn = model.features[0][1]
    assert (bn.eps, bn.momentum) == (ref["bn_eps"], ref["bn_momentum"])
    assert model.classifier[0].p == ref["dropout"]
    drops = [m.stochastic_depth.p for m in model.modules() if hasattr(m, "stochastic_depth")]
    assert drops == pytest.approx(ref["stochastic_depth"], abs=1e-12)


@pytest.mark.parametrize("variant", list(PARAMS))
def test_parameter_counts(variant: str) -> None:
    model = build_model(variant, device="meta")
    assert sum(p.numel() for p in model.parameters()) == PARAMS[variant]
    assert all(p.is_meta for p in model.parameters())


@pytest.mark.parametrize("variant", ["b0", "b5"])
def test_same_logits_as_torchvision(variant: str, torchvision_logits: dict) -> None:
    """Same seed, same init order: our module reproduces torchvision's weights and logits."""
    torch.manual_seed(0)
    model = build_model(variant)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
    expected = torch.tensor(torchvision_logits[variant])
    assert expected.abs().max() > 1e-4  # a meaningful comparison, not two near-zero tensors
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    ("pooling", "pool_type"), [("avg", nn.AdaptiveAvgPool2d), ("max", nn.AdaptiveMaxPool2d)]
)
def test_no_top_returns_pooled_features(pooling: str, pool_type: type) -> None:
    model = build_model("b0", include_top=False, pooling=pooling)
    assert isinstance(model.avgpool, pool_type)
    assert not any(k.startswith("classifier") for k in model.state_dict())
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1280)


def test_num_classes_and_training_forward() -> None:
    model = build_model("b0", num_classes=10).train()
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 10)
    assert model.features[0][0].weight.grad is not None


def test_checkpoint_roundtrip_and_wrappers(tmp_path) -> None:
    source = build_model("b0", num_classes=10)
    plain, wrapped = tmp_path / "plain.pth", tmp_path / "wrapped.pth"
    torch.save(source.state_dict(), plain)
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, wrapped)
    for path in (plain, wrapped):
        target = load_weights(build_model("b0", num_classes=10), path)
        for key, value in source.state_dict().items():
            assert torch.equal(target.state_dict()[key], value)


def test_checkpoint_of_another_architecture(tmp_path) -> None:
    path = tmp_path / "b1.pth"
    torch.save(build_model("b1").state_dict(), path)
    with pytest.raises(WeightsError, match=r"does not fit EfficientNet-B0: 148 unexpected key"):
        load_weights(build_model("b0"), path)
    torch.save(build_model("b0", num_classes=10).state_dict(), path)
    with pytest.raises(WeightsError, match=r"shape mismatch.*classifier\.1\.weight"):
        load_weights(build_model("b0"), path)


def test_checkpoint_missing_or_corrupt(tmp_path) -> None:
    with pytest.raises(WeightsError, match="no such checkpoint"):
        load_weights(build_model("b0"), tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsError, match="not a PyTorch checkpoint"):
        load_weights(build_model("b0"), bad)
    with pytest.raises(WeightsError, match="is a directory"):
        load_weights(build_model("b0"), tmp_path)
    torch.save(build_model("b0", device="meta"), bad)  # a whole pickled module
    with pytest.raises(WeightsError, match=r"pickled Python objects.*state_dict\(\)"):
        load_weights(build_model("b0"), bad)
    torch.save([1, 2, 3], bad)
    with pytest.raises(WeightsError, match="not a state_dict"):
        load_weights(build_model("b0"), bad)
