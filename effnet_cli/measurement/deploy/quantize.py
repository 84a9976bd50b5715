"""`--quantize int8`: static QDQ quantization with onnxruntime's own tools.

The float32 file is pre-processed (onnxruntime's ``quant_pre_process``: ONNX shape
inference and graph clean-up; its symbolic shape inference is skipped, as it cannot read
the constants torch's exporter writes), then ``quantize_static`` inserts QuantizeLinear /
DequantizeLinear pairs: weights int8 per output channel, activations uint8 (the pairing
onnxruntime recommends on x86 CPUs), ranges by min-max calibration on ``SAMPLES`` random
inputs. Random inputs give ranges but no accuracy: without data and trained weights nothing
can be said about top-1, and effnet says so beside every int8 figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import RuntimeFailure
from .exporting import quiet

SAMPLES = 8
"""Random calibration inputs (seeded): enough for min-max ranges of a random-weight model."""


class _RandomInputs:
    """The calibration data reader: ``SAMPLES`` seeded standard-normal batches."""

    def __init__(self, name: str, shape: tuple[int, ...]) -> None:
        rng = np.random.default_rng(0)
        self.items = iter(
            [{name: rng.standard_normal(shape, dtype=np.float32)} for _ in range(SAMPLES)]
        )

    def get_next(self) -> dict[str, Any] | None:
        return next(self.items, None)


def quantize_int8(fp32: Path, out: Path, input_name: str, shape: tuple[int, ...]) -> None:
    """Write the int8 QDQ model of ``fp32`` to ``out``."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    reader = type("Reader", (_RandomInputs, CalibrationDataReader), {})(input_name, shape)
    pre = out.with_suffix(".pre.onnx")
    try:
        with quiet():
            quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
            quantize_static(
                str(pre), str(out), reader, quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                per_channel=True, calibrate_method=CalibrationMethod.MinMax,
            )  # fmt: skip
    except Exception as exc:  # onnxruntime's tools raise many types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise RuntimeFailure(f"int8 quantization failed: {type(exc).__name__}: {first}") from None
    finally:
        pre.unlink(missing_ok=True)
