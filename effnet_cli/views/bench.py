"""The view of `effnet bench`: one row per timed model. No torch, no printing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..heap import DEFAULT, KEPT, USER
from ..reports import BenchResult
from .core import Column, Note, Part, View, csv_field, csv_text, grid, renamed, to_dict
from .numbers import nbytes

BENCH_NOTE = (
    "Latency is per batch: median and 90th percentile of each model's timed steps (Steps; "
    "CUDA events on CUDA, a monotonic clock elsewhere). Random weights unless --weights is "
    "given."
)

JSON_NAMES = {"memory_method": "memory_kind", "process_peak_method": "process_peak_kind"}
"""BenchResult's fields whose JSON key and CSV field differ from the field's name:
``memory_kind`` keeps its name from before a rename, so that existing readers keep working,
and ``process_peak_kind`` is named after it."""

HEAP_WORDS = {
    KEPT: "glibc heap kept (no mmap, no trim: steps reuse their pages)",
    USER: "your own malloc settings",
    DEFAULT: "the C library's default heap",
}
"""What the C heap was while timing (``effnet_cli/heap.py``), in the options line."""

PROCESS_HEADERS = {
    "process peak RSS increase": "RSS growth",
    "cuda max_memory_allocated": "CUDA alloc peak",
}
"""The table's header for the process-level peak, by how it was measured."""

PROCESS_NOTES = {
    "RSS growth": "how far the process's peak resident memory rose over the warm-up and "
    "timed steps, from just before the weights were allocated (the heap's free memory handed "
    "back first): the allocator's and oneDNN's own memory included, and the first model of "
    "a run also carries the libraries' first allocations",
    "CUDA alloc peak": "torch.cuda.max_memory_allocated over the warm-up and timed steps "
    "(rounded to the allocator's blocks, library workspaces included)",
}

PEAK_NOTE = (
    "Peak memory: the most bytes of live tensor storages in one step, as `effnet memory` "
    "measures it (the step run once more after timing, under a TorchDispatchMode tracker)."
)
COMPILED_NOTE = " With --compile it is the eager module's step."
PREDICTED_NOTE = "Predicted: the memory engine's peak of the same step."
RUNTIME_NOTES = {
    "compile": "compile: torch.compile (inductor); Setup s is its first call, which traces and "
    "compiles, timed apart from the steady-state latency and not among the warm-up steps.",
    "onnxruntime": "onnxruntime: a fresh `effnet export` (or --onnx FILE) in an "
    "InferenceSession, CPU execution provider, full graph optimisation, --threads intra-op "
    "threads (default: torch's); Setup s is the export and the session; its memory is "
    "onnxruntime's own arena, outside torch's tensors, so only the RSS growth is given.",
    "int8": "int8: the same file after static QDQ quantization (onnxruntime.quantization: "
    "weights int8 per channel, activations uint8, min-max ranges from 8 random inputs); "
    "Setup s is the quantization and its session. Its accuracy cannot be judged here: that "
    "needs images and trained weights.",
}
TRAIN_NOTE = (
    "Training step, timed and measured: forward and cross-entropy on random labels, "
    "backward, zero_grad(set_to_none=True); no optimizer."
)


def _setup(r: BenchResult) -> str:
    """torch.compile's first call, or onnxruntime's export and session; '–' for eager."""
    return f"{r.compile_seconds:.1f}" if r.compile_seconds is not None else "–"


def _tracked(figure: Callable[[BenchResult], int]) -> Callable[[BenchResult], str]:
    """A live-tensor figure, '–' where the model ran outside torch (onnxruntime)."""
    return lambda r: "–" if r.runtime == "onnxruntime" else nbytes(figure(r))


def bench_columns(process_header: str = "Process peak") -> list[Column[BenchResult]]:
    """bench's table; ``process_header`` names the process-level peak's column for the
    device the run was on (CSV and JSON call it ``process_peak_bytes`` whatever it is)."""
    return [
        csv_field("variant"),
        Column("Model", lambda r: r.title, "title", align="l", keep=True),
        Column("Device", lambda r: r.device, "device", align="l"),
        Column("Batch", lambda r: str(r.batch_size), "batch_size"),
        Column("Res", lambda r: str(r.resolution), "resolution"),
        Column("Mode", lambda r: r.mode, "mode", align="l"),
        Column(
            "Runtime",
            lambda r: " ".join(filter(None, (r.runtime, r.quantize))),
            "runtime",
            lambda r: r.runtime,
            align="l",
        ),
        csv_field("quantize"),
        csv_field("amp"),
        csv_field("channels_last"),
        csv_field("compiled"),
        csv_field("onnx_file"),
        csv_field("threads"),
        csv_field("warmup"),
        Column("Steps", lambda r: str(r.iterations), "iterations", keep=True),
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
        Column("Setup s", _setup, "compile_seconds"),
        Column("File", lambda r: nbytes(r.onnx_bytes) if r.onnx_bytes else "–", "onnx_bytes"),
        Column(
            "Peak memory", _tracked(lambda r: r.peak_memory_bytes), "peak_memory_bytes", keep=True
        ),
        Column("Predicted", _tracked(lambda r: r.predicted_peak_bytes), "predicted_peak_bytes"),
        csv_field(JSON_NAMES["memory_method"], lambda r: r.memory_method),
        Column(process_header, lambda r: nbytes(r.process_peak_bytes), "process_peak_bytes"),
        csv_field(JSON_NAMES["process_peak_method"], lambda r: r.process_peak_method),
        csv_field("malloc", lambda r: r.malloc),
    ]


BENCH = bench_columns()
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
        f"{first.warmup} warm-up step{'' if first.warmup == 1 else 's'} per model",
        f"amp {first.amp or 'off'}",
        "channels-last" if first.channels_last else "contiguous NCHW",
        "runtime " + ", ".join(dict.fromkeys(r.runtime for r in results)),
    ]
    if first.device == "cpu":
        options += [f"{first.threads} threads", HEAP_WORDS.get(first.malloc, first.malloc)]
    process = PROCESS_HEADERS.get(first.process_peak_method, "Process peak")
    why = PROCESS_NOTES.get(process, first.process_peak_method)
    train = [TRAIN_NOTE] if any(r.mode == "train" for r in results) else []
    runtimes = {r.runtime for r in results} | {r.quantize for r in results if r.quantize}
    return [
        "Measured on this machine: " + " · ".join(options),
        grid("Latency, throughput and peak memory", bench_columns(process), results),
        *(
            [
                PEAK_NOTE + (COMPILED_NOTE if first.compiled else ""),
                Note(PREDICTED_NOTE, needs=("Predicted",)),
            ]
            if runtimes - {"onnxruntime", "int8"}
            else []
        ),
        *[Note(RUNTIME_NOTES[k], needs=("Setup s",)) for k in RUNTIME_NOTES if k in runtimes],
        Note(f"{process}: {why}.", needs=(process,)),
        *train,
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
