"""Options shared by the commands, with the same names everywhere they apply."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..arch.specs import GRAMMAR_HINT, MAX_RESOLUTION, MIN_RESOLUTION
from ..choices import (
    AMP_DTYPES,
    ENGINES,
    FORMATS,
    OPTIMIZERS,
    POOLINGS,
    QUANTIZE,
    RUNTIMES,
    STRATEGIES,
    WEIGHT_DTYPES,
)
from ..devices import DEVICE_HINT


def _choice(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum whose members are ``values`` (member name = value), for Typer to offer as
    ``<a|b|c>``: built from ``choices`` so the parser accepts what the validators accept."""
    return Enum(name, {value: value for value in values}, type=str, module=__name__)


Format = _choice("Format", FORMATS)
Engine = _choice("Engine", ENGINES)
Pooling = _choice("Pooling", POOLINGS)
Amp = _choice("Amp", AMP_DTYPES)
Optimizer = _choice("Optimizer", OPTIMIZERS)
Dtype = _choice("Dtype", WEIGHT_DTYPES)


def chosen(choice: Enum | None) -> str | None:
    """An optional choice as the plain string the layers below the CLI take (they are
    called from Python too, so they accept and validate strings, not these enums)."""
    return None if choice is None else choice.value


VariantArg = Annotated[str, typer.Argument(help=f"Model spec: {GRAMMAR_HINT}.", show_default=False)]
ResolutionOpt = Annotated[
    int | None,
    typer.Option(
        "--resolution",
        "-r",
        min=MIN_RESOLUTION,
        max=MAX_RESOLUTION,
        help="Input size in pixels [default: variant's own].",
    ),
]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Images per batch.")]
ClassesOpt = Annotated[int, typer.Option("--num-classes", min=1, help="Classifier outputs.")]


def device_option(real: str) -> typer.models.OptionInfo:
    """--device of a command that works on meta by default; ``real`` says what a real
    device adds there (each command's own words: summary counts and times, memory runs the
    step and measures it)."""
    help_text = f"{DEVICE_HINT}. meta (default) allocates nothing; {real} [default: meta]"
    return typer.Option("--device", help=help_text, show_default=False)


SummaryDeviceOpt = Annotated[
    str | None,
    device_option(
        "a real device builds the model there, counts it on real tensors (--engine) and "
        "times a few steps, as bench does."
    ),
]
CompareDeviceOpt = Annotated[
    str | None,
    device_option("a real device builds each model there and counts it on real tensors."),
]
MemoryDeviceOpt = Annotated[
    str | None,
    device_option(
        "a real device also runs the step there and measures its peak of live tensors "
        "beside the prediction."
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
ExportOpt = Annotated[
    Path | None,
    typer.Option("--export", help="Also save the table view as self-contained .html or .svg."),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option("--plot", help="Also save a chart, .png or .svg (needs the 'plot' extra)."),
]


DtypeOpt = Annotated[
    Dtype,
    typer.Option("--dtype", help="Storage type for the weight-memory figure (MiB = 2^20 bytes)."),
]
WideOpt = Annotated[
    bool,
    typer.Option("--wide", help="Show every column even where the terminal is too narrow."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
]
WeightsOpt = Annotated[
    Path | None, typer.Option("--weights", help="Load this state_dict checkpoint (strict).")
]
EngineOpt = Annotated[
    Engine, typer.Option("--engine", help="FLOP engine: fast (shape probe), fvcore, or auto.")
]


AlphaOpt = Annotated[float, typer.Option("--alpha", help="Depth base α (d = α^φ).")]
BetaOpt = Annotated[float, typer.Option("--beta", help="Width base β (w = β^φ).")]
GammaOpt = Annotated[float, typer.Option("--gamma", help="Resolution base γ (r = base·γ^φ).")]
BaseResOpt = Annotated[
    int,
    typer.Option(
        "--base-resolution",
        min=MIN_RESOLUTION,
        max=MAX_RESOLUTION,
        help="B0's input size the scaling starts from.",
    ),
]


# Timing options, shared by bench and profile.
RealDeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:N or mps.")]
ItersOpt = Annotated[
    int | None, typer.Option("--iters", help="Timed steps (default: a --seconds budget).")
]
SecondsOpt = Annotated[
    float, typer.Option("--seconds", help="Time budget per model (at least 5 steps).")
]
WarmupOpt = Annotated[int, typer.Option("--warmup", help="Untimed steps first.")]
AmpOpt = Annotated[Amp | None, typer.Option("--amp", help="Autocast to bfloat16 or float16.")]
CheckpointOpt = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        help="With --train: run these Table-1 stages as activation-checkpoint segments, "
        "recomputed in backward: 3, 3-7, 2,4,6 or all; or auto with --limit (the stages "
        "that fit it with the least added time).",
        show_default=False,
    ),
]
ProfileCheckpointOpt = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        help="With --train: also time the step with these Table-1 stages (3, 3-7, 2,4,6 or "
        "all) as activation-checkpoint segments, in alternating pairs with the plain step: "
        "the time their recompute adds, beside its prediction.",
        show_default=False,
    ),
]
WorldSizeOpt = Annotated[
    int | None,
    typer.Option(
        "--world-size",
        help="With --train: data parallelism over N ranks, the batch split across them; adds "
        "each rank's peak (measured on gloo, one process a rank, with --device cpu).",
        show_default=False,
    ),
]
Strategy = _choice("Strategy", STRATEGIES)
StrategyOpt = Annotated[
    Strategy | None,
    typer.Option(
        "--strategy",
        help="With --world-size: ddp (DistributedDataParallel, default), zero1 (with "
        "ZeroRedundancyOptimizer), fsdp (FSDP2's fully_shard on each stage and the model).",
        show_default=False,
    ),
]
BucketViewOpt = Annotated[
    bool,
    typer.Option(
        "--bucket-view",
        help="With --world-size: DDP's gradient_as_bucket_view (gradients are bucket views).",
    ),
]
ChannelsLastOpt = Annotated[bool, typer.Option("--channels-last", help="NHWC memory format.")]
ThreadsOpt = Annotated[
    int | None, typer.Option("--threads", help="CPU threads (torch.set_num_threads).")
]
TrainOpt = Annotated[
    bool,
    typer.Option(
        "--train",
        help="Time a training step (cross-entropy, backward, no optimizer), not inference.",
    ),
]


# Runtimes, shared by bench (and, to come, profile).
Runtime = _choice("Runtime", RUNTIMES)
RuntimeOpt = Annotated[
    Runtime,
    typer.Option(
        "--runtime",
        help="eager (the nn.Module), compile (torch.compile, inductor; compile time apart) or "
        "onnxruntime (a fresh export in an InferenceSession; needs the deploy extra).",
    ),
]
ProfileRuntimeOpt = Annotated[
    Runtime,
    typer.Option(
        "--runtime",
        help="eager (default) or onnxruntime (a fresh export under onnxruntime's profiler, "
        "per stage and op type; with --predict-only, onnxruntime's own latency model; "
        "needs the deploy extra).",
    ),
]
OnnxOpt = Annotated[
    Path | None,
    typer.Option(
        "--onnx",
        help="With --runtime onnxruntime: run this .onnx file instead of a fresh export.",
        dir_okay=False,
    ),
]
Quantize = _choice("Quantize", QUANTIZE)
QuantizeOpt = Annotated[
    Quantize | None,
    typer.Option(
        "--quantize",
        help="With --runtime onnxruntime: quantize to int8 (static QDQ); bench times it "
        "beside float32, profile profiles it.",
    ),
]
