"""The blocks a stage repeats, one class per block kind of the family data.

MBConv serves every inverted residual (EfficientNet's, Lite's and MobileNetV2's, with or
without squeeze-excitation, under the family's activation); Fused-MBConv also EdgeTPU's
fused expansion; the bottleneck is ResNet's and the separable conv MobileNetV1's.

Each block reports its own kernel, stride, expansion and squeeze-excitation width as plain
attributes, so measurements and tables read them without indexing into its children.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from ..arch.families import BOTTLENECK, FUSED, MBCONV, SEPARABLE
from ..kinds import BlockKind
from .layers import ConvBNAct, Layers, SqueezeExcitation, StochasticDepth


@dataclass(frozen=True)
class BlockConfig:
    """What one block is: the stage row's settings plus this block's place in the network."""

    in_channels: int
    out_channels: int
    expand_ratio: int
    kernel: int
    stride: int
    se_ratio: float
    stochastic_depth: float
    expand_from: int = 0
    """Channels the expansion is computed from when not ``in_channels`` (EdgeTPU's first
    block); 0: ``in_channels``."""
    skip: bool = True
    """Whether the block may add its residual at all (MobileNetV1 never does)."""

    @property
    def expanded(self) -> int:
        """The width of the block's middle: its expansion times its input (or expand_from)."""
        return (self.expand_from or self.in_channels) * self.expand_ratio


class Block(nn.Module):
    """Common ground of every block kind: what it reports, the residual and stochastic depth."""

    kind: ClassVar[BlockKind]
    """What the block is built from (the family data's stage rows name it)."""

    def __init__(self, cfg: BlockConfig, expanded: int, se_channels: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels = cfg.in_channels, cfg.out_channels
        self.kernel, self.stride, self.expand_ratio = cfg.kernel, cfg.stride, cfg.expand_ratio
        self.expanded_channels = expanded
        self.se_channels = se_channels
        self.stochastic_depth = StochasticDepth(cfg.stochastic_depth)
        self.use_res_connect = cfg.skip and cfg.stride == 1 and cfg.in_channels == cfg.out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out)
            out += x
        return out


def _se_channels(cfg: BlockConfig) -> int:
    """Squeeze width from the block's input channels (torchvision), or 0 without SE."""
    return max(1, int(cfg.in_channels * cfg.se_ratio)) if cfg.se_ratio > 0 else 0


class MBConv(Block):
    """Mobile inverted bottleneck: 1×1 expand, k×k depthwise, squeeze-excitation, 1×1 project."""

    kind = MBCONV

    def __init__(self, make: Layers, cfg: BlockConfig) -> None:
        expanded = cfg.expanded
        super().__init__(cfg, expanded, _se_channels(cfg))
        layers: list[nn.Module] = []
        if expanded != cfg.in_channels:
            layers.append(ConvBNAct(make, cfg.in_channels, expanded, 1))
        layers.append(ConvBNAct(make, expanded, expanded, cfg.kernel, cfg.stride, groups=expanded))
        if self.se_channels:
            layers.append(SqueezeExcitation(make, expanded, self.se_channels))
        layers.append(ConvBNAct(make, expanded, cfg.out_channels, 1, act=False))
        self.block = nn.Sequential(*layers)


class FusedMBConv(Block):
    """EfficientNetV2's early block: one full k×k conv in place of expand + depthwise, no
    squeeze-excitation. With expansion 1 it is a single k×k conv-bn-act; otherwise the k×k
    conv expands and a 1×1 conv-bn projects (torchvision's layout)."""

    kind = FUSED

    def __init__(self, make: Layers, cfg: BlockConfig) -> None:
        expanded = cfg.expanded
        super().__init__(cfg, expanded, 0)
        k, s = cfg.kernel, cfg.stride
        if expanded == cfg.in_channels:
            layers: list[nn.Module] = [ConvBNAct(make, cfg.in_channels, cfg.out_channels, k, s)]
        else:
            layers = [
                ConvBNAct(make, cfg.in_channels, expanded, k, s),
                ConvBNAct(make, expanded, cfg.out_channels, 1, act=False),
            ]
        self.block = nn.Sequential(*layers)


class Bottleneck(Block):
    """ResNet's bottleneck as torchvision builds it (v1.5): 1×1 reduce to ``out /
    expand_ratio``, 3×3 (the stride sits here), 1×1 expand, each with batch-norm; the input
    is added back, through a strided 1×1 conv-bn when the shape changes, and the activation
    follows the sum. Children are named as torchvision's, in its order."""

    kind = BOTTLENECK

    def __init__(self, make: Layers, cfg: BlockConfig) -> None:
        mid = cfg.out_channels // cfg.expand_ratio
        super().__init__(cfg, mid, 0)
        self.use_res_connect = True  # always: through the projection when the shape changes
        self.conv1 = make.conv(cfg.in_channels, mid, 1)
        self.bn1 = make.bn(mid)
        self.conv2 = make.conv(mid, mid, cfg.kernel, cfg.stride)
        self.bn2 = make.bn(mid)
        self.conv3 = make.conv(mid, cfg.out_channels, 1)
        self.bn3 = make.bn(cfg.out_channels)
        self.relu = make.act()
        self.downsample: nn.Module | None = None
        if cfg.stride != 1 or cfg.in_channels != cfg.out_channels:
            self.downsample = nn.Sequential(
                make.conv(cfg.in_channels, cfg.out_channels, 1, cfg.stride),
                make.bn(cfg.out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.stochastic_depth(self.bn3(self.conv3(out)))
        out += identity
        return self.relu(out)


class Separable(Block):
    """MobileNetV1's depthwise-separable conv: k×k depthwise conv-bn-act, then 1×1 pointwise
    conv-bn-act; its stage rows switch the residual off."""

    kind = SEPARABLE

    def __init__(self, make: Layers, cfg: BlockConfig) -> None:
        super().__init__(cfg, cfg.in_channels, 0)
        self.block = nn.Sequential(
            ConvBNAct(make, cfg.in_channels, cfg.in_channels, cfg.kernel, cfg.stride,
                      groups=cfg.in_channels),
            ConvBNAct(make, cfg.in_channels, cfg.out_channels, 1),
        )  # fmt: skip


BLOCKS: dict[BlockKind, type[Block]] = {
    MBCONV: MBConv, FUSED: FusedMBConv, BOTTLENECK: Bottleneck, SEPARABLE: Separable
}  # fmt: skip
"""Block class for each block kind a family's stage rows may name."""
