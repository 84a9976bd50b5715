"""The commands: parse, call the measurement, render. Heavy imports happen inside them."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

from ..arch.scaling import base_family
from ..arch.specs import (
    BASE_RESOLUTION,
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_GAMMA,
    GRAMMAR_HINT,
    Compound,
    parse_variant,
)
from ..devices import parse_device
from ..errors import UsageError
from ..files import check_checkpoint_path
from ..ranks import data_parallel
from .app import app
from .memory_args import (
    MemoryLayoutOpt,
    MemoryLimitOpt,
    MemoryMaxBatchOpt,
    MemoryOptimizerOpt,
    MemoryTrainOpt,
    ReserveOpt,
    memory_fit,
    profile_stages,
    rank_limit,
    run_memory_step,
)
from .options import (
    AlphaOpt,
    AmpOpt,
    BaseResOpt,
    BatchOpt,
    BetaOpt,
    BucketViewOpt,
    ChannelsLastOpt,
    CheckpointOpt,
    ClassesOpt,
    CompareDeviceOpt,
    Dtype,
    DtypeOpt,
    Engine,
    EngineOpt,
    ExportOpt,
    Format,
    FormatOpt,
    GammaOpt,
    ItersOpt,
    MemoryDeviceOpt,
    OnnxOpt,
    Optimizer,
    OutputOpt,
    PlotOpt,
    Pooling,
    ProfileCheckpointOpt,
    ProfileRuntimeOpt,
    QuantizeOpt,
    RealDeviceOpt,
    ResolutionOpt,
    Runtime,
    RuntimeOpt,
    SecondsOpt,
    StrategyOpt,
    SummaryDeviceOpt,
    ThreadsOpt,
    TrainOpt,
    VariantArg,
    WarmupOpt,
    WeightsOpt,
    WideOpt,
    WorldSizeOpt,
    chosen,
)
from .output import (
    check_paths,
    deliver,
    draw_plot,
    emit,
    freeze_imports,
    notes_off_table,
    phase_ticks,
    progress_bar,
    table_width,
)

SUMMARY_TIMED_STEPS = 5
"""Forward passes `summary --device cpu|cuda` times for its latency line (after 1 warm-up)."""


BlocksOpt = Annotated[bool, typer.Option("--blocks", help="Add the per-MBConv-block table.")]
NoTopOpt = Annotated[
    bool, typer.Option("--no-top", help="Drop the classifier (Keras include_top=False).")
]
PoolingOpt = Annotated[Pooling, typer.Option("--pooling", help="Global pooling.")]
LayersOpt = Annotated[
    int | None,
    typer.Option("--layers", min=1, max=6, help="Add torchinfo's per-layer view to this depth."),
]


@app.command(short_help="One model: its Table 1, cost per stage and block, totals.")
def summary(
    variant: VariantArg,
    resolution: ResolutionOpt = None,
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    device: SummaryDeviceOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    dtype: DtypeOpt = Dtype.float32,
    blocks: BlocksOpt = False,
    engine: EngineOpt = Engine.auto,
    weights: WeightsOpt = None,
    no_top: NoTopOpt = False,
    pooling: PoolingOpt = Pooling.avg,
    layers: LayersOpt = None,
) -> None:
    """Per-stage table, the paper's Table 1 for this variant, and totals for one model.

    With --weights the model is built on the CPU (unless --device says otherwise) and the
    checkpoint must load with strict=True.
    """
    check_paths(output, export)
    spec = parse_variant(variant)
    if weights is not None:
        check_checkpoint_path(weights)
    dev = parse_device(device) if device else ("cpu" if weights else "meta")
    timing = None
    if dev != "meta":
        timing = _bench_settings(
            device=dev, batch_size=batch_size, resolution=resolution, num_classes=num_classes,
            iters=SUMMARY_TIMED_STEPS, warmup=1, weights=weights,
        )  # fmt: skip
    from ..measurement.counting.summary import measure_prepared
    from ..measurement.timing.bench import benchmark_prepared
    from ..measurement.trace.prepare import BuildOptions, input_shape, prepare
    from ..views.summary import summary_view

    shape = input_shape(spec, resolution, batch_size)
    build = BuildOptions(num_classes, not no_top, pooling.value)
    prepared = prepare(spec, dev, shape, build, weights)
    result = measure_prepared(prepared, engine.value, layers, dtype.value)
    if timing is not None:  # the same model, timed after it was counted
        result.benchmark = benchmark_prepared(prepared, timing)
    deliver(summary_view(result, blocks), fmt, output, export, wide)


class _Destination(NamedTuple):
    """Where a command's view goes: ``deliver``'s arguments after the view."""

    fmt: Format
    output: Path | None
    export: Path | None
    wide: bool


PhiOpt = Annotated[
    float | None,
    typer.Option("--phi", help="Compound coefficient φ (0 is B0; may be fractional)."),
]
SweepOpt = Annotated[
    str | None,
    typer.Option("--sweep", help="START:STOP[:STEP], STOP included: one row per φ."),
]
SearchOpt = Annotated[
    bool, typer.Option("--search", help="The paper's step 1: grid over α, β, γ at φ=1.")
]
GridStepOpt = Annotated[float, typer.Option("--grid-step", help="--search grid step.")]
ToleranceOpt = Annotated[
    float, typer.Option("--tolerance", help="--search: allowed |α·β²·γ² − 2|.")
]
TopOpt = Annotated[int, typer.Option("--top", min=1, help="--search: rows shown.")]
BaseOpt = Annotated[
    str,
    typer.Option(
        "--base",
        "--family",
        help="The base network φ scales: b0, lite0, edgetpu-s, resnet50, mobilenetv1, "
        "mobilenetv2 (or the family's key; v2 has no φ).",
    ),
]


@app.command(short_help="Compound scaling: φ, α, β, γ → d, w, r → the measured model.")
def scale(
    phi: PhiOpt = None,
    alpha: AlphaOpt = DEFAULT_ALPHA,
    beta: BetaOpt = DEFAULT_BETA,
    gamma: GammaOpt = DEFAULT_GAMMA,
    base_resolution: BaseResOpt = BASE_RESOLUTION,
    sweep: SweepOpt = None,
    search: SearchOpt = False,
    grid_step: GridStepOpt = 0.05,
    tolerance: ToleranceOpt = 0.1,
    top: TopOpt = 20,
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    plot: PlotOpt = None,
    base: BaseOpt = "b0",
) -> None:
    """Compound scaling explorer: α, β, γ, φ → d, w, r → the measured model, stage by stage."""
    check_paths(output, export, plot)
    family = base_family(base)
    if plot is not None and sweep is None:
        raise UsageError("--plot draws a sweep: use it with --sweep START:STOP[:STEP]")
    if (phi is not None) + (sweep is not None) + search != 1:
        raise UsageError("scale needs exactly one of --phi F, --sweep START:STOP[:STEP], --search")
    common = {"batch_size": batch_size, "num_classes": num_classes}
    compound = Compound(phi or 0.0, alpha, beta, gamma, base_resolution, family)
    to = _Destination(fmt, output, export, wide)
    if search:
        _scale_search((grid_step, tolerance, top), compound, common, to)
    elif sweep is not None:
        _scale_sweep(sweep, compound, common, to, plot)
    else:
        _scale_one(compound, common, to)


def _scale_search(
    grid: tuple[float, float, int], base: Compound, common: dict[str, int], to: _Destination
) -> None:
    """scale --search: every (α, β, γ) on the grid within the tolerance, measured at φ = 1."""
    from ..arch import scaling

    grid_step, tolerance, _ = grid
    candidates = scaling.search_grid(grid_step, tolerance)
    from ..measurement.counting.analysis import search as run_search
    from ..views.scale import search_view

    deliver(search_view(run_search(candidates, base, grid, **common)), *to)


def _scale_sweep(
    sweep: str, compound: Compound, common: dict[str, int], to: _Destination, plot: Path | None
) -> None:
    """scale --sweep: one measured model per φ, every φ checked before torch loads."""
    from ..arch import scaling

    phis = scaling.parse_sweep(sweep)
    for value in phis:
        scaling.derive(compound.at(value))  # validate before torch
    from ..measurement.counting.analysis import sweep as run_sweep
    from ..views.scale import sweep_view

    swept = run_sweep(phis, compound, **common)
    deliver(sweep_view(swept), *to)
    draw_plot("plot_sweep", plot, swept)


def _scale_one(compound: Compound, common: dict[str, int], to: _Destination) -> None:
    """scale --phi: d, w, r for one φ and the model they make, stage by stage."""
    from ..arch import scaling

    scaling.derive(compound)  # validate before torch
    from ..measurement.counting.analysis import scale_report
    from ..views.scale import scale_view

    deliver(scale_view(scale_report(compound, **common)), *to)


@app.command(short_help="Two or more models side by side, with ratios to the first.")
def compare(
    variants: Annotated[
        list[str], typer.Argument(help=f"Two or more specs: {GRAMMAR_HINT}.", show_default=False)
    ],
    resolution: ResolutionOpt = None,
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    device: CompareDeviceOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    dtype: DtypeOpt = Dtype.float32,
    plot: PlotOpt = None,
    engine: EngineOpt = Engine.auto,
) -> None:
    """Side-by-side comparison of two or more models, with ratios to the first."""
    check_paths(output, export, plot)
    if len(variants) < 2:
        raise UsageError(f"compare needs at least two variants, got {len(variants)}")
    specs = [parse_variant(v) for v in variants]
    dev = parse_device(device) if device else "meta"
    from ..measurement.counting.analysis import compare as run_compare
    from ..views.compare import compare_view

    result = run_compare(
        specs,
        resolution=resolution,
        batch_size=batch_size,
        num_classes=num_classes,
        device=dev,
        engine=engine.value,
        dtype=dtype.value,
    )
    deliver(compare_view(result), fmt, output, export, wide)
    draw_plot("plot_compare", plot, result)


@app.command("list", short_help="Every official variant, measured, beside the paper.")
def list_(
    batch_size: BatchOpt = 1,
    num_classes: ClassesOpt = 1000,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    export: ExportOpt = None,
    wide: WideOpt = False,
    dtype: DtypeOpt = Dtype.float32,
    plot: PlotOpt = None,
) -> None:
    """Every official variant: coefficients, measured params/MACs, the paper's figures."""
    check_paths(output, export, plot)
    from ..measurement.counting.analysis import list_variants
    from ..views.compare import list_view

    freeze_imports()
    variants = list_variants(batch_size=batch_size, num_classes=num_classes, dtype=dtype.value)
    deliver(list_view(variants), fmt, output, export, wide)
    draw_plot("plot_list", plot, variants)


@app.command(short_help="Peak memory of inference or a training step: predicted, measured.")
def memory(
    variant: VariantArg,
    batch_size: BatchOpt = 1,
    resolution: ResolutionOpt = None,
    num_classes: ClassesOpt = 1000,
    train: MemoryTrainOpt = False,
    optimizer: MemoryOptimizerOpt = None,
    device: MemoryDeviceOpt = None,
    max_batch: MemoryMaxBatchOpt = False,
    limit: MemoryLimitOpt = None,
    reserve: ReserveOpt = None,
    amp: AmpOpt = None,
    channels_last: MemoryLayoutOpt = False,
    checkpoint: CheckpointOpt = None,
    world_size: WorldSizeOpt = None,
    strategy: StrategyOpt = None,
    bucket_view: BucketViewOpt = False,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
) -> None:
    """Peak memory of inference or of a training step, predicted without allocating; on a
    real device the step also runs and its measured peak is shown beside the prediction."""
    check_paths(output)
    spec = parse_variant(variant)
    if optimizer is not None and not train:
        raise UsageError("--optimizer applies to a training step: add --train")
    fit = memory_fit(spec, train, checkpoint, max_batch, limit, reserve, device, chosen(amp))
    parallel = data_parallel(world_size, chosen(strategy), bucket_view, batch_size, train)
    rank_fit = rank_limit(parallel, max_batch, fit)
    step = dict(
        batch_size=batch_size, resolution=resolution, train=train,
        optimizer=(optimizer or Optimizer.sgd).value, device=fit.device, num_classes=num_classes,
        max_batch=max_batch and rank_fit is None, limit_bytes=fit.limit_bytes, amp=chosen(amp),
        channels_last=channels_last, reserve=fit.reserve,
    )  # fmt: skip
    from ..views.memory import memory_view

    report = run_memory_step(spec, checkpoint, step, parallel)
    if parallel is not None:  # each rank's step, beside the report's one-process step
        from ..measurement.memory.data_parallel import fit_ranks, per_rank

        report.per_rank = per_rank(spec, report, parallel, num_classes)
        if rank_fit is not None:  # the largest global batch, each rank within one device
            fit_ranks(spec, report, parallel, rank_fit, fit.reserve, num_classes)
    deliver(memory_view(report), fmt, output, None, wide)


VariantsArg = Annotated[
    list[str], typer.Argument(help=f"One or more specs: {GRAMMAR_HINT}.", show_default=False)
]
CompileOpt = Annotated[bool, typer.Option("--compile", help="torch.compile the model first.")]


@app.command(short_help="Measured latency, throughput and peak memory on a device.")
def bench(
    variants: VariantsArg,
    device: RealDeviceOpt = "cpu",
    batch_size: BatchOpt = 1,
    resolution: ResolutionOpt = None,
    num_classes: ClassesOpt = 1000,
    iters: ItersOpt = None,
    seconds: SecondsOpt = 5.0,
    warmup: WarmupOpt = 2,
    amp: AmpOpt = None,
    channels_last: ChannelsLastOpt = False,
    compile_: CompileOpt = False,
    threads: ThreadsOpt = None,
    train: TrainOpt = False,
    weights: WeightsOpt = None,
    runtime: RuntimeOpt = Runtime.eager,
    onnx: OnnxOpt = None,
    quantize: QuantizeOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
) -> None:
    """Measured latency, throughput and peak memory on a real device."""
    check_paths(output)
    specs = [parse_variant(v) for v in variants]
    if weights is not None:
        check_checkpoint_path(weights)
    if onnx is not None and len(specs) > 1:
        raise UsageError("--onnx gives one model's file: bench one variant with it")
    settings = _bench_settings(
        device=parse_device(device, meta_ok=False), batch_size=batch_size, resolution=resolution,
        num_classes=num_classes, iters=iters, seconds=seconds, warmup=warmup,
        amp=chosen(amp), channels_last=channels_last, compile=compile_,
        threads=threads, train=train, weights=weights, runtime=chosen(runtime), onnx=onnx,
        quantize=chosen(quantize),
    )  # fmt: skip
    if onnx is not None and not onnx.is_file():
        raise UsageError(f"--onnx {onnx}: no such file")
    if settings.runtime == "onnxruntime":
        from ..measurement.deploy.extra import require_deploy

        require_deploy("--runtime onnxruntime")
        from ..measurement.deploy import benchmark_onnx as benchmark
    else:
        from ..measurement.timing.bench import benchmark
    from ..views.bench import bench_view, noise_warnings
    from ..views.core import render

    results = []
    bar = progress_bar("bench")
    with bar or nullcontext():
        for spec in specs:
            task = bar.add_task(spec.title, total=iters) if bar else None
            tick = (lambda n, total, t=task: bar.update(t, completed=n)) if bar else None
            timed = benchmark(spec, settings, tick)  # onnxruntime: float32, then int8
            results += timed if isinstance(timed, list) else [timed]
    width = table_width(wide, output)
    emit(render(bench_view(results), fmt.value, width), output, width)
    notes_off_table(fmt, noise_warnings(results))


def _bench_settings(**values: Any):
    """Validated bench settings, before torch is imported for the run."""
    from ..measurement.timing.settings import BenchSettings

    return BenchSettings(**values).validate()


OpStepsOpt = Annotated[
    int, typer.Option("--op-steps", help="Steps timed under torch.profiler for op kinds.")
]
PredictOnlyOpt = Annotated[
    bool, typer.Option("--predict-only", help="Predict the latency without running the model.")
]
ProfileSecondsOpt = Annotated[
    float,
    typer.Option("--seconds", help="Time budget of the stage timing (at least 5 steps)."),
]
RecalibrateOpt = Annotated[
    bool, typer.Option("--recalibrate", help="Measure the roofline and latency model again.")
]


def _profile_onnx(spec: Any, settings: Any, fmt: Format, output: Path | None, wide: bool,
                  plot: Path | None) -> None:  # fmt: skip
    """profile --runtime onnxruntime: onnxruntime's own per-node times, by stage."""
    refused = [name for name, on in (("--recalibrate", settings.recalibrate), ("--plot", plot))
               if on]  # fmt: skip
    if refused:
        raise UsageError(f"{', '.join(refused)}: not for onnxruntime's measured profile (they "
                         "go with --predict-only, onnxruntime's latency model)")  # fmt: skip
    from ..measurement.deploy.extra import require_deploy

    require_deploy("--runtime onnxruntime")
    from ..measurement.deploy import profile_onnx
    from ..views.deploy import onnx_profile_view

    deliver(onnx_profile_view(profile_onnx(spec, settings)), fmt, output, None, wide)


def _profiler(runtime: str) -> Any:
    """The function behind a profile that is not onnxruntime's measured one: eager's, or
    onnxruntime's latency model (--predict-only)."""
    if runtime != "onnxruntime":
        from ..measurement.timing.profiling import profile as run_profile

        return run_profile
    from ..measurement.deploy.extra import require_deploy

    require_deploy("--runtime onnxruntime")
    from ..measurement.deploy import predict_onnx

    return predict_onnx


@app.command(short_help="Where the time goes: per stage and op kind, roofline, predicted.")
def profile(
    variant: VariantArg,
    device: RealDeviceOpt = "cpu",
    batch_size: BatchOpt = 1,
    resolution: ResolutionOpt = None,
    num_classes: ClassesOpt = 1000,
    iters: ItersOpt = None,
    seconds: ProfileSecondsOpt = 5.0,
    warmup: WarmupOpt = 2,
    op_steps: OpStepsOpt = 3,
    amp: AmpOpt = None,
    channels_last: ChannelsLastOpt = False,
    threads: ThreadsOpt = None,
    train: TrainOpt = False,
    predict_only: PredictOnlyOpt = False,
    recalibrate: RecalibrateOpt = False,
    weights: WeightsOpt = None,
    runtime: ProfileRuntimeOpt = Runtime.eager,
    onnx: OnnxOpt = None,
    quantize: QuantizeOpt = None,
    checkpoint: ProfileCheckpointOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    plot: PlotOpt = None,
    wide: WideOpt = False,
) -> None:
    """Time per stage and per op kind on a real device, beside MACs, bytes moved and the
    device's roofline; and the latency predicted without running the model."""
    check_paths(output, None, plot)
    spec = parse_variant(variant)
    if weights is not None:
        check_checkpoint_path(weights)
    from ..measurement.timing.settings import ProfileSettings

    settings = ProfileSettings(
        device=parse_device(device, meta_ok=False, command="profile"),
        batch_size=batch_size, resolution=resolution, num_classes=num_classes, iters=iters,
        seconds=seconds, warmup=warmup, amp=chosen(amp),
        channels_last=channels_last, threads=threads, train=train, weights=weights,
        op_steps=op_steps, predict_only=predict_only, recalibrate=recalibrate,
        runtime=chosen(runtime), onnx=onnx, quantize=chosen(quantize),
        checkpoint=profile_stages(checkpoint, spec, train),
    ).validate()  # fmt: skip
    if settings.runtime == "compile":
        raise UsageError("profile times eager or onnxruntime: torch.compile's graph has no "
                         "per-module stage marks")  # fmt: skip
    if settings.runtime == "onnxruntime" and not settings.predict_only:
        return _profile_onnx(spec, settings, fmt, output, wide, plot)
    from ..views.profile import profile_view, profile_warnings

    bar = progress_bar("profile")
    with bar or nullcontext():
        report = _profiler(settings.runtime)(spec, settings, phase_ticks(bar, spec.title))
    deliver(profile_view(report), fmt, output, None, wide)
    notes_off_table(fmt, [*report.notes, *profile_warnings(report)])
    draw_plot("plot_profile", plot, report)
