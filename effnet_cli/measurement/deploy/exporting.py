"""`effnet export`: the model written as ONNX, checked, and run in onnxruntime against torch.

Which exporter: torch's dynamo-based ``torch.onnx.export(..., dynamo=True)``, the path torch
maintains (its default since 2.9; the TorchScript exporter is deprecated). It traces the
module with ``torch.export``, so SiLU, squeeze-excitation and stochastic depth export as
the ops they are. Its own optimizer is left off (``optimize=False``) because it folds
batch-norm into the convolutions, and the file would no longer hold the model's parameters
one for one; onnxscript's constant folding and dead-node removal run instead, which clean
the shape arithmetic of a dynamic batch and leave every layer a node. onnxruntime fuses
Conv+BatchNorm itself when it loads the file (full graph optimisation).

The file is written beside its destination under a temporary name, checked with
``onnx.checker``, loaded in an onnxruntime session and compared with torch's logits; only
then is it renamed into place. Nothing is half-written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...arch.specs import ResolvedSpec
from ...errors import RuntimeFailure, UsageError
from ...files import staged
from ...reports import ExportReport
from ..trace.prepare import input_shape, prepare
from .extra import require_deploy

MIN_OPSET = 18
"""The lowest opset torch's dynamo exporter writes: asked for 17, it writes 18."""
PROTOBUF_LIMIT = 2**31
"""One .onnx file is one protobuf message: at most 2 GiB (L2's 1.9 GB of weights fits)."""
EXPORTER = (
    "torch.onnx.export(dynamo=True, optimize=False), then onnxscript's constant folding "
    "and dead-node removal"
)


def opset_range() -> tuple[int, int, int]:
    """(lowest, default, highest) opset: the exporter's own default and highest native
    opset (torch.onnx's constants; beyond it a version converter takes over), capped by
    what the installed onnx knows."""
    import onnx

    try:
        from torch.onnx import _constants

        default, highest = _constants.ONNX_DEFAULT_OPSET, _constants.ONNX_MAX_OPSET
    except (ImportError, AttributeError):  # a torch without them: the values of torch 2.13
        default, highest = 20, 23
    highest = min(highest, onnx.defs.onnx_opset_version())
    return MIN_OPSET, min(max(default, MIN_OPSET), highest), highest


def check_opset(opset: int | None) -> int:
    """The opset to write: the exporter's default when none is asked; one line otherwise."""
    low, default, high = opset_range()
    if opset is None:
        return default
    if not low <= opset <= high:
        raise UsageError(
            f"--opset {opset} is not supported: torch's ONNX exporter writes {low}..{high}"
        )
    return opset


@contextlib.contextmanager
def quiet() -> Any:
    """torch's exporter and onnxruntime's quantization tools print progress to stdout and
    log warnings (torchvision missing, deprecations, calibration steps): effnet's stdout is
    its report, so they are held back."""
    names = ("torch.onnx", "torch.export", "torch", "")  # "": the root logger
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _to_onnx(model: torch.nn.Module, x: torch.Tensor, opset: int, dynamic: bool) -> Any:
    """The ModelProto of ``model`` on inputs like ``x``."""
    import onnx_ir
    from onnxscript.optimizer import fold_constants, remove_unused_nodes

    shapes = ({0: torch.export.Dim("batch", min=1, max=4096)},) if dynamic else None
    with quiet():
        try:
            program = torch.onnx.export(model, (x,), None, dynamo=True, opset_version=opset,
                                        optimize=False, dynamic_shapes=shapes)  # fmt: skip
        except Exception as exc:  # the exporter raises many types
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            message = f"torch.onnx could not export: {type(exc).__name__}: {first}"
            raise RuntimeFailure(message) from None
        ir_model = program.model
        fold_constants(ir_model)
        remove_unused_nodes(ir_model)
    return onnx_ir.to_proto(ir_model)


def session(path: Path, threads: int | None, profile: Path | None = None) -> Any:
    """An onnxruntime session on the CPU execution provider, full graph optimisation,
    ``threads`` intra-op threads; a file onnxruntime rejects is one line. With ``profile``
    (a directory), onnxruntime's profiler is on and the optimized graph is written there
    as optimized.onnx, for `profile --runtime onnxruntime` to read."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    if profile is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile / "profile")
        options.optimized_model_filepath = str(profile / "optimized.onnx")
        options.log_severity_level = 3  # the optimized file's hardware warning is expected
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types
        first = str(exc).strip().splitlines()[0][:200]
        raise RuntimeFailure(f"onnxruntime cannot load {path.name}: {first}") from None


def random_feed(sess: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    """The one input bench and profile feed a session: seeded float32, made before timing."""
    data = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    return {sess.get_inputs()[0].name: data}


def _parity(model: torch.nn.Module, session: Any, shape: tuple[int, ...], dynamic: bool) -> dict:
    """Largest |onnxruntime − torch| over the logits of one seeded input (and of a batch one
    larger when the batch is dynamic), absolute and relative to the largest logit."""
    batches = [shape[0], shape[0] + 1] if dynamic else [shape[0]]
    worst, scale = 0.0, 0.0
    generator = torch.Generator().manual_seed(0)
    name = session.get_inputs()[0].name
    for batch in batches:
        x = torch.randn(batch, *shape[1:], generator=generator)
        with torch.no_grad():
            ref = model(x).numpy()
        out = session.run(None, {name: x.numpy()})[0]
        worst = max(worst, float(np.abs(out - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
    return {"max_abs_diff": worst, "rtol": worst / scale if scale else 0.0,
            "logits_max_abs": scale, "batches": batches}  # fmt: skip


def _initializer_params(proto: Any, model: torch.nn.Module) -> int:
    names = {name for name, _ in model.named_parameters()}
    return sum(int(np.prod(i.dims)) for i in proto.graph.initializer if i.name in names)


def _input_shape(proto: Any) -> list[int | str]:
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


def export_onnx(
    spec: ResolvedSpec,
    path: str | Path,
    resolution: int | None = None,
    batch_size: int = 1,
    dynamic_batch: bool = False,
    opset: int | None = None,
    weights: str | Path | None = None,
) -> ExportReport:
    """Export ``spec`` (with ``weights`` when given) to ``path`` and check the file."""
    require_deploy("effnet export")
    import onnx
    import onnxruntime

    opset = check_opset(opset)
    path = Path(path)
    shape = input_shape(spec, resolution, batch_size)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    p = prepare(spec, "cpu", shape, weights=weights, meta_ok=False, peak=False)
    model = p.model.eval()
    proto = _to_onnx(model, torch.randn(shape), opset, dynamic_batch)
    seconds["export"] = time.perf_counter() - start
    data = proto.SerializeToString() if proto.ByteSize() < PROTOBUF_LIMIT else None
    if data is None:
        raise RuntimeFailure(f"{spec.title} exports to more than 2 GiB, protobuf's limit of "
                             "one .onnx file")  # fmt: skip
    with staged(path) as tmp:
        tmp.write_bytes(data)
        start = time.perf_counter()
        try:
            onnx.checker.check_model(str(tmp), full_check=True)
        except onnx.checker.ValidationError as exc:
            first = str(exc).splitlines()[0]
            raise RuntimeFailure(f"onnx.checker rejects the export: {first}") from None
        seconds["check"] = time.perf_counter() - start
        start = time.perf_counter()
        sess = session(tmp, torch.get_num_threads())
        parity = _parity(model, sess, shape, dynamic_batch)
        seconds["parity"] = time.perf_counter() - start
    ops = dict(Counter(n.op_type for n in proto.graph.node).most_common())
    return ExportReport(
        variant=spec.name, title=spec.title, path=str(path), opset=opset, bytes=len(data),
        ops=ops, parity=parity, params=sum(q.numel() for q in model.parameters()),
        initializer_params=_initializer_params(proto, model), input_shape=_input_shape(proto),
        exporter=EXPORTER, weights=str(weights) if weights else None,
        versions={"torch": torch.__version__, "onnx": onnx.__version__,
                  "onnxruntime": onnxruntime.__version__},
        seconds=seconds,
    )  # fmt: skip
