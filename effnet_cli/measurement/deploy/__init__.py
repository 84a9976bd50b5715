"""Deploy: the model as it ships. ``export_onnx`` writes the ONNX file (torch's exporter),
checks it with onnx's checker and runs it in onnxruntime against torch's logits;
``benchmark_onnx`` times it in onnxruntime through timing's loop; ``predict_onnx`` prices it
by onnxruntime's own latency calibration (``calibrate.py``). The extra
(onnx, onnxruntime, onnxscript) is optional: ``extra.py`` (no torch) says what to install."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(
    __name__,
    {
        "export_onnx": "exporting",
        "benchmark_onnx": "runtime",
        "profile_onnx": "profiling",
        "predict_onnx": "calibrate",
        "ort_plan": "calibrate",
    },
)
