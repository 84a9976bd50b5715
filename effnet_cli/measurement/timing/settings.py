"""Bench settings: validated without torch, so a bad --iters answers at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ...arch.checkpointing import TRAIN_ONLY
from ...choices import AMP_DTYPES, QUANTIZE, RUNTIMES
from ...errors import UsageError

MAX_ITERS = 100_000
CALIBRATING = "calibrating latency"
"""The progress label of the latency model's calibration: the CLI announces its start on
a pipe, where no bar is drawn."""
CHANNELS_LAST = "eager channels-last"
"""The latency model of eager steps with --channels-last: calibrated on its own timings."""
LATENCY_CACHES = {"eager": "latency.json", "onnxruntime": "latency-onnxruntime.json",
                  CHANNELS_LAST: "latency-channels-last.json"}  # fmt: skip
"""Each runtime's latency calibration, in its own file of effnet's cache directory."""


def calibrating(runtime: str) -> str:
    """The calibration's progress label for a runtime (eager's is the plain one)."""
    return CALIBRATING if runtime == "eager" else f"{CALIBRATING} ({runtime})"


@dataclass
class BenchSettings:
    """How to time: device, input, iteration budget and execution options."""

    device: str = "cpu"
    batch_size: int = 1
    resolution: int | None = None
    num_classes: int = 1000
    warmup: int = 2
    iters: int | None = None
    seconds: float = 5.0
    min_iters: int = 5
    amp: str | None = None
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None
    train: bool = False
    weights: str | Path | None = None
    runtime: str = "eager"
    """eager (the nn.Module), compile (torch.compile, inductor) or onnxruntime (the exported
    file in an InferenceSession, CPU execution provider)."""
    onnx: str | Path | None = None
    """With onnxruntime: the user's .onnx file instead of a fresh export."""
    quantize: str | None = None
    """With onnxruntime: 'int8' also times the static-QDQ-quantized file beside float32."""
    command: ClassVar[str] = "bench"

    def validate(self) -> BenchSettings:
        """Reject impossible budgets before torch is asked for anything."""
        for name in ("batch_size", "num_classes", "min_iters"):
            if getattr(self, name) < 1:
                raise UsageError(
                    f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}"
                )
        if self.warmup < 0:
            raise UsageError(f"--warmup must be >= 0, got {self.warmup}")
        if self.iters is not None and not 1 <= self.iters <= MAX_ITERS:
            raise UsageError(f"--iters must be in 1..{MAX_ITERS}, got {self.iters}")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise UsageError(f"--seconds must be a finite number > 0, got {self.seconds:g}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {self.threads}")
        if self.amp is not None and self.amp not in AMP_DTYPES:
            raise UsageError(f"--amp must be one of {', '.join(AMP_DTYPES)}, got '{self.amp}'")
        if self.device == "meta":
            raise UsageError(
                f"{self.command} needs a real device to time on (cpu, cuda, cuda:N, mps), not meta"
            )
        return self._check_runtime()

    def _check_runtime(self) -> BenchSettings:
        """--runtime against the other options; --compile is --runtime compile."""
        if self.runtime not in RUNTIMES:
            accepted = ", ".join(RUNTIMES)
            raise UsageError(f"--runtime must be one of {accepted}, got '{self.runtime}'")
        if self.compile and self.runtime == "onnxruntime":
            raise UsageError("--compile is --runtime compile: it does not go with onnxruntime")
        if self.compile:
            self.runtime = "compile"
        self.compile = self.runtime == "compile"
        if self.onnx is not None and self.runtime != "onnxruntime":
            raise UsageError("--onnx FILE gives onnxruntime its model: use --runtime onnxruntime")
        if self.quantize is not None and self.quantize not in QUANTIZE:
            raise UsageError(f"--quantize must be {', '.join(QUANTIZE)}, got '{self.quantize}'")
        if self.quantize is not None and self.runtime != "onnxruntime":
            raise UsageError("--quantize int8 quantizes the ONNX file: use --runtime onnxruntime")
        if self.runtime == "onnxruntime":
            unsupported = [name for name, on in (("--train", self.train), ("--amp", self.amp),
                           ("--channels-last", self.channels_last)) if on]  # fmt: skip
            if self.device != "cpu":
                raise UsageError("--runtime onnxruntime runs on its CPU execution provider "
                                 "here: use --device cpu")  # fmt: skip
            if unsupported:
                raise UsageError(f"--runtime onnxruntime times float32 inference: drop "
                                 f"{', '.join(unsupported)}")  # fmt: skip
            if self.onnx is not None and self.weights is not None:
                raise UsageError("--weights and --onnx both give the weights: use one")
        return self


@dataclass
class ProfileSettings(BenchSettings):
    """Bench's settings, plus how to profile: op-kind steps, prediction, calibration."""

    command: ClassVar[str] = "profile"
    op_steps: int = 3
    predict_only: bool = False
    recalibrate: bool = False
    checkpoint: tuple[int, ...] = ()
    """With train: these Table-1 stages also timed as checkpoint segments (parsed by the
    caller against the spec: ``arch.checkpointing``)."""

    def validate(self) -> ProfileSettings:
        super().validate()
        if not 1 <= self.op_steps <= MAX_ITERS:
            raise UsageError(f"--op-steps must be in 1..{MAX_ITERS}, got {self.op_steps}")
        if self.predict_only and self.unpredictable():
            raise UsageError(f"--predict-only: {self.unpredictable()}")
        if self.predict_only and (self.onnx is not None or self.quantize is not None):
            raise UsageError("--predict-only prices the model's float32 export: drop --onnx "
                             "and --quantize")  # fmt: skip
        if self.checkpoint and not self.train:
            raise UsageError(TRAIN_ONLY.format(option="--checkpoint"))
        return self

    def unpredictable(self) -> str:
        """Why these settings have no latency prediction ('' when they have one)."""
        if self.device != "cpu":
            return "the latency prediction is calibrated on the CPU only (use --device cpu)"
        if self.compile:
            return ("the latency model covers --runtime eager and onnxruntime, not compile "
                    "(inductor's kernels are not the ops the probe sees)")  # fmt: skip
        if self.amp:
            return ("the latency prediction covers float32 steps, inference or training "
                    "(channels-last: inference): drop --amp")  # fmt: skip
        if self.train and self.channels_last:
            return ("the training-step prediction is calibrated in NCHW only (inference has "
                    "--channels-last): drop --channels-last")  # fmt: skip
        return ""
