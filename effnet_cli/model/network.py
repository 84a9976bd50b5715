"""The EfficientNet nn.Module, built only from a ResolvedSpec.

Module names, state_dict keys and tensor shapes are those of torchvision's
``efficientnet_bN`` so a torchvision checkpoint loads with ``strict=True``; the module
tree is built from the same ``StageSpec`` rows the tables print, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..arch.specs import SE_RATIO, STOCHASTIC_DEPTH_PROB, ResolvedSpec, StageSpec, parse_variant
from ..errors import UsageError
from ..files import WeightsError, check_checkpoint_path

POOLINGS = ("avg", "max")


class Conv2d(nn.Conv2d):
    """nn.Conv2d that skips initialisation on the meta device, where there is nothing to fill.

    On meta, torch's default init still dispatches every ``uniform_`` through its Python
    decompositions: about half of the time it takes to build B7 there. Everywhere else this
    is exactly nn.Conv2d (torchvision's init is applied afterwards by EfficientNet).
    """

    def reset_parameters(self) -> None:
        if not self.weight.is_meta:
            super().reset_parameters()


class BatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d that skips initialisation on the meta device (see Conv2d)."""

    def reset_parameters(self) -> None:
        if not self.weight.is_meta:
            super().reset_parameters()


class Linear(nn.Linear):
    """nn.Linear that skips initialisation on the meta device (see Conv2d)."""

    def reset_parameters(self) -> None:
        if not self.weight.is_meta:
            super().reset_parameters()


@dataclass(frozen=True)
class Layers:
    """Makes every parametrised layer of one model: its device and batch-norm settings."""

    device: torch.device
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1

    def conv(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
             bias: bool = False) -> Conv2d:  # fmt: skip
        pad = (kernel - 1) // 2
        return Conv2d(in_ch, out_ch, kernel, stride, pad, groups=groups, bias=bias,
                      device=self.device)  # fmt: skip

    def bn(self, channels: int) -> BatchNorm2d:
        return BatchNorm2d(channels, self.bn_eps, self.bn_momentum, device=self.device)

    def linear(self, in_features: int, out_features: int) -> Linear:
        return Linear(in_features, out_features, device=self.device)


class ConvBNAct(nn.Sequential):
    """conv (no bias) → batch-norm → optional SiLU, as torchvision's Conv2dNormActivation."""

    def __init__(
        self,
        make: Layers,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
    ) -> None:
        layers: list[nn.Module] = [
            make.conv(in_ch, out_ch, kernel, stride, groups),
            make.bn(out_ch),
        ]
        if act:
            layers.append(nn.SiLU(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Channel attention: global pool → 1×1 reduce → SiLU → 1×1 expand → sigmoid gate."""

    def __init__(self, make: Layers, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = make.conv(channels, squeeze, 1, bias=True)
        self.fc2 = make.conv(squeeze, channels, 1, bias=True)
        self.activation = nn.SiLU(inplace=True)
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class StochasticDepth(nn.Module):
    """Drops the whole residual branch per sample while training (row mode); identity in eval."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * noise.div_(survival)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation; residual when shapes allow."""

    def __init__(
        self, make: Layers, in_ch: int, out_ch: int, row: StageSpec, stride: int, sd_prob: float
    ) -> None:
        super().__init__()
        expanded = in_ch * row.expand_ratio
        layers: list[nn.Module] = []
        if expanded != in_ch:
            layers.append(ConvBNAct(make, in_ch, expanded, 1))
        layers.append(ConvBNAct(make, expanded, expanded, row.kernel, stride, groups=expanded))
        layers.append(SqueezeExcitation(make, expanded, max(1, int(in_ch * SE_RATIO))))
        layers.append(ConvBNAct(make, expanded, out_ch, 1, act=False))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob)
        self.use_res_connect = stride == 1 and in_ch == out_ch

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out)
            out += x
        return out


class EfficientNet(nn.Module):
    """Stem, seven MBConv stages and head under ``features``; then pooling and classifier."""

    def __init__(
        self,
        spec: ResolvedSpec,
        num_classes: int = 1000,
        include_top: bool = True,
        pooling: str = "avg",
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        make = Layers(torch.device(device or "cpu"), spec.bn_eps, spec.bn_momentum)
        stem, *mbconv, head = spec.stages
        features: list[nn.Module] = [ConvBNAct(make, 3, stem.out_channels, 3, 2)]
        total = sum(row.layers for row in mbconv)
        done = 0
        for row in mbconv:
            blocks = []
            for i in range(row.layers):
                in_ch = row.in_channels if i == 0 else row.out_channels
                stride = row.stride if i == 0 else 1
                sd = STOCHASTIC_DEPTH_PROB * done / total
                blocks.append(MBConv(make, in_ch, row.out_channels, row, stride, sd))
                done += 1
            features.append(nn.Sequential(*blocks))
        features.append(ConvBNAct(make, head.in_channels, head.out_channels, 1))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1) if pooling == "avg" else nn.AdaptiveMaxPool2d(1)
        self.include_top = include_top
        if include_top:
            self.classifier = nn.Sequential(
                nn.Dropout(p=spec.coefficients.dropout, inplace=True),
                make.linear(head.out_channels, num_classes),
            )
        if make.device.type != "meta":
            self._init_weights()

    def _init_weights(self) -> None:
        """torchvision's initialisation, so untrained models behave like its own."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / m.out_features**0.5
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        x = torch.flatten(x, 1)
        if self.include_top:
            x = self.classifier(x)
        return x


def build_model(
    spec: ResolvedSpec | str,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str = "avg",
    device: str | torch.device | None = None,
) -> EfficientNet:
    """Build the model for a spec (or spec text) on ``device``; 'meta' allocates no weights."""
    if isinstance(spec, str):
        spec = parse_variant(spec)
    if pooling not in POOLINGS:
        raise UsageError(f"pooling must be one of {', '.join(POOLINGS)}, got '{pooling}'")
    if num_classes < 1:
        raise UsageError(f"num_classes must be >= 1, got {num_classes}")
    return EfficientNet(spec, num_classes, include_top, pooling, device).eval()


def _state_dict_from(obj: object, path: Path) -> dict[str, Tensor]:
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: not a state_dict (expected a dict of tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _mismatch(model: nn.Module, state: dict[str, Tensor], path: Path) -> str | None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    if not (missing or extra or shapes):
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s), e.g. {missing[0]}")
    if extra:
        parts.append(f"{len(extra)} unexpected key(s), e.g. {extra[0]}")
    if shapes:
        k = shapes[0]
        parts.append(
            f"{len(shapes)} shape mismatch(es), e.g. {k}: "
            f"file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        )
    return f"{path}: checkpoint does not fit {model.spec.title}: " + "; ".join(parts)


def load_weights(model: EfficientNet, path: str | Path) -> EfficientNet:
    """Load a user's checkpoint strictly; any mismatch is one WeightsError naming what differs."""
    path = check_checkpoint_path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise WeightsError(_unreadable(path, exc)) from None
    state = _state_dict_from(obj, path)
    problem = _mismatch(model, state, path)
    if problem:
        raise WeightsError(problem)
    model.load_state_dict(state, strict=True)
    return model


def _unreadable(path: Path, exc: Exception) -> str:
    with open(path, "rb") as handle:
        magic = handle.read(4)
    # torch.save writes a zip archive (PK..) or, in its legacy format, a pickle (0x80 ..).
    if not (magic.startswith(b"PK") or magic.startswith(b"\x80")):
        return f"{path}: not a PyTorch checkpoint (no torch.save header)"
    if "Weights only load failed" in str(exc):
        return (
            f"{path}: holds pickled Python objects (e.g. a whole model), which are not loaded "
            "for safety; save model.state_dict() instead"
        )
    return f"{path}: not a PyTorch checkpoint torch.load can read ({type(exc).__name__})"
