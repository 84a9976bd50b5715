"""Views of `scale`, `compare` and `list`: the same Grid/Facts parts as `summary`.

No torch and no printing: each function turns collected dataclasses into parts (rendered
by ``render.rich_view`` / ``render.markdown_view``), a JSON document, or CSV text.
"""

from __future__ import annotations

from typing import Any

from .render import (
    MACS_LABEL,
    MACS_NOTE,
    Facts,
    Grid,
    Part,
    hw,
    macs_g,
    markdown_view,
    nbytes,
    rich_view,
    si,
    spark,
    summary_dict,
    to_csv,
    to_dict,
    to_json,
)


def ratio(value: float) -> str:
    """'2.57×', '16.4×', '2,422×': three significant digits, never scientific notation."""
    return f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"


def _arrow(a: Any, b: Any) -> str:
    return f"{a} → {b}" if a != b else str(b)


def render(parts_of, doc_of, csv_of, fmt: str, width: int) -> Any:
    """Shared --format dispatch for the views in this module."""
    if fmt == "json":
        return to_json(doc_of())
    if fmt == "csv":
        return csv_of()
    parts = parts_of()
    return markdown_view(parts) if fmt == "markdown" else rich_view(parts, width)


# ----------------------------------------------------------------------------- scale


def _derivation_lines(r: Any) -> list[tuple[str, str]]:
    d = r.derivation
    base_layers = " ".join(str(s.layers) for s in r.base.stages)
    layers = " ".join(str(s.layers) for s in r.model.stages)
    base_ch = " ".join(str(s.out_channels) for s in r.base.stages)
    channels = " ".join(str(s.out_channels) for s in r.model.stages)
    return [
        ("depth d = α^φ", f"{d.alpha:g}^{d.phi:g} = {d.depth_multiplier:.4f}"),
        ("  layers ⌈L·d⌉", f"{base_layers}  →  {layers}"),
        ("width w = β^φ", f"{d.beta:g}^{d.phi:g} = {d.width_multiplier:.4f}"),
        ("  channels round8(C·w)", f"{base_ch}  →  {channels}"),
        (
            "resolution r = base·γ^φ",
            f"{d.base_resolution}·{d.gamma:g}^{d.phi:g} = {d.resolution_exact:.2f} → "
            f"{d.resolution} px (nearest pixel)",
        ),
        (
            "constraint α·β²·γ²",
            f"{d.constraint:.4f} ({d.constraint_distance:+.4f} from 2)",
        ),
        (
            "FLOPs ratio to B0",
            f"predicted (α·β²·γ²)^φ = {d.predicted_flops_ratio:.3f}×  ·  2^φ = "
            f"{d.doubling_ratio:.3f}×  ·  measured MACs = {r.measured_macs_ratio:.3f}×",
        ),
        ("params ratio to B0", f"measured {r.measured_params_ratio:.3f}×"),
        ("model", f"{r.model.totals.params:,} params · {macs_g(r.model.totals.macs)} MACs"),
    ]


SCALE_HEADER = (
    "Stage", "Operator", "Resolution", "Channels", "Layers", "Params", "Params ×B0", "MACs",
    "MACs ×B0",
)  # fmt: skip


def _scale_rows(r: Any) -> list[list[str]]:
    rows = []
    for b, m in zip(r.base.stages, r.model.stages, strict=True):
        rows.append(
            [
                str(m.stage),
                m.operator,
                _arrow(b.input_resolution[0], m.input_resolution[0]),
                _arrow(b.out_channels, m.out_channels),
                _arrow(b.layers, m.layers),
                si(m.params, 4),
                ratio(m.params / b.params),
                si(m.macs, 4),
                ratio(m.macs / b.macs),
            ]
        )
    return rows


def _side_by_side(r: Any) -> Grid:
    """The φ model beside the nearest official variant (and Bφ when that is another one)."""
    others = [r.nearest]
    if r.official is not None and r.official.variant != r.nearest.variant:
        others.append(r.official)
    models = [r.model, *others]
    lines = [
        ("width", lambda s: f"{s.coefficients.width:.4g}"),
        ("depth", lambda s: f"{s.coefficients.depth:.4g}"),
        ("resolution", lambda s: str(s.coefficients.resolution)),
        ("layers", lambda s: str(sum(st.layers for st in s.stages[1:8]))),
        ("head channels", lambda s: str(s.stages[8].out_channels)),
        ("params", lambda s: si(s.totals.params, 4)),
        ("MACs", lambda s: macs_g(s.totals.macs)),
    ]
    rows = [[label, *(get(m) for m in models)] for label, get in lines]
    marked = {(i, j) for i, row in enumerate(rows) for j in range(2, len(row)) if row[j] != row[1]}
    labels = [f"{o.variant.upper()} (nearest)" for o in others[:1]]
    labels += [f"{o.variant.upper()} (official φ={r.derivation.phi:g})" for o in others[1:]]
    if r.official is not None and r.official.variant == r.nearest.variant:
        labels[0] = f"{r.nearest.variant.upper()} (nearest, official φ={r.derivation.phi:g})"
    header = ("", f"phi={r.derivation.phi:g}", *labels)
    return Grid("Beside the nearest official variant", header, "l" + "r" * len(models), rows,
                marked=marked)  # fmt: skip


def scale_parts(r: Any) -> list[Part]:
    d = r.derivation
    head = (
        f"Compound scaling φ={d.phi:g}  α={d.alpha:g} β={d.beta:g} γ={d.gamma:g}  "
        f"base {d.base_resolution}px"
    )
    return [
        head,
        Facts("Derivation", _derivation_lines(r)),
        Grid(
            f"Per stage: B0 → φ={d.phi:g}",
            SCALE_HEADER,
            "rlrrrrrrr",
            _scale_rows(r),
            (0, 2, 3, 4, 6, 8),
        ),
        _side_by_side(r),
        "Nearest = closest official (w, d, r) on a log scale; * = differs from the φ model. "
        "The official B1-B7 were hand-tuned and do not follow α^φ, β^φ, γ^φ exactly.",
        MACS_NOTE,
    ]


def scale_doc(r: Any) -> dict[str, Any]:
    doc = to_dict(r.derivation)
    doc |= {
        "measured_macs_ratio": r.measured_macs_ratio,
        "measured_params_ratio": r.measured_params_ratio,
        "model": summary_dict(r.model),
        "base": summary_dict(r.base),
        "nearest_official": summary_dict(r.nearest),
        "official": summary_dict(r.official) if r.official else None,
    }
    return doc


def _stage_csv_rows(label: str, s: Any) -> list[dict[str, Any]]:
    return [{"model": label, **to_dict(st)} for st in s.stages]


STAGE_CSV = ("stage", "operator", "input_resolution", "out_channels", "layers", "params", "macs")


def render_scale(r: Any, fmt: str, width: int) -> Any:
    def csv_of() -> str:
        rows = _stage_csv_rows("b0", r.base) + _stage_csv_rows(r.model.variant, r.model)
        return to_csv(rows, ("model", *STAGE_CSV))

    return render(lambda: scale_parts(r), lambda: scale_doc(r), csv_of, fmt, width)


# ----------------------------------------------------------------------------- sweep

SWEEP_HEADER = (
    "φ", "d", "w", "r", "Params", "MACs", "×B0", "predicted", "2^φ", "Official", "its r",
    "its params", "its MACs", "its ×B0",
)  # fmt: skip


def _sweep_cells(row: Any) -> list[str]:
    o = row.official
    official = (
        [o["variant"], str(o["resolution"]), si(o["params"], 4), si(o["macs"], 4),
         ratio(o["macs_ratio"])] if o else ["", "", "", "", ""]
    )  # fmt: skip
    return [
        f"{row.phi:g}", f"{row.depth_multiplier:.3f}", f"{row.width_multiplier:.3f}",
        str(row.resolution), si(row.params, 4), si(row.macs, 4), ratio(row.macs_ratio),
        ratio(row.predicted_flops_ratio), ratio(2**row.phi), *official,
    ]  # fmt: skip


def sweep_parts(rows: list[Any], alpha: float, beta: float, gamma: float) -> list[Part]:
    grid = Grid(
        f"Compound scaling sweep (α={alpha:g} β={beta:g} γ={gamma:g}) — {MACS_LABEL}",
        SWEEP_HEADER,
        "r" * len(SWEEP_HEADER),
        [_sweep_cells(r) for r in rows],
        (0, 3, 4, 5, 6, 9, 12),
    )
    return [
        f"φ from {rows[0].phi:g} to {rows[-1].phi:g}: the formula's models beside the official Bφ",
        grid,
        "×B0 is measured MACs over B0's; predicted is (α·β²·γ²)^φ.",
        MACS_NOTE,
    ]


SWEEP_CSV = (
    "phi", "depth_multiplier", "width_multiplier", "resolution", "params", "macs",
    "macs_ratio", "predicted_flops_ratio", "official", "official_params", "official_macs",
)  # fmt: skip


def render_sweep(rows: list[Any], a: float, b: float, g: float, fmt: str, width: int) -> Any:
    def doc() -> dict[str, Any]:
        return {"alpha": a, "beta": b, "gamma": g, "rows": [to_dict(r) for r in rows]}

    def csv_of() -> str:
        flat = []
        for r in rows:
            o = r.official or {}
            flat.append(
                to_dict(r)
                | {
                    "official": o.get("variant", ""),
                    "official_params": o.get("params", ""),
                    "official_macs": o.get("macs", ""),
                }
            )
        return to_csv(flat, SWEEP_CSV)

    return render(lambda: sweep_parts(rows, a, b, g), doc, csv_of, fmt, width)


# ----------------------------------------------------------------------------- search

SEARCH_HEADER = ("#", "α", "β", "γ", "α·β²·γ²", "r", "Params", "MACs", "×B0", "|×−2|")
SEARCH_NOTE = (
    "Accuracy cannot be measured here (no training, no data): candidates are ranked by how "
    "close their measured MACs at φ=1 land to 2× B0's. The paper picked α=1.2, β=1.1, γ=1.15 "
    "by accuracy."
)


def search_parts(rows: list[Any], step: float, tolerance: float, top: int) -> list[Part]:
    cells = [
        [str(i), f"{r.alpha:g}", f"{r.beta:g}", f"{r.gamma:g}", f"{r.constraint:.4f}",
         str(r.resolution), si(r.params, 4), si(r.macs, 4), f"{r.macs_ratio:.3f}×",
         f"{r.distance_from_2x:.3f}"]
        for i, r in enumerate(rows[:top], start=1)
    ]  # fmt: skip
    shown = f"best {min(top, len(rows))} of {len(rows)}"
    return [
        f"Grid search at φ=1: α, β, γ ≥ 1 in steps of {step:g}, |α·β²·γ² − 2| ≤ {tolerance:g}",
        Grid(f"Candidates ({shown})", SEARCH_HEADER, "r" * 10, cells),
        _paper_rank(rows),
        SEARCH_NOTE,
        MACS_NOTE,
    ]


def _paper_rank(rows: list[Any]) -> str:
    """Where the paper's own choice lands in this ranking, when the grid contains it."""
    for i, r in enumerate(rows, start=1):
        if (r.alpha, r.beta, r.gamma) == (1.2, 1.1, 1.15):
            return f"The paper's α=1.2, β=1.1, γ=1.15 ranks #{i} here ({r.macs_ratio:.3f}× B0)."
    return "The paper's α=1.2, β=1.1, γ=1.15 is not on this grid."


def render_search(rows: list[Any], step: float, tol: float, top: int, fmt: str, w: int) -> Any:
    shown = rows[:top]

    def doc() -> dict[str, Any]:
        return {
            "grid_step": step,
            "tolerance": tol,
            "candidates": len(rows),
            "note": SEARCH_NOTE,
            "rows": [to_dict(r) for r in shown],
        }

    columns = tuple(to_dict(rows[0])) if rows else ("alpha",)
    return render(
        lambda: search_parts(rows, step, tol, top),
        doc,
        lambda: to_csv([to_dict(r) for r in shown], columns),
        fmt,
        w,
    )


# ----------------------------------------------------------------------------- compare


def _compare_totals(c: Any) -> Grid:
    header = ("Model", "w", "d", "r", "Params", "×first", "MACs", "×first", "Activations")
    rows = []
    for m, pr, mr in zip(c.models, c.params_ratio, c.macs_ratio, strict=True):
        co = m.coefficients
        rows.append(
            [m.variant, f"{co.width:.4g}", f"{co.depth:.4g}", str(m.input["resolution"]),
             si(m.totals.params, 4), ratio(pr), si(m.totals.macs, 4), ratio(mr),
             nbytes(m.totals.activation_bytes)]
        )  # fmt: skip
    return Grid("Totals", header, "lrrrrrrrr", rows, (0, 3, 4, 5, 6, 7))


def _per_stage(c: Any, title: str, cell) -> Grid:
    header = ("Stage", *(m.variant for m in c.models), "Δ")
    rows, marked = [], set()
    for i in range(9):
        cells = [cell(m.stages[i]) for m in c.models]
        for j, value in enumerate(cells[1:], start=2):
            if value != cells[0]:
                marked.add((i, j))
        differs = any(value != cells[0] for value in cells)
        rows.append([str(i + 1), *cells, "≠" if differs else ""])
    return Grid(title, header, "r" * len(header), rows, marked=marked)


def _structure(st: Any) -> str:
    return f"{hw(st.input_resolution)} {st.out_channels}ch ×{st.layers}"


def _profiles(c: Any) -> Grid:
    """One sparkline per model: how its MACs and params spread over stages 1 to 9."""
    rows = [
        [m.variant, spark([st.macs for st in m.stages]), spark([st.params for st in m.stages])]
        for m in c.models
    ]
    title = "Cost profile, stages 1→9 (per row, tallest = largest stage)"
    return Grid(title, ("Model", "MACs", "Params"), "lll", rows)


def compare_parts(c: Any) -> list[Part]:
    names = ", ".join(m.variant for m in c.models)
    parts: list[Part] = [
        f"Comparing {names} — ratios to {c.models[0].variant}; * and Δ mark what differs",
        _compare_totals(c),
        _profiles(c),
        _per_stage(c, "Per stage: input resolution, channels, layers", _structure),
        _per_stage(c, "Per stage: params", lambda st: si(st.params, 4)),
        _per_stage(c, f"Per stage: {MACS_LABEL}", lambda st: si(st.macs, 4)),
    ]
    for a, b in c.identical:
        parts.append(f"{a} and {b} build the same network: identical stages, params and MACs.")
    parts.append(MACS_NOTE)
    return parts


def compare_doc(c: Any) -> dict[str, Any]:
    models = []
    for m, pr, mr in zip(c.models, c.params_ratio, c.macs_ratio, strict=True):
        models.append(summary_dict(m) | {"params_ratio": pr, "macs_ratio": mr})
    return {"models": models, "identical": c.identical}


def render_compare(c: Any, fmt: str, width: int) -> Any:
    def csv_of() -> str:
        rows = [row for m in c.models for row in _stage_csv_rows(m.variant, m)]
        return to_csv(rows, ("model", *STAGE_CSV))

    return render(lambda: compare_parts(c), lambda: compare_doc(c), csv_of, fmt, width)


# ----------------------------------------------------------------------------- list

LIST_HEADER = (
    "Variant", "w", "d", "r", "dropout", "Params", "paper", "Δ", "MACs", "paper", "Δ", "top-1",
)  # fmt: skip


def _list_cells(row: Any) -> list[str]:
    c, p = row.coefficients, row.paper
    params_m, macs_b = row.params / 1e6, row.macs / 1e9
    paper = ["—", "", "—", ""]
    if p is not None:
        paper = [
            f"{p.params_m:.{p.params_decimals}f} M", f"{params_m - p.params_m:+.2f}",
            f"{p.flops_b:.{p.flops_decimals}f} B", f"{macs_b - p.flops_b:+.3f}",
        ]  # fmt: skip
    return [
        row.variant, f"{c['width']:g}", f"{c['depth']:g}", str(c["resolution"]),
        f"{c['dropout']:g}", f"{params_m:.3f} M", paper[0], paper[1], f"{macs_b:.3f} G",
        paper[2], paper[3], f"{p.top1:.1f}%" if p else "—",
    ]  # fmt: skip


def list_parts(rows: list[Any]) -> list[Part]:
    cells = [_list_cells(r) for r in rows]
    marked = set()
    for i, r in enumerate(rows):
        if r.paper is not None and r.params_m_paper_rounding != r.paper.params_m:
            marked.add((i, 6))
        if r.paper is not None and r.flops_b_paper_rounding != r.paper.flops_b:
            marked.add((i, 9))
    grid = Grid(
        f"Official variants: measured vs the paper's Table 2 — {MACS_LABEL}",
        LIST_HEADER,
        "lrrrrrrrrrrr",
        cells,
        (0, 5, 6, 8, 9, 11),
        marked,
    )
    return [
        "EfficientNet B0-B7, B8, L2: released coefficients, measured parameters and MACs",
        grid,
        "paper = Table 2's params and FLOPS; * marks one our measurement does not round to"
        " (Δ = measured − paper, in wide terminals and every other format).",
        "B8 and L2 have no Table 2 entry. Top-1 is the paper's; it cannot be measured here.",
        MACS_NOTE,
    ]


LIST_CSV = (
    "variant", "width", "depth", "resolution", "dropout", "params", "macs", "paper_params_m",
    "paper_flops_b", "paper_top1",
)  # fmt: skip


def list_doc(rows: list[Any]) -> dict[str, Any]:
    variants = []
    for r in rows:
        d = to_dict(r)
        d["totals"] = {k: d.pop(k) for k in ("params", "macs", "param_bytes", "activation_bytes")}
        variants.append(d)
    return {"variants": variants, "macs_convention": MACS_NOTE}


def render_list(rows: list[Any], fmt: str, width: int) -> Any:
    def csv_of() -> str:
        flat = []
        for r in rows:
            p = r.paper
            flat.append(
                {"variant": r.variant, **r.coefficients, "params": r.params, "macs": r.macs,
                 "paper_params_m": p.params_m if p else "", "paper_flops_b": p.flops_b if p else "",
                 "paper_top1": p.top1 if p else ""}
            )  # fmt: skip
        return to_csv(flat, LIST_CSV)

    return render(lambda: list_parts(rows), lambda: list_doc(rows), csv_of, fmt, width)


# ----------------------------------------------------------------------------- bench

BENCH_HEADER = (
    "Model", "Device", "Batch", "Res", "Mode", "Median ms", "p90 ms", "img/s", "Peak memory",
)  # fmt: skip
BENCH_NOTE = (
    "Latency is per batch: median and 90th percentile of the timed steps (CUDA events on "
    "CUDA, a monotonic clock elsewhere). Random weights unless --weights is given."
)


def _bench_cells(r: Any) -> list[str]:
    return [
        r.title, r.device, str(r.batch_size), str(r.resolution), r.mode,
        f"{r.latency_ms['median']:.2f}", f"{r.latency_ms['p90']:.2f}", f"{r.throughput:.1f}",
        nbytes(r.peak_memory_bytes),
    ]  # fmt: skip


def bench_parts(results: list[Any]) -> list[Part]:
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
        Grid(
            "Latency, throughput and peak memory",
            BENCH_HEADER,
            "llrrlrrrr",
            [_bench_cells(r) for r in results],
            (0, 5, 6, 7, 8),
        ),
        f"Peak memory: {first.memory_kind}.",
        BENCH_NOTE,
    ]


BENCH_CSV = (
    "variant", "device", "batch_size", "resolution", "mode", "amp", "channels_last", "compiled",
    "threads", "iterations", "latency_median_ms", "latency_p90_ms", "throughput",
    "peak_memory_bytes",
)  # fmt: skip


def render_bench(results: list[Any], fmt: str, width: int) -> Any:
    def csv_of() -> str:
        rows = [
            to_dict(r) | {"latency_median_ms": r.latency_ms["median"],
                          "latency_p90_ms": r.latency_ms["p90"]}
            for r in results
        ]  # fmt: skip
        return to_csv(rows, BENCH_CSV)

    return render(
        lambda: bench_parts(results),
        lambda: {"results": [to_dict(r) for r in results], "note": BENCH_NOTE},
        csv_of,
        fmt,
        width,
    )
