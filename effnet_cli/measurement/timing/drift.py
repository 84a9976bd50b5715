"""Has this machine's speed moved since it was calibrated? A short fixed probe, timed when
the calibration is taken and again before every prediction, says by how much.

The probe has three parts, each a different kind of work: a dense matmul (compute), a large
copy (memory bandwidth) and one bare inference step of the smallest calibration model
(dispatch, small ops: what most of an EfficientNet's time is). A runtime other than eager
adds parts of its own (``ProbeExtra``: onnxruntime runs that model in its own session, since
torch's kernels alone did not carry its speed). Each part is
repeated, interleaved with the others so a burst of load falls on all of them (a runtime's
parts among themselves, after torch's), and its fastest run is kept; the spread of the runs
is the probe's own noise. Nothing here runs the model being predicted.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...arch.specs import ResolvedSpec, parse_variant
from ...heap import keep_heap
from ...model import build_model

PROBE_MODEL = ("w=0.5,d=0.5,r=128", 1)
"""The calibration set's smallest model, at its batch: a step of a few milliseconds."""
MATMUL = 512
COPY_BYTES = 16 << 20
WARMUP = 2
BLOCKS = 3
REPEATS = 12
"""Runs per part, in ``BLOCKS`` blocks: each block's fastest run is one reading, and the
spread of the readings is the probe's noise (this machine's speed moves between runs tens
of milliseconds apart, not only between processes)."""
PARTS = ("matmul", "copy", "model")
NOISE_FLOOR = 0.05
"""The least noise a probe is credited with: a 5% move is never called drift."""
AGREE = 0.5
"""Parts whose speed ratios differ by more than this (max / min − 1) moved in different
ways: one ratio cannot rescale the cost model, so it is calibrated again. (Between runs a
minute apart on a quiet 2-core machine the parts differ by up to about 30%.)"""


@dataclass(frozen=True)
class ProbeTiming:
    """The probe's fastest time per part (seconds) and its noise (the median run over the
    fastest, less 1, the largest over the parts); for a calibration's reference, also how
    far its two readings differed."""

    seconds: dict[str, float]
    noise: float
    apart: float = 0.0
    """A calibration's two readings, seconds apart, differed by this much (the largest part,
    slower over faster, less 1): a later probe moving no more than that is not drift."""

    def dump(self) -> dict[str, object]:
        return {"seconds": self.seconds, "noise": self.noise, "apart": self.apart}

    def fastest(self, other: ProbeTiming) -> ProbeTiming:
        """Each part at its faster of two readings: a calibration's reference, taken before
        its models and after them, so that a slow moment at one end does not set every
        later prediction's ratio (one such reading, 2× slow in onnxruntime's part alone,
        made every rescaled prediction 45-70% too fast here), and how far they differed."""
        seconds = {part: min(s, other.seconds[part]) for part, s in self.seconds.items()}
        apart = max(max(s, other.seconds[p]) / min(s, other.seconds[p]) - 1.0
                    for p, s in self.seconds.items())  # fmt: skip
        return ProbeTiming(seconds, max(self.noise, other.noise), apart)

    @staticmethod
    def load(value: dict) -> ProbeTiming:
        seconds = {str(part): float(s) for part, s in value["seconds"].items()}
        if not set(PARTS) <= set(seconds):
            raise KeyError("a probe part is missing")
        return ProbeTiming(seconds, float(value["noise"]), float(value.get("apart", 0.0)))


@dataclass(frozen=True)
class ProbeExtra:
    """A runtime's own probe parts, beside the three above: they join the ratio's mean."""

    names: tuple[str, ...]
    steps: Callable[[], dict[str, Callable[[], object]]]
    """Builds each named part's step (a session loaded, say): called once per probe."""


@dataclass(frozen=True)
class Drift:
    """How the device's speed compares with its calibration's: per part and overall, as
    now / then (above 1: slower now), with the noise of both probes."""

    ratios: dict[str, float]
    noise: float
    probe_seconds: float
    """How long the probe took, set-up included."""
    own_noise: float = 0.0
    """The spread of this reading's own runs (``noise`` also holds the calibration's):
    what says the machine is busy now."""
    apart: float = 0.0
    """How far the calibration's own two readings differed: no move within it is drift."""

    def confirmed(self, again: Drift) -> Drift:
        """This reading and a second one taken at once, each part at its faster: a burst
        of load on a shared machine passes within a second, and is not drift."""
        ratios = {part: min(r, again.ratios[part]) for part, r in self.ratios.items()}
        return Drift(ratios, max(self.noise, again.noise),
                     self.probe_seconds + again.probe_seconds,
                     max(self.own_noise, again.own_noise), self.apart)  # fmt: skip

    @property
    def ratio(self) -> float:
        """The parts' geometric mean: the one factor a rescaled prediction is multiplied by."""
        return math.exp(statistics.fmean(math.log(r) for r in self.ratios.values()))

    @property
    def drift_pct(self) -> float:
        """How much slower (positive) or faster (negative) the device runs now, in %."""
        return 100.0 * (self.ratio - 1.0)

    @property
    def moved(self) -> bool:
        """Beyond the probes' own noise, and beyond how far the calibration's two readings
        differed: the band carries the noise, but the threshold carries both, since on a
        shared machine a reading moves that much with no drift at all (and one part, the
        copy, reads in two modes from one allocation of its buffers to the next)."""
        return abs(math.log(self.ratio)) > math.log1p(max(self.noise, self.apart))

    @property
    def agree(self) -> bool:
        """Whether one ratio carries every part (else the machine changed in kind)."""
        return max(self.ratios.values()) / min(self.ratios.values()) - 1.0 <= AGREE


def _timer(step: Callable[[], object]) -> Callable[[], float]:
    def timed() -> float:
        start = time.perf_counter()
        step()
        return time.perf_counter() - start

    return timed


def probe_input() -> tuple[ResolvedSpec, tuple[int, int, int, int]]:
    """The probe's model (parsed, not built) and its input shape: every runtime's probe
    part runs this one model at this one shape."""
    spec, batch = PROBE_MODEL
    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    return resolved, (batch, 3, res, res)


def _steps() -> dict[str, Callable[[], float]]:
    """The three torch parts, built once, on the CPU."""
    a, b = torch.randn(MATMUL, MATMUL), torch.randn(MATMUL, MATMUL)
    out = torch.empty(MATMUL, MATMUL)
    src = torch.empty(COPY_BYTES // 4).uniform_()
    dst = torch.empty_like(src)
    resolved, shape = probe_input()
    model = build_model(resolved).eval()
    x = torch.randn(*shape)

    def infer() -> None:
        with torch.inference_mode():
            model(x)

    return {
        "matmul": _timer(lambda: torch.mm(a, b, out=out)),
        "copy": _timer(lambda: dst.copy_(src)),
        "model": _timer(infer),
    }


def _blocks(steps: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each part's fastest run per block, after a warm-up (first-call allocations, kernel
    selection, a cold process); the parts interleaved within each block."""
    for _ in range(WARMUP):
        for step in steps.values():
            step()
    blocks: dict[str, list[float]] = {part: [] for part in steps}
    per_block = max(1, repeats // BLOCKS)
    for _ in range(BLOCKS):
        runs: dict[str, list[float]] = {part: [] for part in steps}
        for _ in range(per_block):
            for part, step in steps.items():
                runs[part].append(step())
        for part, times in runs.items():
            blocks[part].append(min(times))
    return blocks


def time_probe(extra: ProbeExtra | None = None, repeats: int = REPEATS) -> ProbeTiming:
    """Time the probe now: each part ``repeats`` times, interleaved, in ``BLOCKS`` blocks;
    its fastest run, and as noise the largest spread of the blocks' fastest runs. A
    runtime's own parts are timed after torch's, not among them: onnxruntime's and torch's
    thread pools each spin a while after their work, and interleaved they slowed each
    other (the probe's noise rose from 5-10% to 50-340% here). On a kept C heap, as the
    calibration it is compared with (``heap.py``)."""
    keep_heap()
    blocks = _blocks(_steps(), repeats)
    if extra is not None:
        blocks.update(_blocks({part: _timer(step) for part, step in extra.steps().items()},
                              repeats))  # fmt: skip
    fastest = {part: min(readings) for part, readings in blocks.items()}
    noise = max(max(readings) / min(readings) - 1.0 for readings in blocks.values())
    return ProbeTiming(fastest, max(NOISE_FLOOR, noise))


def probe_parts(extra: ProbeExtra | None) -> set[str]:
    """The parts a probe with ``extra`` times: what its calibration's probe must hold."""
    return set(PARTS) | set(extra.names if extra is not None else ())


def drift(then: ProbeTiming, extra: ProbeExtra | None = None) -> Drift:
    """Re-time the probe and compare it with ``then`` (the calibration's)."""
    start = time.perf_counter()
    now = time_probe(extra)
    ratios = {part: now.seconds[part] / then.seconds[part] for part in now.seconds}
    return Drift(ratios, max(now.noise, then.noise), time.perf_counter() - start, now.noise,
                 then.apart)  # fmt: skip
