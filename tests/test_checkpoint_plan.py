"""Checkpointing's price and plan: the phase decomposition against a simulation of every
subset, the planner's choice and Pareto front, `memory --checkpoint auto` (predicted and
measured), `profile --train --checkpoint`, `budget --checkpointing`, and their bad input.
The latency model is the fixed one of conftest (no calibration runs)."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, run

from effnet_cli.arch.checkpointing import checkpointable
from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.plan.search import (
    DECOMPOSED,
    Step,
    options,
    pareto,
    plan_stages,
    subset_peaks,
)
from effnet_cli.model import build_model

TINY = "w=0.5,d=0.3,r=64"
STEPS = [
    (TINY, "sgd", None),
    ("w=0.5,d=0.3,r=64,family=v2", "adamw", None),
    ("w=0.5,d=0.3,r=64,family=lite", "sgd", "bfloat16"),
    ("w=0.25,d=0.3,r=64,family=resnet", "sgd", None),
]
"""V1, V2 (Fused-MBConv), Lite under autocast (ReLU6, no SE), ResNet (ReLU after the sum)."""


def _step(variant: str, optimizer: str = "sgd", amp: str | None = None, batch: int = 2) -> Step:
    spec = parse_variant(variant)
    res = spec.coefficients.resolution
    return Step(build_model(spec, device="meta"), (batch, 3, res, res), optimizer, "cpu", amp)


@pytest.mark.parametrize(("variant", "optimizer", "amp"), STEPS, ids=[s[0] for s in STEPS])
def test_every_subsets_peak_equals_its_own_simulation(variant, optimizer, amp) -> None:
    """The search is exact: the peak read off two simulations through the phase account is,
    for every subset of the stages, the peak of that subset simulated on its own (where the
    account does not hold, the search simulates each subset, so it is exact by definition)."""
    step = _step(variant, optimizer, amp)
    stages = checkpointable(parse_variant(variant))
    fast = subset_peaks(step, stages)
    slow = subset_peaks(step, stages, decompose=False)
    assert len(slow.peaks) == 2 ** len(stages) and slow.simulations == len(slow.peaks)
    assert fast.peaks == slow.peaks
    if fast.method == DECOMPOSED:
        assert fast.simulations == 2


def test_the_plan_is_the_cheapest_subset_that_fits() -> None:
    found = subset_peaks(_step(TINY), checkpointable(parse_variant(TINY)))
    price = {s: float(s) for s in found.stages}  # any positive prices
    weighed = options(found, price)
    limit = (min(found.peaks) + found.peaks[0]) // 2
    best, fits = plan_stages(weighed, limit)
    assert fits and best.peak_bytes <= limit
    cheaper = [o for o in weighed if (o.recompute_ms or 0) < (best.recompute_ms or 0)]
    assert all(o.peak_bytes > limit for o in cheaper)
    front = pareto(weighed)
    assert front[0].stages == [] and best.stages in [o.stages for o in front]
    for o in weighed:  # nothing beats a front row on both figures
        for row in front:
            cheaper = (o.recompute_ms or 0) < (row.recompute_ms or 0)
            assert not (o.peak_bytes < row.peak_bytes and cheaper)
    low, fits = plan_stages(weighed, min(found.peaks) - 1)
    assert not fits and low.peak_bytes == min(found.peaks)


def _peaks(variant: str, batch: int) -> tuple[int, int]:
    """The predicted training peak with nothing checkpointed, and the smallest reachable."""
    found = subset_peaks(_step(variant, batch=batch), checkpointable(parse_variant(variant)))
    return found.peaks[0], min(found.peaks)


def test_memory_auto_chooses_stages_within_the_limit(fixed_clock) -> None:
    plain, least = _peaks(TINY, 4)
    limit = (plain + least) // 2
    args = ("memory", TINY, "-b", "4", "--train", "--checkpoint", "auto", "--limit", str(limit))
    doc = json.loads(run(*args, "-f", "json").stdout)
    c = doc["checkpoint"]
    assert c["stages"] and doc["peak_bytes"] <= limit < plain
    assert c["plan"]["fits"] and c["plan"]["subsets"] == 512 and c["plan"]["method"] == DECOMPOSED
    assert c["recompute_ms"] > 0 and c["recompute_range_ms"][0] < c["recompute_ms"]
    assert c["peak_without_bytes"] == plain and c["saved_bytes"] == plain - doc["peak_bytes"]
    front = c["plan"]["pareto"]
    assert front[0]["stages"] == [] and front[0]["peak_bytes"] == plain
    peaks = [o["peak_bytes"] for o in front]
    assert peaks == sorted(peaks, reverse=True)
    table = run(*args).stdout
    assert "Pareto front" in table and "← chosen" in table and "the least added time" in table


def test_memory_auto_measured_on_the_cpu_stays_under_the_limit(fixed_clock) -> None:
    """The target: the planner's choice, run for real, peaks within the limit."""
    plain, least = _peaks(TINY, 4)
    limit = (plain + least) // 2
    args = (
        "memory",
        TINY,
        "-b",
        "4",
        "--train",
        "--checkpoint",
        "auto",
        "--limit",
        str(limit),
        "--device",
        "cpu",
        "-f",
        "json",
    )
    doc = json.loads(run(*args).stdout)
    assert doc["checkpoint"]["stages"]
    assert doc["measured"]["peak_bytes"] == doc["peak_bytes"] <= limit


def test_memory_auto_when_nothing_fits_says_how_close_it_gets(fixed_clock) -> None:
    _, least = _peaks(TINY, 2)
    args = ("memory", TINY, "-b", "2", "--train", "--checkpoint", "auto", "--limit", str(least - 1))
    result = run(*args)
    assert result.exit_code == 0 and "none fits" in result.stdout
    doc = json.loads(run(*args, "-f", "json").stdout)
    assert not doc["checkpoint"]["plan"]["fits"]
    assert doc["peak_bytes"] == doc["checkpoint"]["plan"]["smallest_peak_bytes"] == least


def test_memory_auto_needs_nothing_when_the_plain_step_fits(fixed_clock) -> None:
    args = ("memory", TINY, "--train", "-b", "2", "--checkpoint", "auto", "--limit", "16GiB")
    doc = json.loads(run(*args, "-f", "json").stdout)
    assert doc["checkpoint"]["stages"] == [] and doc["checkpoint"]["recompute_ms"] == 0
    assert "no checkpointing needed" in run(*args).stdout


def test_named_stages_are_priced_stage_by_stage(fixed_clock) -> None:
    args = ("memory", TINY, "-b", "2", "--train", "--checkpoint", "2-4", "-f", "json")
    doc = json.loads(run(*args).stdout)
    rows = {s["stage"]: s for s in doc["stages"]}
    total = sum(rows[s]["recompute_ms"] for s in (2, 3, 4))
    assert doc["checkpoint"]["recompute_ms"] == pytest.approx(total)
    assert all(rows[s]["recompute_ms"] > 0 and rows[s]["saves_bytes"] >= 0 for s in (2, 3, 4))
    assert rows[1]["recompute_ms"] is None and rows[1]["saves_bytes"] is None


def test_profile_times_the_checkpointed_step(fixed_clock) -> None:
    args = (
        "profile",
        TINY,
        "-b",
        "2",
        "--train",
        "--checkpoint",
        "2-3",
        "--iters",
        "2",
        "--warmup",
        "0",
        "--op-steps",
        "1",
        "-f",
        "json",
    )
    c = json.loads(run(*args).stdout)["checkpoint"]
    assert c["stages"] == [2, 3] and c["pairs"] > 0
    assert c["plain_ms"] > 0 and c["checkpointed_ms"] > 0 and isinstance(c["added_ms"], float)
    assert c["predicted_added_ms"] > 0 and len(c["predicted_range_ms"]) == 2
    plain = json.loads(run(*args[:5], *args[7:]).stdout)
    assert "checkpoint" not in plain


def test_budget_checkpoints_what_does_not_fit(fixed_clock) -> None:
    args = (
        "budget",
        "--max-memory",
        "120MiB",
        "--train",
        "-b",
        "8",
        "-r",
        "64",
        "--phi-max",
        "1",
        "--checkpointing",
        "-f",
        "json",
    )
    doc = json.loads(run(*args).stdout)
    assert doc["constraints"]["checkpointing"] is True
    rows = doc["variants"]
    needing = [r for r in rows if r["checkpoint"]]
    assert needing and any(r["checkpoint"] is None and r["fits"] for r in rows)
    for r in needing:
        assert r["fits"] or r["verdict"] == "marginal"
        assert r["peak_bytes"] <= 120 * 2**20 and r["checkpoint"]["recompute_ms"] > 0
    plain = json.loads(run(*args[:-3], "-f", "json").stdout)
    assert "checkpointing" not in plain["constraints"] and "checkpoint" not in plain["variants"][0]
    assert sum(r["fits"] for r in plain["variants"]) < sum(r["fits"] for r in rows)
    assert "Checkpoint" in run(*args[:-2]).stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["memory", TINY, "--train", "--checkpoint", "auto"], ["--limit"]),
        (["memory", TINY, "--checkpoint", "auto", "--limit", "1GiB"], ["--train"]),
        (["memory", TINY, "--train", "--checkpoint", "auto", "--limit", "x"], ["--limit", "'x'"]),
        (
            [
                "memory",
                TINY,
                "--train",
                "--checkpoint",
                "auto",
                "--limit",
                "1GiB",
                "--amp",
                "bfloat16",
            ],
            ["--amp"],
        ),
        (
            ["memory", TINY, "--train", "--checkpoint", "auto", "--limit", "1GiB", "--max-batch"],
            ["--max-batch"],
        ),
        (["memory", TINY, "--train", "--limit", "1GiB"], ["--limit", "--checkpoint auto"]),
        (
            [
                "memory",
                TINY,
                "--train",
                "--checkpoint",
                "auto",
                "--limit",
                "1GiB",
                "--reserve",
                "2GiB",
            ],
            ["--reserve"],
        ),
        (["profile", TINY, "--train", "--checkpoint", "auto"], ["auto", "memory"]),
        (["profile", TINY, "--checkpoint", "2"], ["--train"]),
        (["budget", "--max-macs", "1G", "--checkpointing"], ["--checkpointing", "--max-memory"]),
        (["budget", "--max-memory", "1GiB", "--checkpointing"], ["--checkpointing", "--train"]),
        (
            ["budget", "--max-memory", "1GiB", "--train", "--amp", "bfloat16", "--checkpointing"],
            ["--checkpointing", "--amp"],
        ),
    ],
)
def test_bad_checkpoint_planning_is_one_line(args, fragments) -> None:
    assert_one_line_error(run(*args), 2, *fragments)


def test_budget_largest_batch_may_checkpoint(fixed_clock) -> None:
    """With --checkpointing the largest batch is searched with every stage checkpointed:
    larger where that helps (and the stages that fit it named), the same elsewhere."""
    args = ("budget", "--max-memory", "64MiB", "--train", "-r", "64", "--phi-max", "0")
    plain = {r["variant"]: r for r in json.loads(run(*args, "-f", "json").stdout)["variants"]}
    doc = json.loads(run(*args, "--checkpointing", "-f", "json").stdout)["variants"]
    more = [r for r in doc if r["max_batch_checkpoint"]]
    assert more and all(r["max_batch"] > plain[r["variant"]]["max_batch"] for r in more)
    assert all(r["max_batch_checkpoint"]["recompute_ms"] > 0 for r in more)
    same = [r for r in doc if not r["max_batch_checkpoint"]]
    assert all(r["max_batch"] == plain[r["variant"]]["max_batch"] for r in same)
