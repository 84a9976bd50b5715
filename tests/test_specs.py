"""Architecture as data: coefficients, rounding, grammar. No torch needed."""

from __future__ import annotations

import math

import pytest
from conftest import B0_TABLE1, B5_CHANNELS, B5_LAYERS

from effnet_cli.arch.families import family_of
from effnet_cli.arch.specs import (
    OFFICIAL,
    SpecError,
    parse_variant,
    round_filters,
    round_repeats,
    same_architecture,
)


@pytest.mark.parametrize("text", ["b3", "B3", "efficientnet-b3", "EfficientNet_B3", " b3 "])
def test_official_names_and_aliases(text: str) -> None:
    spec = parse_variant(text)
    assert spec.name == "b3" and spec.kind == "official"
    assert spec.coefficients == OFFICIAL["b3"]


def test_official_table_matches_design() -> None:
    v1 = {n: c for n, c in OFFICIAL.items() if family_of(n).key == "v1"}  # others: own tests
    rows = {n: (c.width, c.depth, c.resolution, c.dropout) for n, c in v1.items()}
    assert rows == {
        "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
        "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
        "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5), "b8": (2.2, 3.6, 672, 0.5),
        "l2": (4.3, 5.3, 800, 0.5),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("channels", "width", "expected"),
    [(32, 1.0, 32), (32, 1.1, 32), (16, 1.1, 16), (40, 1.1, 48), (1280, 1.1, 1408),
     (24, 1.6, 40), (112, 1.6, 176), (1280, 1.6, 2048), (16, 4.3, 72), (3, 1.0, 8)],
)  # fmt: skip
def test_round_filters(channels: int, width: float, expected: int) -> None:
    out = round_filters(channels, width)
    assert out == expected and out % 8 == 0 and out >= 0.9 * channels * width


def test_round_repeats_is_ceil() -> None:
    assert [round_repeats(n, 1.1) for n in (1, 2, 3, 4)] == [2, 3, 4, 5]
    assert round_repeats(3, 1.0) == 3


def test_b0_table1_from_specs() -> None:
    stages = parse_variant("b0").stages
    assert [(s.stage, s.operator, s.out_channels, s.layers) for s in stages] == [
        (i, op, ch, n) for i, op, _, ch, n in B0_TABLE1
    ]


def test_b5_channels_and_layers_from_specs() -> None:
    stages = parse_variant("b5").stages
    assert [s.out_channels for s in stages] == B5_CHANNELS
    assert [s.layers for s in stages] == B5_LAYERS


def test_compound_phi3() -> None:
    spec = parse_variant("phi=3")
    c = spec.coefficients
    assert math.isclose(c.depth, 1.728) and math.isclose(c.width, 1.331)
    assert c.resolution == 341 and spec.kind == "compound"
    assert spec.compound is not None and spec.compound.phi == 3


def test_phi0_is_b0_and_custom_alphas() -> None:
    assert same_architecture(parse_variant("phi=0"), parse_variant("b0"))
    spec = parse_variant("phi=2.5,alpha=1.3,beta=1.05,gamma=1.1")
    assert math.isclose(spec.coefficients.depth, 1.3**2.5)
    assert spec.coefficients.resolution == round(224 * 1.1**2.5)


def test_raw_multipliers_equal_b3() -> None:
    spec = parse_variant("w=1.2,d=1.4,r=300")
    assert spec.kind == "custom" and same_architecture(spec, parse_variant("b3"))
    assert (
        parse_variant("width=1.2,depth=1.4,resolution=300,dropout=0.3").coefficients
        == (OFFICIAL["b3"])
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("b9", "did you mean 'b8'"),
        ("resnet18", "unknown variant 'resnet18'"),
        ("w=1.2,d=1.4", "r"),
        ("w=1.2,d=1.4,r=300,phi=1", "mixes phi"),
        ("phi=abc", "'phi=abc' is not a number"),
        ("phi=-1", "phi must be"),
        ("phi=nan", "finite"),
        ("w=0,d=1,r=224", "w must be"),
        ("w=1,d=inf,r=224", "finite"),
        ("w=1,d=1,r=22.5", "whole number"),
        ("foo=1", "unknown key 'foo'"),
        ("phi=1,phi=2", "given twice"),
        ("phi=1,dropout=1.5", "dropout must be"),
        ("", "empty"),
        ("phi", "unknown variant"),
        ("phi=", "not key=value"),
    ],
)
def test_bad_specs_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=None) as info:
        parse_variant(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)
