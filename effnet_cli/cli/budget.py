"""`effnet budget`: the paper's constrained problem, asked of every official variant and of
the compound-scaling rule. In a module of its own: commands.py holds the other commands."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Annotated

import typer

from ..arch.rules import BASE_RESOLUTION, DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_GAMMA, Compound
from ..measurement.budget.constraints import PHI_MAX, PHI_STEP, budget_constraints, phi_grid
from .app import app
from .options import (
    AlphaOpt,
    Amp,
    BetaOpt,
    ClassesOpt,
    Dtype,
    Format,
    FormatOpt,
    GammaOpt,
    Optimizer,
    OutputOpt,
    PlotOpt,
    ResolutionOpt,
    Runtime,
    Strategy,
    WideOpt,
    chosen,
)
from .output import check_paths, deliver, draw_plot, freeze_imports, phase_ticks, progress_bar

COUNT = "a decimal count: 2G, 500M, 2e9 (k, M, G, T = 10^3, 10^6, 10^9, 10^12)"
SIZE = ("bytes, decimal or binary: 20MB = 20×10^6, 20MiB = 20×2^20, 1.5GiB; kB, MB, GB, TB "
        "are powers of 1000, KiB, MiB, GiB, TiB of 1024")  # fmt: skip


BATCH_HELP = ("Batch of --max-memory and --max-latency [default: 1; with --max-memory alone, "
              "the largest batch is also searched].")  # fmt: skip
LATENCY_HELP = ("Most latency per batch on --device: 30ms, 0.5s, 250us (a plain number is ms); "
                "predicted without running the model unless --measure.")  # fmt: skip
DEVICE_HELP = ("cpu, cuda, cuda:N or mps: where latency is predicted or timed, and whose "
               "optimizer implementation --max-memory models [default: cpu].")  # fmt: skip
MEASURE_HELP = ("Time the candidates that meet the other limits for real (bench's median) "
                "instead of predicting their latency.")  # fmt: skip


def _opt(name: str, help_text: str, short: str | None = None) -> typer.models.OptionInfo:
    names = (name, short) if short else (name,)
    return typer.Option(*names, help=help_text, show_default=False)


# budget's own options. Those named like bench's or memory's (--batch-size, --train,
# --optimizer, --amp, --max-batch, --device) qualify a limit here, and their help says how.
MaxMacsOpt = Annotated[
    str | None, _opt("--max-macs", f"Most MACs (conv+linear, batch 1): {COUNT}.")
]
MaxParamsOpt = Annotated[str | None, _opt("--max-params", f"Most parameters: {COUNT}.")]
MaxWeightsOpt = Annotated[
    str | None, _opt("--max-weights", f"Most weight storage at --dtype: {SIZE}.")
]
BudgetDtypeOpt = Annotated[
    Dtype | None, _opt("--dtype", "Bytes per weight for --max-weights [default: float32].")
]
MaxMemoryOpt = Annotated[
    str | None, _opt("--max-memory", f"Most peak memory of the step (predicted): {SIZE}.")
]
BudgetReserveOpt = Annotated[
    str | None,
    _opt("--reserve", "Headroom kept free of --max-memory for what the peak leaves out (CUDA "
         "context, allocator rounding, workspaces): 1GiB, 0 [default: 512MiB on CUDA, else 0]."),
]  # fmt: skip
BudgetBatchOpt = Annotated[
    int | None, typer.Option("--batch-size", "-b", min=1, show_default=False, help=BATCH_HELP)
]
BudgetTrainOpt = Annotated[
    bool,
    typer.Option(
        "--train",
        help="--max-memory and --max-latency of a training step (latency: forward, "
        "cross-entropy, backward; no optimizer), not inference.",
    ),
]
BudgetOptimizerOpt = Annotated[
    Optimizer | None,
    _opt("--optimizer", "With --train: sgd (momentum 0.9, default), adam, adamw, none."),
]
BudgetAmpOpt = Annotated[Amp | None, _opt("--amp", "--max-memory under torch.autocast.")]
BudgetMaxBatchOpt = Annotated[
    bool, typer.Option("--max-batch", help="Also the largest batch within --max-memory per model.")
]
MaxLatencyOpt = Annotated[str | None, _opt("--max-latency", LATENCY_HELP)]
BudgetDeviceOpt = Annotated[str | None, _opt("--device", DEVICE_HELP)]
MeasureOpt = Annotated[bool, typer.Option("--measure", help=MEASURE_HELP)]
BudgetRuntimeOpt = Annotated[
    Runtime | None,
    typer.Option(
        "--runtime",
        help="What --max-latency is judged on: eager PyTorch (default) or onnxruntime "
        "(its own latency model, or timed in it with --measure; needs the deploy extra).",
        show_default=False,
    ),
]
CheckpointingOpt = Annotated[
    bool,
    typer.Option(
        "--checkpointing",
        help="With --max-memory and --train: a model over the limit may checkpoint stages "
        "(the cheapest set that fits, as memory --checkpoint auto), and the largest batch is "
        "searched with them; the table says which and the time they add.",
    ),
]
BudgetWorldSizeOpt = Annotated[
    int | None,
    _opt("--world-size", "With --max-memory and --train: the limit is one device's, judged on "
         "the highest rank's predicted peak with --batch-size (global) split over N ranks "
         "[default batch: one a rank]; Max batch is global."),
]  # fmt: skip
BudgetStrategyOpt = Annotated[
    Strategy | None,
    _opt("--strategy", "With --world-size: what each rank holds besides its step: ddp "
         "(gradient buckets, default), zero1 (its shard of the optimizer state) or fsdp "
         "(FSDP2 per stage: shards, all-gathered around each stage)."),
]  # fmt: skip
BudgetBucketViewOpt = Annotated[
    bool,
    typer.Option("--bucket-view", help="With --world-size: budget each rank's gradients as "
                 "views of DDP's buckets (gradient_as_bucket_view)."),
]  # fmt: skip
PhiStepOpt = Annotated[
    float, typer.Option("--phi-step", help="Grid of the φ search (must divide 1).")
]
PhiMaxOpt = Annotated[
    float, typer.Option("--phi-max", help="Largest φ searched (L2 is about φ 9).")
]


@app.command(short_help="Which official variant, which φ and which batch fit your limits.")
def budget(
    max_macs: MaxMacsOpt = None,
    max_params: MaxParamsOpt = None,
    max_weights: MaxWeightsOpt = None,
    dtype: BudgetDtypeOpt = None,
    max_memory: MaxMemoryOpt = None,
    reserve: BudgetReserveOpt = None,
    batch_size: BudgetBatchOpt = None,
    train: BudgetTrainOpt = False,
    optimizer: BudgetOptimizerOpt = None,
    amp: BudgetAmpOpt = None,
    max_batch: BudgetMaxBatchOpt = False,
    max_latency: MaxLatencyOpt = None,
    device: BudgetDeviceOpt = None,
    measure: MeasureOpt = False,
    runtime: BudgetRuntimeOpt = None,
    checkpointing: CheckpointingOpt = False,
    world_size: BudgetWorldSizeOpt = None,
    strategy: BudgetStrategyOpt = None,
    bucket_view: BudgetBucketViewOpt = False,
    resolution: ResolutionOpt = None,
    num_classes: ClassesOpt = 1000,
    alpha: AlphaOpt = DEFAULT_ALPHA,
    beta: BetaOpt = DEFAULT_BETA,
    gamma: GammaOpt = DEFAULT_GAMMA,
    phi_step: PhiStepOpt = PHI_STEP,
    phi_max: PhiMaxOpt = PHI_MAX,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
    plot: PlotOpt = None,
) -> None:
    """The paper's constrained problem: which official variant fits the limits (ranked by the
    paper's published top-1), the largest batch that fits --max-memory, and the largest φ
    whose compound-scaled model meets every limit. Give at least one --max-* limit."""
    check_paths(output, None, plot)
    c = budget_constraints(
        max_macs=max_macs, max_params=max_params, max_weights=max_weights,
        dtype=chosen(dtype), max_memory=max_memory, reserve=reserve, batch_size=batch_size,
        train=train, optimizer=chosen(optimizer), amp=chosen(amp), max_batch=max_batch,
        max_latency=max_latency, device=device, measure=measure, resolution=resolution,
        num_classes=num_classes, runtime=chosen(runtime), checkpointing=checkpointing,
        world_size=world_size, strategy=chosen(strategy), bucket_view=bucket_view,
    )  # fmt: skip
    _require_runtime(c.runtime)
    compound = Compound(0.0, alpha, beta, gamma, BASE_RESOLUTION).check()
    phi_grid(phi_step, phi_max)
    from ..measurement.budget.collect import collect
    from ..views.budget import budget_view

    freeze_imports()
    bar = progress_bar("budget")
    with bar or nullcontext():
        report = collect(c, compound, phi_step, phi_max, phase_ticks(bar, "budget"))
    for note in report.latency_notes:
        sys.stderr.write(f"effnet: {note}\n")
    deliver(budget_view(report), fmt, output, None, wide)
    draw_plot("plot_budget", plot, report)


def _require_runtime(runtime: str) -> None:
    """onnxruntime's latency needs the deploy extra: one line naming it when missing."""
    if runtime == "onnxruntime":
        from ..measurement.deploy.extra import require_deploy

        require_deploy("--runtime onnxruntime")
