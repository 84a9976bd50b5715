#!/usr/bin/env python3
"""How close is the predicted latency to a timed run, the way a user meets it: calibrated
at one time, predicted later, with other work on the machine in between?

Three processes, one after another, on a cache directory of their own:
1. ``--phase calibrate``: the latency calibration, taken afresh;
2. the load in between: another model's timed run (``effnet bench b2`` for ``--gap`` s);
3. ``--phase predict``: for each case, the prediction (profile --predict-only: drift check,
   rescaling, band) in a fresh process of its own, as a user runs it, then an independent
   bare-loop timing of the same model (median of steps after a warm-up), in another fresh
   process, as ``effnet bench`` runs. No case is a calibration model; several are where the
   old model was weakest (small resolution at large batch, V2).

Prints a Markdown table and the summary: median and worst |error|, the share within ±10%
and ±20%, and how many timed runs fell inside the predicted band.

With ``--runtime onnxruntime`` the same three phases run onnxruntime's latency model: its own
calibration (each model exported), then each case's prediction (profile --runtime onnxruntime
--predict-only) beside a bare ``InferenceSession.run`` loop on the case's fresh export.
Inference only: onnxruntime runs no training step here. ``--runtime channels-last`` does the
same for eager inference in NHWC (profile --predict-only --channels-last, its own
calibration; weights and input channels-last in the timed loop).

A last line gives the same predictions' errors as they would be under other rescaling rules
(no part, torch's three parts, the runtime's own part where the probe has one, every part,
and every part only when the drift passes the prediction's band), from the probe readings
each prediction recorded.

After every case is predicted and timed, each is timed once more (fresh): the "timed again"
column says how far the same model's own time moved in those minutes, the measurement's own
noise beside the prediction's error; one more line judges the predictions against the
geometric mean of the two timings, a reference less noisy than either.

    python benchmarks/latency_accuracy.py              # about 2 minutes with --gap 60
    python benchmarks/latency_accuracy.py --gap 600    # a calibration 10 minutes old
    python benchmarks/latency_accuracy.py --runtime onnxruntime
    python benchmarks/latency_accuracy.py --runtime channels-last
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

CASES: list[tuple[str, int]] = [
    ("b0", 1), ("b0", 16), ("b2", 4), ("b3", 1), ("b4", 2), ("b5", 1), ("v2-b0", 8),
    ("v2-s", 1), ("phi=1.5", 2), ("w=0.7,d=0.6,r=176", 32), ("w=1.2,d=0.8,r=256", 8),
    ("w=0.5,d=0.4,r=128", 64), ("w=0.5,d=0.3,r=800", 1),
    ("resnet50", 1), ("mobilenetv2", 8), ("lite0", 4), ("edgetpu-s", 1), ("mobilenetv1", 16),
]  # fmt: skip
"""(spec, batch): inference cases, none of them a calibration model: the B-series, V2, the
corners of batch 1-64 and 128-800 px, and the families with ReLU, ReLU6, max pool,
bottleneck and separable convs."""
TRAIN_CASES: list[tuple[str, int]] = [
    ("b0", 4), ("b1", 2), ("v2-b0", 4), ("phi=0.5", 8), ("w=0.7,d=0.6,r=176", 16),
    ("resnet50", 2), ("mobilenetv2", 8),
]  # fmt: skip
"""(spec, batch): training steps (forward, cross-entropy, backward, zero_grad)."""
MEASURE_SECONDS = 1.0
TORCH_PARTS = ("matmul", "copy", "model")
"""The drift probe's parts that time torch (``drift.PARTS``); any other is a runtime's own."""


def measured_ms(spec: str, batch: int, train: bool = False, channels_last: bool = False
                ) -> float:  # fmt: skip
    """Median of bare steps after two warm-up steps, at least 3 and ~1 s: inference under
    inference_mode (weights and input channels-last if asked), or bench's training step."""
    import torch
    import torch.nn.functional as F

    from effnet_cli.arch.specs import parse_variant
    from effnet_cli.model.network import build_model

    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    model = build_model(resolved).train(train)
    x = torch.randn(batch, 3, res, res)
    labels = torch.randint(0, 1000, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        if not train:
            with torch.inference_mode():
                model(x)
            return
        F.cross_entropy(model(x), labels).backward()
        model.zero_grad(set_to_none=True)

    return _median_ms(step)


def measured_ort_ms(spec: str, batch: int) -> float:
    """Median of bare ``session.run`` steps on a fresh export of ``spec`` (float32, fixed
    batch), after two warm-up steps, at least 3 and ~1 s."""
    from pathlib import Path

    import torch

    from effnet_cli.arch.specs import parse_variant
    from effnet_cli.measurement.deploy.exporting import export_onnx, random_feed, session

    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(resolved, path, batch_size=batch)
        sess = session(path, torch.get_num_threads())  # as the calibration's sessions
        feed = random_feed(sess, (batch, 3, res, res))
        return _median_ms(lambda: sess.run(None, feed))


def _median_ms(step) -> float:
    samples: list[float] = []
    step()
    step()
    started = time.perf_counter()
    while len(samples) < 3 or time.perf_counter() - started < MEASURE_SECONDS:
        t0 = time.perf_counter()
        step()
        samples.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(samples)


def _plan(runtime: str):
    from effnet_cli.measurement.timing.latency import EAGER, EAGER_CHANNELS_LAST

    if runtime == "onnxruntime":
        from effnet_cli.measurement.deploy.calibrate import ort_plan

        return ort_plan()
    return EAGER_CHANNELS_LAST if runtime == "channels-last" else EAGER


def _measure(spec: str, batch: int, train: bool, runtime: str) -> float:
    if runtime == "onnxruntime":
        return measured_ort_ms(spec, batch)
    return measured_ms(spec, batch, train, channels_last=runtime == "channels-last")


def measure_one(runtime: str, case: str) -> None:
    """One case's timed run in a process of its own, on the C heap ``effnet bench`` times on
    (``effnet_cli/heap.py``: glibc's malloc kept, unless the user set it): printed as its
    milliseconds. Neither a long-lived process nor glibc's default heap is a fair judge:
    there malloc keeps or returns memory by what ran before (its mmap and trim thresholds
    move with every large free), so the same model's step page-faults more or less: B0 at
    batch 1 took 13.4 ms in the benchmark's own process after other models and 21.2 ms
    before them, 22.4 and 25.2 ms in two fresh processes."""
    from effnet_cli.heap import keep_heap

    keep_heap()
    spec, batch, train = json.loads(case)
    print(_measure(spec, batch, train, runtime))


def _measure_fresh(spec: str, batch: int, train: bool, runtime: str) -> float:
    case = json.dumps([spec, batch, train])
    return float(_run_phase("measure-one", dict(os.environ), runtime, "--case", case)[-1])


def calibrate(runtime: str) -> None:
    from effnet_cli.measurement.timing.latency import calibration

    cal, note = calibration(recalibrate=True, plan=_plan(runtime))
    held = ", ".join(f"{100 * e:+.0f}%" for e in cal.held_out)
    print(
        f"calibrated in {cal.seconds:.1f} s; held-out errors {held}"
        + (f" ({note})" if note else "")
    )


def predict_one(runtime: str, case: str) -> None:
    """One case's prediction, in a process of its own as a user's ``effnet profile
    --predict-only`` is: printed as one JSON object."""
    from effnet_cli.measurement.timing.profiling import profile
    from effnet_cli.measurement.timing.settings import ProfileSettings

    spec, batch, train = json.loads(case)
    settings = ProfileSettings(batch_size=batch, predict_only=True, train=train,
                               runtime="onnxruntime" if runtime == "onnxruntime" else "eager",
                               channels_last=runtime == "channels-last")  # fmt: skip
    r = profile(spec, settings, plan=_plan(runtime))
    low, high = r.predicted_range_ms or (r.predicted_ms, r.predicted_ms)
    print(json.dumps({"predicted": r.predicted_ms, "low": low, "high": high,
                      "state": r.calibration.__dict__ if r.calibration else None}))  # fmt: skip


def predict(runtime: str) -> None:
    """Each case predicted and then timed, each in a fresh process; then every case timed
    once more (fresh again), after all of them, so the table can say how far the same
    model's own time moved meanwhile."""
    cases = [(spec, batch, False) for spec, batch in CASES]
    if runtime == "eager":
        cases += [(spec, batch, True) for spec, batch in TRAIN_CASES]
    rows = []
    for spec, batch, train in cases:
        case = json.dumps([spec, batch, train])
        (line,) = _run_phase("predict-one", dict(os.environ), runtime, "--case", case)[-1:]
        real = _measure_fresh(spec, batch, train, runtime)
        rows.append({"spec": spec, "batch": batch, "train": train, **json.loads(line),
                     "measured": real, "again": None})  # fmt: skip
    for row in rows:
        row["again"] = _measure_fresh(row["spec"], row["batch"], row["train"], runtime)
        print(json.dumps(row), flush=True)


def _run_phase(phase: str, env: dict[str, str], runtime: str, *more: str) -> list[str]:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--runtime", runtime, *more],
                         env=env, check=True, capture_output=True, text=True).stdout  # fmt: skip
    return out.splitlines()


def report(rows: list[dict], gap: float) -> None:
    """The table and summary, inference and training steps apart."""
    for train in (False, True):
        part = [r for r in rows if r.get("train", False) == train]
        if part:
            print(f"\n{'Training steps' if train else 'Inference'}:\n")
            _report(part, gap)


def _drift(state: dict | None) -> str:
    """What the drift check did before this prediction: the probe's reading, and the
    factor the prices were rescaled by (or that it calibrated again)."""
    if not state:
        return ""
    done = (
        ", recalibrated"
        if state.get("recalibrated")
        else (f", rescaled ×{state.get('scale', 1):.2f}" if state.get("rescaled") else "")
    )
    return f"{state.get('drift_pct', 0):+.0f}%{done}"


def _report(rows: list[dict], gap: float) -> None:
    print(
        "| model | batch | predicted ms (band) | measured ms | error | in band | drift | "
        "timed again |"
    )
    print("|---|---|---|---|---|---|---|---|")
    errors, inside, moved = [], 0, []
    for r in rows:
        moved.append(100 * (r["again"] - r["measured"]) / r["measured"])
        error = 100 * (r["predicted"] - r["measured"]) / r["measured"]
        errors.append(abs(error))
        hit = r["low"] <= r["measured"] <= r["high"]
        inside += hit
        band = f"{r['predicted']:,.1f} ({r['low']:,.1f}–{r['high']:,.1f})"
        print(f"| {r['spec']} | {r['batch']} | {band} | {r['measured']:,.1f} | {error:+.1f}% | "
              f"{'yes' if hit else 'no'} | {_drift(r['state'])} | {r['again']:,.1f} "
              f"({moved[-1]:+.0f}%) |")  # fmt: skip
    n = len(errors)
    state = rows[0]["state"] or {}
    print(f"\ncalibration {state.get('age_s', 0):.0f} s old at the first prediction (gap "
          f"{gap:g} s of load); drift {state.get('drift_pct', 0):+.1f}%, rescaled "
          f"{state.get('rescaled')}, recalibrated {state.get('recalibrated')}; band "
          f"±{state.get('band_pct', 0):.0f}%")  # fmt: skip
    print(f"median |error| {statistics.median(errors):.1f}%, worst {max(errors):.1f}%; within "
          f"±10%: {sum(e <= 10 for e in errors)}/{n}, within ±20%: {sum(e <= 20 for e in errors)}"
          f"/{n}; timed run inside the band: {inside}/{n}")  # fmt: skip
    spread = sorted(abs(m) for m in moved)
    print(f"the same case timed again after every case: moved by a median of "
          f"{statistics.median(spread):.1f}%, at most {spread[-1]:.1f}%")  # fmt: skip
    _against_both(rows)
    _policies(rows)


def _against_both(rows: list[dict]) -> None:
    """The predictions against the geometric mean of each case's two timings: a reference
    whose own noise is smaller than either timing's (the headline figures stay the first
    timing's, what a user's one bench run would read)."""
    errors = []
    for r in rows:
        both = math.sqrt(r["measured"] * r["again"])
        errors.append(abs(100 * (r["predicted"] - both) / both))
    n = len(errors)
    print(f"against the geometric mean of the two timings: median {statistics.median(errors):.1f}"
          f"%, worst {max(errors):.1f}%, within ±10% {sum(e <= 10 for e in errors)}/{n}, within "
          f"±20% {sum(e <= 20 for e in errors)}/{n}")  # fmt: skip


def _rescaled(state: dict, parts: tuple[str, ...], beyond_band: bool = False) -> float:
    """The factor a prediction is rescaled by when the ratio is taken over ``parts``, by
    effnet's own rule (``drift.Drift``: their geometric mean, beyond the probe's noise and
    the calibration's two readings' spread), or with ``beyond_band`` only beyond the
    prediction's band as well."""
    from effnet_cli.measurement.timing.drift import Drift

    ratios = state.get("probe_ratios") or {}
    if not ratios or not set(parts) <= set(ratios):
        return 1.0
    noise = state.get("noise_pct", 5.0) / 100
    if beyond_band:
        noise = max(noise, state.get("band_pct", 0.0) / 100)
    d = Drift({p: ratios[p] for p in parts}, noise, 0.0, apart=state.get("apart_pct", 0.0) / 100)
    return d.ratio if d.moved else 1.0


def _policies(rows: list[dict]) -> None:
    """The same predictions under each rescaling rule, from the probe readings they carry."""
    seen = (rows[0]["state"] or {}).get("probe_ratios", {})
    own = tuple(p for p in seen if p not in TORCH_PARTS)
    rules: list[tuple[str, tuple[str, ...], bool]] = [
        ("no part", (), False),
        ("torch's three parts", TORCH_PARTS, False),
    ]
    if own:
        rules += [(f"the {', '.join(own)} part", own, False),
                  ("every part", (*TORCH_PARTS, *own), False)]  # fmt: skip
    rules.append(("every part, only beyond the band", (*TORCH_PARTS, *own), True))
    texts = []
    for name, parts, beyond in rules:
        errors = []
        for r in rows:
            state = r["state"] or {}
            base = r["predicted"] / (state.get("scale") or 1.0)
            scaled = base * (_rescaled(state, parts, beyond) if parts else 1.0)
            errors.append(abs(100 * (scaled - r["measured"]) / r["measured"]))
        texts.append(f"{name}: median {statistics.median(errors):.1f}%, worst "
                     f"{max(errors):.1f}%, within ±10% {sum(e <= 10 for e in errors)}/"
                     f"{len(errors)}")  # fmt: skip
    print("rescaled by " + "; ".join(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("calibrate", "predict", "predict-one", "measure-one"))
    parser.add_argument("--case", help="predict-one, measure-one: [spec, batch, train] as JSON")
    parser.add_argument("--gap", type=float, default=60.0, help="seconds of load in between")
    parser.add_argument("--cache", help="cache directory (default: a new temporary one)")
    parser.add_argument("--save", help="also write each case's row (JSON lines) to this file")
    parser.add_argument("--runtime", choices=("eager", "channels-last", "onnxruntime"),
                        default="eager", help="channels-last: eager inference in NHWC")  # fmt: skip
    args = parser.parse_args()
    if args.phase == "calibrate":
        return calibrate(args.runtime)
    if args.phase == "predict":
        return predict(args.runtime)
    if args.phase == "predict-one":
        return predict_one(args.runtime, args.case)
    if args.phase == "measure-one":
        return measure_one(args.runtime, args.case)
    cache = args.cache or tempfile.mkdtemp(prefix="effnet-accuracy-")
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    print(*_run_phase("calibrate", env, args.runtime), sep="\n")
    subprocess.run([sys.executable, "-m", "effnet_cli", "bench", "b2", "--seconds", str(args.gap)],
                   env=env, check=True, capture_output=True)  # fmt: skip
    lines = _run_phase("predict", env, args.runtime)
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    if args.save:
        with open(args.save, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(row) + "\n" for row in rows)
    report(rows, args.gap)


if __name__ == "__main__":
    main()
