#!/usr/bin/env python3
"""Every CUDA path of effnet, run once on a real GPU, with a pass/fail table.

No GPU has run this code yet: this is the script to run the first time one is available
(about 2-5 minutes on one GPU). Without CUDA it prints one line and exits 0.

    python benchmarks/cuda_check.py            # cuda:0
    python benchmarks/cuda_check.py --device cuda:1

Each check runs the real command line (``python -m effnet_cli … -f json``) and judges its
JSON. The exit code is 1 when any check fails, so it can gate a GPU CI job.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

EFFNET = [sys.executable, "-m", "effnet_cli"]
B5_PARAMS = 30_389_784
B5_MACS = 10.266e9
ROUNDING = 512
"""CUDA's caching allocator rounds every block up to a multiple of 512 bytes: its
max_memory_allocated is the tensor peak plus at most 511 bytes per live tensor."""


@dataclass
class Result:
    name: str
    ok: bool
    detail: str
    seconds: float


def effnet(*args: str, timeout: float = 240) -> tuple[int, dict | None, str]:
    """Run the CLI; its exit code, its JSON (None when it printed none) and stderr."""
    done = subprocess.run([*EFFNET, *args, "-f", "json"], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    try:
        doc = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        doc = None
    return done.returncode, doc, done.stderr.strip()


def check(name: str, run: Callable[[], tuple[bool, str]]) -> Result:
    start = time.perf_counter()
    try:
        ok, detail = run()
    except Exception as exc:  # a check that crashes is a failed check, with its reason
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Result(name, ok, detail, time.perf_counter() - start)


def summary_b5(device: str) -> tuple[bool, str]:
    code, doc, err = effnet("summary", "b5", "--device", device)
    if code or doc is None:
        return False, f"exit {code}: {err[-200:]}"
    params, macs = doc["totals"]["params"], doc["totals"]["macs"]
    timed = doc.get("benchmark") or {}
    ok = params == B5_PARAMS and abs(macs - B5_MACS) / B5_MACS < 5e-4
    return ok, f"params {params:,}, MACs {macs / 1e9:.3f} G, timed {timed.get('latency_ms')}"


def bench(device: str, *options: str) -> Callable[[], tuple[bool, str]]:
    """bench b0 b4: every model's tensor peak equals the memory engine's (live storages),
    the allocator's peak is at least it, and the latency is positive."""

    def run() -> tuple[bool, str]:
        code, doc, err = effnet("bench", "b0", "b4", "--device", device, "--iters", "20", *options)
        if code or doc is None:
            return False, f"exit {code}: {err[-200:]}"
        parts, ok = [], True
        for r in doc["results"]:
            peak, predicted = r["peak_memory_bytes"], r["predicted_peak_bytes"]
            allocated = r.get("process_peak_bytes") or 0
            tolerance = 0 if "--amp" not in options else max(64, predicted // 1000)
            ok &= abs(peak - predicted) <= tolerance and allocated >= peak
            ok &= r["latency_ms"]["median"] > 0
            parts.append(f"{r['variant']}: {r['latency_ms']['median']:.2f} ms, peak {peak:,} "
                         f"(predicted {predicted:,}, allocator {allocated:,})")  # fmt: skip
        return ok, "; ".join(parts)

    return run


def memory(device: str, variant: str, *options: str) -> Callable[[], tuple[bool, str]]:
    """Predicted peak against the real step's live tensors (exact), and against CUDA's
    max_memory_allocated (the same, rounded up per block: within 512 B per tensor)."""

    def run() -> tuple[bool, str]:
        code, doc, err = effnet("memory", variant, "--device", device, *options)
        if code or doc is None:
            return False, f"exit {code}: {err[-200:]}"
        m = doc["measured"]
        predicted, measured, allocated = doc["peak_bytes"], m["peak_bytes"], m["allocated_bytes"]
        if allocated is None:
            return False, "max_memory_allocated missing: the CUDA counters were not read"
        rounding = allocated - measured
        ok = abs(m["error_pct"]) < 0.01 and rounding >= 0
        return ok, (f"predicted {predicted:,}, live tensors {measured:,} ({m['error_pct']:+.4f}%), "
                    f"max_memory_allocated {allocated:,} (+{rounding:,} B rounding), reserved "
                    f"{m['reserved_bytes']:,}")  # fmt: skip

    return run


def profile_b0(device: str) -> tuple[bool, str]:
    code, doc, err = effnet("profile", "b0", "--device", device, "--iters", "30")
    if code or doc is None:
        return False, f"exit {code}: {err[-200:]}"
    stages = sum(s["measured_ms"] or 0 for s in doc["stages"])
    whole = doc["measured_ms"]
    gap = abs(stages - whole) / whole
    return gap <= 0.10, f"stages sum {stages:.3f} ms, whole step {whole:.3f} ms ({100 * gap:.1f}%)"


def gpu_prediction(device: str) -> tuple[bool, str]:
    """The latency model is calibrated on the CPU only: on CUDA --predict-only must refuse
    in one line (exit 2), never guess."""
    done = subprocess.run([*EFFNET, "profile", "b0", "--device", device, "--predict-only"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    lines = done.stderr.strip().splitlines()
    ok = done.returncode == 2 and len(lines) == 1 and lines[0].startswith("effnet: error:")
    return (
        ok,
        f"exit {done.returncode}: {lines[-1] if lines else ''} (GPU prediction not built yet)",
    )


def checks(device: str) -> list[tuple[str, Callable[[], tuple[bool, str]]]]:
    return [
        ("summary b5", lambda: summary_b5(device)),
        ("bench b0 b4 fp32", bench(device)),
        ("bench b0 b4 --amp float16", bench(device, "--amp", "float16")),
        ("bench b0 b4 --channels-last", bench(device, "--channels-last")),
        ("memory b0 inference", memory(device, "b0")),
        ("memory b3 inference", memory(device, "b3")),
        ("memory b0 train -b 8", memory(device, "b0", "--train", "-b", "8")),
        ("memory b3 train -b 8 adam",
         memory(device, "b3", "--train", "-b", "8", "--optimizer", "adam")),
        ("profile b0", lambda: profile_b0(device)),
        ("latency prediction on GPU", lambda: gpu_prediction(device)),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print(f"cuda_check: no CUDA device here (torch {torch.__version__}); nothing to check")
        return 0
    index = int(args.device.partition(":")[2] or 0)
    print(f"cuda_check on {torch.cuda.get_device_name(index)} (torch {torch.__version__}, "
          f"CUDA {torch.version.cuda})")  # fmt: skip
    results = [check(name, run) for name, run in checks(args.device)]
    print("\n| check | result | seconds | detail |\n|---|---|---|---|")
    for r in results:
        print(f"| {r.name} | {'pass' if r.ok else 'FAIL'} | {r.seconds:.1f} | {r.detail} |")
    failed = sum(not r.ok for r in results)
    print(f"\n{len(results) - failed}/{len(results)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
