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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...kinds import OpKind


class UnsupportedOp(RuntimeError):
    """The forward pass called a torch function the shape engine has no rule for."""


@dataclass
class OpRecord:
    """One intercepted op: where it ran, what it was, and what it costs."""

    module: str
    kind: OpKind
    macs: int
    elements: int
    read_bytes: int = 0
    """Bytes of the activations the op reads (its tensor inputs)."""
    weight_bytes: int = 0
    """Bytes of the parameters it reads (weights, biases, batch-norm affine terms)."""
    write_bytes: int = 0
    """Bytes of the output it writes (in place or not)."""
    flavor: str = ""
    """What kind of conv: 'depthwise', 'se' (on a 1×1 pooled map) or 'dense'; for an
    activation or a pooling, its function ('silu', 'relu6', 'max_pool2d'...): onnxruntime
    fuses some activations into the conv before them and not others (``timing/fusion.py``)."""

    @property
    def bytes_moved(self) -> int:
        return self.read_bytes + self.weight_bytes + self.write_bytes


Shape = tuple[int, int, int, int]
"""An input batch's shape: (batch, channels, height, width)."""


@dataclass
class Trace:
    """Everything one probe forward pass observed."""

    ops: list[OpRecord] = field(default_factory=list)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    leaf_output_elements: dict[str, int] = field(default_factory=dict)
    output_shape: tuple[int, ...] = ()


class ShapeProbe:
    """A tensor stand-in that carries only a shape and reports every op applied to it.

    ``storage`` and ``requires_grad`` are filled only by the memory engine, which follows
    the probes' real Python lifetimes to know when a tensor would be freed.
    """

    __slots__ = ("__weakref__", "elem", "requires_grad", "shape", "storage", "tracer", "vid")

    def __init__(self, shape: Sequence[int], tracer: _Tracer) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.tracer = tracer
        self.storage: Any = None
        self.requires_grad = False
        self.vid = 0
        self.elem = 4

    def dim(self) -> int:
        return len(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return math.prod(self.shape)

    def _binary(self, other: Any, kind: OpKind, inplace: bool = False) -> ShapeProbe:
        shape = _broadcast(self.shape, tuple(getattr(other, "shape", ())))
        inputs = (self, other) if isinstance(other, ShapeProbe) else (self,)
        return self.tracer.emit(kind, 0, shape, inputs=inputs, inplace=self if inplace else None)

    def __mul__(self, other: Any) -> ShapeProbe:
        return self._binary(other, OpKind.MULTIPLY)

    __rmul__ = __mul__

    def __add__(self, other: Any) -> ShapeProbe:
        return self._binary(other, OpKind.ADD)

    __radd__ = __add__

    def __iadd__(self, other: Any) -> ShapeProbe:
        return self._binary(other, OpKind.ADD, inplace=True)

    def new_empty(self, shape: Sequence[int], **kw: Any) -> ShapeProbe:
        """A fresh tensor of another shape (stochastic depth's per-sample noise)."""
        return self.tracer.emit(OpKind.NEW, 0, shape, elements=0, inputs=())

    def bernoulli_(self, *args: Any, **kw: Any) -> ShapeProbe:
        return self

    def div_(self, *args: Any, **kw: Any) -> ShapeProbe:
        return self

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
    flavor = "depthwise" if groups > 1 and per_group == 1 else "se" if h * w == 1 else "dense"
    return t.emit(OpKind.CONV, macs, (n, out_ch, ho, wo), inputs=(x,), params=(weight, bias),
                  flavor=flavor)  # fmt: skip


def _linear(t: _Tracer, x: ShapeProbe, weight: torch.Tensor, bias: Any = None) -> ShapeProbe:
    out_features, in_features = weight.shape
    if x.shape[-1] != in_features:
        raise UnsupportedOp(f"linear expects {in_features} features, got {x.shape[-1]}")
    rows = math.prod(x.shape[:-1])
    shape = (*x.shape[:-1], out_features)
    return t.emit(OpKind.LINEAR, rows * in_features * out_features, shape, inputs=(x,),
                  params=(weight, bias))  # fmt: skip


def _batch_norm(
    t: _Tracer,
    x: ShapeProbe,
    running_mean: Any,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    *args: Any,
    **kw: Any,
) -> ShapeProbe:
    if running_mean is not None and running_mean.shape[0] != x.shape[1]:
        raise UnsupportedOp(
            f"batch_norm expects {running_mean.shape[0]} channels, got {x.shape[1]}"
        )
    return t.emit(
        OpKind.BATCH_NORM, 0, x.shape, inputs=(x,), params=(weight, bias), training=training
    )


def _activation_rule(name: str) -> Callable[..., ShapeProbe]:
    def rule(t: _Tracer, x: ShapeProbe, *args: Any, inplace: bool = False, **kw: Any) -> ShapeProbe:
        inplace = inplace or bool(args and args[0] is True)
        return t.emit(OpKind.ACTIVATION, 0, x.shape, inputs=(x,), inplace=x if inplace else None,
                      function=name)  # fmt: skip

    return rule


def _pool_rule(name: str) -> Callable[..., Any]:
    def rule(t: _Tracer, x: ShapeProbe, output_size: Any, *args: Any, **kw: Any) -> Any:
        oh, ow = _pair(output_size)
        shape = (*x.shape[:2], oh, ow)
        out = t.emit(OpKind.POOLING, 0, shape, elements=x.numel(), inputs=(x,), function=name)
        return (out, out) if kw.get("return_indices") else out

    return rule


def _hardtanh(
    t: _Tracer, x: ShapeProbe, min_val: float = -1.0, max_val: float = 1.0,
    inplace: bool = False,
) -> ShapeProbe:  # fmt: skip
    """Hardtanh, which is how nn.ReLU6 runs (clamped to [0, 6])."""
    name = "relu6" if (min_val, max_val) == (0.0, 6.0) else "hardtanh"
    return t.emit(OpKind.ACTIVATION, 0, x.shape, inputs=(x,), inplace=x if inplace else None,
                  function=name)  # fmt: skip


def _max_pool2d(
    t: _Tracer, x: ShapeProbe, kernel_size: Any, stride: Any = None, padding: Any = 0,
    dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False,
) -> Any:  # fmt: skip
    """A k×k max pool (ResNet's stem): torch's output size, one op per input element."""
    n, c, h, w = x.shape
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(stride if stride not in (None, ()) else kernel_size)
    size = []
    for length, k, s, p, d in ((h, kh, sh, ph, dh), (w, kw, sw, pw, dw)):
        span = length + 2 * p - d * (k - 1) - 1
        out = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (out - 1) * s >= length + p:
            out -= 1
        size.append(out)
    if min(size) < 1:
        raise UnsupportedOp(f"input {h}x{w} is too small for this network")
    out = t.emit(OpKind.POOLING, 0, (n, c, *size), elements=x.numel(), inputs=(x,),
                 function="maxpool")  # fmt: skip
    return (out, out) if return_indices else out


def _dropout(
    t: _Tracer, x: ShapeProbe, p: float = 0.5, training: bool = True, inplace: bool = False
) -> ShapeProbe:
    if not (training and p > 0):
        return x
    if not t.training:
        raise UnsupportedOp("the fast engine measures inference: put the model in eval()")
    return t.emit(
        OpKind.DROPOUT, 0, x.shape, elements=0, inputs=(x,), inplace=x if inplace else None
    )


def _flatten(t: _Tracer, x: ShapeProbe, start_dim: int = 0, end_dim: int = -1) -> ShapeProbe:
    end = end_dim % len(x.shape)
    shape = (*x.shape[:start_dim], math.prod(x.shape[start_dim : end + 1]), *x.shape[end + 1 :])
    return t.view(x, shape)


def _cross_entropy(t: _Tracer, logits: ShapeProbe, target: Any, *args: Any, **kw: Any):
    """The loss of a training step: log-softmax over classes, then the mean NLL (a scalar)."""
    return t.emit(OpKind.LOSS, 0, (), elements=logits.numel(), inputs=(logits,))


_RULES: dict[Callable[..., Any], Callable[..., Any]] = {
    F.conv2d: _conv2d,
    F.linear: _linear,
    F.batch_norm: _batch_norm,
    F.silu: _activation_rule("silu"),
    F.relu: _activation_rule("relu"),
    F.hardtanh: _hardtanh,
    torch.sigmoid: _activation_rule("sigmoid"),
    F.adaptive_avg_pool2d: _pool_rule("avg"),
    F.adaptive_max_pool2d: _pool_rule("max"),
    F.max_pool2d: _max_pool2d,
    F.dropout: _dropout,
    torch.flatten: _flatten,
    F.cross_entropy: _cross_entropy,
}


class _Tracer:
    """Keeps the stack of modules being run so each op is charged to its innermost module."""

    def __init__(self, model: nn.Module) -> None:
        self.names = {id(m): name for name, m in model.named_modules()}
        self.leaves = {id(m) for m in model.modules() if not any(True for _ in m.children())}
        self.stack: list[str] = []
        self.trace = Trace()

    training = False
    """Whether ops run as in a training step (the memory engine's); MACs are always counted."""

    def emit(
        self,
        kind: OpKind,
        macs: int,
        shape: Sequence[int],
        elements: int | None = None,
        inputs: tuple[ShapeProbe, ...] = (),
        inplace: ShapeProbe | None = None,
        **info: Any,
    ) -> ShapeProbe:
        """Record one op and return its output; ``inputs``, ``inplace`` (the probe whose
        storage an in-place op reuses) and ``info`` matter only to the memory engine."""
        out = ShapeProbe(shape, self)
        count = out.numel() if elements is None else elements
        module = self.stack[-1] if self.stack else ""
        if kind != OpKind.NEW:
            flavor = info.get("flavor", info.get("function", ""))
            record = OpRecord(module, kind, macs, count, flavor=flavor)
            _traffic(record, inputs, info.get("params", ()), out)
            self.trace.ops.append(record)
        return out

    def view(self, x: ShapeProbe, shape: Sequence[int]) -> ShapeProbe:
        """A view of ``x`` with another shape: no op, no new memory."""
        return ShapeProbe(shape, self)

    def pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self.stack.append(self.names.get(id(module), "?"))

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        name = self.stack.pop()
        if isinstance(output, ShapeProbe) and args and isinstance(args[0], ShapeProbe):
            self.trace.shapes[name] = (args[0].shape, output.shape)
            if id(module) in self.leaves:
                self.trace.leaf_output_elements[name] = output.numel()


def _traffic(
    record: OpRecord, inputs: tuple[Any, ...], params: tuple[Any, ...], out: ShapeProbe
) -> None:
    """An op's memory traffic: every input and parameter read once, the output written once
    (the roofline's convention; caches may do better, never worse)."""
    record.read_bytes = sum(x.numel() * x.elem for x in inputs if isinstance(x, ShapeProbe))
    record.weight_bytes = sum(p.numel() * p.element_size() for p in params if p is not None)
    record.write_bytes = out.numel() * (inputs[0].elem if inputs else out.elem)


@contextmanager
def hooked(tracer: _Tracer) -> Iterator[_Tracer]:
    """Module hooks that keep ``tracer``'s stack of running modules, for one forward."""
    register = nn.modules.module
    handles = [
        register.register_module_forward_pre_hook(tracer.pre),
        register.register_module_forward_hook(tracer.post),
    ]
    try:
        yield tracer
    finally:
        for handle in handles:
            handle.remove()


def probe_forward(model: nn.Module, input_shape: Sequence[int]) -> Trace:
    """Run ``model.forward`` on a ShapeProbe of ``input_shape`` and return what it saw."""
    if model.training:
        raise UnsupportedOp("the fast engine measures inference: put the model in eval()")
    with hooked(_Tracer(model)) as tracer:
        out = model(ShapeProbe(input_shape, tracer))
    tracer.trace.output_shape = out.shape
    return tracer.trace
