"""The view of `effnet bench`: one row per timed model. No torch, no printing."""

from __future__ import annotations

from typing import Any

from ..reports import BenchResult
from .core import Column, Part, View, csv_field, csv_text, grid, renamed, to_dict
from .numbers import nbytes

BENCH_NOTE = (
    "Latency is per batch: median and 90th percentile of the timed steps (CUDA events on "
    "CUDA, a monotonic clock elsewhere). Random weights unless --weights is given."
)

JSON_NAMES = {"memory_method": "memory_kind"}
"""BenchResult's fields whose JSON key and CSV field keep their name from before a rename,
so that existing readers keep working."""

BENCH: list[Column[BenchResult]] = [
    csv_field("variant"),
    Column("Model", lambda r: r.title, "title", align="l", keep=True),
    Column("Device", lambda r: r.device, "device", align="l"),
    Column("Batch", lambda r: str(r.batch_size), "batch_size"),
    Column("Res", lambda r: str(r.resolution), "resolution"),
    Column("Mode", lambda r: r.mode, "mode", align="l"),
    csv_field("amp"),
    csv_field("channels_last"),
    csv_field("compiled"),
    csv_field("threads"),
    csv_field("warmup"),
    csv_field("iterations"),
    Column(
        "Median ms",
        lambda r: f"{r.latency_ms['median']:.2f}",
        "latency_median_ms",
        lambda r: r.latency_ms["median"],
        keep=True,
    ),
    Column(
        "p90 ms",
        lambda r: f"{r.latency_ms['p90']:.2f}",
        "latency_p90_ms",
        lambda r: r.latency_ms["p90"],
        keep=True,
    ),
    *(
        csv_field(f"latency_{stat}_ms", lambda r, stat=stat: r.latency_ms[stat])
        for stat in ("mean", "min", "max")
    ),
    Column("img/s", lambda r: f"{r.throughput:.1f}", "throughput", keep=True),
    Column("Peak memory", lambda r: nbytes(r.peak_memory_bytes), "peak_memory_bytes", keep=True),
    Column("Predicted", lambda r: nbytes(r.predicted_peak_bytes), "predicted_peak_bytes"),
    csv_field(JSON_NAMES["memory_method"], lambda r: r.memory_method),
]
"""CSV carries every figure of the JSON but the list of per-step samples (JSON only)."""


NOISY = 2.0
"""A p90 this many times the median means the machine was busy while timing."""


def noise_warnings(results: list[BenchResult]) -> list[str]:
    """One line per model whose timing was disturbed: p90 more than twice the median."""
    out = []
    for r in results:
        spread = r.latency_ms["p90"] / r.latency_ms["median"]
        if spread > NOISY:
            out.append(
                f"warning: {r.title}'s p90 is {spread:.1f}× its median: the machine was busy "
                "while timing; rerun, or use more --iters"
            )
    return out


def bench_parts(results: list[BenchResult]) -> list[Part]:
    first = results[0]
    options = [
        f"{first.iterations} timed steps after {first.warmup} warm-up",
        f"amp {first.amp or 'off'}",
        "channels-last" if first.channels_last else "contiguous NCHW",
        "torch.compile" if first.compiled else "eager",
    ]
    if first.device == "cpu":
        options.append(f"{first.threads} threads")
    return [
        "Measured on this machine: " + " · ".join(options),
        grid("Latency, throughput and peak memory", BENCH, results),
        f"Peak memory: {first.memory_method}. Predicted: the memory engine's peak of live "
        "tensors for the same step (no allocator rounding, library workspaces or process).",
        BENCH_NOTE,
        *noise_warnings(results),
    ]


def bench_dict(r: BenchResult) -> dict[str, Any]:
    """One result's JSON document: its fields, under their JSON names."""
    return renamed(to_dict(r), JSON_NAMES)


def bench_view(results: list[BenchResult]) -> View:
    return View(
        lambda w: bench_parts(results),
        lambda: {
            "results": [bench_dict(r) for r in results],
            "note": BENCH_NOTE,
            "warnings": noise_warnings(results),
        },
        lambda: csv_text(BENCH, results),
    )
