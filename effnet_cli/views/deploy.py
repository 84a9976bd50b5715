"""The view of `effnet export`: the file written, what it holds, and its parity with torch.
No torch, no printing."""

from __future__ import annotations

from typing import Any

from ..reports import ExportReport, OnnxProfile, OnnxStage
from .core import Column, Facts, Part, View, csv_text, grid, to_dict
from .numbers import nbytes

__all__ = ["FP32_TARGET", "export_view", "onnx_profile_view"]

FP32_TARGET = 1e-4
"""Largest |onnxruntime − torch| over the logits that float32 parity allows."""


def _parity_line(r: ExportReport) -> str:
    p = r.parity
    verdict = "within" if p["max_abs_diff"] <= FP32_TARGET else "OVER"
    batches = " and ".join(str(b) for b in p["batches"])
    return (f"max |Δ| {p['max_abs_diff']:.3g} ({verdict} the float32 target {FP32_TARGET:g}); "
            f"{p['rtol']:.3g} of the largest |logit| ({p['logits_max_abs']:.3g}); batch "
            f"{batches}, one seeded input each")  # fmt: skip


def _lines(r: ExportReport) -> list[tuple[str, str]]:
    same = "equal" if r.initializer_params == r.params else "DIFFER"
    shape = "×".join(str(d) for d in r.input_shape)
    return [
        ("File", f"{r.path} · {nbytes(r.bytes)} ({r.bytes:,} bytes)"),
        ("Model", f"{r.title}" + (f" · weights {r.weights}" if r.weights else " · random weights")),
        ("Input", f"{shape} float32 (opset {r.opset})"),
        ("Exporter", r.exporter),
        ("Parameters", f"model {r.params:,} · read back from the initializers "
                       f"{r.initializer_params:,}: {same}"),
        ("onnx.checker", "passed (full check)"),
        ("onnxruntime vs torch", _parity_line(r)),
        ("Versions", ", ".join(f"{k} {v}" for k, v in r.versions.items())),
    ]  # fmt: skip


OPS: list[Column[tuple[str, int]]] = [
    Column("Op type", lambda o: o[0], align="l", keep=True),
    Column("Nodes", lambda o: str(o[1]), keep=True),
]


def export_parts(r: ExportReport) -> list[Part]:
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
    return [
        Facts(f"Exported {r.title} to ONNX", _lines(r)),
        grid(f"Nodes by op type ({sum(r.ops.values())} in all)", OPS, list(r.ops.items())),
        f"Took {seconds}. Written under a temporary name and renamed into place only after the "
        "checker, onnxruntime and the parity run accepted it.",
    ]


def _csv_row(r: ExportReport) -> dict[str, Any]:
    nested = ("ops", "parity", "versions", "seconds", "input_shape")
    flat = {k: v for k, v in to_dict(r).items() if k not in nested}
    flat["input_shape"] = "x".join(str(d) for d in r.input_shape)
    flat |= {k: v for k, v in r.parity.items() if k != "batches"}
    flat["parity_batches"] = " ".join(str(b) for b in r.parity["batches"])
    flat |= {f"seconds_{k}": v for k, v in r.seconds.items()}
    flat |= {f"version_{k}": v for k, v in r.versions.items()}
    return flat | {f"ops_{k}": v for k, v in r.ops.items()}


def export_view(r: ExportReport) -> View:
    row = _csv_row(r)
    columns = [Column("", None, key, lambda d, k=key: d[k]) for key in row]
    return View(lambda w: export_parts(r), lambda: to_dict(r), lambda: csv_text(columns, [row]))


# ----------------------------------------------------------------------------- profile

ONNX_STAGES: list[Column[OnnxStage]] = [
    Column("Stage", lambda s: str(s.stage), "stage", keep=True),
    Column("Operator", lambda s: s.operator, "operator", align="l"),
    Column("ms", lambda s: f"{s.ms:.3f}", "ms", keep=True),
    Column("Kernels ms", lambda s: f"{s.kernel_ms:.3f}", "kernel_ms"),
    Column("Share", lambda s: f"{100 * s.share:.1f}%", "share", keep=True),
    Column("Nodes", lambda s: str(s.nodes), "nodes"),
]
OP_TYPES: list[Column[tuple[str, float, int]]] = [
    Column("Op type (as run)", lambda o: o[0], align="l", keep=True),
    Column("ms", lambda o: f"{o[1]:.3f}", keep=True),
    Column("Nodes", lambda o: str(o[2])),
]


def _profile_lines(p: OnnxProfile) -> list[tuple[str, str]]:
    gap = (p.stage_sum_ms - p.end_to_end_ms) / p.end_to_end_ms if p.end_to_end_ms else 0.0
    source = p.onnx_file or "a fresh export"
    if p.quantize:
        source += f", quantized to {p.quantize} (static QDQ, random calibration data)"
    return [
        ("Runtime", f"onnxruntime, CPU execution provider, full graph optimisation, "
                    f"{p.threads} intra-op threads"),
        ("File", source),
        ("Input", f"{p.batch_size}×3×{p.resolution}×{p.resolution} float32"),
        ("End to end", f"{p.end_to_end_ms:.3f} ms median of {p.steps} profiled steps "
                       "(onnxruntime's model_run)"),
        ("Stages, summed", f"{p.stage_sum_ms:.3f} ms, {100 * gap:+.1f}% from the whole "
                           f"(kernels alone {p.kernel_sum_ms:.3f} ms; the rest, the waits "
                           "between them)"),
        ("Fused or added nodes", f"{p.fused_nodes} of the optimized graph are not in the file"),
    ]  # fmt: skip


def onnx_profile_parts(p: OnnxProfile) -> list[Part]:
    ops = [(k, v, p.op_nodes[k]) for k, v in p.op_types.items()]
    return [
        Facts(f"{p.title} on onnxruntime", _profile_lines(p)),
        grid("Per stage (per step: kernels and the waits before them)", ONNX_STAGES, p.stages),
        grid("Per op type of the graph onnxruntime ran", OP_TYPES, ops),
        f"Attribution: {p.attribution}. QuickGelu is onnxruntime's fused SiLU; ReorderInput "
        "and ReorderOutput change layout to and from NCHWc blocks.",
    ]


def onnx_profile_view(p: OnnxProfile) -> View:
    leading = {"variant": p.variant, "runtime": "onnxruntime"}
    return View(lambda w: onnx_profile_parts(p), lambda: to_dict(p),
                lambda: csv_text(ONNX_STAGES, p.stages, leading))  # fmt: skip
