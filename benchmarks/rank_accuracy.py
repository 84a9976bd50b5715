#!/usr/bin/env python3
"""Each rank's predicted peak under data parallelism against the real step on gloo.

For each model, strategy, optimizer and --bucket-view setting, the memory engine predicts
every rank's step (meta device, nothing allocated), and ``world_size`` processes spawned
on this CPU run it under DistributedDataParallel (and ZeroRedundancyOptimizer for zero1),
or FSDP2's fully_shard on each stage and the model (fsdp),
each measuring its third step's peak of live tensor storages. Nothing here is a test: it
prints a Markdown table, the largest rank's figures.

    python benchmarks/rank_accuracy.py                          # the README's matrix
    python benchmarks/rank_accuracy.py --variants b0 --batch 4 --world-size 2
    python benchmarks/rank_accuracy.py --strategies fsdp           # its columns only
"""

from __future__ import annotations

import argparse

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.trace.gloo import measure_ranks
from effnet_cli.measurement.trace.ranks import rank_step
from effnet_cli.measurement.trace.simulate import predict
from effnet_cli.model import build_model
from effnet_cli.ranks import DataParallel

SETTINGS = [("ddp", "sgd", False), ("ddp", "sgd", True), ("ddp", "adamw", False),
            ("zero1", "sgd", False), ("zero1", "adamw", False),
            ("zero1", "adamw", True), ("fsdp", "sgd", False),
            ("fsdp", "adamw", False)]  # fmt: skip
DEFAULT_VARIANTS = ["b0", "lite0", "v2-b0", "mobilenetv2"]


def case(spec: str, resolution: int, batch: int, world_size: int, strategy: str,
         optimizer: str, view: bool, amp: str | None) -> tuple[int, int]:  # fmt: skip
    """The largest rank's predicted and measured peak (batch is per rank)."""
    setting = DataParallel(world_size, strategy, view)
    resolved, shape = parse_variant(spec), (batch, 3, resolution, resolution)
    model = build_model(resolved, 1000, device="meta")
    measured = measure_ranks(resolved, 1000, shape, optimizer, setting, amp)
    predicted = [
        predict(model, shape, True, optimizer, "cpu", amp,
                rank=rank_step(model, setting, rank, optimizer)).peak_bytes
        for rank in range(world_size)
    ]  # fmt: skip
    return max(predicted), max(m.peak_bytes for m in measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2, help="per rank")
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--amp", default=None)
    parser.add_argument("--strategies", nargs="+", default=["ddp", "zero1", "fsdp"])
    args = parser.parse_args()
    print(f"{args.world_size} ranks, batch {args.batch} per rank, {args.resolution} px, "
          f"{args.amp or 'float32'}\n")  # fmt: skip
    print(
        "| model | strategy | optimizer | bucket view | predicted bytes | measured bytes | error |"
    )
    print("|---|---|---|---|--:|--:|--:|")
    for spec in args.variants:
        for strategy, optimizer, view in [s for s in SETTINGS if s[0] in args.strategies]:
            predicted, measured = case(spec, args.resolution, args.batch, args.world_size,
                                       strategy, optimizer, view, args.amp)  # fmt: skip
            error = 100 * (predicted - measured) / measured
            exact = "exact" if predicted == measured else f"{error:+.5f}%"
            print(f"| {spec} | {strategy} | {optimizer} | {'yes' if view else 'no'} | "
                  f"{predicted:,} | {measured:,} | {exact} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
