"""The real step, measured: every tensor storage it creates, live until it is freed.

On the CPU (and anywhere torch dispatches), ``LiveStorages`` is a TorchDispatchMode that
sees each op's outputs, counts each new storage once (views and in-place results share
their input's) and hears, through a finalizer on the storage, the moment it is freed. The
peak of that count is the README's definition of peak memory, with nothing rounded.
On CUDA the allocator's own counters are read as well: ``max_memory_allocated`` (the same
thing, rounded to the allocator's blocks) and ``max_memory_reserved`` (what the caching
allocator holds from the driver, the figure nvidia-smi is closer to).
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode, is_traceable_wrapper_subclass
from torch.utils._pytree import tree_flatten
from torch.utils.checkpoint import checkpoint as run_checkpointed

METHOD = "live tensor storages (TorchDispatchMode)"
"""What the tracker's peak is, as `effnet memory` and `effnet bench` name it."""


class Moment(NamedTuple):
    """When a real step peaked: its phase and the aten op that allocated last."""

    phase: str
    op: str


class LiveStorages(TorchDispatchMode):
    """Bytes of every live tensor storage: those that exist already (``existing``) and
    every one created while the mode is active, until it is freed."""

    def __init__(self, existing: Iterable[torch.Tensor] = ()) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        for t in existing:
            storage = t.untyped_storage()
            if id(storage) not in self.live:  # uncounted if it dies (FSDP's unsharded originals)
                self.live[id(storage)] = storage.nbytes()
                weakref.finalize(storage, self._free, id(storage))
        self.base = sum(self.live.values())
        self.current = self.peak = self.base
        self.phase = "start"
        self.peak_at = Moment("start", "")

    def _track(self, t: torch.Tensor, op: str) -> None:
        if is_traceable_wrapper_subclass(t):  # a DTensor: its local tensor holds the bytes
            for name in t.__tensor_flatten__()[0]:
                inner = getattr(t, name)
                if isinstance(inner, torch.Tensor):  # not the DTensor's mesh
                    self._track(inner, op)
            return
        storage = t.untyped_storage()
        key = id(storage)
        if key in self.live:
            return
        nbytes = storage.nbytes()
        self.live[key] = nbytes
        self.current += nbytes
        if self.current > self.peak:
            self.peak, self.peak_at = self.current, Moment(self.phase, op)
        weakref.finalize(storage, self._free, key)

    def resized(self, storage: Any, nbytes: int) -> None:
        """A live storage resized in place (``UntypedStorage.resize_``, which no op reports):
        FSDP frees its unsharded parameters that way, and all-gathers into them again."""
        key = id(storage)
        if key not in self.live:
            return
        self.current += nbytes - self.live[key]
        self.live[key] = nbytes
        if self.current > self.peak:
            self.peak, self.peak_at = self.current, Moment(self.phase, "resize_")

    def _free(self, key: int) -> None:
        nbytes = self.live.pop(key, None)
        if nbytes is not None:
            self.current -= nbytes

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t, str(func.overloadpacket.__name__))
        return out


@contextmanager
def resizes_followed(tracker: LiveStorages) -> Iterator[LiveStorages]:
    """While the context lasts, every ``UntypedStorage.resize_`` also tells ``tracker`` the
    storage's new size (then the class's own method again)."""
    cls = torch.UntypedStorage
    own = cls.__dict__.get("resize_")  # else the C base class's, found again once ours goes
    plain = cls.resize_

    def resize(storage: torch.UntypedStorage, size: int) -> Any:
        out = plain(storage, size)
        tracker.resized(storage, storage.nbytes())
        return out

    cls.resize_ = resize  # type: ignore[method-assign]
    try:
        yield tracker
    finally:
        if own is None:
            del cls.resize_
        else:
            cls.resize_ = own  # type: ignore[method-assign]


@dataclass
class MeasuredMemory:
    """The peak of one real step, and where it happened."""

    device: str
    peak_bytes: int
    peak_at: Moment
    allocated_bytes: int | None = None
    reserved_bytes: int | None = None


def make_optimizer(model: nn.Module, name: str) -> torch.optim.Optimizer | None:
    """The optimizers of the definition, with torch's default implementation."""
    params = list(model.parameters())
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-3)
    return None


def _state(optimizer: torch.optim.Optimizer | None) -> list[torch.Tensor]:
    if optimizer is None:
        return []
    return [t for s in optimizer.state.values() for t in s.values() if isinstance(t, torch.Tensor)]


def _autocast(device: torch.device, amp: str | None) -> Any:
    return torch.autocast(device.type, dtype=getattr(torch, amp)) if amp else nullcontext()


def _train_step(model, x, labels, optimizer, amp=None, tracker=None) -> None:
    def phase(name: str) -> None:
        if tracker is not None:
            tracker.phase = name

    phase("forward")
    with _autocast(x.device, amp):
        loss = F.cross_entropy(model(x), labels)
    phase("backward")
    loss.backward()
    phase("optimizer")
    if optimizer is not None:
        optimizer.step()
    phase("zero_grad")
    model.zero_grad(set_to_none=True)


@contextmanager
def checkpointed(model: nn.Module, modules: Collection[str]) -> Iterator[nn.Module]:
    """Run each named module of ``model`` as one activation-checkpoint segment while the
    context lasts: its forward goes through ``torch.utils.checkpoint.checkpoint``
    (non-reentrant; RNG state preserved, default determinism check), then is restored, so
    the model is otherwise the one built. The module's own hooks run outside the segment."""
    named = dict(model.named_modules())
    wrapped = [named[name] for name in dict.fromkeys(modules)]  # each once
    for module in wrapped:
        module.forward = partial(run_checkpointed, module.forward, use_reentrant=False)
    try:
        yield model
    finally:
        for module in wrapped:
            del module.forward  # the class's forward again


def measure_step(
    model: nn.Module,
    x: torch.Tensor,
    train: bool = False,
    optimizer: str = "sgd",
    amp: str | None = None,
    checkpoint: Collection[str] = (),
) -> MeasuredMemory:
    """Run the step of the definition on the model's device and measure its peak: one
    no-grad eval forward, or the second training step (the first creates the state);
    with ``amp``, forward and loss run under torch.autocast to that dtype; the modules in
    ``checkpoint`` run as checkpoint segments in both steps."""
    with checkpointed(model, checkpoint):
        return _measure_step(model, x, train, optimizer, amp)


def _measure_step(model: nn.Module, x: torch.Tensor, train: bool, optimizer: str,
                  amp: str | None) -> MeasuredMemory:  # fmt: skip
    device = x.device
    existing: list[torch.Tensor] = [*model.parameters(), *model.buffers(), x]
    if not train:
        model.eval()
        run = _Runner(lambda t: _infer(model, x, amp, t))
    else:
        model.train()
        labels = torch.randint(0, _classes(model), (x.shape[0],), device=device)
        opt = make_optimizer(model, optimizer)
        _train_step(model, x, labels, opt, amp)
        existing += [labels, *_state(opt)]
        run = _Runner(lambda t: _train_step(model, x, labels, opt, amp, t))
    return run.measure(existing, device)


def _infer(model: nn.Module, x: torch.Tensor, amp: str | None, tracker: Any) -> None:
    if tracker is not None:
        tracker.phase = "forward"
    with torch.no_grad(), _autocast(x.device, amp):
        model(x)


def _classes(model: nn.Module) -> int:
    head = getattr(model, "classifier", None)
    return head[-1].out_features if head is not None else 1


class _Runner:
    """Runs a step once under the live-storage tracker (and CUDA's counters on CUDA)."""

    def __init__(self, step: Any) -> None:
        self.step = step

    def measure(self, existing: list[torch.Tensor], device: torch.device) -> MeasuredMemory:
        cuda = device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        tracker = LiveStorages(existing)
        with tracker:
            self.step(tracker)
        result = MeasuredMemory(str(device), tracker.peak, tracker.peak_at)
        if cuda:
            torch.cuda.synchronize(device)
            result.allocated_bytes = int(torch.cuda.max_memory_allocated(device))
            result.reserved_bytes = int(torch.cuda.max_memory_reserved(device))
        return result
