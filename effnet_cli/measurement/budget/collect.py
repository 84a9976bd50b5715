"""Collect for `effnet budget`: every official variant and the φ search's candidates,
measured against the limits. Nothing here prints.

Each model is built once on meta and probed once (MACs and parameters, counted as
`summary` counts them); its peak memory comes from the memory engine on that same model,
its latency from ``predicted_latency_ms`` (the latency model of `effnet profile`, which
never runs the model) or, with ``measure``, from timing it for real. Models and figures are
cached for the run, keyed by the network they build, so nothing is built twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from ...arch.checkpointing import checkpointable
from ...arch.families import FAMILIES
from ...arch.rules import BASE_RESOLUTION, DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_GAMMA, Compound
from ...arch.specs import (
    ResolvedSpec,
    SpecError,
    resolve_compound,
    resolve_official,
)
from ...model import EfficientNet, build_model
from ...ranks import DataParallel
from ...reports import (
    BenchResult,
    BudgetCheckpoint,
    BudgetConstraints,
    BudgetReport,
    BudgetRow,
    CompoundAnswer,
    Figures,
    PhiCandidate,
)
from ..counting.summary import MAC_KINDS
from ..memory.peak import largest_batch
from ..plan.search import Step
from ..trace.prepare import check_train_shape, input_shape
from ..trace.probe import Shape, Trace, probe_forward
from ..trace.simulate import MemoryPrediction, predict
from ..trace.stages import stage_module
from .constraints import (
    PHI_MAX,
    PHI_STEP,
    budget_constraints,
    judge,
    largest_phi,
    limit_of,
    phi_grid,
    rank,
    weight_bytes,
)

MEASURE_SECONDS = 1.0
"""Timing budget per candidate with --measure (at least MEASURE_STEPS steps after warm-up)."""
MEASURE_STEPS = 5
MEASURE_WARMUP = 2
Progress = Callable[[str, int, int | None], None]
"""A phase's progress: its label, steps done, steps in all."""
UNTIMED_FACTOR = 5.0
"""With --measure, a candidate predicted above this many times the latency limit is not
timed: it fails on the prediction, and the report says so."""


class LatencyModel:
    """`effnet profile`'s latency model for this run: its calibration read from the cache
    (or run and cached) once. ``fit`` fits once per set of calibration models used, and
    leaves out a calibration model that is the candidate itself, as profile does: no model
    predicts its own latency."""

    def __init__(
        self, progress: Progress | None = None, train: bool = False, runtime: str = "eager"
    ) -> None:
        from ..timing.latency import EAGER
        from ..timing.settings import calibrating
        from ..timing.trust import trusted

        label = calibrating(runtime)
        tick = None if progress is None else lambda done, total: progress(label, done, total)
        if runtime == "onnxruntime":
            from ..deploy.calibrate import ort_plan

            self.plan = ort_plan()
        else:
            self.plan = EAGER
        self.trust = trusted(progress=tick, plan=self.plan)
        if train:
            self.trust = self.trust.for_training()
        self.train = train
        self.state = self.trust.state
        self.note = "; ".join(self.trust.notes) or None

    def predict(self, spec: ResolvedSpec, trace: Trace, shape: Shape) -> float:
        """Milliseconds for one step of the probed ``trace`` (a training step's from the
        training forward's), rescaled by the device's drift since calibration; nothing runs."""
        from ..timing.latency import estimate, estimate_train, fit

        cal, scale = self.trust.calibration, self.state.scale
        if self.train:
            return estimate_train(trace, cal, (spec, shape), scale).total_ms
        model = fit(cal, leave_out=(spec, shape))
        return estimate(self.plan.priced(trace), model, scale).total_ms

    def band(self, predicted_ms: float) -> list[float]:
        """[low, high] ms around a prediction."""
        return list(self.trust.band(predicted_ms))


def load_latency_model(
    progress: Progress | None = None, train: bool = False, runtime: str = "eager"
) -> LatencyModel:
    return LatencyModel(progress, train, runtime)


def predicted_latency_ms(
    spec: ResolvedSpec, trace: Trace, shape: Shape, model: LatencyModel
) -> float:
    """The latency model's estimate for one inference step of ``spec`` at ``shape``, from
    the probe's trace of it. The one place the budget asks for a latency prediction."""
    return model.predict(spec, trace, shape)


def measured_latency(spec: ResolvedSpec, c: BudgetConstraints) -> BenchResult:
    """Real steps of ``spec`` on the device, timed by bench (its median judges): eager, or
    onnxruntime on a fresh export."""
    from ..timing.bench import benchmark
    from ..timing.settings import BenchSettings

    settings = BenchSettings(
        device=c.device, batch_size=c.batch_size, resolution=c.resolution,
        num_classes=c.num_classes, warmup=MEASURE_WARMUP, seconds=MEASURE_SECONDS,
        min_iters=MEASURE_STEPS, train=c.train, runtime=c.runtime,
    )  # fmt: skip
    if c.runtime == "onnxruntime":
        from ..deploy.runtime import benchmark_onnx

        return benchmark_onnx(spec, settings)[0]
    return benchmark(spec, settings)


@dataclass
class _Built:
    """One network built on meta and probed: what every later figure is read from."""

    model: EfficientNet
    macs: int
    params: int
    inference_peak: int | None
    """The memory engine's peak of one forward at batch 1, when the probe was its pass."""
    trace: Trace
    """The probe's trace at batch 1 (the latency model prices its ops)."""
    traces: dict[int, Trace] = field(default_factory=dict)
    phased: dict[int, MemoryPrediction] = field(default_factory=dict)
    """--checkpointing: the plain training step per batch, followed phase by phase (what the
    planner starts from)."""
    measured_ms: float | None = None


class Evaluator:
    """Measures models against the limits, building each network once per run."""

    def __init__(self, c: BudgetConstraints, progress: Progress | None = None) -> None:
        self.c = c
        self.progress = progress
        """Told when the latency model calibrates (a phase label, done, total)."""
        self.device_type = c.device.partition(":")[0]
        self.built: dict[tuple[str, tuple[Any, ...], int], _Built] = {}
        self.latency_notes: list[str] = []
        self.untimed: list[str] = []
        self.timings: list[BenchResult] = []
        self.latency: LatencyModel | None = None
        self.predicts = c.max_latency_ms is not None and self.device_type == "cpu"
        """The latency model is calibrated on the CPU; elsewhere only --measure times."""

    def shape(self, spec: ResolvedSpec, batch: int | None = None) -> Shape:
        return input_shape(spec, self.c.resolution, batch or self.c.batch_size)

    def _build(self, spec: ResolvedSpec) -> _Built:
        res = self.shape(spec)[2]
        key = (spec.family, spec.stages, res)
        if key not in self.built:
            model = build_model(spec, self.c.num_classes, device="meta")
            shape = (1, 3, res, res)
            peak = None
            if self.c.max_memory_bytes is not None:  # one pass gives trace and peak
                prediction = predict(model, shape)
                trace, peak = prediction.trace, prediction.peak_bytes
            else:
                trace = probe_forward(model, shape)
            macs = sum(op.macs for op in trace.ops if op.kind in MAC_KINDS)
            params = sum(p.numel() for p in model.parameters())
            self.built[key] = _Built(model, macs, params, peak, trace)
        return self.built[key]

    def peak(self, spec: ResolvedSpec, batch: int) -> int:
        """The predicted peak of the step the limits describe, at ``batch``."""
        c, built = self.c, self._build(spec)
        if not c.train and c.amp is None and batch == 1 and built.inference_peak is not None:
            return built.inference_peak
        shape = self.shape(spec, batch)
        if c.train:
            check_train_shape(shape)
        optimizer = c.optimizer or "sgd"
        if c.world_size is not None:  # the highest rank's step at its share of the batch
            return self._rank_peak(spec, (batch // c.world_size, *shape[1:]))
        if c.checkpointing:  # followed phase by phase: the planner starts from it
            step = self._step(spec, batch)
            built.phased[batch] = step.simulate((), phased=True)
            return built.phased[batch].peak_bytes
        return predict(built.model, shape, c.train, optimizer, self.device_type, c.amp).peak_bytes

    def _rank_peak(self, spec: ResolvedSpec, rank_shape: Shape, modules: list[str] | None = None
                   ) -> int:  # fmt: skip
        """--world-size: the highest rank's predicted peak, its batch ``rank_shape[0]``,
        with ``modules`` checkpointed."""
        from ..memory.data_parallel import highest_rank_peak

        c = self.c
        assert c.world_size is not None and c.strategy is not None
        setting = DataParallel(c.world_size, c.strategy, c.bucket_view)
        return highest_rank_peak(self._build(spec).model, rank_shape, setting,
                                 c.optimizer or "sgd", self.device_type, c.amp,
                                 modules or ())  # fmt: skip

    def _step(self, spec: ResolvedSpec, batch: int) -> Step:
        """The training step the planner searches, at the global ``batch``: with
        --world-size, a rank's at its share."""
        c, built, shape = self.c, self._build(spec), self.shape(spec, batch)
        if c.world_size is None:
            return Step(built.model, shape, c.optimizer or "sgd", self.device_type, c.amp)
        setting = DataParallel(c.world_size, c.strategy or "ddp", c.bucket_view)
        return Step(built.model, (batch // c.world_size, *shape[1:]), c.optimizer or "sgd",
                    self.device_type, c.amp, setting)  # fmt: skip

    def max_batch(self, spec: ResolvedSpec, peak: int) -> tuple[int, BudgetCheckpoint | None]:
        """The largest batch within --max-memory, from the peak already predicted; with
        --checkpointing, the largest with every stage checkpointed, and the cheapest stages
        that fit it (None: the largest batch needs none)."""
        c, built = self.c, self._build(spec)
        res, limit = self.shape(spec)[2], int(limit_of(c, "memory"))

        def search(known: dict[int, int], modules: list[str]) -> int:
            return largest_batch(spec, res, c.train, c.optimizer or "sgd", limit,
                                 self.device_type, c.num_classes, c.amp, built.model, known,
                                 modules)  # fmt: skip

        if c.world_size is not None:  # a rank's largest batch, times the ranks
            search = self._rank_search(spec, res, limit)
            plain = search({c.batch_per_rank: peak}, []) * c.world_size
        else:
            plain = search({c.batch_size: peak}, [])
        if not c.checkpointing:
            return plain, None
        most = search({}, [stage_module(s) for s in checkpointable(spec)]) * (c.world_size or 1)
        planned = self.plan(spec, most) if most > plain else None
        return (most, planned[1]) if planned else (plain, None)

    def _rank_search(self, spec: ResolvedSpec, res: int, limit: int
                     ) -> Callable[[dict[int, int], list[str]], int]:  # fmt: skip
        """--world-size: the largest batch of one rank whose highest rank fits ``limit``,
        with the modules named checkpointed in every rank."""
        c, built = self.c, self._build(spec)

        def search(known: dict[int, int], modules: list[str]) -> int:
            def peak_of(shape: Shape) -> int:
                return self._rank_peak(spec, shape, modules)

            return largest_batch(spec, res, True, c.optimizer or "sgd", limit, self.device_type,
                                 c.num_classes, c.amp, built.model, known,
                                 peak_of=peak_of)  # fmt: skip

        return search

    def plan(self, spec: ResolvedSpec, batch: int) -> tuple[int, BudgetCheckpoint] | None:
        """--checkpointing: the cheapest stages to checkpoint at ``batch`` whose peak fits
        --max-memory (``--checkpoint auto``'s plan), with that peak; None when none fits.
        With --world-size, each subset is judged on its highest rank."""
        from ..plan.search import highest_rank_subsets, options, plan_stages, subset_peaks
        from ..timing.recompute import price_trace

        c, step = self.c, self._step(spec, batch)
        if step.setting is None:
            plain = self._build(spec).phased.get(batch)
            found = subset_peaks(step, checkpointable(spec), plain=plain)
        else:
            found = highest_rank_subsets(step, checkpointable(spec))
        price = price_trace(found.trace, found.stages, self._latency().trust, spec, step.shape)
        best, fits = plan_stages(options(found, price.per_stage), int(limit_of(c, "memory")))
        return (best.peak_bytes, BudgetCheckpoint(best.stages, best.recompute_ms)) if fits else None

    def _memory(self, spec: ResolvedSpec, f: Figures, largest: bool) -> None:
        """The peak at --batch-size (checkpointed when it must be and may be) and the
        largest batch."""
        c = self.c
        f.peak_bytes = self.peak(spec, c.batch_size)
        if largest:
            f.max_batch, f.max_batch_checkpoint = self.max_batch(spec, f.peak_bytes)
        if c.checkpointing and f.peak_bytes > limit_of(c, "memory"):
            planned = self.plan(spec, c.batch_size)
            if planned is not None:
                f.peak_bytes, f.checkpoint = planned

    def fill(self, spec: ResolvedSpec, f: Figures, stop_early: bool, largest: bool) -> Figures:
        """Measure ``spec`` into ``f`` and judge it. ``stop_early`` skips the costlier
        figures once a cheaper one fails (the φ search); ``largest`` adds the largest batch."""
        c = self.c
        built = self._build(spec)
        f.macs, f.params = built.macs, built.params
        f.weight_bytes = weight_bytes(built.params, c)
        if stop_early and judge(f, c).failed:
            return f
        if c.max_memory_bytes is not None:
            self._memory(spec, f, largest)
        if c.max_latency_ms is None or (stop_early and judge(f, c).failed):
            return judge(f, c)
        if self.predicts:
            added = (f.checkpoint.recompute_ms or 0.0) if f.checkpoint else 0.0
            f.predicted_latency_ms = self.predicted_ms(spec) + added
            f.latency_ms, f.latency_source = f.predicted_latency_ms, "predicted"
            f.predicted_range_ms = (
                self.latency.band(f.predicted_latency_ms) if self.latency else None
            )
        if c.measure and not set(judge(f, c).failed) - {"latency"}:  # the others pass
            self._time(spec, f)
        return judge(f, c)

    def _latency(self) -> LatencyModel:
        """The latency model, loaded (and its calibration checked) once per run."""
        if self.latency is None:
            self.latency = load_latency_model(self.progress, self.c.train, self.c.runtime)
            if self.latency.note:
                self.latency_notes.append(self.latency.note)
        return self.latency

    def predicted_ms(self, spec: ResolvedSpec) -> float:
        """The latency model's estimate at the batch the limits name."""
        latency = self._latency()
        built, shape = self._build(spec), self.shape(spec)
        if shape[0] == 1 and not self.c.train:
            trace = built.trace
        else:  # a training step is priced from the training forward (batch statistics, dropout)
            if shape[0] not in built.traces:
                built.traces[shape[0]] = self._trace(built.model, shape)
            trace = built.traces[shape[0]]
        return predicted_latency_ms(spec, trace, shape, latency)

    def _trace(self, model: EfficientNet, shape: Shape) -> Trace:
        """The forward the latency limit prices: the training forward under --train."""
        if self.c.train:
            from ..timing.training import training_trace

            return training_trace(model, shape)
        return probe_forward(model, shape)

    def _time(self, spec: ResolvedSpec, f: Figures) -> None:
        """Time a candidate that meets every other limit (once per network), unless its
        prediction is so far over the limit that timing it would only take long."""
        limit = limit_of(self.c, "latency")
        if (f.predicted_latency_ms or 0.0) > UNTIMED_FACTOR * limit:
            self.untimed.append(spec.name)
            return
        built = self._build(spec)
        if built.measured_ms is None:
            timing = measured_latency(spec, self.c)
            self.timings.append(timing)
            built.measured_ms = timing.latency_ms["median"]
        f.measured_latency_ms = built.measured_ms
        f.latency_ms, f.latency_source = f.measured_latency_ms, "measured"


def _official_rows(ev: Evaluator) -> list[BudgetRow]:
    rows = []
    for family in FAMILIES.values():
        for name, variant in family.variants.items():
            spec = resolve_official(name)
            row = BudgetRow(
                variant=name, title=spec.title, family=family.key,
                resolution=ev.shape(spec)[2], batch_size=ev.c.batch_size,
                top1=variant.paper.top1 if variant.paper else None,
            )  # fmt: skip
            rows.append(ev.fill(spec, row, stop_early=False, largest=ev.c.max_batch))
    return rows


def _compound(ev: Evaluator, base: Compound, step: float, phi_max: float) -> CompoundAnswer:
    """Search φ (``largest_phi``), every candidate built and measured; then the largest
    batch and the nearest official variant of the answer."""
    found: dict[float, tuple[ResolvedSpec, PhiCandidate]] = {}

    def passes(phi: float) -> bool | None:
        try:
            spec = resolve_compound(base.at(phi))
        except SpecError:  # past the stated limits: the search's ceiling
            return None
        k = spec.coefficients
        candidate = PhiCandidate(phi=phi, width=k.width, depth=k.depth,
                                 resolution=ev.shape(spec)[2])  # fmt: skip
        found[phi] = (spec, ev.fill(spec, candidate, stop_early=True, largest=False))
        return candidate.fits

    walk = largest_phi(passes, step, phi_max)
    for phi, _, search_pass in walk.checked:
        found[phi][1].search_pass = search_pass
    answer = CompoundAnswer(
        phi=None, width=None, depth=None, resolution=None, nearest_official=None,
        alpha=base.alpha, beta=base.beta, gamma=base.gamma, base_resolution=base.base_resolution,
        phi_step=step, phi_max=phi_max, reached_max=walk.reached_max,
        checked=[found[point.phi][1] for point in walk.checked],
    )  # fmt: skip
    if walk.best is None:
        return answer
    spec, best = found[walk.best]
    if ev.c.max_batch and best.peak_bytes is not None:
        plain = best.peak_bytes if best.checkpoint is None else ev.peak(spec, ev.c.batch_size)
        best.max_batch, best.max_batch_checkpoint = ev.max_batch(spec, plain)
    for f in fields(Figures):
        setattr(answer, f.name, getattr(best, f.name))
    from ..counting.analysis import nearest_official

    answer.phi, answer.width, answer.depth = best.phi, best.width, best.depth
    answer.resolution, answer.nearest_official = best.resolution, nearest_official(spec).name
    return answer


def top1_source() -> str:
    """Where the top-1 figures come from, named on every view that shows them."""
    tables = list(dict.fromkeys(
        f"{f.paper_name or f.title} paper, {f.paper_table}" for f in FAMILIES.values()
        if any(v.paper for v in f.variants.values())
    ))  # fmt: skip
    return "published ImageNet top-1 (" + "; ".join(tables) + "); effnet never predicts accuracy"


def collect(
    c: BudgetConstraints,
    compound: Compound | None = None,
    phi_step: float = PHI_STEP,
    phi_max: float = PHI_MAX,
    progress: Progress | None = None,
) -> BudgetReport:
    """Every official variant against ``c``, ranked; the best by the paper's top-1; the
    largest φ (α, β, γ and base from ``compound``) whose model meets every limit.
    ``progress`` hears the latency model's calibration, when one runs."""
    start = time.perf_counter()
    compound = (compound or Compound(0.0)).check()
    phi_grid(phi_step, phi_max)  # refused before anything is built
    ev = Evaluator(c, progress)
    rows = rank(_official_rows(ev))
    officials = time.perf_counter()
    answer = _compound(ev, compound, phi_step, phi_max)
    best = next((r.variant for r in rows if r.rank == 1), None)
    notes = []
    if ev.untimed:
        notes.append(
            f"not timed (predicted above {UNTIMED_FACTOR:g}× the latency limit, judged on "
            f"the prediction): {', '.join(dict.fromkeys(ev.untimed))}"
        )
    seconds = {"officials": officials - start, "search": time.perf_counter() - officials,
               "total": time.perf_counter() - start}  # fmt: skip
    state = ev.latency.state if ev.latency is not None else None
    return BudgetReport(c, rows, best, answer, top1_source(), ev.latency_notes, notes, seconds,
                        ev.timings, state)  # fmt: skip


def budget(
    *,
    max_macs: str | int | float | None = None,
    max_params: str | int | float | None = None,
    max_weights: str | int | float | None = None,
    dtype: str | None = None,
    max_memory: str | int | float | None = None,
    reserve: str | None = None,
    batch_size: int | None = None,
    train: bool = False,
    optimizer: str | None = None,
    amp: str | None = None,
    max_batch: bool = False,
    max_latency: str | int | float | None = None,
    device: str | None = None,
    measure: bool = False,
    resolution: int | None = None,
    num_classes: int = 1000,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    gamma: float = DEFAULT_GAMMA,
    base_resolution: int = BASE_RESOLUTION,
    phi_step: float = PHI_STEP,
    phi_max: float = PHI_MAX,
    checkpointing: bool = False,
) -> BudgetReport:
    """The paper's constrained problem: which official variant, which φ and which batch
    meet the limits. Limits take numbers or text: ``max_macs="2G"``, ``max_weights="20MB"``,
    ``max_memory="4GiB"`` (less ``reserve="512MiB"``), ``max_latency="30ms"`` (see `effnet
    budget --help`)."""
    c = budget_constraints(
        max_macs=max_macs, max_params=max_params, max_weights=max_weights, dtype=dtype,
        max_memory=max_memory, reserve=reserve, batch_size=batch_size, train=train,
        optimizer=optimizer, amp=amp,
        max_batch=max_batch, max_latency=max_latency, device=device, measure=measure,
        resolution=resolution, num_classes=num_classes, checkpointing=checkpointing,
    )  # fmt: skip
    return collect(c, Compound(0.0, alpha, beta, gamma, base_resolution), phi_step, phi_max)
