"""`effnet export`: a model written as ONNX and checked against torch. In a module of its
own: commands.py holds the measuring commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..arch.specs import parse_variant
from ..files import check_checkpoint_path, check_writable
from .app import app
from .options import (
    BatchOpt,
    Format,
    FormatOpt,
    ResolutionOpt,
    VariantArg,
    WeightsOpt,
    WideOpt,
)
from .output import deliver

FileArg = Annotated[Path, typer.Argument(help="Where to write the .onnx file.", dir_okay=False)]
DynamicBatchOpt = Annotated[
    bool, typer.Option("--dynamic-batch", help="Leave the batch dimension free in the graph.")
]
OpsetOpt = Annotated[
    int | None, typer.Option("--opset", help="ONNX opset to write [default: torch's, 20].")
]


@app.command(short_help="Export a model to ONNX; check it and compare onnxruntime with torch.")
def export(
    variant: VariantArg,
    file: FileArg,
    resolution: ResolutionOpt = None,
    batch_size: BatchOpt = 1,
    dynamic_batch: DynamicBatchOpt = False,
    opset: OpsetOpt = None,
    weights: WeightsOpt = None,
    fmt: FormatOpt = Format.table,
    wide: WideOpt = False,
) -> None:
    """Write VARIANT as ONNX with torch's exporter, validate it with onnx.checker, load it in
    onnxruntime and compare its logits with torch's on the same input."""
    spec = parse_variant(variant)
    check_writable(file)
    if weights is not None:
        check_checkpoint_path(weights)
    from ..measurement.deploy.extra import require_deploy

    require_deploy("effnet export")
    from ..measurement.deploy import export_onnx
    from ..views.deploy import export_view

    report = export_onnx(spec, file, resolution, batch_size, dynamic_batch, opset, weights)
    deliver(export_view(report), fmt, None, wide=wide)
