"""The EfficientNet nn.Module, built only from a ResolvedSpec.

Module names, state_dict keys and tensor shapes are those of torchvision's
``efficientnet_*`` so a torchvision checkpoint loads with ``strict=True``. The module tree
is built by walking the same stage rows the tables print (stem, stages of blocks, head),
so the two cannot drift.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..arch.specs import HEAD, STEM, ResolvedSpec, StageSpec, parse_variant
from ..choices import POOLINGS
from ..errors import UsageError
from .blocks import BLOCKS, BlockConfig
from .checkpoints import load_weights
from .layers import ConvBNAct, Layers

__all__ = ["EfficientNet", "build_model", "load_weights", "materialize"]


class EfficientNet(nn.Module):
    """``features`` (stem, one Sequential per stage of blocks, head), pooling, classifier."""

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
        make = Layers(torch.device(device or "cpu"), spec.bn_eps, spec.bn_momentum,
                      spec.family_data.activation)  # fmt: skip
        features = [self._stage(make, row, spec) for row in spec.stages]
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1) if pooling == "avg" else nn.AdaptiveMaxPool2d(1)
        self.include_top = include_top
        if include_top:
            self.classifier = nn.Sequential(
                nn.Dropout(p=spec.coefficients.dropout, inplace=True),
                make.linear(spec.stages[-1].out_channels, num_classes),
            )
        if make.device.type != "meta":
            self._init_weights()

    def _stage(self, make: Layers, row: StageSpec, spec: ResolvedSpec) -> nn.Module:
        """One entry of ``features``: the stem or head conv, or a stage's blocks."""
        if row.role == STEM and row.pool:
            conv = ConvBNAct(make, row.in_channels, row.out_channels, row.kernel, row.stride)
            return nn.Sequential(*conv, nn.MaxPool2d(row.pool, 2, (row.pool - 1) // 2))
        if row.role == HEAD and not row.kernel:
            return nn.Identity()  # no head conv: pooling and the classifier only
        if row.role in (STEM, HEAD):
            return ConvBNAct(make, row.in_channels, row.out_channels, row.kernel, row.stride)
        total = spec.blocks
        done = sum(r.layers for r in spec.block_stages if r.stage < row.stage)
        drop = spec.family_data.stochastic_depth
        blocks = []
        for i in range(row.layers):
            cfg = BlockConfig(
                in_channels=row.in_channels if i == 0 else row.out_channels,
                out_channels=row.out_channels,
                expand_ratio=row.expand_ratio,
                kernel=row.kernel,
                stride=row.stride if i == 0 else 1,
                se_ratio=row.se_ratio,
                stochastic_depth=drop * (done + i) / total,
                expand_from=row.expand_from if i == 0 else 0,
                skip=row.skip,
            )
            blocks.append(BLOCKS[row.kind](make, cfg))
        return nn.Sequential(*blocks)

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


def materialize(model: EfficientNet, device: str | torch.device) -> EfficientNet:
    """Give a model built on meta real storage on ``device``, initialised as ``build_model``
    would: each layer's own reset in construction order, then torchvision's init.

    The module tree is built once on meta (where the fit check probes it for free) and only
    then allocated, instead of building a second model for the device.
    """
    model.to_empty(device=device)
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
    model._init_weights()
    return model
