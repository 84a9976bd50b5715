"""Every closed set of values an option accepts, named once.

The Typer enums in ``cli/options.py`` are built from these tuples, and every validator
below the CLI (the bench settings, the budget's constraints, the memory command, the FLOP
engine choice, the model's pooling) checks against the same tuples. A value added here is
offered by ``--help``, accepted by the parser and accepted by the library call at once;
nothing can be accepted in one place and refused in another.

Plain data only: no torch, no Typer, no effnet imports, so anything may read it, from
``effnet --help`` to the memory engine.
"""

from __future__ import annotations

FORMATS: tuple[str, ...] = ("table", "json", "csv", "markdown")
"""--format: how a view is rendered (``table`` is Rich's, for a terminal)."""

ENGINES: tuple[str, ...] = ("auto", "fast", "fvcore")
"""--engine: who counts the MACs. fast is the shape probe (works on meta), fvcore needs
real tensors, auto picks fast on meta and fvcore on a real device."""

POOLINGS: tuple[str, ...] = ("avg", "max")
"""--pooling: the head's global pooling (Keras ``pooling=``)."""

AMP_DTYPES: tuple[str, ...] = ("bfloat16", "float16")
"""--amp: the dtypes torch.autocast runs convolutions and the linear layer in."""

DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
"""Bytes one weight takes in each storage type --dtype accepts: the one fact every weight
dtype carries, kept with its name so that the two cannot drift apart."""

WEIGHT_DTYPES: tuple[str, ...] = tuple(DTYPE_BYTES)
"""--dtype: storage types for the weight-memory figure (and budget's --max-weights)."""

OPTIMIZER_NAMES: dict[str, str] = {
    "sgd": "SGD, momentum 0.9",
    "adam": "Adam",
    "adamw": "AdamW",
    "none": "no optimizer (gradients only)",
}
"""How each --optimizer is shown in a report: the first is the default."""

OPTIMIZERS: tuple[str, ...] = tuple(OPTIMIZER_NAMES)
"""--optimizer: the training step's optimizer; ``none`` keeps the gradients only."""

FAMILY_KEYS: tuple[str, ...] = (
    "v1",
    "v2",
    "lite",
    "edgetpu",
    "resnet",
    "mobilenetv1",
    "mobilenetv2",
)
"""The model families a spec's ``family=`` and scale's --family name. The families
themselves (stage tables, variants) are data in ``arch/families.py``; its ``FAMILIES``
keys must be these, in this order (a test checks)."""

QUANTIZE: tuple[str, ...] = ("int8",)
"""--quantize of the onnxruntime runtime: static QDQ int8 (onnxruntime.quantization)."""

RUNTIMES: tuple[str, ...] = ("eager", "compile", "onnxruntime")
"""--runtime of bench (and budget's latency): eager PyTorch, torch.compile (inductor), and
ONNX Runtime on the `effnet export` file (the deploy extra)."""

STRATEGY_NAMES: dict[str, str] = {
    "ddp": "DistributedDataParallel",
    "zero1": "DDP + ZeroRedundancyOptimizer",
    "fsdp": "FSDP2 fully_shard",
}
"""--strategy of per-rank memory (--world-size), and how each is shown: the first is the
default."""

STRATEGIES: tuple[str, ...] = tuple(STRATEGY_NAMES)
"""--strategy: how a data-parallel step holds the model on each rank."""
