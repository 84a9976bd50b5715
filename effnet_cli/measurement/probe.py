"""The fast FLOP engine: run the real module's own ``forward`` on a shape-only stand-in tensor.

``ShapeProbe`` takes the place of the input tensor. Every torch function the forward pass
calls on it (conv2d, batch_norm, silu, linear, ...) is intercepted through
``__torch_function__`` before it reaches any kernel, so the engine allocates no activations,
does no arithmetic and never touches the meta-device kernels (whose first batch-norm call
imports torch._dynamo, ~1-2 s). Shapes come from the modules' real weights (meta or not)
and their real hyper-parameters, so a wrong channel count fails here as it would in torch.

An op the engine has no rule for raises ``UnsupportedOp`` rather than being skipped: a
silent zero would be a wrong measurement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class UnsupportedOp(RuntimeError):
    """The forward pass called a torch function the shape engine has no rule for."""


@dataclass
class OpRecord:
    """One intercepted op: where it ran, what it was, and what it costs."""

    module: str
    kind: str
    macs: int
    elements: int


@dataclass
class Trace:
    """Everything one probe forward pass observed."""

    ops: list[OpRecord] = field(default_factory=list)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    leaf_output_elements: dict[str, int] = field(default_factory=dict)
    output_shape: tuple[int, ...] = ()


class ShapeProbe:
    """A tensor stand-in that carries only a shape and reports every op applied to it."""

    __slots__ = ("shape", "tracer")

    def __init__(self, shape: Sequence[int], tracer: _Tracer) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.tracer = tracer

    def dim(self) -> int:
        return len(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return math.prod(self.shape)

    def _binary(self, other: Any, kind: str) -> ShapeProbe:
        shape = _broadcast(self.shape, tuple(getattr(other, "shape", ())))
        return self.tracer.emit(kind, 0, shape)

    def __mul__(self, other: Any) -> ShapeProbe:
        return self._binary(other, "multiply")

    __rmul__ = __mul__

    def __add__(self, other: Any) -> ShapeProbe:
        return self._binary(other, "add")

    __radd__ = __add__
    __iadd__ = __add__

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        rule = _RULES.get(func)
        if rule is None:
            name = getattr(func, "__name__", repr(func))
            raise UnsupportedOp(f"the fast engine has no rule for torch op '{name}'")
        probe = next(a for a in args if isinstance(a, ShapeProbe))
        return rule(probe.tracer, *args, **(kwargs or {}))


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes (torch.broadcast_shapes would import torch._refs)."""
    width = max(len(a), len(b))
    a, b = (1,) * (width - len(a)) + a, (1,) * (width - len(b)) + b
    out = []
    for x, y in zip(a, b, strict=True):
        if x != y and 1 not in (x, y):
            raise UnsupportedOp(f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _conv2d(
    t: _Tracer,
    x: ShapeProbe,
    weight: torch.Tensor,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> ShapeProbe:
    n, c, h, w = x.shape
    out_ch, per_group, kh, kw = weight.shape
    if c != per_group * groups:
        raise UnsupportedOp(f"conv2d expects {per_group * groups} input channels, got {c}")
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise UnsupportedOp(f"input {h}x{w} is too small for this network")
    macs = n * out_ch * ho * wo * per_group * kh * kw
    return t.emit("conv", macs, (n, out_ch, ho, wo))


def _linear(t: _Tracer, x: ShapeProbe, weight: torch.Tensor, bias: Any = None) -> ShapeProbe:
    out_features, in_features = weight.shape
    if x.shape[-1] != in_features:
        raise UnsupportedOp(f"linear expects {in_features} features, got {x.shape[-1]}")
    rows = math.prod(x.shape[:-1])
    return t.emit("linear", rows * in_features * out_features, (*x.shape[:-1], out_features))


def _batch_norm(t: _Tracer, x: ShapeProbe, running_mean: Any, *args: Any, **kw: Any) -> ShapeProbe:
    if running_mean is not None and running_mean.shape[0] != x.shape[1]:
        raise UnsupportedOp(
            f"batch_norm expects {running_mean.shape[0]} channels, got {x.shape[1]}"
        )
    return t.emit("batch_norm", 0, x.shape)


def _activation(t: _Tracer, x: ShapeProbe, *args: Any, **kw: Any) -> ShapeProbe:
    return t.emit("activation", 0, x.shape)


def _pool(t: _Tracer, x: ShapeProbe, output_size: Any, *args: Any, **kw: Any) -> Any:
    oh, ow = _pair(output_size)
    out = t.emit("pooling", 0, (*x.shape[:2], oh, ow), elements=x.numel())
    return (out, out) if kw.get("return_indices") else out


def _dropout(t: _Tracer, x: ShapeProbe, p: float = 0.5, training: bool = True, *a: Any, **k: Any):
    if training and p > 0:
        raise UnsupportedOp("the fast engine measures inference: put the model in eval()")
    return x


def _flatten(t: _Tracer, x: ShapeProbe, start_dim: int = 0, end_dim: int = -1) -> ShapeProbe:
    end = end_dim % len(x.shape)
    shape = (*x.shape[:start_dim], math.prod(x.shape[start_dim : end + 1]), *x.shape[end + 1 :])
    return ShapeProbe(shape, t)


_RULES: dict[Callable[..., Any], Callable[..., Any]] = {
    F.conv2d: _conv2d,
    F.linear: _linear,
    F.batch_norm: _batch_norm,
    F.silu: _activation,
    F.relu: _activation,
    torch.sigmoid: _activation,
    F.adaptive_avg_pool2d: _pool,
    F.adaptive_max_pool2d: _pool,
    F.dropout: _dropout,
    torch.flatten: _flatten,
}


class _Tracer:
    """Keeps the stack of modules being run so each op is charged to its innermost module."""

    def __init__(self, model: nn.Module) -> None:
        self.names = {id(m): name for name, m in model.named_modules()}
        self.leaves = {id(m) for m in model.modules() if not any(True for _ in m.children())}
        self.stack: list[str] = []
        self.trace = Trace()

    def emit(self, kind: str, macs: int, shape: Sequence[int], elements: int | None = None):
        out = ShapeProbe(shape, self)
        count = out.numel() if elements is None else elements
        module = self.stack[-1] if self.stack else ""
        self.trace.ops.append(OpRecord(module, kind, macs, count))
        return out

    def pre(self, module: nn.Module, args: tuple) -> None:
        self.stack.append(self.names.get(id(module), "?"))

    def post(self, module: nn.Module, args: tuple, output: Any) -> None:
        name = self.stack.pop()
        if isinstance(output, ShapeProbe) and args and isinstance(args[0], ShapeProbe):
            self.trace.shapes[name] = (args[0].shape, output.shape)
            if id(module) in self.leaves:
                self.trace.leaf_output_elements[name] = output.numel()


def probe_forward(model: nn.Module, input_shape: Sequence[int]) -> Trace:
    """Run ``model.forward`` on a ShapeProbe of ``input_shape`` and return what it saw."""
    if model.training:
        raise UnsupportedOp("the fast engine measures inference: put the model in eval()")
    tracer = _Tracer(model)
    register = nn.modules.module
    handles = [
        register.register_module_forward_pre_hook(tracer.pre),
        register.register_module_forward_hook(tracer.post),
    ]
    try:
        out = model(ShapeProbe(input_shape, tracer))
    finally:
        for handle in handles:
            handle.remove()
    tracer.trace.output_shape = out.shape
    return tracer.trace
