"""The parametrised layers every block is made of, and the factory that makes them.

Layer names follow torchvision's (``Conv2dNormActivation`` → ``ConvBNAct`` keeps its
``0``/``1``/``2`` children, squeeze-excitation keeps ``fc1``/``fc2``) so state_dict keys match.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


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
    activation: str = "silu"
    """The family's activation: 'silu', 'relu' or 'relu6' (``families.ACTIVATIONS``)."""

    def conv(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
             bias: bool = False) -> Conv2d:  # fmt: skip
        pad = (kernel - 1) // 2
        return Conv2d(in_ch, out_ch, kernel, stride, pad, groups=groups, bias=bias,
                      device=self.device)  # fmt: skip

    def bn(self, channels: int) -> BatchNorm2d:
        return BatchNorm2d(channels, self.bn_eps, self.bn_momentum, device=self.device)

    def linear(self, in_features: int, out_features: int) -> Linear:
        return Linear(in_features, out_features, device=self.device)

    def act(self) -> nn.Module:
        """The family's activation, in place as torchvision and timm run it."""
        return ACTIVATION_LAYERS[self.activation](inplace=True)


ACTIVATION_LAYERS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU, "relu": nn.ReLU, "relu6": nn.ReLU6
}  # fmt: skip
"""The layer of each of ``families.ACTIVATIONS`` (a test checks they agree)."""


class ConvBNAct(nn.Sequential):
    """conv (no bias) → batch-norm → optional activation (the family's), as torchvision's
    Conv2dNormActivation."""

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
            layers.append(make.act())
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
        # new_empty rather than torch.empty: the memory engine's shape probe answers it
        noise = x.new_empty(shape).bernoulli_(survival)
        return x * noise.div_(survival)

    def extra_repr(self) -> str:
        return f"p={self.p}"
