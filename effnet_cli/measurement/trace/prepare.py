"""One path from a resolved spec to a model ready to measure, time or load weights into.

The model is built once, on meta (no weights allocated), and probed there: that gives the
shapes every measurement needs and the estimate for the fit check. Only then, on a real
device, is that same module given storage (``materialize``) and the user's weights. Counting,
timing and the fit check all use this one model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ...arch.rules import check_resolution
from ...arch.specs import ResolvedSpec
from ...devices import available_bytes, check_available, process_rss_bytes
from ...errors import RuntimeFailure, UsageError
from ...heap import release
from ...model import EfficientNet, build_model, load_weights, materialize
from .probe import Shape, Trace, probe_forward
from .simulate import MemoryPrediction, predict


@dataclass(frozen=True)
class BuildOptions:
    """How the network's top is built: classes, whether there is a classifier, pooling."""

    num_classes: int = 1000
    include_top: bool = True
    pooling: str = "avg"


@dataclass
class Prepared:
    """A model on its device, the probe trace of its input shape, and the process's memory
    just before its weights were allocated (the baseline a CPU peak is measured from)."""

    spec: ResolvedSpec
    model: EfficientNet
    shape: Shape
    device: str
    trace: Trace
    weights: str | None = None
    memory_base: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    inference_peak: int = 0
    """The memory engine's peak of one no-grad forward of this model at this shape."""
    training_prediction: MemoryPrediction | None = None
    """The memory engine's prediction of bench's training step (no optimizer state), kept
    from the fit check when the model was prepared for training."""

    def training_step(self) -> MemoryPrediction:
        """bench's training step as the memory engine predicts it: its peak, and the trace
        of a training forward (stochastic depth and dropout included)."""
        if self.training_prediction is None:
            device_type = self.device.partition(":")[0]
            self.training_prediction = predict(self.model, self.shape, True, "none", device_type)
        return self.training_prediction


def input_shape(spec: ResolvedSpec, resolution: int | None, batch_size: int) -> Shape:
    """(N, 3, H, W) for a measurement: the variant's own resolution unless one is given."""
    res = (
        check_resolution(resolution, "--resolution") if resolution else spec.coefficients.resolution
    )
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    return (batch_size, 3, res, res)


def check_train_shape(shape: Shape) -> None:
    """A training step needs more than one value per channel in every batch-norm."""
    if shape[0] == 1 and -(-shape[2] // 32) == 1:
        raise UsageError(
            f"--train at {shape[2]}px with batch 1 leaves batch-norm one value per channel "
            "(1×1 maps in the last stages): use --batch-size 2 or a resolution above 32"
        )


def check_fits(
    model: EfficientNet, device: str, shape: Shape, need: int, meta_ok: bool = True
) -> None:
    """Refuse (exit 1) before allocating a model whose step needs more than ``device`` has
    free; ``need`` is the memory engine's peak for the model still on meta."""
    free = available_bytes(device)
    if free is not None and need > free:
        gib = 1 << 30
        raise RuntimeFailure(
            f"{model.spec.title} at {shape[2]}px, batch {shape[0]} needs {need / gib:.1f} "
            f"GiB on {device}, which has {free / gib:.1f} GiB free; use a smaller --resolution or "
            "--batch-size" + (" or --device meta" if meta_ok else "")
        )


def prepare(
    spec: ResolvedSpec,
    device: str = "meta",
    shape: Shape | None = None,
    build: BuildOptions | None = None,
    weights: str | Path | None = None,
    training: bool = False,
    meta_ok: bool = True,
    peak: bool = True,
) -> Prepared:
    """Build ``spec`` once on meta, probe it, check it fits ``device``, then give it storage
    there and load ``weights``. Every command that needs a model comes through here;
    ``meta_ok`` says whether the command accepts meta, so no hint suggests it wrongly.
    ``peak=False`` probes shapes without the memory engine (left 0), on meta only: for
    views that show no peak (list, sweep, search) it is a third of the probe's time."""
    if weights is not None and device == "meta":
        raise UsageError("--weights needs a real device to load into: use --device cpu")
    check_available(device, meta_ok)
    shape = shape or input_shape(spec, None, 1)
    build = build or BuildOptions()
    start = time.perf_counter()
    model = build_model(spec, build.num_classes, build.include_top, build.pooling, "meta")
    built = time.perf_counter()
    if peak or device != "meta":  # one probe pass: the trace and the inference peak
        inference = predict(model, shape)
        trace, inference_peak = inference.trace, inference.peak_bytes
    else:
        trace, inference_peak = probe_forward(model, shape), 0
    probed = time.perf_counter()
    base = 0
    step = None
    if device != "meta":
        # training is counted without optimizer state, as bench runs it
        need = inference_peak
        if training:
            step = predict(model, shape, True, "none", device.partition(":")[0])
            need = step.peak_bytes
        check_fits(model, device, shape, need, meta_ok)
        release()  # what an earlier model left on a kept heap is not this one's base
        base = process_rss_bytes()
        materialize(model, device)
        if weights is not None:
            load_weights(model, weights)
    label = str(weights) if weights is not None else None
    seconds = {"build": built - start + time.perf_counter() - probed, "probe": probed - built}
    return Prepared(spec, model, shape, device, trace, label, base, seconds,
                    inference_peak, step)  # fmt: skip


def adopt(model: EfficientNet, shape: Shape) -> Prepared:
    """A model the caller built (the Python API's ``measure(model)``), as a Prepared one."""
    device = str(next(model.parameters()).device)
    start = time.perf_counter()
    inference = predict(model.eval(), shape)
    seconds = {"build": 0.0, "probe": time.perf_counter() - start}
    return Prepared(model.spec, model, shape, device, inference.trace, seconds=seconds,
                    inference_peak=inference.peak_bytes)  # fmt: skip
