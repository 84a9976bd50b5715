"""`effnet export`: the ONNX file written, and what was checked about it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExportReport:
    """One exported model: where it went, what it holds, and how its logits compare with
    torch's on the same input. Field names are the JSON keys (path, opset, bytes, ops,
    parity as the design names them)."""

    variant: str
    title: str
    path: str
    opset: int
    bytes: int
    ops: dict[str, int]
    """ONNX node count by op type, most frequent first."""
    parity: dict[str, float]
    """max_abs_diff: the largest |onnxruntime − torch| over the logits; rtol: that over the
    largest |logit| (an untrained EfficientNet's logits can be 1e-14, so the absolute figure
    alone says little); logits_max_abs; batches: the batch sizes compared."""
    params: int
    """The model's parameter count."""
    initializer_params: int
    """Elements of the file's initializers named as the model's parameters: must equal
    ``params`` (batch-norm stays a node, so nothing is folded away)."""
    input_shape: list[int | str]
    """The graph's input: 'batch' where --dynamic-batch left it free."""
    exporter: str
    """Which torch exporter wrote the file, and its settings."""
    weights: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
