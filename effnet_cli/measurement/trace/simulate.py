"""The memory engine: the peak bytes of live tensor storages of inference or of a training
step, predicted from the model built on meta, with nothing allocated.

How it works
- The model's own forward runs on shape probes (``probe.py``). Each op's output gets a
  simulated storage whose lifetime is the probe's real Python lifetime: CPython drops a
  probe the moment its last reference goes, exactly when it would free the tensor, so the
  liveness of every intermediate is the real one, not a guess. In-place ops and views share
  their input's storage.
- In a training step each op also keeps what autograd keeps for its backward
  (``MemoryTracer._saves`` and ``_extra``: a convolution its input, batch-norm its input
  and per-channel statistics, an in-place SiLU or ReLU6 a copy of its input, ReLU and
  sigmoid their output, a max pool its input and int64 indices, a
  multiply the other operand, dropout its mask, the loss its log-probabilities), checked
  against the real step by the tests. The backward pass is then replayed node by node in
  reverse order of creation, as torch's engine runs this network: each node allocates its
  input gradients, temporaries and parameter gradients, then frees its output gradient and
  what it saved; gradients reaching one tensor from two consumers are summed into a new
  tensor.
- The optimizer step follows torch's default implementation for the device: on the CPU
  the for-loop one (Adam's per-parameter square root and division are its temporaries),
  on CUDA the foreach one (one square root per parameter, all at once).
- Under autocast (``amp``) convolutions and the linear layer run on half-precision copies
  of their float32 inputs, weights and biases (the weights cached until autocast exits),
  so activations take two bytes per element; see ``MemoryTracer``.
- Activation checkpointing (``checkpoint``, torch.utils.checkpoint non-reentrant): a
  checkpointed module's forward keeps only its input (a ``Segment``); in backward, at the
  segment's first saved tensor, its forward runs again on probes up to its last save
  (``recompute``), and what each op saves then dies with that op's backward.
Nothing here prints; the result is a ``MemoryPrediction``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import torch.nn.functional as F
from torch import nn

from ...kinds import OpKind
from .probe import ShapeProbe, Trace, _Tracer, hooked
from .stages import is_stage_module

if TYPE_CHECKING:  # a Protocol of ranks.py, which imports this module
    from .ranks import RankStep

END_OF_FORWARD = "<end of forward>"
STATE_PER_PARAM = {"sgd": 1, "adam": 2, "adamw": 2, "none": 0}
"""Optimizer state tensors per parameter (momentum; Adam's two moments): one entry for
each of ``choices.OPTIMIZERS`` (a test checks)."""
ELEMENT = 4  # float32 bytes
HALF = 2  # bfloat16 or float16 bytes, under autocast


class Ledger:
    """Bytes live now, by category, and a snapshot of the moment they peaked."""

    owner = 0
    """Who new storages belong to: a subclass (``phases.PhaseLedger``) numbers stages."""

    def __init__(self, base: dict[str, int]) -> None:
        self.by: Counter = Counter(base)
        self.current = sum(base.values())
        self.peak = self.current
        self.peak_by = dict(self.by)
        self.where = PeakAt("start", "", "")
        self.peak_at = self.where

    def alloc(self, nbytes: int, category: str) -> None:
        self.by[category] += nbytes
        self.current += nbytes
        if self.current > self.peak:
            self.peak, self.peak_by, self.peak_at = self.current, dict(self.by), self.where

    def free(self, nbytes: int, category: str, owner: int = 0) -> None:
        self.by[category] -= nbytes
        self.current -= nbytes


class Storage:
    """A simulated tensor storage: counted while anything references it."""

    __slots__ = ("category", "ledger", "nbytes", "owner")

    def __init__(self, ledger: Ledger, nbytes: int, category: str) -> None:
        self.ledger, self.nbytes, self.category = ledger, nbytes, category
        self.owner = ledger.owner
        ledger.alloc(nbytes, category)

    def __del__(self) -> None:
        self.ledger.free(self.nbytes, self.category, self.owner)


class NodeInput(NamedTuple):
    """One input of a recorded op: its value's id, its bytes, whether it needs a gradient."""

    value: int
    nbytes: int
    requires_grad: bool


class PeakAt(NamedTuple):
    """Where a step peaks: its phase, the module path and the op."""

    phase: str
    module: str
    op: str


@dataclass
class Node:
    """One op of the forward pass as autograd records it, for the backward replay."""

    kind: OpKind
    module: str
    out: int
    out_bytes: int
    inputs: list[NodeInput]
    params: list[int]
    """Bytes of each parameter that gets a gradient here."""
    saved: list[Storage]
    function: str = ""
    on_view: bool = False
    """An in-place op on a view: autograd's CopySlices wraps its backward (three copies)."""
    half_params: bool = False
    """Autocast ran the op on half copies of its parameters: their gradients come out in
    half precision and are copied to float32 (ToCopyBackward) after the node."""
    segment: Segment | None = None
    """The checkpointed segment whose forward kept nothing of this op (which saved
    something): its first unpack in backward recomputes the segment."""


@dataclass
class Segment:
    """One checkpointed module, as ``torch.utils.checkpoint`` (non-reentrant) holds it: its
    input (the only tensor its forward keeps), and which recorded nodes are its own.

    Only nodes that saved something hold it, as only autograd's packed tensors hold the
    checkpoint's frame: it dies, and the input with it, when the last of them is released.
    It holds no node, so no reference cycle delays a free."""

    module: nn.Module
    shape: tuple[int, ...]
    storage: Storage | None
    requires_grad: bool
    elem: int
    start: int
    """Index of the segment's first node in ``MemoryTracer.nodes``."""
    stop: int = 0
    """One past its last node that saved something: where the recompute stops (torch's
    early stop, raised at the last tensor the forward had packed)."""
    recomputed: bool = False


def _bytes(shape: Sequence[int], element: int = ELEMENT) -> int:
    size = element
    for s in shape:
        size *= int(s)
    return size


def _param_bytes(params: Sequence[Any]) -> list[int]:
    return [p.numel() * p.element_size() for p in params if p is not None and p.requires_grad]


class MemoryTracer(_Tracer):
    """The shape probe's tracer, also allocating simulated storages and, in training,
    recording autograd's nodes with what each keeps for backward.

    With ``half`` (autocast to bfloat16 or float16) convolutions and the linear layer run
    on 2-byte copies: an input still in float32 is cast (a new tensor), each weight and
    bias is cast once and cached until autocast exits, and everything downstream is
    2 bytes per element; batch-norm statistics and the loss stay float32.
    """

    def __init__(self, model: nn.Module, ledger: Ledger, training: bool, half: bool,
                 checkpoint: frozenset[str] = frozenset(), stop: int = 0) -> None:  # fmt: skip
        super().__init__(model)
        self.model = model
        self.ledger = ledger
        self.checkpoint = checkpoint if training else frozenset()
        """Modules run as checkpoint segments (no_grad inference keeps nothing anyway)."""
        self.segment: Segment | None = None
        self.stop = stop
        """Recomputing a segment: raise StopRecomputation once this many nodes exist."""
        self.training = training
        self.half = half
        self.nodes: list[Node] = []
        self.next_vid = 1
        self.phase = "forward"
        self.saved_by_stage: Counter = Counter()
        self.live_after: dict[str, int] = {}
        self.cast_cache: dict[int, Storage] = {}
        self._saved_ids: set[int] = set()
        self._views: set[int] = set()

    def value(self, probe: ShapeProbe, storage: Storage | None, requires_grad: bool,
              elem: int = ELEMENT) -> Any:  # fmt: skip
        probe.storage, probe.requires_grad, probe.elem = storage, requires_grad, elem
        probe.vid, self.next_vid = self.next_vid, self.next_vid + 1
        return probe

    def new_storage(self, nbytes: int) -> Storage:
        return Storage(self.ledger, nbytes, "activations")

    def emit(self, kind, macs, shape, elements=None, inputs=(), inplace=None, **info):  # type: ignore[override]
        out = super().emit(kind, macs, shape, elements, inputs, inplace, **info)
        module = self.stack[-1] if self.stack else ""
        op = info.get("function") or kind
        self.ledger.where = PeakAt(self.phase, module, f"{op} (recomputed)" if self.stop else op)
        tensors = [p for p in info.get("params", ()) if p is not None]
        params = _param_bytes(tensors) if self.training else []
        grad = self.training and (bool(params) or any(x.requires_grad for x in inputs))
        if kind == OpKind.NEW:
            x = inputs[0] if inputs else None
            elem = x.elem if x is not None else ELEMENT
            return self.value(out, self.new_storage(_bytes(shape, elem)), False, elem)
        if kind == OpKind.LOSS:
            return self._loss(out, inputs[0])
        autocast = self.half and kind in (OpKind.CONV, OpKind.LINEAR)
        if autocast:
            inputs = (self._cast(inputs[0]), *inputs[1:])
            casts = [self._cast_param(p) for p in tensors]
        elem = HALF if autocast else inputs[0].elem
        fresh = inplace is None
        storage = self.new_storage(_bytes(shape, elem)) if fresh else inplace.storage
        self.value(out, storage, grad, elem)
        if grad:
            saved = self._saves(kind, info, inputs, out)
            saved += self._extra(kind, info, inputs, inplace is not None, out.shape)
            if autocast:
                saved += casts[:1]  # the half-precision weight, for the input's gradient
            saved = [s for s in saved if s is not None]  # the batch itself is not a new tensor
            self._node(kind, out, inputs, params, saved, info.get("function", ""))
            self.nodes[-1].on_view = inplace is not None and inplace.vid in self._views
            self.nodes[-1].half_params = autocast
        return out

    def _cast(self, x: ShapeProbe) -> ShapeProbe:
        """Autocast's cast of a float32 input to half precision: a new tensor."""
        if x.elem == HALF:
            return x
        return self.value(ShapeProbe(x.shape, self), self.new_storage(_bytes(x.shape, HALF)),
                          x.requires_grad, HALF)  # fmt: skip

    def _cast_param(self, param: Any) -> Storage:
        """A parameter's half-precision copy, made once and cached until autocast exits."""
        key = id(param)
        if key not in self.cast_cache:
            self.cast_cache[key] = Storage(self.ledger, param.numel() * HALF, "weights")
        return self.cast_cache[key]

    def view(self, x: ShapeProbe, shape: Sequence[int]) -> ShapeProbe:
        out = self.value(ShapeProbe(shape, self), x.storage, x.requires_grad, x.elem)
        self._views.add(out.vid)
        if x.requires_grad:
            self._node(OpKind.VIEW, out, (x,), [], [], "")
        return out

    def _saves(
        self, kind: OpKind, info: dict, inputs: tuple[Any, ...], out: ShapeProbe
    ) -> list[Storage]:
        """What autograd keeps of the op's own inputs and output for its backward."""
        x = inputs[0]
        if kind in (OpKind.CONV, OpKind.LINEAR, OpKind.BATCH_NORM):
            return [x.storage]
        if kind == OpKind.ACTIVATION:  # these backwards read their result
            return [out.storage] if info.get("function") in ("sigmoid", "relu") else []
        if kind == OpKind.POOLING and info.get("function") == "maxpool":
            return [x.storage]
        if kind == OpKind.MULTIPLY and len(inputs) == 2:
            a, b = inputs
            return [s for s, other in ((b.storage, a), (a.storage, b)) if other.requires_grad]
        return []

    def _extra(
        self, kind: OpKind, info: dict, inputs: tuple[Any, ...], inplace: bool,
        out_shape: Sequence[int],
    ) -> list[Storage]:  # fmt: skip
        """Tensors an op creates only to keep for backward."""
        x = inputs[0]
        size = _bytes(x.shape, x.elem)
        if kind == OpKind.BATCH_NORM:  # float32 mean and inverse std per channel
            channels = _bytes((x.shape[1],))
            return [self.new_storage(channels), self.new_storage(channels)]
        if kind == OpKind.ACTIVATION and info.get("function") in ("silu", "relu6", "hardtanh"):
            # in-place SiLU and hardtanh (ReLU6) keep a copy of their input (autograd's
            # original self); out of place, the input itself
            return [self.new_storage(size)] if inplace else [x.storage]
        if kind == OpKind.DROPOUT:
            return [self.new_storage(size)]  # the scaled keep-mask
        if kind == OpKind.POOLING and info.get("function") == "max":
            return [self.new_storage(_bytes((*x.shape[:2], 1, 1), 8))]  # int64 indices
        if kind == OpKind.POOLING and info.get("function") == "maxpool":
            return [self.new_storage(_bytes(out_shape, 8))]  # int64 indices of the output
        return []

    def _node(self, kind, out, inputs, params, saved, function) -> None:
        module = self.stack[-1] if self.stack else ""
        segment = self.segment
        if segment is None:
            self._count_saved(module, saved)
        ins = [NodeInput(x.vid, _bytes(x.shape, x.elem), x.requires_grad) for x in inputs]
        out_bytes = _bytes(out.shape, out.elem)
        if kind == OpKind.LOSS:  # its backward works on float32 logits whatever their dtype
            out_bytes = _bytes(inputs[0].shape)
        kept = [] if segment is not None else saved  # checkpoint packs a holder, not the tensor
        node = Node(kind, module, out.vid, out_bytes, ins, params, kept, function)
        if segment is not None and saved:
            node.segment, segment.stop = segment, len(self.nodes) + 1
        self.nodes.append(node)
        if len(self.nodes) == self.stop:  # the recompute has packed all the forward did
            raise StopRecomputation

    def _count_saved(self, module: str, saved: list[Storage]) -> None:
        """Charge what is kept for backward to ``module``, each storage once."""
        for storage in saved:
            if id(storage) not in self._saved_ids:
                self._saved_ids.add(id(storage))
                self.saved_by_stage[module] += storage.nbytes

    def _loss(self, out: ShapeProbe, logits: ShapeProbe) -> ShapeProbe:
        """cross_entropy in float32 (autocast casts half logits up first, a temporary):
        log-softmax (kept for backward), then the NLL and its weight total."""
        cast = self.new_storage(_bytes(logits.shape)) if logits.elem != ELEMENT else None
        log_probs = self.new_storage(_bytes(logits.shape))
        total_weight = self.new_storage(ELEMENT)
        self.value(out, self.new_storage(ELEMENT), True)
        del cast
        self._node("loss", out, (logits,), [], [log_probs, total_weight], "")
        return out

    def end_autocast(self) -> None:
        """Leaving autocast clears its cache: copies nothing saved for backward are freed."""
        self.cast_cache.clear()

    def pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        """Open a checkpoint segment: its input is what the checkpoint keeps."""
        super().pre(module, args)
        if self.stack[-1] in self.checkpoint and self.segment is None:
            x = args[0]
            self.segment = Segment(module, x.shape, x.storage, x.requires_grad, x.elem,
                                   len(self.nodes))  # fmt: skip

    def post(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        name = self.stack[-1] if self.stack else ""
        super().post(module, args, output)
        segment = self.segment
        if segment is not None and segment.module is module:
            if segment.stop and segment.storage is not None:  # the input, kept by checkpoint
                self._count_saved(name, [segment.storage])
            self.segment = None
        if is_stage_module(name):
            self.live_after[name] = self.ledger.current


@dataclass
class MemoryPrediction:
    """The simulated peak: bytes, what they are, where the peak happens, per stage."""

    peak_bytes: int
    breakdown: dict[str, int]
    peak_at: PeakAt
    saved_by_module: dict[str, int] = field(default_factory=dict)
    live_after: dict[str, int] = field(default_factory=dict)
    trace: Trace | None = None
    """The shape probe's trace of the same forward: the fast engine's counts come free."""
    ledger: Ledger | None = field(default=None, repr=False)


def optimizer_state(optimizer: str, sizes: Sequence[int]) -> int:
    """The optimizer's state for parameters of these bytes: momentum, Adam's two moments,
    and Adam's float32 step count per parameter (one process, or a rank's shard)."""
    steps = len(sizes) * ELEMENT if optimizer in ("adam", "adamw") else 0
    return STATE_PER_PARAM[optimizer] * sum(sizes) + steps


def base_bytes(model: nn.Module, input_shape: Sequence[int], train: bool, optimizer: str) -> dict:
    """What is live before the step starts: weights, buffers, optimizer state, the batch."""
    sizes = [p.numel() * p.element_size() for p in model.parameters()]
    labels = input_shape[0] * 8 if train else 0  # int64 class indices
    return {
        "weights": sum(sizes),
        "buffers": sum(b.numel() * b.element_size() for b in model.buffers()),
        "optimizer_state": optimizer_state(optimizer, sizes) if train else 0,
        "input": _bytes(input_shape) + labels,
    }


# ----------------------------------------------------------------------------- backward


class StopRecomputation(Exception):
    """A segment's recompute has made every tensor its forward packed: stop there, as
    torch's non-reentrant checkpoint does (``_StopRecomputationError``, early stop)."""


def recompute(tracer: MemoryTracer, node: Node) -> None:
    """Re-run ``node``'s segment forward, as torch does when backward first unpacks one of
    its saved tensors: every op up to the segment's last save runs again, with grad, and
    its intermediates die as they would; what each op saves is handed to the original
    node, to be freed after that node's backward. ``node`` is the segment's newest node
    that saved something (the nodes after it are released already)."""
    segment = node.segment
    assert segment is not None
    segment.recomputed = True
    stop = segment.stop - segment.start
    redo = MemoryTracer(tracer.model, tracer.ledger, True, tracer.half, stop=stop)
    redo.phase = "backward"
    x = redo.value(ShapeProbe(segment.shape, redo), segment.storage, segment.requires_grad,
                   segment.elem)  # fmt: skip
    try:
        with hooked(redo):
            segment.module(x)
    except StopRecomputation:
        pass
    targets = [*tracer.nodes[segment.start :], node]
    for target, again in zip(targets, redo.nodes, strict=False):  # none past ``node``
        target.saved = again.saved


def _gradients(node: Node, ledger: Ledger, grad: Storage) -> tuple[list[Any], list[Storage]]:
    """What a node's backward allocates: one gradient per input that needs one (aligned
    with ``node.inputs``) and temporaries freed before it returns."""

    def new(nbytes: int) -> Storage:
        return Storage(ledger, nbytes, "transient")

    needs = [(i.nbytes, i.requires_grad) for i in node.inputs]
    if node.kind in (OpKind.ADD, OpKind.VIEW):  # the same gradient flows to every input
        return [grad if req else None for _nbytes, req in needs], []
    if node.kind == OpKind.MULTIPLY:
        products = [new(node.out_bytes) if req else None for _, req in needs]
        if node.segment is not None:  # recomputed saves die with the node's apply, before
            node.saved.clear()  # the engine sums broadcast gradients down (normally after)
        grads, temps = [], []
        for product, (nbytes, _req) in zip(products, needs, strict=True):
            if product is not None and nbytes != node.out_bytes:  # broadcast: sum back down
                grads.append(new(nbytes))
                temps.append(product)
            else:
                grads.append(product)
        return grads, temps
    if node.kind == OpKind.LOSS:  # float32 NLL and log-softmax gradients; cast back if half
        full, wanted = node.out_bytes, node.inputs[0].nbytes
        nll = new(full)
        node.saved.pop()  # the weight total
        log_softmax = new(full)
        del nll
        node.saved.clear()
        return ([log_softmax], []) if wanted == full else ([new(wanted)], [log_softmax])
    # CopySlices: a zeroed gradient of the base, a strided buffer and a copy of the slice
    temps = [new(node.out_bytes) for _ in range(3)] if node.on_view else []
    return [new(nbytes) if req else None for nbytes, req in needs], temps


def _deliver(grads: dict[int, Storage], node: Node, new: list[Any], ledger: Ledger) -> None:
    """Hand each input its gradient; a second gradient for the same tensor is summed into
    a new one and both parts die. (A function of its own: no local outlives the call.)"""
    for (vid, nbytes, _), gradient in zip(node.inputs, new, strict=True):
        if gradient is None:
            continue
        if vid in grads:
            ledger.where = PeakAt("backward", node.module, "sum of two gradients")
            grads[vid] = Storage(ledger, nbytes, "transient")
        else:
            grads[vid] = gradient
    new.clear()


def replay_backward(tracer: MemoryTracer, ledger: Ledger, rank: RankStep | None = None
                    ) -> list[Storage]:  # fmt: skip
    """Run autograd's backward over the recorded nodes, newest first; returns the
    parameter gradients it leaves (``.grad``), as ``rank`` keeps them after each node."""
    tracer.phase = "backward"
    nodes = tracer.nodes
    grads: dict[int, Storage] = {}
    ledger.where = PeakAt("backward", nodes[-1].module, "loss")
    root = Storage(ledger, ELEMENT, "transient")  # loss.backward()'s implicit ones
    grads[nodes[-1].out] = root
    param_grads: list[Storage] = []
    while nodes:
        node = nodes.pop()
        grad = grads.pop(node.out, None)
        if grad is None:  # not on the loss's path
            continue
        if rank:  # FSDP's pre- and post-backward, where a group's nodes begin
            rank.backward(ledger, node.module)
        if node.segment is not None and not node.segment.recomputed:
            recompute(tracer, node)
        ledger.where = PeakAt("backward", node.module, node.function or node.kind)
        new, temps = _gradients(node, ledger, grad)
        half, accumulated = [], []
        if node.half_params:  # autocast: gradients of the half copies first
            half = [Storage(ledger, n // ELEMENT * HALF, "transient") for n in node.params]
        else:
            accumulated = [Storage(ledger, nbytes, "gradients") for nbytes in node.params]
        del temps, grad
        node.saved.clear()
        node.segment = None  # its packed tensors released: the checkpoint's frame may die
        for nbytes in node.params if half else ():  # ToCopyBackward, one parameter at a time
            accumulated.append(Storage(ledger, nbytes, "gradients"))
            half.pop(0)
        _deliver(grads, node, new, ledger)
        param_grads += rank.accumulated(accumulated) if rank else accumulated
        accumulated.clear()  # AccumulateGrad (and its hooks) ran: what is not kept dies
    param_grads += rank.finish(ledger) if rank else []  # its end-of-backward callbacks
    grads.clear()
    del root
    return param_grads


def replay_optimizer(model: nn.Module, ledger: Ledger, optimizer: str, device_type: str,
                     rank: RankStep | None = None) -> None:  # fmt: skip
    """The temporaries of one optimizer step, as torch's default implementation makes them:
    SGD with momentum updates in place; Adam(W) divides by a fresh square root per
    parameter (for-loop, CPU), or for all parameters at once (foreach, CUDA)."""
    ledger.where = PeakAt("optimizer", "", optimizer)
    if optimizer not in ("adam", "adamw"):
        return
    sizes = [p.numel() * p.element_size() for p in model.parameters()]
    sizes = rank.stepped(sizes) if rank else sizes  # a rank's shard, in its order
    if device_type == "cuda":
        held = [Storage(ledger, s, "transient") for s in sizes]
        del held
        return
    denom = None
    for size in sizes:  # the previous denominator dies only when the next one is bound
        root = Storage(ledger, size, "transient")
        fresh = Storage(ledger, size, "transient")
        del root
        denom = fresh
    del denom


def predict(
    model: nn.Module,
    input_shape: Sequence[int],
    train: bool = False,
    optimizer: str = "sgd",
    device_type: str = "cpu",
    amp: str | None = None,
    checkpoint: Collection[str] = (),
    ledger_type: type[Ledger] = Ledger,
    rank: RankStep | None = None,  # one rank's step under data parallelism (ranks.py)
) -> MemoryPrediction:
    """Simulate one step of ``model`` (built anywhere, meta included: only shapes are read)
    and return its peak: inference is one no-grad forward in eval mode; training is the
    steady-state step (forward and cross-entropy under autocast when ``amp`` is given,
    backward, optimizer step) with the optimizer's state already there. The modules named
    in ``checkpoint`` run as activation-checkpoint segments (``recompute``). ``ledger_type``
    may follow the step phase by phase (``phases.PhaseLedger``): it is ``ledger`` then."""
    base = base_bytes(model, input_shape, train, optimizer)
    ledger = ledger_type(rank.base(base) if rank else base)
    tracer = MemoryTracer(model, ledger, train, amp is not None, frozenset(checkpoint))
    was_training = model.training
    if was_training != train:  # train() walks every module: only when the mode changes
        model.train(train)
    try:
        with hooked(tracer), rank.hooked(tracer) if rank else nullcontext():
            x = tracer.value(ShapeProbe(input_shape, tracer), None, False)
            if train:
                loss = F.cross_entropy(model(x), None)
            else:
                out = model(x)
                tracer.trace.output_shape = out.shape
            tracer.live_after[END_OF_FORWARD] = ledger.current
            tracer.end_autocast()
        if train:  # the loss stays referenced through backward and step, as in the loop
            param_grads = replay_backward(tracer, ledger, rank)
            replay_optimizer(model, ledger, optimizer, device_type, rank)
            param_grads.clear()  # zero_grad(set_to_none=True)
            del loss
        else:
            del out
    finally:
        if was_training != train:
            model.train(was_training)
    return MemoryPrediction(
        peak_bytes=ledger.peak,
        breakdown=_breakdown(ledger.peak_by),
        peak_at=ledger.peak_at,
        saved_by_module=dict(tracer.saved_by_stage),
        live_after=dict(tracer.live_after),
        trace=tracer.trace,
        ledger=ledger,
    )


BREAKDOWN = ("weights", "buffers", "gradients", "optimizer_state", "input", "activations",
             "transient")  # fmt: skip


def _breakdown(by: dict[str, int]) -> dict[str, int]:  # then a rank's own, in order
    return {k: int(by.get(k, 0)) for k in (*BREAKDOWN, *(k for k in by if k not in BREAKDOWN))}
