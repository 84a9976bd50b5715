"""Measurement: what each stage and block of a real EfficientNet holds and costs.

Collect → total: ``measure`` prepares the model (see ``prepare.py``), runs one engine over
it and gathers per-stage and per-block figures into the report dataclasses. Nothing here
prints.

Engines
- ``fast``: the module's own forward on a shape-only probe (see ``probe.py``); no weights
  need exist (meta device), no arithmetic is done.
- ``fvcore``: fvcore's ``FlopCountAnalysis`` on real tensors on the chosen device.
Both report ``macs``: multiply-accumulates of conv and linear layers, the paper's "FLOPS".
Element-wise work is counted apart, one op per output element (pooling: per input element).

Stages and blocks are found from module names by ``trace/stages.py``, in Table 1's
numbering (pooling and the classifier belong to the head).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...arch.specs import BLOCKS, HEAD, ResolvedSpec, parse_variant
from ...choices import DTYPE_BYTES, ENGINES
from ...errors import UsageError
from ...kinds import OpKind, SpecKind
from ...model import EfficientNet
from ...reports import ELEMENTWISE_KINDS, BlockFigures, StageFigures, Summary, Totals
from ...units import check_dtype
from ..trace.prepare import BuildOptions, Prepared, adopt, input_shape, prepare
from ..trace.probe import Trace
from ..trace.stages import StageMap, block_module, stage_module
from .engines import fvcore_counts, torchinfo_layers

MAC_KINDS = (OpKind.CONV, OpKind.LINEAR)


def _hw(shape: tuple[int, ...]) -> list[int]:
    return [int(shape[2]), int(shape[3])] if len(shape) == 4 else [1, 1]


def _params_under(params: list[tuple[str, torch.Tensor]], key: Callable[[str], Any]) -> Counter:
    counts: Counter = Counter()
    for name, p in params:
        counts[key(name)] += p.numel()
    return counts


def _macs_by(trace: Trace, key: Callable[[str], Any]) -> Counter:
    counts: Counter = Counter()
    for op in trace.ops:
        if op.kind in MAC_KINDS:
            counts[key(op.module)] += op.macs
    return counts


# ----------------------------------------------------------------------------- collect


def _stage_rows(
    p: Prepared, where: StageMap, named: list[tuple[str, torch.Tensor]], stage_macs: Counter
) -> list[StageFigures]:
    trace, model = p.trace, p.model
    params = _params_under(named, where.stage_of)
    elem = named[0][1].element_size()
    activation: Counter = Counter()
    for name, count in trace.leaf_output_elements.items():
        activation[where.stage_of(name)] += count * elem
    elementwise: dict[int, Counter] = {row.stage: Counter() for row in p.spec.stages}
    for op in trace.ops:
        if op.kind in ELEMENTWISE_KINDS:
            elementwise[where.stage_of(op.module)][op.kind] += op.elements
    rows = []
    for row in p.spec.stages:
        first = trace.shapes[stage_module(row.stage)]
        last = trace.shapes[where.last_module(row.stage)]
        operator = row.operator
        if row.role == HEAD and not model.include_top:
            operator = operator.replace(" & FC", "")
        rows.append(
            StageFigures(
                stage=row.stage,
                operator=operator,
                kernel=row.kernel,
                stride=row.stride,
                expand_ratio=row.expand_ratio,
                input_resolution=_hw(first[0]),
                output_resolution=_hw(last[1]),
                in_channels=int(first[0][1]),
                out_channels=int(first[1][1]),
                layers=len(model.features[row.stage - 1]) if row.role == BLOCKS else 1,
                params=params[row.stage],
                macs=stage_macs[row.stage],
                activation_bytes=activation[row.stage],
                elementwise_ops={k: elementwise[row.stage][k] for k in ELEMENTWISE_KINDS},
                kind=row.kind,
            )
        )
    return rows


def _block_rows(
    p: Prepared, where: StageMap, named: list[tuple[str, torch.Tensor]], block_macs: Counter
) -> list[BlockFigures]:
    params = _params_under(named, where.block_of)
    rows = []
    for row in p.spec.block_stages:
        for j, block in enumerate(p.model.features[row.stage - 1]):
            name = block_module(row.stage, j)
            shape_in, shape_out = p.trace.shapes[name]
            rows.append(
                BlockFigures(
                    stage=row.stage,
                    block=j,
                    name=name,
                    kernel=block.kernel,
                    stride=block.stride,
                    in_channels=int(shape_in[1]),
                    expanded_channels=block.expanded_channels,
                    se_channels=block.se_channels,
                    out_channels=int(shape_out[1]),
                    input_resolution=_hw(shape_in),
                    output_resolution=_hw(shape_out),
                    residual=block.use_res_connect,
                    stochastic_depth=block.stochastic_depth.p,
                    params=params[name],
                    macs=block_macs[name],
                    kind=block.kind,
                )
            )
    return rows


def _totals(
    model: nn.Module,
    named: list[tuple[str, torch.Tensor]],
    stages: list[StageFigures],
    engine_counts: Counter,
) -> Totals:
    params = sum(p.numel() for _, p in named)
    macs = sum(s.macs for s in stages)
    for s in stages:
        s.params_share = s.params / params if params else 0.0
        s.macs_share = s.macs / macs if macs else 0.0
    elementwise: Counter = Counter()
    for s in stages:
        elementwise.update(s.elementwise_ops)
    return Totals(
        params=params,
        trainable_params=sum(p.numel() for _, p in named if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for _, p in named),
        buffer_bytes=sum(b.numel() * b.element_size() for b in model.buffers()),
        macs=macs,
        activation_bytes=sum(s.activation_bytes for s in stages),
        elementwise_ops={k: elementwise[k] for k in ELEMENTWISE_KINDS},
        engine_counts=dict(engine_counts),
    )


def _count(engine: str, p: Prepared, where: StageMap) -> tuple[Counter, Counter, Counter]:
    """Conv + linear MACs per stage and per block from the chosen engine, and fvcore's own
    whole-model counts when it is the engine."""
    if engine == "fast":
        return _macs_by(p.trace, where.stage_of), _macs_by(p.trace, where.block_of), Counter()
    with torch.no_grad():
        counts = fvcore_counts(p.model, p.shape)
    block_macs: Counter = Counter()
    for name, ops in counts.items():
        if where.block_of(name) == name:
            block_macs[name] = sum(ops.get(kind, 0) for kind in MAC_KINDS)
    stage_macs: Counter = Counter()
    for name in where.top_level():  # top-level modules only: their counts include children
        ops = counts.get(name, Counter())
        stage_macs[where.stage_of(name)] += sum(ops.get(kind, 0) for kind in MAC_KINDS)
    return stage_macs, block_macs, counts.get("", Counter())


def _choose_engine(engine: str, device: str) -> str:
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}' (accepted: {', '.join(ENGINES)})")
    if engine == "auto":
        return "fast" if device == "meta" else "fvcore"
    if engine == "fvcore" and device == "meta":
        raise UsageError("engine 'fvcore' needs real tensors: use --device cpu (or cuda)")
    return engine


def _train_resolution(spec: ResolvedSpec) -> int | None:
    if spec.kind != SpecKind.OFFICIAL:
        return None
    train = spec.family_data.variants[spec.name].train_resolution
    return train if train != spec.coefficients.resolution else None


def measure_prepared(
    p: Prepared, engine: str = "auto", layers_depth: int | None = None, dtype: str = "float32"
) -> Summary:
    """Count a prepared model stage by stage and block by block; with ``layers_depth``, add
    torchinfo's per-layer view to that depth; weight bytes are for storage as ``dtype``."""
    model, spec, shape = p.model, p.spec, p.shape
    model.eval()
    engine = _choose_engine(engine, p.device)
    where = StageMap(spec)
    start = time.perf_counter()
    stage_macs, block_macs, engine_counts = _count(engine, p, where)
    counted = time.perf_counter() - start
    named = list(model.named_parameters())
    stages = _stage_rows(p, where, named, stage_macs)
    totals = _totals(model, named, stages, engine_counts)
    totals.weight_dtype = check_dtype(dtype)
    totals.weight_bytes = totals.params * DTYPE_BYTES[dtype]
    totals.inference_peak_bytes = p.inference_peak
    layers = torchinfo_layers(model, shape, layers_depth) if layers_depth else None
    return Summary(
        variant=spec.name,
        title=spec.title,
        kind=spec.kind,
        coefficients=spec.coefficients,
        compound=spec.compound,
        input={"batch_size": shape[0], "resolution": shape[2]},
        num_classes=model.classifier[1].out_features if model.include_top else 0,
        include_top=model.include_top,
        pooling="max" if isinstance(model.avgpool, nn.AdaptiveMaxPool2d) else "avg",
        weights=p.weights,
        device=p.device,
        engine=engine,
        dtype=str(named[0][1].dtype).removeprefix("torch."),
        bn_eps=spec.bn_eps,
        bn_momentum=spec.bn_momentum,
        stages=stages,
        blocks=_block_rows(p, where, named, block_macs),
        totals=totals,
        output_shape=list(p.trace.output_shape),
        family=spec.family,
        train_resolution=_train_resolution(spec),
        layers=layers,
        seconds={**p.seconds, "count": counted},
    )


def measure(
    spec: ResolvedSpec | str | EfficientNet,
    *,
    resolution: int | None = None,
    batch_size: int = 1,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str = "avg",
    device: str = "meta",
    engine: str = "auto",
    weights: str | Path | None = None,
    layers_depth: int | None = None,
    dtype: str = "float32",
    peak: bool = True,
) -> Summary:
    """Build (or take) a model and measure it stage by stage and block by block; with
    ``layers_depth``, add torchinfo's per-layer view to that depth; ``peak=False`` leaves
    the inference peak out (0) where nothing shows it."""
    if isinstance(spec, EfficientNet):
        p = adopt(spec, input_shape(spec.spec, resolution, batch_size))
    else:
        spec = parse_variant(spec) if isinstance(spec, str) else spec
        shape = input_shape(spec, resolution, batch_size)
        build = BuildOptions(num_classes, include_top, pooling)
        p = prepare(spec, device, shape, build, weights, peak=peak)
    return measure_prepared(p, engine, layers_depth, dtype)
