#!/usr/bin/env python3
"""What the C heap does to a CPU step: the same model timed on glibc's default heap in a
fresh process, on the default heap after two larger models ran in the same process, and on
the heap effnet times on (``effnet_cli/heap.py``: kept, no mmap blocks, no trim).

Each setting runs in a process of its own, the three in turn, ``--rounds`` times; each
prints the median step (after two warm-up steps) and the page faults of its steadiest step
(the kernel's count, ``getrusage``'s ru_minflt). Prints a Markdown table of medians over
the rounds, and each setting's time as a ratio to the kept heap's.

    python benchmarks/heap_faults.py                 # B0 at batch 1 and 16, 3 rounds
    python benchmarks/heap_faults.py --case b3 4 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

SETTINGS = ("fresh", "after larger models", "kept")
LARGER = (("w=2.0,d=0.3,r=528", 1), ("w=0.8,d=0.5,r=224", 8))
"""What ran before, for "after larger models": two of the latency calibration's models."""
STEPS = 10


def one(setting: str, spec: str, batch: int) -> None:
    """Time ``spec`` at ``batch`` here under ``setting``; print {ms, faults} as JSON."""
    import resource
    import time

    import torch

    from effnet_cli.arch.specs import parse_variant
    from effnet_cli.heap import keep_heap
    from effnet_cli.model import build_model

    if setting == "kept":
        keep_heap()

    def steps(spec: str, batch: int, count: int) -> list[tuple[float, int]]:
        resolved = parse_variant(spec)
        res = resolved.coefficients.resolution
        model, x = build_model(resolved).eval(), torch.randn(batch, 3, res, res)
        out = []
        for _ in range(count):
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            with torch.inference_mode():
                model(x)
            seconds = time.perf_counter() - start
            out.append((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults))
        return out

    if setting == "after larger models":
        for other, other_batch in LARGER:
            steps(other, other_batch, 3)
    timed = steps(spec, batch, STEPS)[2:]
    print(json.dumps({"ms": 1e3 * statistics.median(s for s, _ in timed),
                      "faults": min(f for _, f in timed)}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs=2, action="append", metavar=("SPEC", "BATCH"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args.one[0], args.one[1], int(args.one[2]))
    cases = [(s, int(b)) for s, b in args.case] if args.case else [("b0", 1), ("b0", 16)]
    print("| model | batch | " + " | ".join(f"{s}: ms (faults a step)" for s in SETTINGS)
          + " | ÷ kept: fresh / after |")  # fmt: skip
    print("|---|---|" + "---|" * (len(SETTINGS) + 1))
    for spec, batch in cases:
        got: dict[str, list[dict]] = {s: [] for s in SETTINGS}
        for _ in range(args.rounds):
            for setting in SETTINGS:
                out = subprocess.run([sys.executable, __file__, "--one", setting, spec, str(batch)],
                                     capture_output=True, text=True, check=True).stdout  # fmt: skip
                got[setting].append(json.loads(out.splitlines()[-1]))
        ms = {s: statistics.median(r["ms"] for r in got[s]) for s in SETTINGS}
        cells = [f"{ms[s]:.1f} ({statistics.median(r['faults'] for r in got[s]):,.0f})"
                 for s in SETTINGS]  # fmt: skip
        ratios = " / ".join(f"{ms[s] / ms['kept']:.2f}" for s in SETTINGS[:2])
        print(f"| {spec} | {batch} | " + " | ".join(cells) + f" | {ratios} |")


if __name__ == "__main__":
    main()
