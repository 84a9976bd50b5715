"""Charts (matplotlib, the optional `plot` extra): scaling curves, accuracy vs cost, stages.

Each function takes collected dataclasses and a path; the figure is rendered in memory
and written atomically, PNG or SVG by the file's extension. Nothing here prints.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..errors import RuntimeFailure, UsageError
from ..files import write_atomic
from ..reports import BudgetReport, Comparison, ProfileReport, Sweep, VariantList
from .compare import aligned

FORMATS = {".png": "png", ".svg": "svg"}
MACS_AXIS = "MACs, conv + linear (paper's 'FLOPS')"


def plot_format(path: Path) -> str:
    """'png' or 'svg' from the extension; anything else is a usage error (checked early)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"--plot '{path}' must end in .png or .svg")
    return fmt


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or one clear error naming the extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeFailure(
            "--plot needs matplotlib, which is not installed: pip install 'effnet[plot]'"
        ) from None
    return plt


def _plain_log(axis: Any) -> None:
    """Log axis labelled 0.5, 1, 2, 5, 10 rather than 5×10⁰ with crowded minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _save(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=plot_format(path), dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    write_atomic(path, buffer.getvalue())


def plot_sweep(sweep: Sweep, path: Path) -> None:
    """Params and measured MACs against φ (log scale): formula vs official, with 2^φ lines."""
    plt = pyplot()
    fig, (ax_macs, ax_params) = plt.subplots(1, 2, figsize=(11, 4.5))
    rows, c = sweep.rows, sweep.compound
    phis = [r.phi for r in rows]
    base = rows[0].macs / rows[0].macs_ratio / 1e9
    official = [r for r in rows if r.official]
    constraint = c.constraint
    formula = f"φ formula (α={c.alpha:g}, β={c.beta:g}, γ={c.gamma:g})"
    ax_macs.plot(phis, [r.macs / 1e9 for r in rows], "o-", label=formula)
    ax_params.plot(phis, [r.params / 1e6 for r in rows], "o-", label="φ formula")
    if official:
        off_phis = [r.phi for r in official]
        ax_macs.plot(off_phis, [r.official.macs / 1e9 for r in official], "s--",
                     label="official B0-B7 (hand-tuned)")  # fmt: skip
        ax_params.plot(off_phis, [r.official.params / 1e6 for r in official], "s--",
                       label="official B0-B7")  # fmt: skip
    ax_macs.plot(phis, [base * 2**p for p in phis], ":", color="grey", label="B0 × 2^φ")
    ax_macs.plot(phis, [base * constraint**p for p in phis], "-.", color="black",
                 label=f"B0 × (α·β²·γ²)^φ = B0 × {constraint:.3f}^φ")  # fmt: skip
    ax_macs.set(yscale="log", xlabel="compound coefficient φ",
                ylabel=f"{MACS_AXIS}, billions, batch 1", title="Measured MACs")  # fmt: skip
    ax_params.set(yscale="log", xlabel="compound coefficient φ", ylabel="parameters, millions",
                  title="Parameters")  # fmt: skip
    for ax in (ax_macs, ax_params):
        _plain_log(ax.yaxis)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("EfficientNet compound scaling, measured on the built models")
    _save(fig, path)


def plot_list(variants: VariantList, path: Path) -> None:
    """The paper's top-1 against measured MACs and against parameters: one line per family
    whose variants the paper reports (EfficientNet B0-B7, ResNet-50 and -152)."""
    plt = pyplot()
    fig, (ax_macs, ax_params) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    sections = [s for s in variants.sections if any(r.paper for r in s.rows)]
    for section in sections:
        known = [r for r in section.rows if r.paper is not None]
        top1 = [r.paper.top1 for r in known]
        for ax, xs in ((ax_macs, [r.macs / 1e9 for r in known]),
                       (ax_params, [r.params / 1e6 for r in known])):  # fmt: skip
            ax.plot(xs, top1, "o-", label=section.title.split(" ")[0])
            for x, y, r in zip(xs, top1, known, strict=True):
                ax.annotate(r.variant.upper(), (x, y), textcoords="offset points",
                            xytext=(4, -10), fontsize=8)  # fmt: skip
    for ax, label in ((ax_macs, f"{MACS_AXIS}, billions"), (ax_params, "parameters, millions")):
        ax.set(xscale="log", xlabel=label)
        _plain_log(ax.xaxis)
        ax.grid(True, which="both", alpha=0.3)
    ax_macs.legend(fontsize=8)
    tables = ", ".join(dict.fromkeys(s.paper_table for s in sections))
    ax_macs.set_ylabel(f"ImageNet top-1 % (EfficientNet paper, {tables})")
    fig.suptitle("The paper's accuracy against measured cost")
    _save(fig, path)


def plot_compare(comparison: Comparison, path: Path) -> None:
    """Per-stage MACs and parameters of each model, side by side."""
    plt = pyplot()
    models = comparison.models
    fig, (ax_macs, ax_params) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / len(models)
    labels, stages = aligned(comparison)
    rows = list(range(1, len(labels) + 1))
    for i, (m, row_stages) in enumerate(zip(models, stages, strict=True)):
        shown = [(x, st) for x, st in zip(rows, row_stages, strict=True) if st is not None]
        xs = [x + (i - (len(models) - 1) / 2) * width for x, _ in shown]
        ax_macs.bar(xs, [st.macs / 1e6 for _, st in shown], width, label=m.variant)
        ax_params.bar(xs, [st.params / 1e6 for _, st in shown], width, label=m.variant)
    ax_macs.set(xlabel="stage (Table 1)", ylabel=f"{MACS_AXIS}, millions", title="MACs per stage")
    ax_params.set(xlabel="stage (Table 1)", ylabel="parameters, millions",
                  title="Parameters per stage")  # fmt: skip
    for ax in (ax_macs, ax_params):
        ax.set_xticks(rows, labels)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Where the cost goes, stage by stage")
    _save(fig, path)


def plot_budget(report: BudgetReport, path: Path) -> None:
    """The paper's top-1 against measured MACs for the variants that have one, filled where
    they fit the budget and hollow where they do not; --max-macs as the shaded region, the
    compound answer as a line (effnet predicts no accuracy, so it has no point)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    known = [r for r in report.variants if r.top1 is not None]
    limit = report.constraints.max_macs
    if limit is not None:
        ax.axvspan(0, limit / 1e9, color="tab:green", alpha=0.12,
                   label=f"--max-macs {limit / 1e9:g} G")  # fmt: skip
    for fits, style in ((True, {}), (False, {"facecolors": "none"})):
        rows = [r for r in known if r.fits == fits]
        if rows:
            ax.scatter([r.macs / 1e9 for r in rows], [r.top1 for r in rows], s=40,
                       edgecolors="tab:blue", label="fits every limit" if fits else
                       "over a limit", **style)  # fmt: skip
    for r in known:
        label = r.variant.upper() + ("" if r.fits else f" ({', '.join(r.failed)})")
        ax.annotate(label, (r.macs / 1e9, r.top1), textcoords="offset points", xytext=(5, -10),
                    fontsize=8)  # fmt: skip
    a = report.compound
    if a.phi is not None and a.macs is not None:
        ax.axvline(a.macs / 1e9, color="tab:orange", linestyle="--",
                   label=f"largest φ = {a.phi:g} (no published top-1)")  # fmt: skip
    source = report.top1_source.partition("(")[2].partition(")")[0]
    ax.set(xscale="log", xlabel=f"{MACS_AXIS}, billions",
           ylabel=f"ImageNet top-1 %, published ({source})")  # fmt: skip
    _plain_log(ax.xaxis)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Budget: " + "; ".join(_short_limits(report)))
    _save(fig, path)


def _short_limits(report: BudgetReport) -> list[str]:
    from .budget import limits_text

    return [text.split(" (")[0] for text in limits_text(report.constraints)]


def plot_profile(r: ProfileReport, path: Path) -> None:
    """Left: each stage's share of time beside its share of MACs. Right: the roofline (peak
    MAC/s, bandwidth × intensity) with each stage at its intensity and achieved MAC/s."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    stages = r.stages
    labels = [str(x.stage) for x in stages]
    macs = sum(x.macs for x in stages) or 1
    timed = [x.measured_ms if x.measured_ms is not None else x.predicted_ms for x in stages]
    total = sum(t or 0.0 for t in timed) or 1.0
    which = "measured" if r.measured_ms is not None else "predicted"
    xs = range(len(stages))
    left.bar([i - 0.2 for i in xs], [100 * (t or 0) / total for t in timed], 0.4,
             label=f"time ({which})")  # fmt: skip
    left.bar([i + 0.2 for i in xs], [100 * x.macs / macs for x in stages], 0.4, label="MACs")
    left.set_xticks(list(xs), labels)
    left.set(xlabel="stage (last: classifier)", ylabel="share of the step, %",
             title=f"{r.title}: time vs MACs per stage")  # fmt: skip
    left.legend()
    _roofline(right, r, timed)
    _save(fig, path)


def _roofline(ax: Any, r: ProfileReport, timed: list[float | None]) -> None:
    peak, bw = r.device.peak_macs_per_s, r.device.bandwidth_bytes_per_s
    points = [
        (x.intensity, x.macs / (t / 1e3), str(x.stage))
        for x, t in zip(r.stages, timed, strict=True)
        if t and x.macs and x.bytes_moved
    ]
    low = min([p[0] for p in points] + [0.1]) / 2
    high = max([p[0] for p in points] + [peak / bw]) * 4
    grid_x = [low * (high / low) ** (i / 50) for i in range(51)]
    ax.plot(grid_x, [min(peak, bw * x) / 1e9 for x in grid_x], color="black", label="roofline")
    for x, y, label in points:
        ax.scatter([x], [y / 1e9], color="tab:blue")
        ax.annotate(label, (x, y / 1e9), textcoords="offset points", xytext=(4, 4))
    ax.set_xscale("log")
    ax.set_yscale("log")
    title = f"roofline of {r.device.name}: {peak / 1e9:.0f} GMAC/s, {bw / 1e9:.0f} GB/s"
    ax.set(xlabel="intensity, MACs per byte moved", ylabel="GMAC/s achieved", title=title)
    ax.legend()
