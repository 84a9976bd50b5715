"""Per-rank memory under data parallelism (--world-size): the engine's prediction of each
rank's step against the real step on gloo, two ranks spawned on this CPU, byte for byte;
ZeroRedundancyOptimizer's partition against torch's own code; the options' one-line errors
and the report's keys."""

from __future__ import annotations

import json
import sys
from types import ModuleType, SimpleNamespace

import pytest
import torch
from conftest import assert_one_line_error, run
from torch.distributed.optim import ZeroRedundancyOptimizer

from effnet_cli.arch.specs import parse_variant
from effnet_cli.errors import RuntimeFailure, UsageError
from effnet_cli.measurement.trace.fsdp import PARTS, shard_rows
from effnet_cli.measurement.trace.gloo import measure_ranks
from effnet_cli.measurement.trace.ranks import BUCKETS, DataParallelStep, rank_step
from effnet_cli.measurement.trace.simulate import BREAKDOWN, predict
from effnet_cli.model import build_model
from effnet_cli.ranks import DataParallel, zero_partition

TINY = "w=0.5,d=0.3,r=64"
CASES = [  # spec, resolution, batch per rank, strategy, optimizer, --bucket-view
    (TINY, 64, 2, "ddp", "sgd", False),
    (TINY, 64, 2, "ddp", "sgd", True),
    (TINY, 64, 2, "zero1", "sgd", False),
    (TINY, 64, 2, "zero1", "adamw", False),
    ("b0", 64, 2, "ddp", "adam", False),
    ("b0", 64, 2, "zero1", "adamw", True),
    ("lite0", 64, 2, "zero1", "sgd", False),
    (TINY, 64, 2, "fsdp", "sgd", False),
    (TINY, 64, 2, "fsdp", "adamw", False),
    ("b0", 64, 2, "fsdp", "adam", False),
]


@pytest.mark.parametrize(("spec", "res", "batch", "strategy", "optimizer", "view"), CASES)
def test_each_ranks_prediction_equals_its_step_on_gloo(spec, res, batch, strategy, optimizer,
                                                        view) -> None:  # fmt: skip
    """Two ranks, each measured over its third step (after DDP rebuilt its buckets)."""
    setting = DataParallel(2, strategy, view)
    resolved, shape = parse_variant(spec), (batch, 3, res, res)
    model = build_model(resolved, 10, device="meta")
    measured = measure_ranks(resolved, 10, shape, optimizer, setting)
    for rank, real in enumerate(measured):
        step = rank_step(model, setting, rank, optimizer)
        predicted = predict(model, shape, True, optimizer, "cpu", rank=step)
        assert predicted.peak_bytes == real.peak_bytes, (rank, predicted.peak_bytes, real)
        assert predicted.peak_at.phase == real.peak_at.phase


def test_fsdp_ranks_with_padded_shards_equal_their_steps_on_gloo() -> None:
    """Three ranks: most first dimensions do not split evenly, so every rank stores padded
    shards and the ranks' optimizer states differ (their own rows only)."""
    setting = DataParallel(3, "fsdp")
    resolved, shape = parse_variant(TINY), (2, 3, 64, 64)
    model = build_model(resolved, 10, device="meta")
    measured = measure_ranks(resolved, 10, shape, "adamw", setting)
    predicted = [predict(model, shape, True, "adamw", "cpu", rank=rank_step(
        model, setting, rank, "adamw")) for rank in range(3)]  # fmt: skip
    assert [p.peak_bytes for p in predicted] == [m.peak_bytes for m in measured]
    state = [p.ledger.by["optimizer_state"] for p in predicted if p.ledger is not None]
    assert len(set(state)) > 1, state  # the last rank holds fewer real rows


@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
def test_shard_rows_are_torch_chunks(world_size: int) -> None:
    """FSDP2 chunks dim 0 with torch.chunk and pads every chunk to the first's size."""
    for rows in (1, 2, 3, 7, 8, 10, 1000):
        chunks = torch.chunk(torch.empty(rows), world_size)
        for rank in range(world_size):
            mine = chunks[rank].numel() if rank < len(chunks) else 0
            assert shard_rows(rows, world_size, rank) == (chunks[0].numel(), mine)


def test_fsdp_shards_weights_gradients_and_state() -> None:
    model = build_model(TINY, device="meta")
    params = sum(p.numel() * 4 for p in model.parameters())
    shape = (2, 3, 64, 64)
    single = predict(model, shape, True, "adam")
    ranks = [predict(model, shape, True, "adam", rank=rank_step(
        model, DataParallel(2, "fsdp"), rank, "adam")) for rank in (0, 1)]  # fmt: skip
    assert all(set(PARTS) <= set(r.breakdown) for r in ranks)
    base = [r.ledger.by for r in ranks if r.ledger is not None]
    steps = 4 * len(list(model.parameters()))  # Adam's step counts: every rank has them
    moments = [b["optimizer_state"] - steps for b in base]
    assert sum(moments) == single.breakdown["optimizer_state"] - steps  # each row on one rank
    assert all(params // 2 <= b["weights"] < params for b in base)  # half, and the padding
    assert all(b[part] == 0 for b in base for part in PARTS)  # all freed by the step's end
    assert max(r.peak_bytes for r in ranks) < single.peak_bytes


def test_a_failing_rank_is_one_line() -> None:
    """Batch-norm refuses one value per channel (batch 1 at 32 px) in every rank: the first
    rank's error comes back as the failure, and its peers are stopped."""
    with pytest.raises(RuntimeFailure, match=r"of 2 \(gloo\) failed: ValueError") as failed:
        measure_ranks(parse_variant(TINY), 10, (1, 3, 32, 32), "sgd", DataParallel(2))
    assert "\n" not in str(failed.value)


def test_ddp_adds_its_buckets_and_zero1_shards_the_state() -> None:
    model = build_model(TINY, device="meta")
    params = sum(p.numel() * 4 for p in model.parameters())
    shape = (2, 3, 64, 64)
    single = predict(model, shape, True, "adam")
    ddp = predict(model, shape, True, "adam", rank=DataParallelStep.of(
        model, DataParallel(2), 0, "adam"))  # fmt: skip
    assert ddp.breakdown[BUCKETS] == params  # every gradient, in flat buckets
    assert list(ddp.breakdown)[: len(BREAKDOWN)] == list(BREAKDOWN)
    assert ddp.peak_bytes == single.peak_bytes + ddp.breakdown[BUCKETS]
    shards = [predict(model, shape, True, "adam", rank=DataParallelStep.of(
        model, DataParallel(2, "zero1"), rank, "adam")) for rank in (0, 1)]  # fmt: skip
    state = [s.breakdown["optimizer_state"] for s in shards]
    assert sum(state) == single.breakdown["optimizer_state"] and min(state) > 0
    view = predict(model, shape, True, "adam", rank=DataParallelStep.of(
        model, DataParallel(2, "ddp", True), 0, "adam"))  # fmt: skip
    assert view.peak_bytes < ddp.peak_bytes  # each gradient dies into its bucket
    assert view.breakdown["gradients"] < ddp.breakdown["gradients"] == params


@pytest.mark.parametrize("world_size", [2, 3, 4, 7])
def test_zero_partition_is_torchs(world_size: int) -> None:
    """ZeroRedundancyOptimizer's own partitioning code, run on B0's parameters without a
    process group (a stand-in object holds what it reads)."""
    params = list(build_model("b0", device="meta").parameters())
    zero = SimpleNamespace(world_size=world_size, param_groups=[{"params": params}],
                           _partition_parameters_cache=[])  # fmt: skip
    zero._get_min_index = lambda values: ZeroRedundancyOptimizer._get_min_index(zero, values)
    zero._partition_param_group = lambda group, per_rank: (
        ZeroRedundancyOptimizer._partition_param_group(zero, group, per_rank))  # fmt: skip
    torch_ranks = ZeroRedundancyOptimizer._partition_parameters(zero)
    index = {id(p): i for i, p in enumerate(params)}
    ours = zero_partition([p.numel() for p in params], world_size)
    assert ours == [[index[id(p)] for p in groups[0]["params"]] for groups in torch_ranks]


def test_per_rank_of_a_memory_report() -> None:
    """The Python API: a training report, then its ranks (the same step, the batch split)."""
    from effnet_cli.measurement.memory import memory, per_rank

    report = memory(TINY, batch_size=4, train=True, optimizer="adam")
    ranks = per_rank(TINY, report, DataParallel(2, "zero1"), 1000)
    model = build_model(TINY, device="meta")
    step = DataParallelStep.of(model, DataParallel(2, "zero1"), 0, "adam")
    assert ranks.ranks[0].peak_bytes == predict(model, (2, 3, 64, 64), True, "adam",
                                                rank=step).peak_bytes  # fmt: skip
    assert ranks.batch_per_rank == 2 and ranks.measured is None
    with pytest.raises(UsageError, match="--train"):
        per_rank(TINY, memory(TINY, batch_size=4), DataParallel(2), 1000)


# ----------------------------------------------------------------------------- the command


def test_memory_json_has_per_rank() -> None:
    args = ("memory", TINY, "-b", "4", "--train", "--world-size", "2", "--strategy", "zero1")
    doc = json.loads(run(*args, "-f", "json").stdout)
    per_rank = doc["per_rank"]
    assert {"world_size", "strategy", "batch_per_rank", "peak_bytes", "breakdown"} <= set(per_rank)
    assert per_rank["world_size"] == 2 and per_rank["batch_per_rank"] == 2
    assert per_rank["strategy"] == "zero1" and per_rank["measured"] is None
    assert sum(per_rank["breakdown"].values()) == per_rank["peak_bytes"]
    assert per_rank["peak_bytes"] == max(r["peak_bytes"] for r in per_rank["ranks"])
    assert doc["batch_size"] == 4  # the report's own step: one process, the whole batch
    assert "per_rank" not in json.loads(run("memory", TINY, "-f", "json").stdout)
    csv = run(*args, "-f", "csv").stdout
    assert "world_size" in csv.splitlines()[0] and "rank 1: predicted peak" in csv


def test_memory_measures_each_rank_on_gloo() -> None:
    args = ("memory", TINY, "-b", "4", "--train", "--world-size", "2", "--device", "cpu")
    doc = json.loads(run(*args, "-f", "json").stdout)
    measured = doc["per_rank"]["measured"]
    assert measured["peak_bytes"] == doc["per_rank"]["peak_bytes"] and measured["error_pct"] == 0
    assert [r["measured_bytes"] for r in doc["per_rank"]["ranks"]] == [measured["peak_bytes"]] * 2
    table = run(*args).stdout
    assert "Measured per rank" in table and "error +0.00%" in table


@pytest.mark.parametrize("strategy", ["zero1", "fsdp"])
def test_per_rank_composes_with_checkpointing(strategy: str) -> None:
    """The checkpointed stages run as segments in every rank too (DDP or FSDP2 outside
    them, non-reentrant): FSDP's all-gathers happen around the segment, its recompute runs
    on the whole parameters gathered for the stage's backward."""
    args = ("memory", TINY, "-b", "4", "--train", "--world-size", "2", "--strategy", strategy,
            "--optimizer", "adamw", "--checkpoint", "3-5", "--device", "cpu",
            "-f", "json")  # fmt: skip
    ranks = json.loads(run(*args).stdout)["per_rank"]["ranks"]
    assert all(r["peak_bytes"] == r["measured_bytes"] for r in ranks), ranks


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--world-size", "0"], ["--world-size", "0"]),
        (["--world-size", "3"], ["--batch-size 4", "--world-size 3"]),
        (["--strategy", "ddp"], ["--strategy", "--world-size"]),
        (["--bucket-view"], ["--bucket-view", "--world-size"]),
        (["--world-size", "2", "--strategy", "fsdp", "--bucket-view"], ["--bucket-view", "fsdp"]),
        (["--world-size", "2", "--strategy", "zero3"], ["zero3"]),
        (["--world-size", "2", "--max-batch"], ["--max-batch", "--world-size", "--limit"]),
        (["--world-size", "2", "--max-batch", "--device", "cpu"], ["--limit"]),
        (["-b", "16", "--world-size", "16", "--device", "cpu"], ["16", "at most 8"]),
    ],
)
def test_per_rank_bad_input_is_one_line(args, fragments) -> None:
    assert_one_line_error(run("memory", TINY, "-b", "4", "--train", *args), 2, *fragments)


def test_fsdp_where_torch_lacks_it_is_one_line(monkeypatch) -> None:
    """A torch without FSDP2's public fully_shard (faked: its package without the name)."""
    monkeypatch.setitem(sys.modules, "torch.distributed.fsdp", ModuleType("torch.distributed.fsdp"))
    args = ("--world-size", "2", "--strategy", "fsdp")
    assert_one_line_error(run("memory", TINY, "-b", "4", "--train", *args), 2, "fully_shard")


def test_memory_json_of_fsdp() -> None:
    args = ("memory", TINY, "-b", "4", "--train", "--world-size", "2", "--strategy", "fsdp",
            "--optimizer", "adamw")  # fmt: skip
    per_rank = json.loads(run(*args, "-f", "json").stdout)["per_rank"]
    assert per_rank["strategy"] == "fsdp" and set(PARTS) <= set(per_rank["breakdown"])
    assert sum(per_rank["breakdown"].values()) == per_rank["peak_bytes"]
    table = run(*args).stdout
    assert "FSDP2 fully_shard" in table and "FSDP's" in table


@pytest.mark.parametrize("strategy", ["ddp", "zero1", "fsdp"])
def test_max_batch_per_rank_is_the_largest_global_batch_whose_ranks_fit(strategy) -> None:
    """--max-batch with --world-size: the global batch (a multiple of the ranks) whose
    highest rank fits the per-device limit, judged against memory --world-size's own
    per-rank peak at that batch and at one more sample per rank."""
    args = ("memory", TINY, "-b", "4", "--train", "--world-size", "2", "--strategy", strategy,
            "--optimizer", "adamw")  # fmt: skip
    doc = json.loads(run(*args, "--max-batch", "--limit", "40MiB", "-f", "json").stdout)
    best, usable = doc["max_batch"], doc["usable_bytes"]
    assert best % 2 == 0 and best > 4 and doc["batch_size"] == 4

    def rank_peak(batch: int) -> int:
        return json.loads(run(*args[:2], "-b", str(batch), *args[4:], "-f", "json").stdout)[
            "per_rank"]["peak_bytes"]  # fmt: skip

    assert rank_peak(best) == doc["max_batch_peak_bytes"] <= usable < rank_peak(best + 2)
    assert doc["per_rank"]["batch_per_rank"] == 2  # the ranks of the step asked for
    table = run(*args, "--max-batch", "--limit", "40MiB").stdout
    assert "Largest global batch that fits" in table and f"2 ranks × {best // 2}" in table
    assert "Limit per rank" in table


@pytest.mark.parametrize("strategy", ["ddp", "zero1", "fsdp"])
def test_checkpoint_auto_plans_on_the_highest_rank(strategy, fixed_clock) -> None:
    """--checkpoint auto with --world-size weighs every subset on the highest rank's step:
    the chosen subset's planned peak is the per-rank peak the ranks then predict with those
    stages (simulated, not decomposed), within one rank's limit, and every cheaper subset
    is over it; the plain step's ranks are over it too."""
    args = ("memory", "b0", "-b", "16", "-r", "128", "--train", "--world-size", "2",
            "--strategy", strategy, "--optimizer", "adamw")  # fmt: skip
    doc = json.loads(run(*args, "--checkpoint", "auto", "--limit", "250MB", "-f", "json").stdout)
    c, plan = doc["checkpoint"], doc["checkpoint"]["plan"]
    assert plan["world_size"] == 2 and plan["fits"] and c["stages"]
    chosen = next(o for o in plan["pareto"] if o["stages"] == c["stages"])
    assert chosen["peak_bytes"] == doc["per_rank"]["peak_bytes"] <= plan["usable_bytes"]
    cheaper = [o for o in plan["pareto"] if o["recompute_ms"] < chosen["recompute_ms"]]
    assert cheaper and all(o["peak_bytes"] > plan["usable_bytes"] for o in cheaper)
    plain = json.loads(run(*args, "-f", "json").stdout)["per_rank"]["peak_bytes"]
    assert plain > plan["usable_bytes"] and plain == plan["pareto"][0]["peak_bytes"]
    table = run(*args, "--checkpoint", "auto", "--limit", "250MB").stdout
    assert "Limit per rank" in table and "the highest of 2 ranks" in table


def test_world_size_needs_a_training_step() -> None:
    assert_one_line_error(run("memory", TINY, "--world-size", "2"), 2, "--train")
