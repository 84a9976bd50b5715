#!/usr/bin/env python3
"""Whole-process wall time and peak RSS of effnet commands, against `import torch`.

Each round runs every command once, in the same order, alternating with the baseline
(`python -c "import torch"`), so slow and fast moments of a noisy machine hit all of them
alike. A command's ratio is the median over rounds of (its time / that round's baseline).
Peak RSS comes from wait4() on each child. Nothing here is a test: targets are printed
beside the figures, and the exit code is 0 whatever they show.

    python benchmarks/run.py                 # all groups, 5 rounds
    python benchmarks/run.py --rounds 9 --markdown
    python benchmarks/run.py --only growth
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

PY = sys.executable
EFFNET = [PY, "-m", "effnet_cli"]

HAND_PIPELINE = """
import torch
from torchinfo import summary
from fvcore.nn import FlopCountAnalysis
from effnet_cli import build_model
model = build_model("b7")
summary(model, input_size=(1, 3, 600, 600), verbose=0)
print(FlopCountAnalysis(model, torch.randn(1, 3, 600, 600)).total())
"""


@dataclass
class Case:
    """One command line, the group it belongs to, and the target it is held to."""

    name: str
    argv: list[str]
    group: str
    target: float | None = None
    rss_target: float | None = None
    times: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)


PLANNER = "memory b7 -b 64 --train --checkpoint auto --limit 40GiB"


def cases() -> list[Case]:
    official = [f"b{i}" for i in range(8)]
    out = [
        Case("effnet summary b7", [*EFFNET, "summary", "b7"], "summary", 1.3, 1.2),
        Case("effnet summary l2", [*EFFNET, "summary", "l2"], "summary", 1.5),
        Case("effnet summary v2-xl", [*EFFNET, "summary", "v2-xl"], "summary", 1.3),
        Case("effnet scale --phi 12", [*EFFNET, "scale", "--phi", "12"], "summary", 1.5),
        Case("effnet compare b0 … b7", [*EFFNET, "compare", *official], "many", 2.0),
        Case("effnet list", [*EFFNET, "list"], "many", 1.6),
        Case(
            "effnet memory b7 -b 64 --train",
            [*EFFNET, "memory", "b7", "-b", "64", "--train"],
            "summary",
            1.5,
        ),
        Case(  # 1.6: the drift probe checks the cached calibration first (issue 22)
            "effnet profile b7 --predict-only",
            [*EFFNET, "profile", "b7", "--predict-only"],
            "summary",
            1.6,
        ),
        Case(
            "effnet budget --max-macs 2G --max-weights 20MB --dtype float16",
            [*EFFNET, "budget", "--max-macs", "2G", "--max-weights", "20MB", "--dtype", "float16"],
            "budget",
            2.0,
        ),
        Case(
            "effnet budget --max-memory 24GB -b 64 --train",
            [*EFFNET, "budget", "--max-memory", "24GB", "-b", "64", "--train"],
            "budget",
            3.0,
        ),
        Case(
            "effnet budget --max-memory 4GiB (largest batch per model)",
            [*EFFNET, "budget", "--max-memory", "4GiB"],
            "budget",
            3.0,
        ),
        Case(
            "effnet budget --max-latency 30ms --device cpu",
            [*EFFNET, "budget", "--max-latency", "30ms", "--device", "cpu"],
            "budget",
            2.0,
        ),
        Case(  # every subset of B7's 9 stages weighed, and the recompute priced (issue 25)
            f"effnet {PLANNER}",
            [*EFFNET, *PLANNER.split()],
            "checkpoint",
            2.0,
        ),
        Case(
            "effnet budget --max-memory 24GB -b 64 --train --checkpointing",
            [*EFFNET, "budget", "--max-memory", "24GB", "-b", "64", "--train", "--checkpointing"],
            "checkpoint-budget",
        ),
        Case("effnet --help", [*EFFNET, "--help"], "light", 0.2),
        Case("effnet summary --help", [*EFFNET, "summary", "--help"], "light", 0.2),
        Case("effnet summary b9 (error)", [*EFFNET, "summary", "b9"], "light", 0.2),
        Case("torchinfo + fvcore on B7 by hand", [PY, "-c", HAND_PIPELINE], "hand"),
    ]
    for phi in (0, 3, 6, 9, 12):
        out.append(Case(f"effnet summary phi={phi}", [*EFFNET, "summary", f"phi={phi}"], "growth"))
    return out


BASELINE = [PY, "-c", "import torch"]


def run_once(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss * 1024


def measure(selected: list[Case], rounds: int) -> tuple[list[float], list[int]]:
    base_times, base_rss = [], []
    for r in range(rounds):
        for case in selected:
            t0, m0 = run_once(BASELINE)
            t1, m1 = run_once(case.argv)
            base_times.append(t0)
            base_rss.append(m0)
            case.times.append(t1)
            case.ratios.append(t1 / t0)
            case.rss.append(m1)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    return base_times, base_rss


def report(selected: list[Case], base_times: list[float], base_rss: list[int], md: bool) -> None:
    base_t, base_m = statistics.median(base_times), statistics.median(base_rss)
    header = ("command", "median s", "× import torch", "target", "peak RSS MiB", "× RSS")
    rows = [
        ("python -c 'import torch'", f"{base_t:.2f}", "1.00", "", f"{base_m / 2**20:.0f}", "1.00")
    ]
    for c in selected:
        ratio = statistics.median(c.ratios)
        rss = statistics.median(c.rss)
        target = (
            "" if c.target is None else f"≤ {c.target:g}" + (" ✓" if ratio <= c.target else " ✗")
        )
        rss_ratio = rss / base_m
        if c.rss_target is not None:
            target += f"; RSS ≤ {c.rss_target:g}" + (" ✓" if rss_ratio <= c.rss_target else " ✗")
        rows.append(
            (c.name, f"{statistics.median(c.times):.2f}", f"{ratio:.2f}", target,
             f"{rss / 2**20:.0f}", f"{rss_ratio:.2f}")
        )  # fmt: skip
    if md:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                        enumerate(zip(row, widths, strict=True))))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--only", nargs="*", default=None,
        help="groups: summary, many, budget, light, hand, growth (default: all)",
    )  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    selected = [c for c in cases() if args.only is None or c.group in args.only]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores", file=sys.stderr)
    # the prediction's target holds once calibrated: calibrate (if needed) before timing
    subprocess.run([*EFFNET, "profile", "b0", "--predict-only"], capture_output=True, check=True)
    base_times, base_rss = measure(selected, args.rounds)
    report(selected, base_times, base_rss, args.markdown)


if __name__ == "__main__":
    main()
