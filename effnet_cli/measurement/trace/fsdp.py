"""One rank's training step under FSDP2 (``torch.distributed.fsdp.fully_shard``), for the
memory engine, as torch 2.13 runs it with its default options (checked against the real
step on gloo, ``gloo.py``).

What is sharded: ``fully_shard`` is applied to each Table-1 stage (``features.i``), then
to the whole model, whose own group (the root) holds what no stage holds: the classifier.
Each parameter is split along its first dimension into ``world_size`` chunks of
``ceil(d0 / world_size)`` rows; every rank stores a chunk of that padded size (the last
ranks' chunks are partly or wholly padding), so the weights and the sharded gradients take
the same bytes on every rank, while the optimizer's state follows each rank's real rows.

What a step allocates beside the single-process step (``simulate.predict``):
- forward, at each group's pre-forward (the root's first): a flat all-gather buffer of the
  group (``world_size`` × its padded shards), then the whole (padded) parameters it is
  copied out into; only then does the previous group's buffer die (torch lets it go
  before the copy-out, but a local variable holds it until that returns). Each buffer is
  kept so until the next group's copy-out (the root's post-forward drops the last). A
  stage frees its whole parameters after its forward (reshard after forward); the root
  keeps its own.
- backward: the root's pre-backward (at the logits' gradient) all-gathers the last stage
  early (prefetch); each stage's pre-backward (at its output's gradient) copies its
  prefetched buffer out into its whole parameters, frees the buffer and prefetches the
  stage before it. Autograd's full gradients are kept until the group's post-backward
  (when the gradient reaches the stage's input): the whole parameters are freed, the
  previous group's reduce-scatter input is dropped, a new flat one (padded, world_size ×
  the shard) is filled, the full gradients die (the last one lives until the reduction
  returns: a loop variable of torch's still names it) and the reduce-scatter output, this
  rank's sharded gradients, is kept until ``zero_grad``; gloo's reduce-scatter then copies
  its input, a transient (NCCL would not). The root and the first stage (whose input needs
  no gradient) reduce at the end of backward, the root first.
- the optimizer steps the rank's shards only (their real rows, in the model's order).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from torch import nn

from ...ranks import DataParallel
from .simulate import Ledger, MemoryTracer, PeakAt, Storage, optimizer_state
from .stages import FEATURES, is_stage_module

ROOT = ""
"""The root group's module path (the whole model)."""
UNSHARDED = "unsharded_parameters"
ALL_GATHER = "all_gather_buffers"
REDUCE_SCATTER = "reduce_scatter_buffers"
SHARDED_GRADIENTS = "sharded_gradients"
PARTS = (UNSHARDED, ALL_GATHER, REDUCE_SCATTER, SHARDED_GRADIENTS)
"""The breakdown's parts FSDP adds (its shards are ``weights``; autograd's full gradients,
before their reduction, ``gradients``)."""


def sharded_modules(model: nn.Module) -> list[str]:
    """The modules ``fully_shard`` is applied to before the whole model: the stages."""
    return [name for name, _ in model.named_modules() if is_stage_module(name)]


def group_of(module: str) -> str:
    """The FSDP group a module's parameters belong to: its stage, else the root."""
    head, _, rest = module.partition(".")
    return f"{FEATURES}.{rest.split('.', 1)[0]}" if head == FEATURES and rest else ROOT


def shard_rows(rows: int, world_size: int, rank: int) -> tuple[int, int]:
    """A tensor of ``rows`` along dim 0, chunked as torch.chunk does over ``world_size``:
    the rows every rank stores (the padded chunk) and the rows that are rank ``rank``'s."""
    chunk = -(-rows // world_size)
    return chunk, max(0, min(chunk, rows - rank * chunk))


@dataclass
class Group:
    """One ``fully_shard`` group: its parameters' bytes, and what it holds as the step runs."""

    name: str
    full: list[int]
    """Bytes of each parameter, whole (its gradient's size)."""
    padded: list[int]
    """Bytes of each parameter's padded shard: what every rank stores."""
    local: list[int]
    """Bytes of this rank's own rows of each parameter."""
    hooked: bool = True
    """Whether its post-backward runs when the gradient reaches its input (a stage whose
    input needs one); else at the end of backward."""
    unsharded: list[Storage] = field(default_factory=list)
    pending: Storage | None = None
    """An all-gather done, not yet copied out (a prefetch)."""
    grads: list[Storage] = field(default_factory=list)
    sharded: Storage | None = None
    indices: list[int] = field(default_factory=list)
    """Its places in the post-forward order (backward prefetches the one before)."""
    state: str = "idle"


class FullyShardedStep:
    """Rank ``rank``'s step under FSDP2 (``simulate.predict``'s ``rank``): a fresh one for
    each prediction, as it holds the simulated buffers while the step runs."""

    def __init__(self, groups: list[Group], world_size: int, optimizer: str,
                 sizes: list[int], local: list[int]) -> None:  # fmt: skip
        self.groups = {g.name: g for g in groups}
        self.world_size = world_size
        self.optimizer = optimizer
        self.sizes = sizes
        """Bytes of each parameter, whole, in ``model.parameters()`` order."""
        self.local = local
        """Bytes of this rank's rows of each parameter, in the same order."""
        self.held: Storage | None = None
        """The all-gather buffer kept in forward until the next copy-out."""
        self.reduced: Storage | None = None
        """The last reduce-scatter input, kept until the next group reduces."""
        self.order: list[Group] = []
        self.current: Group | None = None
        self.started = False

    @classmethod
    def of(cls, model: nn.Module, setting: DataParallel, rank: int, optimizer: str
           ) -> FullyShardedStep:  # fmt: skip
        world = setting.world_size
        names = [ROOT, *sharded_modules(model)]
        parts: dict[str, tuple[list[int], list[int], list[int]]] = {n: ([], [], []) for n in names}
        sizes, local = [], []
        for name, p in model.named_parameters():
            whole, mine = shard_rows(p.shape[0], world, rank)
            row = p.numel() // p.shape[0] * p.element_size()
            full, padded, own = parts[group_of(name)]
            full.append(p.numel() * p.element_size())
            padded.append(whole * row)
            own.append(mine * row)
            sizes.append(full[-1])
            local.append(own[-1])
        first = names[1] if len(names) > 1 else None
        groups = [Group(n, *parts[n], hooked=n not in (ROOT, first)) for n in names]
        return cls(groups, world, optimizer, sizes, local)

    # ------------------------------------------------------------------ before the step

    def base(self, base: dict[str, int]) -> dict[str, int]:
        shards = sum(sum(g.padded) for g in self.groups.values())
        state = optimizer_state(self.optimizer, self.local)
        parts = dict.fromkeys(PARTS, 0)  # in the breakdown even where none is live at the peak
        return base | {"weights": shards, "optimizer_state": state} | parts

    def stepped(self, sizes: list[int]) -> list[int]:
        return list(self.local)

    # ------------------------------------------------------------------ forward

    @contextmanager
    def hooked(self, tracer: MemoryTracer) -> Iterator[None]:
        """Global module hooks that call ``forward`` around each module the tracer runs
        (after its own pre-hook, so a module starts with the tracer's stack pushed)."""
        ledger, names = tracer.ledger, tracer.names
        hooks = nn.modules.module
        handles = [
            hooks.register_module_forward_pre_hook(
                lambda m, args: self.forward(ledger, names.get(id(m), "?"), True)),
            hooks.register_module_forward_hook(
                lambda m, args, out: self.forward(ledger, names.get(id(m), "?"), False)),
        ]  # fmt: skip
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def forward(self, ledger: Ledger, module: str, start: bool) -> None:
        """A module's forward starts or ends: a group's pre- or post-forward."""
        group = self.groups.get(module)
        if group is None:
            return
        ledger.where = PeakAt("forward", module, "all-gather" if start else "reshard")
        if start:
            self._unshard(ledger, group)
            previous, self.held = self.held, None  # a local of torch's holds it: it dies
            self._copy_out(ledger, group, keep=True)  # once the copy-out returns
            del previous
            return
        if group.name != ROOT:  # reshard after forward; the root keeps its parameters
            _free(group.unsharded)
        group.indices.append(len(self.order))
        self.order.append(group)
        if group.name == ROOT:
            self.held = None

    def _unshard(self, ledger: Ledger, group: Group) -> None:
        if group.pending is None and not group.unsharded:
            flat = sum(group.padded) * self.world_size if self.world_size > 1 else 0
            group.pending = Storage(ledger, flat, ALL_GATHER)

    def _copy_out(self, ledger: Ledger, group: Group, keep: bool) -> None:
        """The whole parameters from the all-gather; its buffer kept (forward) or freed."""
        if group.pending is None:
            return
        group.unsharded = [Storage(ledger, p * self.world_size, UNSHARDED) for p in group.padded]
        if keep and self.world_size > 1:
            self.held = group.pending
        group.pending = None

    # ------------------------------------------------------------------ backward

    def backward(self, ledger: Ledger, module: str) -> None:
        """Autograd is about to run a node of ``module``: the first is the loss's; the first
        of each group fires the previous group's post-backward, then its own pre-backward."""
        if not self.started:
            self.started = True
            return
        group = self.groups[group_of(module)]
        if group is self.current:
            return
        if self.current is not None and self.current.hooked:
            self._post_backward(ledger, self.current)
        self.current = group
        if group.state == "pre_backward":
            return
        group.state = "pre_backward"
        ledger.where = PeakAt("backward", group.name, "all-gather")
        self._unshard(ledger, group)
        self._copy_out(ledger, group, keep=False)
        index = group.indices.pop() if group.indices else 0
        if index > 0:  # prefetch the group that ran before it
            self._unshard(ledger, self.order[index - 1])

    def accumulated(self, grads: list[Storage]) -> list[Storage]:
        """Autograd's full gradients stay with the group's whole parameters until it
        reduces them."""
        if self.current is not None:
            self.current.grads += grads
        return []

    def _post_backward(self, ledger: Ledger, group: Group) -> None:
        group.state = "post_backward"
        ledger.where = PeakAt("backward", group.name, "reduce-scatter")
        grads, group.grads = group.grads, []
        _free(group.unsharded)  # reshard after backward
        self.reduced = None  # the previous group's reduce-scatter input
        flat = sum(group.padded)
        reduced = Storage(ledger, flat * self.world_size, REDUCE_SCATTER)
        last = _last(grads, group.full) if self.world_size > 1 else None
        grads.clear()
        group.sharded = Storage(ledger, flat, SHARDED_GRADIENTS)
        if self.world_size > 1:  # gloo's reduce-scatter works on a copy of its input
            copy = Storage(ledger, flat * self.world_size, "transient")
            del copy
        del last
        self.reduced = reduced

    def finish(self, ledger: Ledger) -> list[Storage]:
        """The end of backward (the root's final callback): the groups that have not
        reduced yet do, the root first; returns the sharded gradients, alive until
        ``zero_grad``."""
        for group in self.groups.values():
            if group.state != "post_backward":
                self._post_backward(ledger, group)
            group.state = "idle"
        self.reduced = None
        self.order.clear()
        self.current, self.started = None, False
        sharded = [g.sharded for g in self.groups.values() if g.sharded is not None]
        for group in self.groups.values():
            group.sharded = None
        return sharded


def _last(grads: list[Storage], full: Sequence[int]) -> Storage | None:
    """The group's last parameter's gradient (any of its size: only bytes count)."""
    return next((g for g in reversed(grads) if full and g.nbytes == full[-1]), None)


def _free(storages: list[Storage]) -> None:
    """Free each in order, as FSDP's reshard does (``list.clear`` goes from the end)."""
    while storages:
        del storages[0]
