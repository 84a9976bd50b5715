"""Activation checkpointing (`effnet memory --train --checkpoint STAGES`): the memory
engine's prediction against the real step run through torch.utils.checkpoint, gradients
unchanged by it, and the command's output and errors."""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_one_line_error, run

from effnet_cli.arch.checkpointing import checkpointable, parse_stages
from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.trace.simulate import base_bytes, predict
from effnet_cli.measurement.trace.stages import stage_module
from effnet_cli.measurement.trace.tracker import checkpointed, measure_step
from effnet_cli.model import build_model

CASES = [
    ("b0", "3", "sgd", None),
    ("b0", "3-7", "adamw", None),
    ("b0", "all", "sgd", None),
    ("b0", "1,2", "adamw", "bfloat16"),
    ("b0", "all", "sgd", "bfloat16"),
    ("b1", "2-5", "sgd", None),
    ("b1", "all", "adamw", "bfloat16"),
    ("v2-b0", "1-3", "sgd", None),
    ("v2-b0", "all", "adamw", None),
    ("v2-b0", "4-6", "sgd", "bfloat16"),
    ("v2-s", "2,4,6", "adamw", None),
    ("lite0", "all", "sgd", None),
    ("resnet50", "all", "sgd", None),
]
"""V1 and V2 (MBConv with SE, Fused-MBConv), Lite (ReLU6, no SE) and ResNet (max-pool
stem, ReLU after the sum); one stage, a range, a list, all; SGD and AdamW; bfloat16."""
SHAPE = (2, 3, 128, 128)


def _modules(variant: str, stages: str) -> list[str]:
    return [stage_module(s) for s in parse_stages(stages, parse_variant(variant))]


@pytest.mark.parametrize(("variant", "stages", "optimizer", "amp"), CASES,
                         ids=["-".join(map(str, c)) for c in CASES])  # fmt: skip
def test_checkpointed_prediction_equals_the_real_step(variant, stages, optimizer, amp) -> None:
    """To the byte in float32 (within 64 bytes under autocast, as in test_memory): the
    segments' forward keeps only their inputs, and backward's recompute, its early stop
    and the early death of recomputed saves are the real ones."""
    modules = _modules(variant, stages)
    model = build_model(variant, device="meta")
    predicted = predict(model, SHAPE, True, optimizer, amp=amp, checkpoint=modules)
    torch.manual_seed(0)
    measured = measure_step(build_model(variant), torch.randn(SHAPE), True, optimizer, amp,
                            checkpoint=modules)  # fmt: skip
    assert abs(predicted.peak_bytes - measured.peak_bytes) <= (64 if amp else 0)
    assert predicted.peak_at[0] == measured.peak_at[0]
    plain = predict(model, SHAPE, True, optimizer, amp=amp).peak_bytes
    assert predicted.peak_bytes <= plain


def test_checkpointing_every_stage_keeps_only_their_inputs() -> None:
    """Per stage, what the forward keeps is the stage's input (the stem's is the batch,
    which the step holds anyway), and the forward ends with a tenth of the activations
    alive or less."""
    spec = parse_variant("b0")
    model = build_model(spec, device="meta")
    every = [stage_module(s) for s in checkpointable(spec)]
    p = predict(model, SHAPE, True, "sgd", checkpoint=every)
    plain = predict(model, SHAPE, True, "sgd")
    kept = {m: b for m, b in p.saved_by_module.items() if m.startswith("features.")}
    assert "features.0" not in kept and set(kept) == set(every[1:])
    for module, nbytes in kept.items():
        stage = int(module.split(".")[1]) + 1
        stage_input = plain.trace.shapes[stage_module(stage)][0]
        assert nbytes == 4 * torch.Size(stage_input).numel()
    fixed = sum(base_bytes(model, SHAPE, True, "sgd").values())  # weights, state, batch
    end = "features.8"  # the head's conv: what is alive before pooling and the classifier
    assert p.live_after[end] - fixed < (plain.live_after[end] - fixed) / 10


def _gradients(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor) -> dict:
    torch.manual_seed(1)  # stochastic depth's masks
    model.train()
    F.cross_entropy(model(x), labels).backward()
    return {name: p.grad for name, p in model.named_parameters()}


def test_checkpointing_changes_no_gradient() -> None:
    """Same weights, input, labels and seed: every gradient is bitwise equal (torch.equal).
    The recompute runs the same kernels on the same inputs, with the RNG state restored
    (stochastic depth draws the same masks), so nothing can differ but the running
    statistics: batch-norm's forward runs twice in a checkpointed segment, and torch does
    not guard it, so those stages' running mean and variance are updated twice."""
    torch.manual_seed(0)
    model = build_model("w=0.5,d=0.5,r=64", num_classes=10)
    twin = copy.deepcopy(model)
    x, labels = torch.randn(2, 3, 64, 64), torch.tensor([3, 7])
    plain = _gradients(model, x, labels)
    with checkpointed(twin, [stage_module(s) for s in (1, 3, 4, 5)]):
        again = _gradients(twin, x, labels)
    assert plain.keys() == again.keys()
    assert all(torch.equal(plain[name], again[name]) for name in plain)
    bn = dict(twin.named_modules())["features.2.0.block.0.1"]  # in stage 3: checkpointed
    assert int(bn.num_batches_tracked) == 2  # the forward and its recompute
    same = dict(twin.named_modules())["features.1.0.block.0.1"]  # stage 2: not
    assert int(same.num_batches_tracked) == 1


def test_the_checkpointed_model_is_restored() -> None:
    model = build_model("w=0.25,d=0.5,r=32")
    with checkpointed(model, ["features.1", "features.2"]):
        assert "forward" in vars(model.features[1])
    assert not any("forward" in vars(m) for m in model.modules())


# ----------------------------------------------------------------------------- the command

TINY = "w=0.5,d=0.3,r=64"


def test_memory_json_names_the_checkpointed_stages(fixed_clock) -> None:
    args = ("memory", TINY, "-b", "2", "--train", "-f", "json")
    doc = json.loads(run(*args, "--checkpoint", "2-4,3").stdout)
    assert doc["checkpoint"]["stages"] == [2, 3, 4] and doc["checkpoint"]["recompute_ms"] > 0
    assert [s["checkpointed"] for s in doc["stages"]] == [s["stage"] in (2, 3, 4)
                                                         for s in doc["stages"]]  # fmt: skip
    plain = json.loads(run(*args).stdout)
    assert "checkpoint" not in plain and doc["peak_bytes"] < plain["peak_bytes"]


def test_memory_measures_the_checkpointed_step_on_the_cpu(fixed_clock) -> None:
    args = ("memory", TINY, "-b", "2", "--train", "--checkpoint", "all", "--device", "cpu")
    table = run(*args).stdout
    assert "Checkpointed" in table and "stages 1-9, recomputed in backward" in table
    assert "Time added" in table and "Memory saved" in table
    assert "error +0.00%" in table


def test_memory_csv_and_markdown_carry_the_checkpoint(fixed_clock) -> None:
    args = ("memory", TINY, "-b", "2", "--train", "--checkpoint", "2,4")
    rows = list(csv.DictReader(io.StringIO(run(*args, "-f", "csv").stdout)))
    assert {r["checkpoint"] for r in rows} == {"2,4"}
    stages = [r for r in rows if r["stage"].isdigit()]
    assert [r["checkpointed"] for r in stages] == [str(r["stage"] in "24") for r in stages]
    md = run(*args, "-f", "markdown").stdout
    assert "| Checkpointed |" in md and md.count("| yes |") == 2


def test_max_batch_with_checkpointing_fits_more(fixed_clock) -> None:
    args = ("memory", "b0", "-r", "128", "--train", "--max-batch", "--limit", "1GiB", "-f", "json")
    plain = json.loads(run(*args).stdout)["max_batch"]
    doc = json.loads(run(*args, "--checkpoint", "all").stdout)
    assert doc["max_batch"] > plain
    modules = _modules("b0", "all")
    model = build_model("b0", device="meta")
    fits = predict(model, (doc["max_batch"], 3, 128, 128), True, "sgd", checkpoint=modules)
    over = predict(model, (doc["max_batch"] + 1, 3, 128, 128), True, "sgd", checkpoint=modules)
    assert fits.peak_bytes <= 2**30 < over.peak_bytes


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["b0", "--checkpoint", "3"], ["--train"]),
        (["b0", "--train", "--checkpoint", "10"], ["1-9", "not 10"]),
        (["b0", "--train", "--checkpoint", "0,3"], ["1-9", "not 0"]),
        (["v2-s", "--train", "--checkpoint", "9"], ["1-8"]),
        (["resnet50", "--train", "--checkpoint", "6"], ["1-5", "pooling and FC only"]),
        (["b0", "--train", "--checkpoint", "3-"], ["'3-'", "3-7"]),
        (["b0", "--train", "--checkpoint", "a"], ["'a'"]),
        (["b0", "--train", "--checkpoint", "5-3"], ["'5-3'", "3-5"]),
        (["b0", "--train", "--checkpoint", ""], ["''"]),
        (["b0", "--train", "--checkpoint", "3,,4"], ["'3,,4'"]),
    ],
)
def test_checkpoint_bad_input_is_one_line(fixed_clock, args, fragments) -> None:
    assert_one_line_error(run("memory", *args), 2, "--checkpoint", *fragments)


def test_checkpoint_stage_lists() -> None:
    spec = parse_variant("b0")
    assert parse_stages("3-7", spec) == (3, 4, 5, 6, 7)
    assert parse_stages(" 6,2,4 ", spec) == (2, 4, 6)
    assert parse_stages("2-5,4-7,5", spec) == tuple(range(2, 8))  # overlaps merge
    assert parse_stages("ALL", spec) == tuple(range(1, 10))
    assert parse_stages([4, 3, 4], spec) == (3, 4)
    assert checkpointable(parse_variant("mobilenetv1")) == (1, 2, 3, 4, 5, 6)
