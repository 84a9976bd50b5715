"""The budget's rules without torch: which limits were asked, whether a model meets them,
how the models that fit are ranked, and how the φ search walks its grid.

Everything here is arithmetic on figures someone else measured, so a bad option is refused
(exit 2) before torch loads, and the search's walk can be tested with any figures at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from ...arch.checkpointing import FLOAT32_ONLY, TRAIN_ONLY
from ...choices import AMP_DTYPES, DTYPE_BYTES, OPTIMIZERS, RUNTIMES
from ...devices import parse_device
from ...errors import UsageError
from ...headroom import Reserve, check_reserve, marginal, parse_reserve
from ...ranks import DataParallel, data_parallel
from ...reports import LIMITS, BudgetConstraints, BudgetRow, Figures
from ...units import check_dtype, parse_bytes, parse_count, parse_ms

PHI_STEP = 0.1
PHI_MAX = 10.0
"""The φ search's default grid: 0.1 apart, up to φ = 10 (L2's depth and resolution are
α^9.1 and 224·γ^9.1); beyond it every whole φ is a model larger than L2 to build."""
MAX_PHI = 30.0
"""The highest --phi-max accepted (γ^φ alone passes 16,384 px near φ = 30.7)."""

Size = str | int | float | None


def _parsed(value: Size, option: str, parse: Callable[[str, str], float]) -> float | None:
    """A limit from text ('2G', '20MB', '30ms') or a number, refused when not positive."""
    if value is None:
        return None
    return parse(str(value), option)


def budget_constraints(
    *,
    max_macs: Size = None,
    max_params: Size = None,
    max_weights: Size = None,
    dtype: str | None = None,
    max_memory: Size = None,
    reserve: str | None = None,
    batch_size: int | None = None,
    train: bool = False,
    optimizer: str | None = None,
    amp: str | None = None,
    max_batch: bool = False,
    max_latency: Size = None,
    device: str | None = None,
    measure: bool = False,
    resolution: int | None = None,
    num_classes: int = 1000,
    runtime: str | None = None,
    checkpointing: bool = False,
    world_size: int | None = None,
    strategy: str | None = None,
    bucket_view: bool = False,
) -> BudgetConstraints:
    """Validated limits: every option that only qualifies a limit needs that limit, so
    nothing the user typed is silently ignored."""
    limits = _limits(max_macs, max_params, max_weights, max_memory, max_latency)
    memory, latency = limits["max_memory_bytes"], limits["max_latency_ms"]
    parallel = _check_ranks(world_size, strategy, bucket_view, batch_size, train, memory,
                            latency, checkpointing)  # fmt: skip
    _check_qualifiers(
        limits, dtype=dtype, train=train, optimizer=optimizer, amp=amp, max_batch=max_batch,
        measure=measure, batch_size=batch_size, reserve=reserve,
    )  # fmt: skip
    _check_checkpointing(checkpointing, memory, train, amp)
    dev = _latency_device(device, latency, measure)
    _check_runtime(runtime, latency, train, dev)
    kept = parse_reserve(reserve, dev) if memory is not None else Reserve(0, "none")
    check_reserve(kept, _whole(memory), "--max-memory")
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    if num_classes < 1:
        raise UsageError(f"--num-classes must be >= 1, got {num_classes}")
    return BudgetConstraints(
        max_macs=_whole(limits["max_macs"]), max_params=_whole(limits["max_params"]),
        max_weight_bytes=_whole(limits["max_weight_bytes"]), dtype=check_dtype(dtype or "float32"),
        max_memory_bytes=_whole(memory), reserve_bytes=kept.nbytes,
        reserve_source=kept.source,
        batch_size=batch_size or (parallel.world_size if parallel else 1), train=train,
        optimizer=(optimizer or "sgd") if train else None, amp=amp,
        max_batch=max_batch or (memory is not None and batch_size is None),
        max_latency_ms=latency, device=dev, measure=measure, resolution=resolution,
        num_classes=num_classes, runtime=runtime or "eager", checkpointing=checkpointing,
        world_size=parallel.world_size if parallel else None,
        strategy=parallel.strategy if parallel else None,
        bucket_view=parallel.bucket_view if parallel else False,
    )  # fmt: skip


def _check_ranks(world_size: int | None, strategy: str | None, bucket_view: bool,
                 batch_size: int | None, train: bool, memory: float | None,
                 latency: float | None, checkpointing: bool) -> DataParallel | None:  # fmt: skip
    """--world-size judges --max-memory per device: each rank's training step at its share
    of the global batch (one sample a rank when --batch-size is not given)."""
    if world_size is None:
        return data_parallel(None, strategy, bucket_view, 1, train)  # refuses --strategy alone
    _needs(True, memory, "--world-size", "--max-memory")
    if not train:
        raise UsageError("--world-size judges a training step's per-rank memory: add --train")
    if latency is not None:
        raise UsageError("--world-size with --max-latency: a rank's step time (its compute "
                         "and the gradient all-reduce) is not modelled; judge latency "
                         "without --world-size")  # fmt: skip
    batch = batch_size or max(world_size, 1)
    return data_parallel(world_size, strategy, bucket_view, batch, True)


def _check_checkpointing(on: bool, memory: float | None, train: bool, amp: str | None) -> None:
    """--checkpointing lets a training step over --max-memory checkpoint stages, chosen by
    the time their recompute adds, which the latency model prices for float32 only."""
    _needs(on, memory, "--checkpointing", "--max-memory")
    if on and not train:
        raise UsageError(TRAIN_ONLY.format(option="--checkpointing"))
    if on and amp is not None:
        raise UsageError(FLOAT32_ONLY.format(option="--checkpointing"))


def _check_runtime(runtime: str | None, latency: float | None, train: bool, dev: str) -> None:
    """--runtime names what --max-latency is judged on: eager or onnxruntime, which has a
    latency model of its own (float32 inference on its CPU execution provider)."""
    _needs(runtime is not None, latency, "--runtime", "--max-latency")
    _one_of(runtime, RUNTIMES, "--runtime")
    if runtime == "compile":
        raise UsageError("--runtime compile: budget's latency is eager's or onnxruntime's "
                         "(torch.compile has no latency model); time a compiled candidate "
                         "with effnet bench --runtime compile")  # fmt: skip
    if runtime == "onnxruntime" and train:
        raise UsageError("--runtime onnxruntime times float32 inference: drop --train")
    if runtime == "onnxruntime" and dev != "cpu":
        raise UsageError("--runtime onnxruntime runs on its CPU execution provider here: use "
                         "--device cpu")  # fmt: skip


def _limits(
    max_macs: Size, max_params: Size, max_weights: Size, max_memory: Size, max_latency: Size
) -> dict[str, float | None]:
    """The five limits parsed, keyed by their BudgetConstraints field; at least one given."""
    limits = {
        "max_macs": _parsed(max_macs, "--max-macs", parse_count),
        "max_params": _parsed(max_params, "--max-params", parse_count),
        "max_weight_bytes": _parsed(max_weights, "--max-weights", parse_bytes),
        "max_memory_bytes": _parsed(max_memory, "--max-memory", parse_bytes),
        "max_latency_ms": _parsed(max_latency, "--max-latency", parse_ms),
    }
    if all(v is None for v in limits.values()):
        raise UsageError(
            "budget needs at least one limit: --max-macs, --max-params, --max-weights, "
            "--max-memory or --max-latency (e.g. --max-macs 2G)"
        )
    return limits


def _check_qualifiers(
    limits: dict[str, float | None],
    *,
    dtype: str | None,
    train: bool,
    optimizer: str | None,
    amp: str | None,
    max_batch: bool,
    measure: bool,
    batch_size: int | None,
    reserve: str | None,
) -> None:
    """Refuse an option that qualifies a limit which was not given (--dtype qualifies
    --max-weights; --optimizer, --amp, --max-batch, --reserve qualify --max-memory, --train
    --max-memory or --max-latency), and a
    choice outside its vocabulary."""
    memory, latency = limits["max_memory_bytes"], limits["max_latency_ms"]
    _needs(dtype is not None, limits["max_weight_bytes"], "--dtype", "--max-weights")
    memory_only = ((optimizer is not None, "--optimizer"), (amp is not None, "--amp"),
                   (max_batch, "--max-batch"), (reserve is not None, "--reserve"))  # fmt: skip
    for given, option in memory_only:
        _needs(given, memory, option, "--max-memory")
    if train and memory is None and latency is None:
        raise UsageError("--train qualifies --max-memory and --max-latency, neither is given: "
                         "add one")  # fmt: skip
    _needs(measure, latency, "--measure", "--max-latency")
    if batch_size is not None and memory is None and latency is None:
        raise UsageError("--batch-size sets the batch of --max-memory and --max-latency: add one")
    if optimizer is not None and not train:
        raise UsageError("--optimizer applies to a training step: add --train")
    _one_of(optimizer, OPTIMIZERS, "--optimizer")
    _one_of(amp, AMP_DTYPES, "--amp")


def _latency_device(device: str | None, latency: float | None, measure: bool) -> str:
    """--device, checked against --max-latency: the latency model is calibrated on the CPU,
    so another real device needs --measure, and meta has no time at all."""
    dev = parse_device(device) if device else "cpu"
    if latency is not None and dev == "meta":
        raise UsageError(
            "--max-latency needs a real device to predict or time on (cpu, cuda, cuda:N or "
            "mps), not meta"
        )
    if latency is not None and dev.partition(":")[0] != "cpu" and not measure:
        raise UsageError(
            f"the latency model is calibrated on the CPU only: use --device cpu, or --measure "
            f"to time the candidates on {dev}"
        )
    return dev


def _needs(given: bool, limit: float | None, option: str, needed: str) -> None:
    if given and limit is None:
        raise UsageError(f"{option} qualifies {needed}, which is not given: add {needed}")


def _one_of(value: str | None, accepted: tuple[str, ...], option: str) -> None:
    if value is not None and value not in accepted:
        raise UsageError(f"{option} must be one of {', '.join(accepted)}, got '{value}'")


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


MOVABLE = ("memory", "latency")
"""The figures a real device can move: a peak of tensor storage only, a predicted time.
MACs, parameters and weight bytes are exact counts, so a pass on them is never marginal."""


def limit_of(c: BudgetConstraints, name: str) -> float:
    """The figure's limit as judged: the memory limit less the reserve."""
    limit = getattr(c, LIMITS[name].field)
    return limit - c.reserve_bytes if name == "memory" else limit


def weight_bytes(params: int, c: BudgetConstraints) -> int:
    return params * DTYPE_BYTES[c.dtype]


def judge(figures: Figures, c: BudgetConstraints) -> Figures:
    """Fill ``fits``, ``failed`` and ``margins`` from the figures measured so far. A limit
    whose figure is missing was not reached, so the model does not fit on its strength."""
    figures.failed, figures.marginal, figures.uncertain, figures.margins = [], [], [], {}
    complete = True
    for name in c.active():
        value = getattr(figures, LIMITS[name].figure)
        if value is None:
            complete = False
            continue
        limit = limit_of(c, name)
        figures.margins[name] = (limit - value) / limit
        if _inside_band(figures, name, limit):
            figures.uncertain.append(name)
        elif value > limit:
            figures.failed.append(name)
        elif name in MOVABLE and marginal(figures.margins[name]):
            figures.marginal.append(name)
    figures.fits = complete and not figures.failed and not figures.uncertain
    figures.verdict = _verdict(figures)
    return figures


def _inside_band(f: Figures, name: str, limit: float) -> bool:
    """Whether a predicted figure's error band holds the limit: the prediction cannot say
    on which side of it the real figure lies. Only latency is predicted with a band (a
    timed latency, and every count, is judged as it is)."""
    band = f.predicted_range_ms if name == "latency" and f.latency_source == "predicted" else None
    return band is not None and band[0] <= limit <= band[1]


def _verdict(f: Figures) -> str:
    if f.failed:
        return "fails"
    if f.uncertain:
        return "uncertain"
    if not f.fits:
        return "fails"  # a limit was not reached: an earlier one failed
    return "marginal" if f.marginal else "fits"


def rank(rows: list[BudgetRow]) -> list[BudgetRow]:
    """The rows in the order they are shown: the variants that fit by the paper's top-1
    (best first, numbered), then those that fit but have no published top-1 (unranked:
    effnet does not predict accuracy), then the rest, each group in the family data's order."""
    ranked = sorted((r for r in rows if r.fits and r.top1 is not None), key=lambda r: -r.top1)
    for place, row in enumerate(ranked, start=1):
        row.rank = place
    unranked = [r for r in rows if r.fits and r.top1 is None]
    return ranked + unranked + [r for r in rows if not r.fits]


# ----------------------------------------------------------------------------- φ search


def phi_grid(step: float, phi_max: float) -> tuple[int, int]:
    """Grid points per whole φ and the number of the last point, for a --phi-step that
    divides 1 (0.5, 0.25, 0.2, 0.1, 0.05 …) so that every whole φ is on the grid."""
    if not (math.isfinite(step) and 0 < step <= 1) or abs(1 / step - round(1 / step)) > 1e-6:
        raise UsageError(f"--phi-step must divide 1 (e.g. 0.5, 0.25, 0.1), got {step:g}")
    if not (math.isfinite(phi_max) and 0 <= phi_max <= MAX_PHI):
        raise UsageError(f"--phi-max must be in 0..{MAX_PHI:g}, got {phi_max:g}")
    per_whole = round(1 / step)
    return per_whole, math.floor(phi_max * per_whole + 1e-9)


class Checked(NamedTuple):
    """One grid point the φ search checked: φ, whether it passed, and the search pass that
    checked it ("whole" or "fine")."""

    phi: float
    ok: bool
    search_pass: str


@dataclass
class Walk:
    """What the φ search found: the largest passing grid point (None: not even φ = 0),
    every point it checked, in order, and whether it stopped at its ceiling."""

    best: float | None
    checked: list[Checked]
    reached_max: bool


def largest_phi(passes: Callable[[float], bool | None], step: float, phi_max: float) -> Walk:
    """The largest φ on the grid (multiples of ``step`` up to ``phi_max``) that passes,
    without assuming a figure grows with φ everywhere.

    1. Whole pass: φ = 0, 1, 2, … in order. After the first failure the next whole φ is
       checked too; only two failures in a row end the pass, so a figure that dips once
       (rounding to 8 channels, ceil of the layers) does not end it early.
    2. Fine pass: from just below the first of those failures, every grid point downwards
       until one passes (or the last whole φ that passed is reached). Each grid point above
       the answer, up to a failing whole φ, was checked and failed.
    ``passes`` returns None for a φ past the tool's stated limits: the ceiling."""
    per_whole, last = phi_grid(step, phi_max)
    checked: list[Checked] = []

    def check(point: int, search_pass: str) -> bool | None:
        phi = round(point / per_whole, 10)
        ok = passes(phi)
        if ok is not None:
            checked.append(Checked(phi, ok, search_pass))
        return ok

    best = None
    first_fail = None
    misses = 0
    for whole in range(0, last + 1, per_whole):
        ok = check(whole, "whole")
        if ok is None:  # beyond the stated limits: the last reachable point is the ceiling
            last = whole - 1
            break
        if ok:
            best, first_fail, misses = whole, None, 0
            continue
        first_fail = whole if first_fail is None else first_fail
        misses += 1
        if misses == 2:
            break
    top = first_fail if first_fail is not None else last + 1
    floor = best if best is not None else -1
    for point in range(min(top, last + 1) - 1, floor, -1):
        if point % per_whole == 0:
            continue  # a whole φ: checked in the first pass
        ok = check(point, "fine")
        if ok:
            best = point
            break
    reached = first_fail is None and best is not None and best >= last - last % per_whole
    answer = None if best is None else round(best / per_whole, 10)
    return Walk(answer, checked, reached and not _fine_failures(checked, answer))


def _fine_failures(checked: Iterable[tuple[float, bool, str]], answer: float | None) -> bool:
    return any(not ok and (answer is None or phi > answer) for phi, ok, _ in checked)
