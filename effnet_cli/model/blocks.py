"""The blocks a stage repeats, one class per block kind of the family data.

Each block reports its own kernel, stride, expansion and squeeze-excitation width as plain
attributes, so measurements and tables read them without indexing into its children.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn

from ..arch.families import FUSED, MBCONV
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
        self.use_res_connect = cfg.stride == 1 and cfg.in_channels == cfg.out_channels

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
        expanded = cfg.in_channels * cfg.expand_ratio
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
        expanded = cfg.in_channels * cfg.expand_ratio
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


BLOCKS: dict[BlockKind, type[Block]] = {MBCONV: MBConv, FUSED: FusedMBConv}
"""Block class for each block kind a family's stage rows may name."""
