"""Latency predicted without running the model: per-op-kind costs fitted on other models.

Calibration (once per device, torch version and thread count; cached beside the roofline):
a small set of custom scalings — none of them an official variant — is run for real, and
every op of their forward passes is timed by torch.profiler and matched to its probe record
(``optimes.py``). For each op kind a cost model is fitted on those samples,

    seconds = fixed + MACs × per_mac + bytes read × per_read + bytes written × per_write,

by least squares on relative error with every coefficient ≥ 0, plus one figure for the
time between ops (Python and dispatch), from each calibration model's end-to-end time less
its ops' sum. A prediction then probes the model on meta (no arithmetic, nothing allocated),
prices each op by its kind's model and adds the gaps. A calibration model with the same
spec and input shape as the one predicted is left out of the fit, so the set never includes
the model being predicted.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from ..arch.specs import ResolvedSpec, parse_variant
from ..files import write_atomic
from ..model import build_model
from .optimes import OP_KINDS, op_kind, time_ops
from .probe import OpRecord, Trace, probe_forward
from .roofline import cache_key, cache_path

CACHE_NAME = "latency.json"
CALIBRATION = (
    ("w=0.5,d=0.5,r=128", 1),
    ("w=1.0,d=0.5,r=224", 1),
    ("w=2.0,d=0.3,r=528", 1),
    ("w=0.8,d=0.5,r=224", 8),
)
"""(spec, batch) of the calibration models: shallow custom scalings from 128 px to 528 px
and batch 1 to 8, so the samples span tiny ops ruled by overheads and ops whose tensors are
far beyond any cache. None is an official variant. (Chosen from ten candidate sets by their
error on B1–B7; benchmarks/latency_accuracy.py also checks models no set was chosen on.)"""
PROFILED_STEPS = 3
TIMED_STEPS = 3

Progress = Callable[[int, int], None]


@dataclass
class ModelSamples:
    """One calibration model's ops (kind, MACs, bytes read, bytes written, seconds) and its
    end-to-end time."""

    spec: str
    shape: tuple[int, int, int, int]
    ops: list[tuple[str, int, int, int, float]]
    seconds: float


@dataclass
class Calibration:
    device: str
    torch_version: str
    threads: int
    models: list[ModelSamples]
    seconds: float
    """How long the calibration took."""


@dataclass(frozen=True)
class CostModel:
    """Fitted costs: per kind (fixed s, s per MAC, s per byte read, s per byte written), and
    the seconds between consecutive ops."""

    kinds: dict[str, tuple[float, ...]]
    gap: float
    knee: int
    used: tuple[str, ...] = ()
    """The calibration models it was fitted on."""

    def op_seconds(self, op: OpRecord) -> float:
        coef = self.kinds.get(op_kind(op))
        if coef is None:
            return 0.0
        x = _features(op.macs, op.read_bytes + op.weight_bytes, op.write_bytes, self.knee)
        return sum(c * f for c, f in zip(coef, x, strict=True))


@dataclass
class LatencyEstimate:
    """A prediction: per op (aligned with the trace), per kind, the whole, and the note to
    show when the calibration cache had to be ignored."""

    trace: Trace
    op_seconds: list[float]
    gap_seconds: float
    model: CostModel
    note: str | None = None
    by_kind: dict[str, float] = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        return 1e3 * (sum(self.op_seconds) + self.gap_seconds * len(self.op_seconds))


# ----------------------------------------------------------------------------- calibrate


def _timed_ops(trace: Trace) -> list[OpRecord]:
    return [op for op in trace.ops if op.kind not in ("dropout", "loss")]


def _samples(spec: str, batch: int) -> ModelSamples:
    """Run one calibration model for real: its ops under the profiler, then bare steps."""
    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    shape = (batch, 3, res, res)
    model = build_model(resolved).eval()
    x = torch.randn(*shape)
    trace = probe_forward(model, shape)

    def step() -> None:
        with torch.inference_mode():
            model(x)

    step()
    times = time_ops(step, trace, PROFILED_STEPS)
    bare = []
    for _ in range(TIMED_STEPS):
        start = time.perf_counter()
        step()
        bare.append(time.perf_counter() - start)
    ops = [
        (op_kind(op), op.macs, op.read_bytes + op.weight_bytes, op.write_bytes, s)
        for op, s in zip(trace.ops, times.seconds, strict=True)
        if op.kind not in ("dropout", "loss")
    ]
    return ModelSamples(spec, shape, ops, statistics.median(bare))


def calibrate(progress: Progress | None = None) -> Calibration:
    """Time the calibration set on the CPU now (a few seconds)."""
    start = time.perf_counter()
    models = []
    for i, (spec, batch) in enumerate(CALIBRATION):
        models.append(_samples(spec, batch))
        if progress is not None:
            progress(i + 1, len(CALIBRATION))
    return Calibration("cpu", torch.__version__, torch.get_num_threads(), models,
                       time.perf_counter() - start)  # fmt: skip


# ----------------------------------------------------------------------------- fit


def _nnls(rows: list[list[float]], target: list[float]) -> list[float]:
    """Least squares with every coefficient ≥ 0: the best unconstrained fit over each subset
    of the features (four features, fifteen subsets) whose coefficients are all ≥ 0."""
    a = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(target, dtype=torch.float64).unsqueeze(1)
    n = a.shape[1]
    best, best_err = [0.0] * n, float(y.square().sum())
    for size in range(1, n + 1):
        for cols in itertools.combinations(range(n), size):
            sub = a[:, list(cols)]
            coef = torch.linalg.lstsq(sub, y).solution.squeeze(1)
            if bool((coef < 0).any()):
                continue
            err = float((sub @ coef.unsqueeze(1) - y).square().sum())
            if err < best_err:
                best_err = err
                best = [0.0] * n
                for c, v in zip(cols, coef.tolist(), strict=True):
                    best[c] = v
    return best


KNEES = tuple(mib << 20 for mib in (1, 2, 4, 8, 16, 32, 64))
"""Candidate footprints (bytes read + written) beyond which an op pays the large-tensor
rates: out of cache, and on the CPU fresh pages for its output. The fit picks one."""


def _features(macs: int, read: int, write: int, knee: int) -> list[float]:
    big = float(read + write > knee)
    return [1.0, float(macs), float(read), float(write), big * read, big * write]


def _fit_kind(samples: list, knee: int) -> tuple[list[float], float]:
    """One kind's coefficients at one knee, and their summed squared relative error."""
    rows = [[f / s for f in _features(m, r, w, knee)] for _, m, r, w, s in samples]
    coef = _nnls(rows, [1.0] * len(rows))
    err = sum((sum(c * f for c, f in zip(coef, row, strict=True)) - 1) ** 2 for row in rows)
    return coef, err


def _same(samples: ModelSamples, spec: ResolvedSpec, shape: tuple) -> bool:
    """Whether a calibration model is ``spec`` at ``shape``: same family, multipliers and
    input, whatever the spelling."""
    mine = parse_variant(samples.spec)
    return (
        tuple(samples.shape) == tuple(shape)
        and mine.family == spec.family
        and mine.stages == spec.stages
    )


def fit(calibration: Calibration, leave_out: tuple[ResolvedSpec, tuple] | None = None
        ) -> CostModel:  # fmt: skip
    """The cost model from every calibration model except ``leave_out`` (spec, shape)."""
    used = [m for m in calibration.models if leave_out is None or not _same(m, *leave_out)]
    by_kind = {k: [o for m in used for o in m.ops if o[0] == k and o[4] > 0] for k in OP_KINDS}
    best: tuple[float, int, dict] | None = None
    for knee in KNEES:
        fits = {k: _fit_kind(samples, knee) for k, samples in by_kind.items() if samples}
        err = sum(e for _, e in fits.values())
        if best is None or err < best[0]:
            best = (err, knee, {k: tuple(c) for k, (c, _) in fits.items()})
    _, knee, kinds = best if best is not None else (0.0, KNEES[0], {})
    gaps = [max(0.0, (m.seconds - sum(o[4] for o in m.ops)) / len(m.ops)) for m in used]
    used_names = tuple(f"{m.spec} (batch {m.shape[0]})" for m in used)
    return CostModel(kinds, statistics.median(gaps) if gaps else 0.0, knee, used_names)


def estimate(trace: Trace, model: CostModel, note: str | None = None) -> LatencyEstimate:
    """Price every op of a probe trace; nothing runs."""
    ops = _timed_ops(trace)
    seconds = [model.op_seconds(op) for op in ops]
    by_kind: Counter = Counter()
    for op, s in zip(ops, seconds, strict=True):
        by_kind[op_kind(op)] += s
    timed = Trace(ops, trace.shapes, trace.leaf_output_elements, trace.output_shape)
    return LatencyEstimate(timed, seconds, model.gap, model, note, dict(by_kind))


# ----------------------------------------------------------------------------- cache


def _read(path) -> tuple[dict, str | None]:
    if not path.exists():
        return {}, None
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(entries, dict):
            raise ValueError("not an object")
        for value in entries.values():
            _load(value)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return {}, f"ignored the latency calibration cache {path} ({type(exc).__name__}); " + (
            "calibrating again"
        )
    return entries, None


def _load(value: dict) -> Calibration:
    models = [ModelSamples(m["spec"], tuple(m["shape"]), [tuple(o) for o in m["ops"]],
                           float(m["seconds"])) for m in value["models"]]  # fmt: skip
    return Calibration(value["device"], value["torch_version"], int(value["threads"]), models,
                       float(value["seconds"]))  # fmt: skip


def calibration(recalibrate: bool = False, progress: Progress | None = None
                ) -> tuple[Calibration, str | None]:  # fmt: skip
    """The CPU's calibration from the cache, or run (and cached) when missing or asked."""
    path = cache_path().with_name(CACHE_NAME)
    entries, note = _read(path)
    key = cache_key("cpu", torch.get_num_threads())
    if not recalibrate and key in entries:
        return _load(entries[key]), note
    fresh = calibrate(progress)
    entries[key] = asdict(fresh)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(entries) + "\n")
    except OSError:
        note = f"could not write the latency calibration cache {path}"
    return fresh, note
