"""The two outside engines: fvcore's op counts and torchinfo's per-layer view.

Both need real modules (fvcore real tensors too); both are imported only when asked for.
"""

from __future__ import annotations

import warnings
from collections import Counter

import torch
from torch import nn

from ...reports import LayerRow
from ..trace.probe import Shape


def fvcore_counts(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Counter]:
    """Per-module op counts from fvcore on a real random input on the model's device."""
    # fvcore's JIT tracing triggers torch.jit deprecation notices: noise on the user's stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis

        device = next(model.parameters()).device
        x = torch.randn(*input_shape, device=device)
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        return dict(analysis.by_module_and_operator())


def torchinfo_layers(model: nn.Module, shape: Shape, depth: int) -> list[LayerRow]:
    """torchinfo's per-layer summary down to ``depth``, on the model's own device.

    A module's mult-adds are torchinfo's (params × output positions, biases and batch-norm
    included) summed over the leaf layers inside it.
    """
    from torchinfo import summary

    device = next(model.parameters()).device
    stats = summary(model, input_size=shape, device=device, depth=depth, verbose=0)
    infos = stats.summary_list
    rows, path = [], []
    for i, info in enumerate(infos):
        path[info.depth - 1 :] = [str(info.var_name)] if info.depth else []
        if not 1 <= info.depth <= depth:
            continue
        inside = [info]
        for later in infos[i + 1 :]:
            if later.depth <= info.depth:
                break
            inside.append(later)
        mult_adds = sum(x.macs for x in inside if x.is_leaf_layer)
        params = max(info.num_params, 0)
        rows.append(LayerRow(".".join(path), info.class_name, info.depth,
                             list(info.output_size), params, mult_adds))  # fmt: skip
    return rows
