#!/usr/bin/env python3
"""Does the drift probe follow this machine's speed? When a model's time moves, does the
probe's ratio move with it, so that rescaling a prediction by it mends the move?

One calibration, then for ``--seconds`` a loop of fresh processes, each as a user's
``profile --predict-only`` starts: the drift probe against the cached calibration (a second
reading when the first moved, as ``trust.trusted`` takes it), then, at once, a bare timing of
one of ``CASES`` (``latency_accuracy.measured_ms``: the median of ~1 s of steps), the cases in
turn.

Prints, per rule, how far each case's times stray from their own median over the run once
divided by the probe's ratio (so where the probe starts does not matter, only whether it
moves with the times): as timed, by each part alone, by the parts' geometric mean always,
by it only when it moved beyond the probe's noise, and by effnet's rule (beyond the noise
and beyond the prediction's band: the scale a prediction was given); and how the probe's
ratio correlates with the times. If the probe follows the machine, dividing narrows the
spread; the spread as timed is the measurement's own noise, which no prediction beats.
Takes ``--seconds`` plus a calibration (default about five minutes). Nothing else should
run meanwhile.

    python benchmarks/drift_tracking.py
    python benchmarks/drift_tracking.py --seconds 600
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

CASES: list[tuple[str, int]] = [("b0", 1), ("b2", 4), ("mobilenetv2", 8)]
"""(spec, batch): none a calibration model; a short, a middling and a ReLU6 step."""


def calibrate() -> None:
    """Take the eager calibration afresh into this process's cache."""
    from effnet_cli.measurement.timing.latency import calibration

    cal, _ = calibration(recalibrate=True)
    print(f"calibrated in {cal.seconds:.1f} s")


def one(case: str) -> None:
    """The drift check as a prediction takes it (``trust.trusted``: probe, a second reading
    when the first moved, the rescaling rule), then the case's bare timing, as JSON."""
    from latency_accuracy import measured_ms

    from effnet_cli.measurement.timing.drift import PARTS, Drift
    from effnet_cli.measurement.timing.trust import trusted

    spec, batch = json.loads(case)
    state = trusted().state
    noise, apart = state.noise_pct / 100, state.apart_pct / 100
    ratios = state.probe_ratios or dict.fromkeys(PARTS, 1.0)  # none: taken again just now
    moved = Drift(ratios, noise, 0.0, apart=apart).moved
    row = {"case": [spec, batch], "ratios": ratios, "noise": noise,
           "moved": moved, "scale": state.scale, "recalibrated": state.recalibrated,
           "ms": measured_ms(spec, batch)}  # fmt: skip
    print(json.dumps(row))


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, __file__, *args], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout


def _collect(seconds: float) -> list[dict]:
    """Calibrate, then run one case per fresh process until ``seconds`` have passed."""
    env = dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp(prefix="effnet-drift-"))
    print(_run(env, "--phase", "calibrate").strip())
    rows, started, i = [], time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        case = json.dumps(CASES[i % len(CASES)])
        rows.append(json.loads(_run(env, "--phase", "one", "--case", case).splitlines()[-1]))
        i += 1
    return rows


def _geomean(values) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def _centred(values: list[float]) -> list[float]:
    mid = statistics.median(values)
    return [math.log(v / mid) for v in values]


def _levels(rows: list[dict], ratios: list[float]) -> list[float]:
    """Each row's log time, divided by ``ratios``, over its case's median of the same."""
    by_case: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_case.setdefault(json.dumps(row["case"]), []).append(i)
    levels = [0.0] * len(rows)
    for indices in by_case.values():
        times = [rows[i]["ms"] / ratios[i] for i in indices]
        for i, level in zip(indices, _centred(times), strict=True):
            levels[i] = level
    return levels


def _line(name: str, residual: list[float], levels: list[float], ratios: list[float]) -> str:
    """One rule's row: how far the times stray from their medians once divided, and how the
    probe's log ratio correlates with the times as timed."""
    errors = sorted(100 * abs(math.expm1(r)) for r in residual)
    n = len(errors)
    spread = max(ratios) - min(ratios)
    corr = f"{statistics.correlation(levels, ratios):+.2f}" if spread > 0 else "  —  "
    return (
        f"| {name} | {statistics.median(errors):.1f} % | {errors[-1]:.1f} % | "
        f"{sum(e <= 10 for e in errors)} of {n} | {corr} |"
    )


def report(rows: list[dict]) -> None:
    parts = list(rows[0]["ratios"])
    rules = {part: [r["ratios"][part] for r in rows] for part in parts}
    rules["geometric mean, always"] = [_geomean(r["ratios"].values()) for r in rows]
    rules["geometric mean, beyond the noise"] = [
        _geomean(r["ratios"].values()) if r["moved"] else 1.0 for r in rows
    ]
    rules["effnet's rule (beyond the noise and the band)"] = [r["scale"] for r in rows]
    print(f"{len(rows)} timings of {len(CASES)} cases; probe noise (with the calibration's) "
          f"median ±{100 * statistics.median(r['noise'] for r in rows):.0f} %, moved in "
          f"{sum(r['moved'] for r in rows)} of {len(rows)}, rescaled in "
          f"{sum(r['scale'] != 1.0 for r in rows)}, calibrated again in "
          f"{sum(r['recalibrated'] for r in rows)}")  # fmt: skip
    print("\n| divided by | median \\|off its median\\| | worst | within ±10 % | correlation |")
    print("|---|---|---|---|---|")
    levels = _levels(rows, [1.0] * len(rows))
    print(_line("nothing (as timed)", levels, levels, [0.0] * len(rows)))
    for name, ratios in rules.items():
        logs = [math.log(r) for r in ratios]
        print(_line(name, _levels(rows, ratios), levels, logs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("calibrate", "one"))
    parser.add_argument("--case", help="one: [spec, batch] as JSON")
    parser.add_argument("--seconds", type=float, default=300.0, help="how long to loop")
    parser.add_argument("--save", help="also write the rows (JSON) to this file")
    args = parser.parse_args()
    if args.phase == "calibrate":
        return calibrate()
    if args.phase == "one":
        return one(args.case)
    rows = _collect(args.seconds)
    if args.save:
        with open(args.save, "w", encoding="utf-8") as out:
            json.dump(rows, out)
    report(rows)


if __name__ == "__main__":
    main()
