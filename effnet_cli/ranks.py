"""Per-rank memory under data parallelism: the options, checked without torch, and
ZeroRedundancyOptimizer's partition of the parameters.

Data parallelism splits the global batch (--batch-size) over --world-size ranks, each
running the same training step on its share. What a rank holds besides that step's own
tensors depends on --strategy:
- ddp: DistributedDataParallel's gradient buckets, one flat tensor per bucket holding every
  parameter's gradient, kept for the life of the reducer; with --bucket-view
  (``gradient_as_bucket_view``) each ``.grad`` becomes a view of its bucket;
- zero1: the same, with torch's ZeroRedundancyOptimizer: each parameter's optimizer state
  lives on one rank only (``zero_partition``);
- fsdp: FSDP2's ``fully_shard`` on each Table-1 stage, then on the whole model: parameters,
  gradients and optimizer state sharded across the ranks (each parameter's first dimension
  split, padded to a multiple of the world size), a stage's whole parameters all-gathered
  around its forward and its backward, its gradients reduce-scattered (its model:
  ``measurement/trace/fsdp.py``).
The memory engine's side is ``measurement/trace/ranks.py`` (and ``fsdp.py``); the
measurement on gloo, ``measurement/trace/gloo.py``. No torch imported here: the CLI checks
its options with it first (only --strategy fsdp asks torch whether it has FSDP2).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from .choices import STRATEGIES, STRATEGY_NAMES
from .errors import UsageError

MEASURED_RANKS = 8
"""The most ranks a real measurement spawns (one process each, on this machine's CPU)."""


@dataclass(frozen=True)
class DataParallel:
    """--world-size, --strategy and --bucket-view, checked."""

    world_size: int
    strategy: str = STRATEGIES[0]
    bucket_view: bool = False
    """DDP's ``gradient_as_bucket_view``: gradients are views of the buckets."""

    @property
    def name(self) -> str:
        """The strategy as a report names it."""
        return STRATEGY_NAMES[self.strategy]


def data_parallel(world_size: int | None, strategy: str | None, bucket_view: bool,
                  batch_size: int, train: bool) -> DataParallel | None:  # fmt: skip
    """The per-rank setting the options ask for (None without --world-size), or one line
    saying what is wrong with them (a UsageError, exit 2)."""
    if world_size is None:
        if strategy is not None:
            raise UsageError("--strategy applies to data parallelism: add --world-size N")
        if bucket_view:
            raise UsageError("--bucket-view is DDP's gradient_as_bucket_view: add --world-size N")
        return None
    if world_size < 1:
        raise UsageError(f"--world-size must be >= 1, got {world_size}")
    strategy = STRATEGIES[0] if strategy is None else strategy
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)}, got '{strategy}'")
    if strategy == "fsdp" and bucket_view:
        raise UsageError("--bucket-view is DDP's gradient_as_bucket_view: not with --strategy fsdp")
    if strategy == "fsdp" and not has_fully_shard():
        raise UsageError(
            "--strategy fsdp needs torch.distributed.fsdp.fully_shard (FSDP2), which this torch "
            "lacks: use ddp or zero1, or torch >= 2.6"
        )
    if not train:
        raise UsageError("--world-size gives the per-rank memory of a training step: add --train")
    if batch_size % world_size:
        larger = world_size * (batch_size // world_size + 1)
        raise UsageError(
            f"--batch-size {batch_size} does not split over --world-size {world_size}: the "
            f"global batch must be a multiple of it (e.g. {larger})"
        )
    return DataParallel(world_size, strategy, bucket_view)


def has_fully_shard() -> bool:
    """Whether this torch has FSDP2's public ``fully_shard``. Imports torch, only when
    --strategy fsdp is asked for (the step about to be predicted imports it anyway)."""
    try:
        fsdp = importlib.import_module("torch.distributed.fsdp")
    except ImportError:
        return False
    return hasattr(fsdp, "fully_shard")


def zero_partition(numels: Sequence[int], world_size: int) -> list[list[int]]:
    """Which parameters (indices into ``numels``, the model's order) each rank's optimizer
    owns, as ZeroRedundancyOptimizer partitions one parameter group: largest first (a
    stable sort, so equal sizes keep the model's order), each to the rank that holds the
    fewest elements so far (the lowest such rank). A rank's list is in that order, the
    order its local optimizer steps through, which decides where Adam's temporaries peak."""
    owned: list[list[int]] = [[] for _ in range(world_size)]
    sizes = [0] * world_size
    for index in sorted(range(len(numels)), key=lambda i: numels[i], reverse=True):
        rank = sizes.index(min(sizes))
        owned[rank].append(index)
        sizes[rank] += numels[index]
    return owned
