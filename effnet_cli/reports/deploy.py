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


@dataclass
class OnnxStage:
    """One Table-1 stage (timed numbering: the classifier apart) as onnxruntime ran it."""

    stage: int
    operator: str
    ms: float
    """Per step (mean over the profiled steps): the stage's kernels and the wait before each
    (since the previous kernel ended), so the stages add up to the whole step."""
    kernel_ms: float
    """The kernels alone."""
    share: float
    """Of all kernel time."""
    nodes: int


@dataclass
class OnnxProfile:
    """`profile --runtime onnxruntime`: per-node kernel times from onnxruntime's profiler,
    summed per stage and per op type of the graph onnxruntime actually ran."""

    variant: str
    title: str
    batch_size: int
    resolution: int
    threads: int
    steps: int
    end_to_end_ms: float
    """Median of the profiled steps' whole run (onnxruntime's model_run events)."""
    kernel_sum_ms: float
    """Per step, every kernel's time: the op-type table adds up to it."""
    stage_sum_ms: float
    """Per step, the stages' ``ms``: kernels and the waits between them."""
    stages: list[OnnxStage]
    op_types: dict[str, float]
    """Milliseconds per step by the optimized graph's op type (QuickGelu is a fused SiLU,
    ReorderInput/Output are NCHWc layout changes), largest first."""
    op_nodes: dict[str, int]
    fused_nodes: int
    """Nodes of the optimized graph that are not nodes of the exported file (fusions,
    layout transforms), each attributed through its name or the values it reads/writes."""
    attribution: str
    onnx_file: str | None = None
    """The user's file (--onnx), or None: a fresh export."""
    quantize: str | None = None
    """'int8': the static-QDQ-quantized file was profiled (--quantize)."""
