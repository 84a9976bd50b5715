"""Stage naming: one module maps module paths to Table-1 stages, and every command numbers
stages the same way (profile adds the classifier as a stage of its own, and says so)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import B0_TABLE1

import effnet_cli
from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.counting import measure
from effnet_cli.measurement.memory import memory
from effnet_cli.measurement.trace.stages import (
    StageMap,
    block_module,
    feature_stage,
    in_first_stages,
    is_stage_module,
    stage_module,
)
from effnet_cli.model import build_model

PACKAGE = Path(effnet_cli.__file__).parent
STAGES_MODULE = PACKAGE / "measurement" / "trace" / "stages.py"


def test_b0_module_paths_map_to_table_1() -> None:
    where = StageMap(parse_variant("b0"))
    assert where.stage_of("features.0.0") == 1  # the stem's conv
    assert where.stage_of("features.3.1.block.2.0") == 4  # inside stage 4's second block
    assert where.stage_of("features.8.0") == 9  # the head's 1×1 conv
    assert where.stage_of("avgpool") == 9 and where.stage_of("classifier.1") == 9
    assert where.block_of("features.3.1.block.2.0") == "features.3.1"
    assert where.block_of("features.0.0") == ""  # the stem is no stage of blocks
    assert where.last_module(9) == "avgpool" and where.last_module(4) == "features.3"


def test_timed_numbering_adds_the_classifier_as_stage_10() -> None:
    where = StageMap(parse_variant("b0"), timed=True)
    assert where.stage_of("avgpool") == 9 and where.stage_of("classifier.1") == 10
    assert where.boundaries() == [*(f"features.{i}" for i in range(8)), "avgpool", "classifier"]
    rows = where.timed_rows()
    assert [r[0] for r in rows] == list(range(1, 11))
    assert [r[2] for r in rows[:8]] == [row[1] for row in B0_TABLE1[:8]]
    assert rows[8][2] == "Conv1x1 & Pooling" and rows[9][1:] == (
        "classifier",
        "Flatten & Dropout & FC",
    )


def test_path_helpers_round_trip() -> None:
    assert feature_stage(stage_module(5)) == 5 and feature_stage(block_module(5, 2)) == 5
    assert feature_stage("avgpool") is None and feature_stage("features") is None
    assert is_stage_module("features.4") and not is_stage_module("features.4.0")
    assert in_first_stages("features.2.1.block", 3) and not in_first_stages("features.3.0", 3)


@pytest.mark.parametrize("variant", ["b0", "v2-s", "w=0.5,d=0.3,r=96"])
def test_summary_and_memory_number_stages_alike(variant: str) -> None:
    """Every stage of every command's table is the same Table-1 row: number and operator."""
    summary = [(s.stage, s.operator) for s in measure(variant).stages]
    mem = [(s.stage, s.operator) for s in memory(variant).stages]
    assert summary == mem
    timed = StageMap(parse_variant(variant), timed=True).timed_rows()
    assert [r[0] for r in timed] == [s for s, _ in summary] + [len(summary) + 1]


def test_every_stage_module_holds_the_stage_its_path_says() -> None:
    """The model's layout is what the naming assumes: features.i is Table-1 stage i+1."""
    spec = parse_variant("v2-b0")
    model = build_model(spec, device="meta")
    where = StageMap(spec)
    for row in spec.stages:
        assert stage_module(row.stage) in dict(model.named_modules())
        assert where.stage_of(stage_module(row.stage)) == row.stage


def test_no_other_module_decodes_module_paths() -> None:
    """Only trace/stages.py spells the network's module names ('features.i', 'avgpool')."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path != STAGES_MODULE
        and path.parent.name != "model"
        and any(s in path.read_text() for s in ('"features', "'features", '"avgpool"'))
    ]
    assert offenders == []
