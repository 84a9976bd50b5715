"""The kind Enums stand in for the plain strings they replaced: every output that printed,
serialised or compared a kind must see the same string."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass

import pytest

from effnet_cli.kinds import BlockKind, CostKind, OpKind, SpecKind, StageRole, StrEnum

MEMBERS = [m for kind in (BlockKind, SpecKind, StageRole, OpKind, CostKind) for m in kind]


@pytest.mark.parametrize("member", MEMBERS, ids=str)
def test_a_kind_is_its_string(member: StrEnum) -> None:
    value = member.value
    assert str(member) == f"{member}" == f"{member:>0}" == f"{member:>12}".strip() == value
    assert member == value and hash(member) == hash(value)
    assert {value: 1}[member] == 1 and {member: 1}[value] == 1
    assert json.dumps({member: [member]}) == json.dumps({value: [value]})
    assert json.dumps({member: member}, indent=2) == json.dumps({value: value}, indent=2)


def test_kinds_in_a_dataclass_and_a_csv_row_read_as_before() -> None:
    @dataclass
    class Row:
        kind: BlockKind

    assert json.dumps(asdict(Row(BlockKind.FUSED))) == '{"kind": "fused"}'
    out = io.StringIO()
    csv.writer(out).writerow([OpKind.BATCH_NORM, CostKind.SE_CONV])
    assert out.getvalue() == "batch_norm,se_conv\r\n"


def test_a_kind_read_back_from_text_is_the_member() -> None:
    assert CostKind("depthwise") is CostKind.DEPTHWISE
    assert SpecKind("official") is SpecKind.OFFICIAL
