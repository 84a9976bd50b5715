"""Measurement: what each stage and block of a real EfficientNet holds and costs.

Collect → total: ``measure`` builds (or takes) the model, runs one engine over it and
gathers per-stage and per-block figures into dataclasses. Nothing here prints.

Engines
- ``fast``: the module's own forward on a shape-only probe (see ``probe.py``); no weights
  need exist (meta device), no arithmetic is done.
- ``fvcore``: fvcore's ``FlopCountAnalysis`` on real tensors on the chosen device.
Both report ``macs``: multiply-accumulates of conv and linear layers, the paper's "FLOPS".
Element-wise work is counted apart, one op per output element (pooling: per input element).
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..arch.specs import Coefficients, Compound, ResolvedSpec, check_resolution, parse_variant
from ..devices import available_bytes, check_available
from ..errors import RuntimeFailure, UsageError
from ..model.network import EfficientNet, build_model, load_weights
from .probe import Trace, probe_forward

ENGINES = ("auto", "fast", "fvcore")
MAC_KINDS = ("conv", "linear")
ELEMENTWISE_KINDS = ("batch_norm", "activation", "multiply", "add", "pooling")


@dataclass
class StageFigures:
    """One row of the scaled Table 1, measured."""

    stage: int
    operator: str
    kernel: int
    stride: int
    expand_ratio: int
    input_resolution: list[int]
    output_resolution: list[int]
    in_channels: int
    out_channels: int
    layers: int
    params: int
    macs: int
    params_share: float = 0.0
    macs_share: float = 0.0
    activation_bytes: int = 0
    elementwise_ops: dict[str, int] = field(default_factory=dict)


@dataclass
class BlockFigures:
    """One MBConv layer: its widths, where it sits, and what it costs."""

    stage: int
    block: int
    name: str
    kernel: int
    stride: int
    in_channels: int
    expanded_channels: int
    se_channels: int
    out_channels: int
    input_resolution: list[int]
    output_resolution: list[int]
    residual: bool
    stochastic_depth: float
    params: int
    macs: int


@dataclass
class Totals:
    """Whole-model figures; ``macs`` is conv + linear only (the paper's FLOPS)."""

    params: int
    trainable_params: int
    param_bytes: int
    buffer_bytes: int
    macs: int
    activation_bytes: int
    elementwise_ops: dict[str, int]
    engine_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class LayerRow:
    """One module of torchinfo's per-layer summary, with its dotted name."""

    name: str
    type: str
    depth: int
    output_shape: list[int]
    params: int
    mult_adds: int


@dataclass
class Summary:
    """Everything ``effnet summary`` shows, for one model at one input size."""

    variant: str
    title: str
    kind: str
    coefficients: Coefficients
    compound: Compound | None
    input: dict[str, int]
    num_classes: int
    include_top: bool
    pooling: str
    weights: str | None
    device: str
    engine: str
    dtype: str
    bn_eps: float
    bn_momentum: float
    stages: list[StageFigures]
    blocks: list[BlockFigures]
    totals: Totals
    output_shape: list[int]
    seconds: dict[str, float] = field(default_factory=dict)
    benchmark: Any = None
    """A ``bench.BenchResult`` when the summary was taken on a real device."""
    layers: list[LayerRow] | None = None
    """torchinfo's per-layer view, when asked for (``--layers``)."""


# ----------------------------------------------------------------------------- helpers


def stage_of(module_name: str) -> int:
    """Table-1 stage (1-9) a module belongs to: features.i is stage i+1; the rest is stage 9."""
    head, _, rest = module_name.partition(".")
    if head == "features" and rest:
        return int(rest.split(".", 1)[0]) + 1
    return 9


def _block_of(module_name: str) -> str | None:
    parts = module_name.split(".")
    if len(parts) >= 3 and parts[0] == "features" and 1 <= int(parts[1]) <= 7:
        return ".".join(parts[:3])
    return None


def _hw(shape: tuple[int, ...]) -> list[int]:
    return [int(shape[2]), int(shape[3])] if len(shape) == 4 else [1, 1]


def _params_under(params: list[tuple[str, torch.Tensor]], key: Callable[[str], Any]) -> Counter:
    counts: Counter = Counter()
    for name, p in params:
        counts[key(name)] += p.numel()
    return counts


# ----------------------------------------------------------------------------- engines


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


def _macs_by(trace: Trace, key) -> Counter:
    counts: Counter = Counter()
    for op in trace.ops:
        if op.kind in MAC_KINDS:
            counts[key(op.module)] += op.macs
    return counts


def _fvcore_stage_macs(counts: dict[str, Counter]) -> Counter:
    """Conv + linear MACs per stage from fvcore's per-module table (top-level modules only)."""
    stage_macs: Counter = Counter()
    for name in ["features." + str(i) for i in range(9)] + ["avgpool", "classifier"]:
        ops = counts.get(name, Counter())
        stage_macs[stage_of(name)] += sum(ops.get(kind, 0) for kind in MAC_KINDS)
    return stage_macs


# ----------------------------------------------------------------------------- collect


def _stage_rows(
    spec: ResolvedSpec,
    model: EfficientNet,
    named: list[tuple[str, torch.Tensor]],
    trace: Trace,
    stage_macs: Counter,
) -> list[StageFigures]:
    params = _params_under(named, stage_of)
    elem = named[0][1].element_size()
    activation: Counter = Counter()
    for name, count in trace.leaf_output_elements.items():
        activation[stage_of(name)] += count * elem
    elementwise: dict[int, Counter] = {i: Counter() for i in range(1, 10)}
    for op in trace.ops:
        if op.kind in ELEMENTWISE_KINDS:
            elementwise[stage_of(op.module)][op.kind] += op.elements
    rows = []
    for row in spec.stages:
        first = trace.shapes[f"features.{row.stage - 1}"]
        last_name = "avgpool" if row.stage == 9 else f"features.{row.stage - 1}"
        last = trace.shapes[last_name]
        layers = len(model.features[row.stage - 1]) if 2 <= row.stage <= 8 else 1
        rows.append(
            StageFigures(
                stage=row.stage,
                operator=row.operator if model.include_top else row.operator.replace(" & FC", ""),
                kernel=row.kernel,
                stride=row.stride,
                expand_ratio=row.expand_ratio,
                input_resolution=_hw(first[0]),
                output_resolution=_hw(last[1]),
                in_channels=int(first[0][1]),
                out_channels=int(trace.shapes[f"features.{row.stage - 1}"][1][1]),
                layers=layers,
                params=params[row.stage],
                macs=stage_macs[row.stage],
                activation_bytes=activation[row.stage],
                elementwise_ops={k: elementwise[row.stage][k] for k in ELEMENTWISE_KINDS},
            )
        )
    return rows


def _block_rows(
    model: EfficientNet, named: list[tuple[str, torch.Tensor]], trace: Trace, block_macs: Counter
) -> list[BlockFigures]:
    params = _params_under(named, lambda n: _block_of(n) or "")
    rows = []
    for s in range(1, 8):
        for j, block in enumerate(model.features[s]):
            name = f"features.{s}.{j}"
            dw_conv = block.block[-3][0]
            se = block.block[-2]
            shape_in, shape_out = trace.shapes[name]
            rows.append(
                BlockFigures(
                    stage=s + 1,
                    block=j,
                    name=name,
                    kernel=dw_conv.kernel_size[0],
                    stride=dw_conv.stride[0],
                    in_channels=int(shape_in[1]),
                    expanded_channels=dw_conv.out_channels,
                    se_channels=se.fc1.out_channels,
                    out_channels=int(shape_out[1]),
                    input_resolution=_hw(shape_in),
                    output_resolution=_hw(shape_out),
                    residual=block.use_res_connect,
                    stochastic_depth=block.stochastic_depth.p,
                    params=params[name],
                    macs=block_macs[name],
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


def torchinfo_layers(model: nn.Module, shape: tuple, depth: int) -> list[LayerRow]:
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


def _count(
    engine: str, model: nn.Module, shape: tuple, trace: Trace
) -> tuple[Counter, Counter, Counter]:
    """Conv + linear MACs per stage and per block from the chosen engine, and fvcore's own
    whole-model counts when it is the engine."""
    if engine == "fast":
        return _macs_by(trace, stage_of), _macs_by(trace, lambda n: _block_of(n) or ""), Counter()
    with torch.no_grad():
        counts = fvcore_counts(model, shape)
    block_macs = Counter(
        {n: sum(c.get(k, 0) for k in MAC_KINDS) for n, c in counts.items() if _block_of(n) == n}
    )
    return _fvcore_stage_macs(counts), block_macs, counts.get("", Counter())


def _choose_engine(engine: str, device: str) -> str:
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}' (accepted: {', '.join(ENGINES)})")
    if engine == "auto":
        return "fast" if device == "meta" else "fvcore"
    if engine == "fvcore" and device == "meta":
        raise UsageError("engine 'fvcore' needs real tensors: use --device cpu (or cuda)")
    return engine


def inference_bytes(model: nn.Module, trace: Trace) -> int:
    """Rough peak memory of one no-grad forward: weights and buffers plus the three largest
    layer outputs alive at once (input, output and a residual). The sum of all outputs
    (``activation_bytes``) would be what training keeps, far above what inference needs."""
    elem = next(model.parameters()).element_size()
    weights = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    largest = sorted(trace.leaf_output_elements.values(), reverse=True)[:3]
    return weights + sum(largest) * elem


def training_bytes(model: nn.Module, trace: Trace) -> int:
    """Rough peak of one training step: weights, their gradients, and every layer output
    kept for the backward pass."""
    elem = next(model.parameters()).element_size()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return 2 * params + sum(trace.leaf_output_elements.values()) * elem


def check_fits(
    spec: ResolvedSpec, device: str, shape: tuple[int, ...], training: bool = False, **build: Any
) -> None:
    """Refuse (exit 1) before allocating a model that cannot fit on ``device``.

    The estimate comes from the same model built on meta and probed: nothing is allocated.
    """
    free = available_bytes(device)
    if free is None:
        return
    shadow = build_model(spec, device="meta", **build)
    trace = probe_forward(shadow, shape)
    need = training_bytes(shadow, trace) if training else inference_bytes(shadow, trace)
    if need > free:
        gib = 1 << 30
        raise RuntimeFailure(
            f"{spec.title} at {shape[2]}px, batch {shape[0]} needs about {need / gib:.1f} GiB "
            f"on {device}, which has {free / gib:.1f} GiB free; use --device meta, a smaller "
            "--resolution or --batch-size"
        )


def input_shape(spec: ResolvedSpec, resolution: int | None, batch_size: int) -> tuple:
    """(N, 3, H, W) for a measurement: the variant's own resolution unless one is given."""
    res = (
        check_resolution(resolution, "--resolution") if resolution else spec.coefficients.resolution
    )
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    return (batch_size, 3, res, res)


def _prepare(
    spec: ResolvedSpec, device: str, shape: tuple, weights: str | Path | None, build: dict
) -> EfficientNet:
    """Build on ``device`` (after checking it exists and the model fits), load weights."""
    if weights is not None and device == "meta":
        raise UsageError("--weights needs a real device to load into: use --device cpu")
    check_available(device)
    if device != "meta":
        check_fits(spec, device, shape, **build)
    model = build_model(spec, device=device, **build)
    if weights is not None:
        load_weights(model, weights)
    return model


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
) -> Summary:
    """Build (or take) a model and measure it stage by stage and block by block; with
    ``layers_depth``, add torchinfo's per-layer view to that depth."""
    clock = {"start": time.perf_counter()}
    if isinstance(spec, EfficientNet):
        model = spec
        device = str(next(model.parameters()).device)
        shape = input_shape(model.spec, resolution, batch_size)
    else:
        spec = parse_variant(spec) if isinstance(spec, str) else spec
        shape = input_shape(spec, resolution, batch_size)
        build = {"num_classes": num_classes, "include_top": include_top, "pooling": pooling}
        model = _prepare(spec, device, shape, weights, build)
    model.eval()
    engine = _choose_engine(engine, device)
    spec = model.spec
    clock["built"] = time.perf_counter()
    trace = probe_forward(model, shape)
    clock["probed"] = time.perf_counter()
    stage_macs, block_macs, engine_counts = _count(engine, model, shape, trace)
    clock["counted"] = time.perf_counter()
    named = list(model.named_parameters())
    stages = _stage_rows(spec, model, named, trace, stage_macs)
    totals = _totals(model, named, stages, engine_counts)
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
        weights=str(weights) if weights is not None else None,
        device=device,
        engine=engine,
        dtype=str(named[0][1].dtype).removeprefix("torch."),
        bn_eps=spec.bn_eps,
        bn_momentum=spec.bn_momentum,
        stages=stages,
        blocks=_block_rows(model, named, trace, block_macs),
        totals=totals,
        output_shape=list(trace.output_shape),
        layers=layers,
        seconds={
            "build": clock["built"] - clock["start"],
            "probe": clock["probed"] - clock["built"],
            "count": clock["counted"] - clock["probed"],
        },
    )
