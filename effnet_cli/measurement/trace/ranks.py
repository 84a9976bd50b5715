"""One rank's training step under data parallelism, for the memory engine: what
DistributedDataParallel and ZeroRedundancyOptimizer change in the single-process step,
as torch does it (checked against the real step on gloo, ``gloo.py``).

- The batch is the rank's share of the global batch (the caller's input shape).
- DDP's reducer holds one flat gradient bucket per bucket of parameters, made when it is
  built (and again, in another order, when it rebuilds them before the second forward):
  together exactly every parameter's bytes, alive for the reducer's life (the tracker sees
  nothing else of the reducer's: no used-parameter map without
  ``find_unused_parameters``). A parameter's gradient is copied
  into its bucket (divided by the world size) by the hook that runs after autograd
  accumulates it; once a bucket is full it is all-reduced in place, and after backward
  each ``.grad`` gets the result back. Without --bucket-view the gradients stay tensors of
  their own beside the buckets; with it (``gradient_as_bucket_view``) the hook points
  ``.grad`` at its view of the bucket and the gradient autograd made dies at once (with
  ``zero_grad(set_to_none=True)`` that happens every step).
- ZeroRedundancyOptimizer (zero1) builds its local optimizer over this rank's shard of the
  parameters (``ranks.zero_partition``): only their state exists here, and only they are
  stepped, in the shard's order; each rank then broadcasts its updated parameters in
  place, which allocates nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from torch import nn

from ...ranks import DataParallel, zero_partition
from .fsdp import FullyShardedStep
from .simulate import Ledger, MemoryTracer, Storage, optimizer_state

BUCKETS = "gradient_buckets"
"""The breakdown's part for DDP's buckets."""


class RankStep(Protocol):
    """What data parallelism changes in one rank's step (``simulate.predict``'s ``rank``)."""

    def base(self, base: dict[str, int]) -> dict[str, int]:
        """What is live before the step: the rank's optimizer state, DDP's buckets."""

    def hooked(self, tracer: MemoryTracer) -> AbstractContextManager[Any]:
        """While the forward runs: what happens around modules' forwards (FSDP's
        all-gathers and reshards)."""

    def backward(self, ledger: Ledger, module: str) -> None:
        """Autograd is about to run a node of ``module`` (FSDP's backward hooks)."""

    def accumulated(self, grads: list[Storage]) -> list[Storage]:
        """Of one node's parameter gradients, those left as ``.grad`` once accumulated."""

    def finish(self, ledger: Ledger) -> list[Storage]:
        """The end of backward: gradients made then, kept until ``zero_grad``."""

    def stepped(self, sizes: list[int]) -> list[int]:
        """Of every parameter's bytes, those the rank's optimizer steps, in its order."""


@dataclass
class DataParallelStep:
    """Rank ``rank``'s step under ``setting``, for a model with these parameter sizes."""

    setting: DataParallel
    rank: int
    optimizer: str
    sizes: list[int]
    """Bytes of each parameter, in ``model.parameters()`` order."""

    @classmethod
    def of(cls, model: nn.Module, setting: DataParallel, rank: int, optimizer: str
           ) -> DataParallelStep:  # fmt: skip
        sizes = [p.numel() * p.element_size() for p in model.parameters()]
        return cls(setting, rank, optimizer, sizes)

    def owned(self) -> list[int]:
        """Indices of the parameters this rank's optimizer holds, in its stepping order."""
        if self.setting.strategy != "zero1":
            return list(range(len(self.sizes)))
        return zero_partition(self.sizes, self.setting.world_size)[self.rank]

    def base(self, base: dict[str, int]) -> dict[str, int]:
        state = optimizer_state(self.optimizer, [self.sizes[i] for i in self.owned()])
        return base | {"optimizer_state": state, BUCKETS: sum(self.sizes)}

    def hooked(self, tracer: MemoryTracer) -> AbstractContextManager[Any]:
        return nullcontext()  # DDP's hooks are on gradients only

    def backward(self, ledger: Ledger, module: str) -> None:
        return None

    def accumulated(self, grads: list[Storage]) -> list[Storage]:
        return [] if self.setting.bucket_view else grads

    def finish(self, ledger: Ledger) -> list[Storage]:
        return []  # the buckets live on

    def stepped(self, sizes: list[int]) -> list[int]:
        return [sizes[i] for i in self.owned()]


def rank_step(model: nn.Module, setting: DataParallel, rank: int, optimizer: str) -> RankStep:
    """A fresh step of rank ``rank`` under ``setting``'s strategy, for one prediction."""
    if setting.strategy == "fsdp":
        return FullyShardedStep.of(model, setting, rank, optimizer)
    return DataParallelStep.of(model, setting, rank, optimizer)
