#!/usr/bin/env python3
"""The README's profile table: for B0–B4 at batch 1 on this machine, the depthwise and SE
convs' share of MACs against their share of measured op time, and the predicted latency
against the measured one (all from `effnet_cli.profile`).

    python benchmarks/profile_table.py
    python benchmarks/profile_table.py --models b0 b1 --batch-size 8
"""

from __future__ import annotations

import argparse

from effnet_cli.measurement.timing.profiling import profile


def _share(report, kind: str) -> tuple[float, float]:
    row = next(k for k in report.op_kinds if k.kind == kind)
    macs = sum(k.macs for k in report.op_kinds)
    return 100 * row.macs / macs, 100 * (row.measured_ms or 0) / (report.op_kinds_total_ms or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["b0", "b1", "b2", "b3", "b4"])
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args()
    print("| model | depthwise: MACs / time | SE convs: MACs / time | measured ms | "
          "predicted ms | error |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for spec in args.models:
        r = profile(spec, batch_size=args.batch_size, seconds=3.0)
        dw, se = _share(r, "depthwise"), _share(r, "se_conv")
        error = 100 * (r.predicted_ms - r.measured_ms) / r.measured_ms
        cells = [r.title, f"{dw[0]:.1f}% / {dw[1]:.1f}%", f"{se[0]:.2f}% / {se[1]:.1f}%",
                 f"{r.measured_ms:.1f}", f"{r.predicted_ms:.1f}", f"{error:+.1f}%"]  # fmt: skip
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
