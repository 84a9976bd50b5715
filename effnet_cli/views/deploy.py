"""The view of `effnet export`: the file written, what it holds, and its parity with torch.
No torch, no printing."""

from __future__ import annotations

from typing import Any

from ..reports import ExportReport
from .core import Column, Facts, Part, View, csv_text, grid, to_dict
from .numbers import nbytes

__all__ = ["FP32_TARGET", "export_view"]

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
