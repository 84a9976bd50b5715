"""`effnet memory`'s own options and what its command does with them, apart from
commands.py: which limit a step fits into (--max-batch, --checkpoint auto), and which
collect runs it (the plain step, or the checkpointed one with its price and plan)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated, Any, NamedTuple

import typer

from ..arch.checkpointing import check_auto, checkpoint_stages, is_auto
from ..arch.specs import ResolvedSpec
from ..devices import parse_device
from ..errors import UsageError
from ..headroom import Reserve
from ..ranks import DataParallel
from .options import Optimizer
from .output import phase_ticks, progress_bar

# memory's own options. --train, --optimizer and --channels-last share their names with
# bench's and budget's, but their help says what each does to a predicted peak.
MemoryTrainOpt = Annotated[
    bool, typer.Option("--train", help="A training step instead of one inference forward.")
]
MemoryOptimizerOpt = Annotated[
    Optimizer | None,
    typer.Option(
        "--optimizer",
        help="With --train: sgd (momentum 0.9, default), adam, adamw, or none (gradients only).",
    ),
]
MemoryMaxBatchOpt = Annotated[
    bool, typer.Option("--max-batch", help="Find the largest batch that fits --limit.")
]
MemoryLimitOpt = Annotated[
    str | None,
    typer.Option(
        "--limit",
        help="Memory --max-batch or --checkpoint auto fits into, e.g. 16GiB, 500MB, 2e9 "
        "(GiB = 2^30 bytes, GB = 10^9) [--max-batch's default: the device's free memory].",
    ),
]
ReserveOpt = Annotated[
    str | None,
    typer.Option(
        "--reserve",
        help="Headroom kept free of --limit for what the peak leaves out (CUDA context, "
        "allocator rounding, workspaces), e.g. 1GiB, 0 [default: 512MiB on CUDA, else 0].",
        show_default=False,
    ),
]
MemoryLayoutOpt = Annotated[
    bool, typer.Option("--channels-last", help="NHWC layout (same sizes, same peak).")
]


class MemoryFit(NamedTuple):
    """Where the step runs and what it must fit into: --device, --limit, --reserve."""

    device: str
    limit_bytes: int | None
    reserve: Reserve


def memory_fit(
    spec: ResolvedSpec, train: bool, checkpoint: str | None, max_batch: bool,
    limit: str | None, reserve: str | None, device: str | None, amp: str | None,
) -> MemoryFit:  # fmt: skip
    """The options checked before torch loads: --checkpoint's stages (or auto), and --limit
    and --reserve, which qualify what --max-batch or --checkpoint auto fits into."""
    auto = is_auto(checkpoint)
    if auto:
        check_auto(train, amp, limit, max_batch)
    else:
        checkpoint_stages(checkpoint, spec, train)
    for given, name in ((limit, "--limit"), (reserve, "--reserve")):
        if given is not None and not (max_batch or auto):
            raise UsageError(f"{name} qualifies what --max-batch or --checkpoint auto fits "
                             "into: add one of them")  # fmt: skip
    from ..headroom import check_reserve, parse_reserve
    from ..units import parse_bytes

    limit_bytes = parse_bytes(limit, "--limit") if limit is not None else None
    dev = parse_device(device) if device else "meta"
    kept = parse_reserve(reserve, dev)
    check_reserve(kept, limit_bytes, "--limit")
    return MemoryFit(dev, limit_bytes, kept)


def rank_limit(parallel: DataParallel | None, max_batch: bool, fit: MemoryFit) -> int | None:
    """With --world-size and --max-batch, the limit each rank's step must fit: one rank's
    device, given by --limit (the free memory of this machine, which gloo's ranks share, is
    not any one rank's). None otherwise."""
    if parallel is None or not max_batch:
        return None
    if fit.limit_bytes is None:
        raise UsageError(
            "--max-batch with --world-size fits each rank's step into one device: give that "
            "device's memory as --limit SIZE (e.g. 16GiB)"
        )
    return fit.limit_bytes


def profile_stages(checkpoint: str | None, spec: ResolvedSpec, train: bool) -> tuple[int, ...]:
    """profile --checkpoint: the stages to time as checkpoint segments (named: the planner
    is memory's)."""
    if is_auto(checkpoint):
        raise UsageError(
            "profile --checkpoint times the stages it names; 'auto' is memory's planner "
            "(memory --train --checkpoint auto --limit SIZE)"
        )
    return checkpoint_stages(checkpoint, spec, train)


def run_memory_step(spec: ResolvedSpec, checkpoint: str | None, step: dict[str, Any],
                    ranks: DataParallel | None = None) -> Any:  # fmt: skip
    """memory's report: the plain step's, or with --checkpoint the priced one (and its
    plan, made on the highest rank's step with ``ranks``), with a progress bar for the
    latency model's calibration when one runs."""
    if checkpoint is None:
        from ..measurement.memory.peak import memory

        return memory(spec, **step)
    from ..measurement.plan import priced_memory

    bar = progress_bar("memory")
    with bar or nullcontext():
        return priced_memory(spec, checkpoint=checkpoint, progress=phase_ticks(bar, spec.title),
                             ranks=ranks, **step)  # fmt: skip
