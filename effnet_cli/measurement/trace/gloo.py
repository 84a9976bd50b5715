"""One rank's training step measured for real: ``world_size`` processes spawned on this
machine, joined by torch.distributed's gloo backend (CPU), each running the model under
DistributedDataParallel (and ZeroRedundancyOptimizer for zero1), or under FSDP2's
``fully_shard`` (fsdp), on its share of the batch.

Each rank counts live tensor storages with the tracker (``tracker.LiveStorages``) from
before DDP is built, so the reducer's buckets, made by its constructor, are counted as
they come, and those it frees when it rebuilds them (before the second forward) are
uncounted as they go. Under fsdp the tracker starts before ``fully_shard``: the padded
shards are counted as they are made and the whole parameters they replace uncounted as
they die; it follows the storages FSDP resizes in place (its whole parameters, freed after
a stage runs and all-gathered into again: ``tracker.resizes_followed``) and counts a
DTensor's bytes by its local tensor. Two steps run first (the optimizer's state, the
rebuilt buckets), then the third is measured: its peak, over the steady state. The ranks
send their peaks back through a queue; their output is silenced, so the command's own stays
clean.
"""

from __future__ import annotations

import importlib
import os
import queue
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ...arch.specs import ResolvedSpec
from ...errors import RuntimeFailure
from ...model import build_model
from ...ranks import DataParallel
from .fsdp import sharded_modules
from .probe import Shape
from .tracker import (
    LiveStorages,
    Moment,
    _train_step,
    checkpointed,
    make_optimizer,
    resizes_followed,
)

WARMUP_STEPS = 2
"""Steps before the measured one: the first makes the optimizer's state and records the
order gradients arrive in, before the second forward DDP rebuilds its buckets in it."""
SETTLED = ("all_gather_single", "reduce_scatter_single")
"""FSDP2's collectives (``torch.distributed``'s), each waited on until gloo frees its own
tensors (``_settled``)."""
SETTLE_S = 5.0
"""The longest that wait lasts."""
TIMEOUT_S = 600
"""How long the parent waits for every rank's peak (and a rank for its peers)."""


@dataclass(frozen=True)
class RankJob:
    """What every spawned rank needs to build and run its step (pickled to it)."""

    spec: ResolvedSpec
    num_classes: int
    shape: Shape
    """The rank's input: its share of the global batch."""
    optimizer: str
    setting: DataParallel
    amp: str | None
    checkpoint: tuple[str, ...]


@dataclass(frozen=True)
class RankPeak:
    """One rank's measured peak, and when it happened."""

    rank: int
    peak_bytes: int
    peak_at: Moment


def measure_ranks(spec: ResolvedSpec, num_classes: int, shape: Shape, optimizer: str,
                  setting: DataParallel, amp: str | None = None,
                  checkpoint: Collection[str] = ()) -> list[RankPeak]:  # fmt: skip
    """Spawn the ranks, run their steps and return each rank's peak (rank order)."""
    job = RankJob(spec, num_classes, shape, optimizer, setting, amp, tuple(checkpoint))
    context = mp.get_context("spawn")
    results = context.Queue()
    with tempfile.TemporaryDirectory(prefix="effnet-gloo-") as tmp:
        store = f"file://{os.path.join(tmp, 'store')}"
        ranks = [context.Process(target=_rank_main, args=(rank, job, store, results), daemon=True)
                 for rank in range(setting.world_size)]  # fmt: skip
        for process in ranks:
            process.start()
        try:
            peaks = _collect(results, ranks)
        except BaseException:  # a failed rank leaves its peers waiting in a collective
            for process in ranks:
                process.terminate()
            raise
        for process in ranks:
            process.join(timeout=TIMEOUT_S)
        return peaks


def _collect(results: Any, ranks: list[Any]) -> list[RankPeak]:
    """Every rank's peak, or the first failure as one line: a rank's own error, a rank that
    died without one (a crash), or silence past the timeout."""
    peaks: list[RankPeak] = []
    waited = 0
    while len(peaks) < len(ranks):
        try:
            rank, peak, phase, op, error = results.get(timeout=1)
        except queue.Empty:
            waited += 1
            dead = [i for i, p in enumerate(ranks) if p.exitcode not in (None, 0)]
            if dead:
                code = ranks[dead[0]].exitcode
                raise RuntimeFailure(f"rank {dead[0]} of {len(ranks)} (gloo) died, exit code "
                                     f"{code}") from None  # fmt: skip
            if waited >= TIMEOUT_S:
                raise RuntimeFailure(
                    f"the {len(ranks)} gloo ranks did not report within {TIMEOUT_S} s"
                ) from None
            continue
        if error is not None:
            raise RuntimeFailure(f"rank {rank} of {len(ranks)} (gloo) failed: {error}")
        peaks.append(RankPeak(rank, peak, Moment(phase, op)))
    return sorted(peaks, key=lambda p: p.rank)


def _rank_main(rank: int, job: RankJob, store: str, results: Any) -> None:
    """A spawned rank: join the group, measure, report (an exception as its one line)."""
    _silence()
    try:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // job.setting.world_size))
        dist.init_process_group("gloo", init_method=store, rank=rank,
                                world_size=job.setting.world_size,
                                timeout=timedelta(seconds=TIMEOUT_S))  # fmt: skip
        try:
            peak, at = _measure(job)
        finally:
            dist.destroy_process_group()
        results.put((rank, peak, at.phase, at.op, None))
    except Exception as error:  # any failure goes back as one line
        results.put((rank, 0, "", "", f"{type(error).__name__}: {error}".splitlines()[0]))


def _silence() -> None:
    """Send the rank's stdout and stderr (torch's and gloo's warnings) to /dev/null."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)


def _measure(job: RankJob) -> tuple[int, Moment]:
    """Build the model and wrap it (DDP, or FSDP2's fully_shard) under the tracker, run the
    warm-up steps, then the measured one."""
    importlib.import_module("torch._dynamo.utils")  # DDP's constructor loads it: not now
    torch.manual_seed(0)
    model = build_model(job.spec, job.num_classes, device="cpu").train()
    x = torch.randn(*job.shape)
    labels = torch.randint(0, job.num_classes, (job.shape[0],))
    fsdp = job.setting.strategy == "fsdp"
    mesh = _mesh(job.setting.world_size) if fsdp else None  # its rank table is not the model's
    with checkpointed(model, job.checkpoint):
        tracker = LiveStorages([*model.parameters(), *model.buffers(), x, labels])
        followed = _fsdp_followed(tracker) if fsdp else nullcontext()
        with tracker, followed:
            wrapped = _fully_sharded(model, mesh) if fsdp else nn.parallel.DistributedDataParallel(
                model, gradient_as_bucket_view=job.setting.bucket_view
            )  # fmt: skip
            optimizer = _optimizer(model, job.optimizer, job.setting)
            for _ in range(WARMUP_STEPS):
                _train_step(wrapped, x, labels, optimizer, job.amp)
            tracker.peak, tracker.peak_at = tracker.current, Moment("start", "")
            _train_step(wrapped, x, labels, optimizer, job.amp, tracker)
    return tracker.peak, tracker.peak_at


@contextmanager
def _fsdp_followed(tracker: LiveStorages) -> Iterator[None]:
    """What the tracker must follow under FSDP: the storages it resizes in place, and
    gloo's collectives settled (``_settled``)."""
    plain = {name: getattr(dist, name) for name in SETTLED}
    try:
        for name, collective in plain.items():
            setattr(dist, name, _settled(collective, tracker))
        with resizes_followed(tracker):
            yield
    finally:
        for name, collective in plain.items():
            setattr(dist, name, collective)


def _settled(collective: Callable[..., Any], tracker: LiveStorages) -> Callable[..., Any]:
    """``collective``, returning once what gloo made inside it is freed. Gloo's
    reduce-scatter works on a copy of its input, held by the collective's work object until
    gloo's worker thread lets go of it, a moment after the call returns: sometimes after
    the next tensors are made. Waiting for it keeps the peak independent of scheduling."""

    def settled(*args: Any, **kwargs: Any) -> Any:
        before = set(tracker.live)
        out = collective(*args, **kwargs)
        deadline = time.monotonic() + SETTLE_S
        while set(tracker.live) - before and time.monotonic() < deadline:
            time.sleep(1e-4)
        return out

    return settled


def _mesh(world_size: int) -> Any:
    """The one-dimensional device mesh of every rank, made before the tracker starts."""
    from torch.distributed.device_mesh import init_device_mesh

    return init_device_mesh("cpu", (world_size,))


def _fully_sharded(model: nn.Module, mesh: Any) -> nn.Module:
    """FSDP2 with its default options: ``fully_shard`` on each Table-1 stage
    (``fsdp.sharded_modules``), then on the whole model (the classifier's group, the root)."""
    from torch.distributed.fsdp import fully_shard

    named = dict(model.named_modules())
    for name in sharded_modules(model):
        fully_shard(named[name], mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def _optimizer(model: nn.Module, name: str, setting: DataParallel) -> Any:
    """The step's optimizer: the single-process one, or for zero1 torch's
    ZeroRedundancyOptimizer over the same class and settings."""
    plain = make_optimizer(model, name)
    if setting.strategy != "zero1" or plain is None:
        return plain
    from torch.distributed.optim import ZeroRedundancyOptimizer

    settings = {k: v for k, v in plain.defaults.items() if k in ("lr", "momentum")}
    return ZeroRedundancyOptimizer(model.parameters(), type(plain), **settings)
