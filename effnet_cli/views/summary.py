"""The view of `effnet summary`: header, the variant's Table 1, cost per stage, bars, blocks,
torchinfo's layers and totals. Every FLOP figure carries its convention: MACs are
multiply-accumulates of conv + linear layers (the paper's "FLOPS"). No torch, no printing.
"""

from __future__ import annotations

from typing import Any

from ..arch.families import FAMILIES, OPERATOR_NAMES
from ..choices import DTYPE_BYTES
from ..kinds import BlockKind
from ..reports import ELEMENTWISE_KINDS, BlockFigures, LayerRow, StageFigures, Summary
from .bench import bench_dict
from .core import (
    MACS_LABEL,
    MACS_NOTE,
    Column,
    Facts,
    Grid,
    Part,
    View,
    csv_blocks,
    csv_field,
    csv_text,
    grid,
    to_dict,
    total_field,
)
from .numbers import bar, bar_cells, hw, macs_g, nbytes, pct, si


def short_operator(s: StageFigures) -> str:
    """'MBConv6 k5' for the narrow cost table, 'Stem' and 'Head' for the first and last
    stage; the full name stays in Table 1."""
    if s.operator.startswith(tuple(OPERATOR_NAMES.values())):
        return f"{s.operator.split(',')[0]} k{s.kernel}"
    if "Pooling" in s.operator:
        return "Head"
    return "Stem" if s.stage == 1 else s.operator


TOTALS_ONLY = ("trainable_params", "param_bytes", "buffer_bytes", "weight_dtype", "weight_bytes")
"""Totals the JSON carries that have no per-stage column: the CSV's total row fills them."""

TABLE1: list[Column[StageFigures]] = [
    Column("Stage", lambda s: str(s.stage)),
    Column("Operator", lambda s: s.operator, align="l"),
    Column("Input H×W", lambda s: hw(s.input_resolution)),
    Column("Channels", lambda s: str(s.out_channels)),
    Column("Layers", lambda s: str(s.layers)),
]
"""EfficientNet's Table 1: stage, operator, input resolution, channels, layers."""
TABLE4: list[Column[StageFigures]] = [
    Column("Stage", lambda s: str(s.stage)),
    Column("Operator", lambda s: s.operator, align="l"),
    Column("Stride", lambda s: str(s.stride)),
    Column("Channels", lambda s: str(s.out_channels)),
    Column("Layers", lambda s: str(s.layers)),
    Column("Input H×W", lambda s: hw(s.input_resolution)),
]
"""EfficientNetV2's Table 4: stage, operator, stride, channels, layers (and the input size)."""
STAGE_TABLES = {"Table 1": TABLE1, "Table 2": TABLE4, "Table 4": TABLE4}
"""A family's stage table (``Family.stage_table``) → its columns: MobileNetV2's Table 2
lists strides as EfficientNetV2's Table 4 does."""

STAGES: list[Column[StageFigures]] = [
    Column("Stage", lambda s: str(s.stage), "stage", keep=True),
    Column("Operator", short_operator, "operator", align="l"),
    csv_field("kind"),
    csv_field("kernel"),
    csv_field("stride"),
    csv_field("expand_ratio"),
    csv_field("input_resolution"),
    Column("Output H×W", lambda s: hw(s.output_resolution), "output_resolution"),
    csv_field("in_channels"),
    csv_field("out_channels"),
    Column("Channels", lambda s: f"{s.in_channels}→{s.out_channels}"),
    csv_field("layers"),
    Column("Params", lambda s: si(s.params, 4), "params", keep=True),
    Column("%", lambda s: pct(s.params_share), "params_share", keep=True),
    Column("MACs", lambda s: si(s.macs, 4), "macs", keep=True),
    Column("%", lambda s: pct(s.macs_share), "macs_share", keep=True),
    Column("Layer outputs", lambda s: nbytes(s.activation_bytes), "activation_bytes", keep=True),
    *(
        csv_field(f"elementwise_{kind}", lambda s, kind=kind: s.elementwise_ops.get(kind, 0))
        for kind in ELEMENTWISE_KINDS
    ),
    *(total_field(name) for name in TOTALS_ONLY),
]

BLOCKS: list[Column[BlockFigures]] = [
    csv_field("stage"),
    csv_field("block"),
    csv_field("name"),
    Column("Block", lambda b: f"{b.stage}.{b.block}", keep=True),
    csv_field("kind"),
    csv_field("kernel"),
    csv_field("stride"),
    Column("k/s", lambda b: f"k{b.kernel} s{b.stride}", align="l"),
    Column("Input", lambda b: hw(b.input_resolution), "input_resolution"),
    csv_field("in_channels"),
    csv_field("expanded_channels"),
    Column(
        "in→exp→out", lambda b: f"{b.in_channels}→{b.expanded_channels}→{b.out_channels}", keep=True
    ),
    Column("SE", lambda b: str(b.se_channels) if b.se_channels else "–", "se_channels"),
    csv_field("out_channels"),
    csv_field("output_resolution"),
    Column("Skip", lambda b: "yes" if b.residual else "", "residual", align="l"),
    Column("Drop", lambda b: f"{b.stochastic_depth:.3f}", "stochastic_depth"),
    Column("Params", lambda b: si(b.params, 4), "params", keep=True),
    Column("MACs", lambda b: si(b.macs, 4), "macs", keep=True),
]

LAYERS: list[Column[LayerRow]] = [
    Column("Layer", lambda r: "  " * (r.depth - 1) + r.name, align="l", keep=True),
    Column("Type", lambda r: r.type, align="l"),
    Column("Output", lambda r: "×".join(map(str, r.output_shape)), align="l"),
    Column("Params", lambda r: si(r.params, 4) if r.params else "–", keep=True),
    Column("Mult-Adds", lambda r: si(r.mult_adds, 4) if r.mult_adds else "–", keep=True),
]
LAYERS_NOTE = (
    "Per layer (torchinfo): its Mult-Adds are params × output positions per layer, so they "
    "include biases and batch-norm; its total is a little above the MACs here."
)


OUTPUTS_NOTE = (
    "not a peak: training keeps about this much for the backward pass; inference "
    "holds only a few layer outputs at once"
)


def describe(summary: Summary) -> str:
    """Two lines: the model and its head; the input, device, engine and weights."""
    c = summary.coefficients
    res = summary.input["resolution"]
    head = f"{summary.num_classes} classes" if summary.include_top else "no top"
    weights = summary.weights
    train = summary.train_resolution
    size = f"{c.resolution}px" + (f" (trained at {train}px)" if train else "")
    return (
        f"{summary.title} · w {c.width:.4g} · d {c.depth:.4g} · {size}"
        f" · dropout {c.dropout:g} · {summary.pooling} pool · {head}\n"
        f"input {summary.input['batch_size']}×3×{res}×{res} · device {summary.device}"
        f" · engine {summary.engine} · "
        + (f"weights {weights} (loaded, strict)" if weights else "random weights")
    )


def _totals_lines(summary: Summary) -> list[tuple[str, str]]:
    t = summary.totals
    ew = t.elementwise_ops
    lines = [
        ("Parameters", f"{t.params:,} ({si(t.params)})"),
        (
            f"Weights as {t.weight_dtype}",
            f"{nbytes(t.weight_bytes)} ({DTYPE_BYTES[t.weight_dtype]} bytes per parameter)",
        ),
        (MACS_LABEL, f"{t.macs:,} ({macs_g(t.macs)})"),
        ("FLOPs at 2 per MAC", si(2 * t.macs)),
        ("Element-wise ops (not in MACs)", f"{sum(ew.values()):,} ({si(sum(ew.values()))})"),
        ("  of which", ", ".join(f"{k} {si(v)}" for k, v in ew.items())),
        (
            f"Peak memory, inference (batch {summary.input['batch_size']})",
            f"{nbytes(t.inference_peak_bytes)} (predicted live tensors; effnet memory "
            "shows training too)",
        ),
        ("Layer outputs, summed", f"{nbytes(t.activation_bytes)} ({OUTPUTS_NOTE})"),
    ]
    bench = summary.benchmark
    if bench is not None:
        lat = bench.latency_ms
        lines.append(
            (
                f"Latency on {bench.device} ({bench.iterations} runs)",
                f"median {lat['median']:.2f} ms · p90 {lat['p90']:.2f} ms · "
                f"{bench.throughput:.1f} img/s",
            )
        )
        lines.append(("Measured peak memory",
                      f"{nbytes(bench.peak_memory_bytes)} ({bench.memory_method})"))  # fmt: skip
        process = f"{nbytes(bench.process_peak_bytes)} ({bench.process_peak_method})"
        lines.append(("Process peak while timing", process))
    if t.engine_counts:
        fv = ", ".join(f"{k} {si(v)}" for k, v in sorted(t.engine_counts.items()))
        lines.append(("fvcore's own counts", fv))
        lines.append(("fvcore's cost", f"{summary.seconds['count']:.2f} s on {summary.device}"))
    return lines


def _where_cost_goes(summary: Summary, cells: int) -> Grid:
    """Share of MACs and params per stage as text bars; the largest stage fills its bar."""
    top_macs = max(s.macs_share for s in summary.stages) or 1.0
    top_params = max(s.params_share for s in summary.stages) or 1.0
    columns: list[Column[StageFigures]] = [
        Column("Stage", lambda s: str(s.stage)),
        Column(
            "MACs",
            lambda s: f"{bar(s.macs_share / top_macs, cells)} {pct(s.macs_share):>6}",
            align="l",
        ),
        Column(
            "Params",
            lambda s: f"{bar(s.params_share / top_params, cells)} {pct(s.params_share):>6}",
            align="l",
        ),
    ]
    return grid("Where the cost goes, per stage", columns, summary.stages)


def block_noun(summary: Summary) -> str:
    """'MBConv blocks' when every stage between stem and head is MBConv, else 'blocks'."""
    kinds = {s.kind for s in summary.stages[1:-1]}
    return "MBConv blocks" if kinds == {BlockKind.MBCONV} else "blocks"


def summary_parts(summary: Summary, blocks: bool = False, width: int | None = 120) -> list[Part]:
    """Header line, the variant's Table 1, cost per stage, (blocks,) totals, the convention."""
    res = summary.input["resolution"]
    table = FAMILIES[summary.family].stage_table
    parts: list[Part] = [
        describe(summary),
        grid(f"{table} for {summary.title} at {res}px", STAGE_TABLES[table], summary.stages),
        grid(f"Cost per stage — {MACS_LABEL}", STAGES, summary.stages),
        _where_cost_goes(summary, bar_cells(width)),
    ]
    if blocks:
        title = f"Per {block_noun(summary).removesuffix('s')}"
        parts.append(grid(title, BLOCKS, summary.blocks))
    if summary.layers:
        parts.append(grid(LAYERS_NOTE, LAYERS, summary.layers))
    parts += [Facts("Totals", _totals_lines(summary)), MACS_NOTE]
    return parts


def summary_dict(summary: Summary) -> dict[str, Any]:
    """The summary JSON document: the README's documented keys plus the per-block breakdown."""
    doc = to_dict(summary)
    if summary.benchmark is not None:
        doc["benchmark"] = bench_dict(summary.benchmark)
    doc["macs_convention"] = MACS_NOTE
    return doc


def model_fields(summary: Summary, key: str = "variant") -> dict[str, Any]:
    """The columns that say which model and input every CSV row belongs to."""
    c, size = summary.coefficients, summary.input
    return {key: summary.variant, "width": c.width, "depth": c.depth, "dropout": c.dropout,
            "batch_size": size["batch_size"], "resolution": size["resolution"]}  # fmt: skip


def total_row(summary: Summary, **extra: float) -> dict[str, Any]:
    """The CSV's ``total`` row: the whole model's figures, by field name."""
    t = summary.totals
    row = {"stage": "total", "layers": sum(s.layers for s in summary.stages),
           "params": t.params, "params_share": 1.0, "macs": t.macs, "macs_share": 1.0,
           "activation_bytes": t.activation_bytes}  # fmt: skip
    row |= {f"elementwise_{k}": v for k, v in t.elementwise_ops.items()}
    row |= {name: getattr(t, name) for name in TOTALS_ONLY}
    return row | extra


def summary_csv(summary: Summary, blocks: bool = False) -> str:
    """Per-stage (or per-block) rows, then a ``total`` row for the whole model (stem and
    head included); every row starts with the model and input it belongs to."""
    items = summary.blocks if blocks else summary.stages
    columns = BLOCKS if blocks else STAGES
    return csv_text(columns, items, model_fields(summary), [total_row(summary)])


RATIO_CSV: list[Column[StageFigures]] = [*STAGES, total_field("params_ratio"),
                                         total_field("macs_ratio")]  # fmt: skip
"""`scale` and `compare` write each model's per-stage rows as `summary` does, and ratios to
the first model on each model's total row."""


def stages_csv(models: list[Summary], params_ratio: list[float], macs_ratio: list[float]) -> str:
    """Several models' per-stage CSV, one after another, for `scale` and `compare`."""
    blocks = [
        csv_text(
            RATIO_CSV,
            m.stages,
            model_fields(m, "model"),
            [total_row(m, params_ratio=pr, macs_ratio=mr)],
        )
        for m, pr, mr in zip(models, params_ratio, macs_ratio, strict=True)
    ]
    return csv_blocks(*blocks)


def summary_view(summary: Summary, blocks: bool = False) -> View:
    return View(
        parts=lambda width: summary_parts(summary, blocks, width),
        doc=lambda: summary_dict(summary),
        csv=lambda: summary_csv(summary, blocks),
    )
