"""The paper's Tables 1-4 rebuilt: each row's model built and measured here, beside the
figures the paper printed (``arch/paper.py``).

Tables 1-3 are counts (the fast engine on meta: nothing allocated, nothing run). Table 4 is
a latency comparison on this CPU: both models timed in one run, their steps alternating,
so a machine whose speed drifts moves both alike; the speed-up is the median of the
per-round ratios.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

from ...arch import paper as P
from ...arch.specs import resolve_official
from ...errors import UsageError
from ...reports import PaperRow, PaperTable, Summary
from ..counting.summary import measure
from ..timing.loop import Clock, make_input, step_fn, threads
from ..timing.settings import BenchSettings
from ..trace.prepare import input_shape, prepare

Progress = Callable[[int, int | None], None]
TABLE4_ITERS = 10
"""Rounds of Table 4's alternating timing (one step of each model per round)."""


def _delta(measured: float | None, paper: float | None) -> float | None:
    if measured is None or not paper:
        return None
    return (measured - paper) / paper * 100


def _deltas(**pairs: tuple[float | None, float | None]) -> dict[str, float]:
    """(measured − paper) / paper × 100 for every figure both sides have."""
    out = {key: _delta(*pair) for key, pair in pairs.items()}
    return {key: value for key, value in out.items() if value is not None}


def _counts(spec: str) -> Summary:
    return measure(spec, peak=False)


# ----------------------------------------------------------------------------- table 1


def table1() -> PaperTable:
    """B0's stages as built, beside Table 1."""
    s = _counts("b0")
    rows = []
    for line, stage in zip(P.TABLE1, s.stages, strict=True):
        h, w = stage.input_resolution
        measured = {"operator": stage.operator, "resolution": f"{h} × {w}",
                    "channels": stage.out_channels, "layers": stage.layers}  # fmt: skip
        paper = {"operator": line.operator, "resolution": line.resolution,
                 "channels": line.channels, "layers": line.layers}  # fmt: skip
        differs = [k for k in paper if paper[k] != measured[k]]
        note = "differs: " + ", ".join(differs) if differs else ""
        rows.append(PaperRow(str(line.stage), measured, paper, spec="b0", note=note))
    return PaperTable("table1", P.TABLE1_TITLE, P.SOURCE, rows)


# ----------------------------------------------------------------------------- table 2


def _table2_paper(line: P.Table2Line) -> dict[str, object]:
    return {"top1": P.number(line.top1), "top5": P.number(line.top5),
            "params": P.number(line.params), "flops": P.number(line.flops),
            "params_ratio": P.number(line.params_ratio), "flops_ratio": P.number(line.flops_ratio),
            "printed": {"top1": line.top1, "top5": line.top5, "params": line.params,
                        "flops": line.flops, "params_ratio": line.params_ratio,
                        "flops_ratio": line.flops_ratio}}  # fmt: skip


def table2() -> PaperTable:
    """B0-B7 and the comparators effnet builds (ResNet-50, ResNet-152) measured; the rest
    quoted. Ratios are to the group's EfficientNet, as the paper's."""
    rows, lead = [], None
    for line in P.TABLE2:
        paper = _table2_paper(line)
        if line.variant is None:
            rows.append(PaperRow(line.model, {}, paper, group=line.group, quoted=True,
                                 note="quoted: effnet does not build it"))  # fmt: skip
            continue
        t = _counts(line.variant).totals
        lead = t if line.model.startswith("EfficientNet") else lead
        measured = {"params": t.params, "macs": t.macs, "params_ratio": t.params / lead.params,
                    "macs_ratio": t.macs / lead.macs}  # fmt: skip
        deltas = _deltas(params=(t.params, paper["params"]), macs=(t.macs, paper["flops"]))
        rows.append(PaperRow(line.model, measured, paper, deltas, line.group, line.variant))
    notes = [
        "Params and MACs are measured on effnet's model at the variant's own resolution; "
        "the paper's FLOPS are multiply-adds (MACs). Ratios: to the group's EfficientNet.",
        "Top-1 and top-5 are the paper's (arXiv v5); accuracy cannot be measured here.",
    ]
    return PaperTable("table2", P.TABLE2_TITLE, P.SOURCE, rows, notes=notes)


# ----------------------------------------------------------------------------- table 3


def _table3_spec(network: str, scaling: str, dwr: tuple[float, float, float] | None) -> str:
    """The spec a row builds: the official baseline, B0's compound rule at φ=2, or raw
    d, w, r (resolution r × 224 to the nearest pixel)."""
    if scaling == "baseline":
        return network
    if network == "b0" and scaling == "compound":
        return f"phi={P.TABLE3_B0_PHI:g}"
    d, w, r = dwr or P.SINGLE[scaling]
    return f"w={w:g},d={d:g},r={int(224 * r + 0.5)},family={network}"


def _table3_lines() -> list[tuple[str, str, P.Table3Line | None]]:
    """(network, scaling, the paper's line or None) for every row effnet shows."""
    lines = {(line.network, line.scaling): line for line in P.TABLE3}
    networks = dict.fromkeys([line.network for line in P.TABLE3] + ["b0"])
    return [(n, sc, lines.get((n, sc))) for n in networks for sc in P.SCALINGS]


def table3() -> PaperTable:
    """MobileNetV1, MobileNetV2, ResNet-50 and B0 at their baseline and scaled by depth,
    width, resolution and compound scaling, measured beside the paper's FLOPS."""
    rows, base_macs = [], 0
    b0 = next(line for line in P.TABLE2 if line.variant == "b0")
    for network, scaling, line in _table3_lines():
        paper: dict[str, object] = {}
        if line is not None and line.flops is not None:
            printed = {"row": line.printed, "flops": line.flops, "top1": line.top1}
            paper = {"flops": P.number(line.flops), "top1": P.number(line.top1),
                     "printed": printed}  # fmt: skip
        elif network == "b0" and scaling == "baseline":
            paper = {"flops": P.number(b0.flops), "top1": P.number(b0.top1),
                     "printed": {"row": "EfficientNet-B0 (Table 2)", "flops": b0.flops,
                                 "top1": b0.top1}}  # fmt: skip
        name = f"{network} {scaling}"
        if scaling == "compound" and line is not None and line.coefficients is None:
            rows.append(PaperRow(name, {}, paper, group=network, quoted=True,
                                 note="the paper does not publish these compound coefficients; "
                                 "effnet builds nothing for this row"))  # fmt: skip
            continue
        spec = _table3_spec(network, scaling, line.coefficients if line else None)
        t = _counts(spec).totals
        base_macs = t.macs if scaling == "baseline" else base_macs
        measured = {"params": t.params, "macs": t.macs, "macs_ratio": t.macs / base_macs}
        rows.append(PaperRow(name, measured, paper, _deltas(macs=(t.macs, paper.get("flops"))),
                             network, spec, note=_table3_note(network, scaling, line)))  # fmt: skip
    notes = [
        "d, w, r multiply the base network's layers, channels and 224-px input; each family "
        "rounds as its reference implementation does (`effnet scale --base`).",
        "Top-1 is the paper's; effnet measures MACs, never accuracy.",
    ]
    return PaperTable("table3", P.TABLE3_TITLE, P.SOURCE, rows, notes=notes)


def _table3_note(network: str, scaling: str, line: P.Table3Line | None) -> str:
    if network == "b0" and scaling == "compound":
        return f"the paper's rule at φ={P.TABLE3_B0_PHI:g} (α=1.2, β=1.1, γ=1.15); not in Table 3"
    if network == "b0" and scaling == "baseline":
        return "B0 is not in Table 3: its FLOPS and top-1 are Table 2's"
    if network == "b0" or line is None or line.flops is None:
        return "not in the paper's Table 3"
    return ""


# ----------------------------------------------------------------------------- table 4


def _timed_pair(variants: tuple[str, str], s: BenchSettings, progress: Progress | None):
    """Both models built on the CPU and timed in one run, their steps alternating; per
    model the step times (ms), and the per-round ratio first / second."""
    device = torch.device("cpu")
    clock = Clock(device)
    steps = []
    for variant in variants:
        spec = resolve_official(variant)
        p = prepare(spec, "cpu", input_shape(spec, None, 1), meta_ok=False, peak=False)
        model = p.model.eval()
        steps.append(step_fn(model, make_input(p.shape, s, device), s, device))
    times: tuple[list[float], list[float]] = ([], [])
    with threads(s):
        for _ in range(s.warmup):
            for step in steps:
                clock.time(step)
        for i in range(s.iters or TABLE4_ITERS):
            for samples, step in zip(times, steps, strict=True):
                samples.append(clock.time(step))
            if progress is not None:
                progress(i + 1, s.iters)
    ratios = [a / b for a, b in zip(*times, strict=True)]
    return times, ratios


def _table4_paper(line: P.Table4Line) -> dict[str, Any]:
    """A Table 4 row as printed: latency and top-1, and the speed-up on a pair's second row."""
    paper: dict[str, Any] = {"latency_s": P.number(line.latency), "top1": P.number(line.top1),
                             "printed": {"latency": line.latency, "top1": line.top1}}  # fmt: skip
    if line.speedup is not None:
        paper["ratio"] = P.number(line.speedup)
        paper["printed"]["speedup"] = line.speedup
    return paper


def table4(threads_: int = 1, iters: int = TABLE4_ITERS, warmup: int = 1,
           progress: Progress | None = None) -> PaperTable:  # fmt: skip
    """B1 against ResNet-152 at batch 1 on this CPU with ``threads_`` threads, as the paper
    on one core; GPipe and B7 quoted (GPipe cannot be built here)."""
    if not 1 <= iters <= 1000:
        raise UsageError(f"--iters must be in 1..1000, got {iters}")
    s = BenchSettings(device="cpu", threads=threads_, iters=iters, warmup=warmup).validate()
    (base, effnet), quoted = P.TABLE4
    times, ratios = _timed_pair((base.variant, effnet.variant), s, progress)
    speedup = statistics.median(ratios)
    rows = []
    for line, samples in zip((base, effnet), times, strict=True):
        measured = {"latency_ms": statistics.median(samples), "latency_ms_max": max(samples),
                    "steps": len(samples)}  # fmt: skip
        paper = _table4_paper(line)
        deltas = {}
        if line.speedup is not None:
            measured["ratio"] = speedup
            deltas = _deltas(ratio=(speedup, paper["ratio"]))
        rows.append(PaperRow(line.model, measured, paper, deltas, "pair 1", line.variant))
    for line in quoted:
        rows.append(PaperRow(line.model, {}, _table4_paper(line), group="pair 2", quoted=True,
                             note="quoted: GPipe cannot be built here, so there is no pair "
                             "to time"))  # fmt: skip
    setup = {"device": "cpu", "threads": threads_, "batch_size": 1, "rounds": len(ratios),
             "warmup": warmup, "ratio_spread": [min(ratios), max(ratios)]}  # fmt: skip
    notes = [
        f"The paper's setting: {P.TABLE4_CAPTION.rstrip('.')} (its text adds: averaged over "
        "20 runs).",
        f"Here: this CPU, {threads_} thread(s), batch 1, each model at its own resolution "
        "(B1 240 px, ResNet-152 224 px); the two alternate step by step in one run, and the "
        "speed-up is the median of the per-round ratios, so the machine's drift cancels.",
        "Table 4 prints the pre-v5 top-1 (B1 78.8 %, B7 84.4 %) even in v5.",
    ]
    return PaperTable("table4", P.TABLE4_TITLE, P.SOURCE, rows, setup, notes)


def paper_table(table: str, threads: int = 1, iters: int = TABLE4_ITERS, warmup: int = 1,
                progress: Progress | None = None) -> PaperTable:  # fmt: skip
    """One of the paper's tables ('table1' … 'table4'), rebuilt."""
    if table == "table4":
        return table4(threads, iters, warmup, progress)
    builders = {"table1": table1, "table2": table2, "table3": table3}
    if table not in builders:
        raise UsageError(f"unknown table '{table}' (accepted: {', '.join(P.TABLES)})")
    return builders[table]()
