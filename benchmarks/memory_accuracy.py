#!/usr/bin/env python3
"""Predicted against measured peak memory on this CPU, and torchinfo's estimate beside them.

For each model, batch and mode, the memory engine's prediction (meta device, nothing
allocated) is compared with the real step's peak of live tensor storages, measured by the
live-storage tracker (a TorchDispatchMode with finalizers on storages), as the README
defines peak. A case whose predicted peak exceeds the memory this machine has free is
reported and skipped. Nothing here is a test: it prints a Markdown table.

    python benchmarks/memory_accuracy.py                      # the issue's matrix
    python benchmarks/memory_accuracy.py --variants b0 --batches 8
    python benchmarks/memory_accuracy.py --torchinfo b0 b2 b4  # the README's comparison
    python benchmarks/memory_accuracy.py --checkpoint 3 3-7 all --variants b0 v2-b0 \
        --batches 2 --resolution 128 --amp bfloat16   # activation checkpointing
"""

from __future__ import annotations

import argparse
import gc
import time

import torch

from effnet_cli.arch.checkpointing import parse_stages
from effnet_cli.arch.specs import parse_variant
from effnet_cli.devices import available_bytes
from effnet_cli.measurement.trace.simulate import predict
from effnet_cli.measurement.trace.stages import stage_module
from effnet_cli.measurement.trace.tracker import measure_step
from effnet_cli.model import build_model

MODES = [("inference", False, "sgd"), ("train sgd", True, "sgd"), ("train adam", True, "adam"),
         ("train adamw", True, "adamw"), ("train none", True, "none")]  # fmt: skip
DEFAULT_VARIANTS = ["b0", "b1", "b2", "b3", "phi=1.5", "w=0.8,d=1.2,r=200"]


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def one(spec: str, batch: int, train: bool, optimizer: str, amp: str | None = None,
        resolution: int | None = None, stages: str | None = None,
        ) -> tuple[int, int | None, float]:  # fmt: skip
    res = resolution or parse_variant(spec).coefficients.resolution
    shape = (batch, 3, res, res)
    model = build_model(spec, device="meta")
    stage_list = parse_stages(stages, parse_variant(spec)) if stages else ()
    segments = [stage_module(stage) for stage in stage_list]
    predicted = predict(model, shape, train, optimizer, amp=amp, checkpoint=segments).peak_bytes
    free = available_bytes("cpu") or 0
    if predicted > 0.8 * free:
        return predicted, None, 0.0
    torch.manual_seed(0)
    start = time.perf_counter()
    measured = measure_step(build_model(spec), torch.randn(shape), train, optimizer, amp,
                            segments).peak_bytes  # fmt: skip
    gc.collect()
    return predicted, measured, time.perf_counter() - start


def accuracy(variants: list[str], batches: list[int], amp: str | None) -> None:
    print(f"float32{' under autocast to ' + amp if amp else ''}\n")
    print("| model | batch | step | predicted MiB | measured MiB | error |")
    print("|---|--:|---|--:|--:|--:|")
    errors = []
    for spec in variants:
        for batch in batches:
            for label, train, optimizer in MODES:
                predicted, measured, _ = one(spec, batch, train, optimizer, amp)
                if measured is None:
                    print(f"| {spec} | {batch} | {label} | {mib(predicted)} | (not run: "
                          "over this machine's free memory) | |", flush=True)  # fmt: skip
                    continue
                error = 100 * (predicted - measured) / measured
                errors.append(abs(error))
                print(f"| {spec} | {batch} | {label} | {mib(predicted)} | {mib(measured)} | "
                      f"{error:+.3f}% |", flush=True)  # fmt: skip
    if errors:
        print(f"\n{len(errors)} cases; largest |error| {max(errors):.3f}%")


def checkpoint_table(variants: list[str], sets: list[str], batches: list[int],
                     resolution: int | None, amp: str | None) -> None:  # fmt: skip
    """Training steps with those stage sets checkpointed: predicted against measured."""
    print(f"checkpointed training steps, {amp or 'float32'}\n")
    print("| model | batch | res | stages | optimizer | predicted bytes | measured bytes | error |")
    print("|---|--:|--:|---|---|--:|--:|--:|")
    for spec in variants:
        for batch in batches:
            for stages in sets:
                for optimizer in ("sgd", "adamw"):
                    predicted, measured, _ = one(spec, batch, True, optimizer, amp, resolution,
                                                 stages)  # fmt: skip
                    if measured is None:
                        print(f"| {spec} | {batch} | {resolution} | {stages} | {optimizer} | "
                              f"{predicted:,} | (not run) | |", flush=True)  # fmt: skip
                        continue
                    error = predicted - measured
                    pct = 100 * error / measured
                    print(f"| {spec} | {batch} | {resolution} | {stages} | {optimizer} | "
                          f"{predicted:,} | {measured:,} | {error:+,} B ({pct:+.4f}%) |",
                          flush=True)  # fmt: skip


def torchinfo_table(variants: list[str], batch: int) -> None:
    from torchinfo import summary

    print("| model | step | effnet predicted MiB | measured MiB | torchinfo estimate MiB |")
    print("|---|---|--:|--:|--:|")
    for spec in variants:
        res = parse_variant(spec).coefficients.resolution
        for label, train, optimizer in (("inference", False, "sgd"), ("train sgd", True, "sgd")):
            predicted, measured, _ = one(spec, batch, train, optimizer)
            model = build_model(spec)
            stats = summary(model, (batch, 3, res, res), verbose=0,
                            mode="train" if train else "eval")  # fmt: skip
            estimate = stats.total_input + stats.total_output_bytes + stats.total_param_bytes
            shown = mib(measured) if measured is not None else "(not run)"
            print(f"| {spec} b{batch} | {label} | {mib(predicted)} | {shown} | {mib(estimate)} |",
                  flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--torchinfo", nargs="+", help="variants for the torchinfo table")
    parser.add_argument("--torchinfo-batch", type=int, default=8)
    parser.add_argument("--amp", choices=["bfloat16", "float16"], help="autocast dtype")
    parser.add_argument("--checkpoint", nargs="+", help="stage sets to checkpoint (3-7, all)")
    parser.add_argument("--resolution", type=int, help="instead of each variant's own")
    args = parser.parse_args()
    if args.checkpoint:
        checkpoint_table(args.variants, args.checkpoint, args.batches, args.resolution, args.amp)
    elif args.torchinfo:
        torchinfo_table(args.torchinfo, args.torchinfo_batch)
    else:
        accuracy(args.variants, args.batches, args.amp)


if __name__ == "__main__":
    main()
