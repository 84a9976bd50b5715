"""Golden outputs: the restructure and later work must not change what users see by accident.

Each case is a command line whose ``--format json`` document, table view (at 120 columns),
CSV and Markdown were saved before the package was reorganised. The tests never write them: a
deliberate change to the output regenerates them with ``tests/tools/regenerate_golden.py``,
which prints every number it changes, and the commit says why. Wall-time fields
(``seconds``) are left out: they differ every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REFERENCE
from typer.testing import CliRunner

from effnet_cli.cli import app

GOLDEN = FIXTURES / "golden"

CASES = {
    "summary_b0_blocks": ["summary", "b0", "--blocks"],
    "summary_b5_blocks": ["summary", "b5", "--blocks"],
    "summary_phi_custom": ["summary", "phi=2.5,alpha=1.25", "-r", "300", "-b", "2"],
    "summary_raw_notop": ["summary", "w=0.5,d=0.5,r=128", "--num-classes", "10", "--no-top"],
    "scale_phi3": ["scale", "--phi", "3"],
    "scale_sweep": ["scale", "--sweep", "0:7"],
    "compare_b0_b4": ["compare", "b0", "b4"],
    "compare_b3_phi3": ["compare", "b3", "phi=3"],
    "list": ["list"],
    "budget_macs_weights": [
        "budget",
        "--max-macs",
        "2G",
        "--max-weights",
        "20MB",
        "--dtype",
        "float16",
    ],
    "budget_memory_train": [
        "budget",
        "--max-memory",
        "24GB",
        "-b",
        "64",
        "--train",
        "--phi-max",
        "6",
    ],
}
WALL_TIME_KEYS = {"seconds"}


def _without_wall_time(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without_wall_time(v) for k, v in doc.items() if k not in WALL_TIME_KEYS}
    if isinstance(doc, list):
        return [_without_wall_time(v) for v in doc]
    return doc


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def render_case(name: str, fmt: str) -> str:
    """A case's output in ``fmt`` (json, table, csv, markdown) as the golden file holds it."""
    if fmt == "table":
        return _run(CASES[name])
    out = _run([*CASES[name], "--format", fmt])
    if fmt != "json":
        return out
    return json.dumps(_without_wall_time(json.loads(out)), indent=1, ensure_ascii=False) + "\n"


def _check(path: Path, actual: str) -> None:
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} changed"


@pytest.mark.parametrize("name", list(CASES))
def test_json_unchanged(name: str) -> None:
    _check(GOLDEN / f"{name}.json", render_case(name, "json"))


@pytest.mark.parametrize("name", list(CASES))
def test_table_view_unchanged(name: str) -> None:
    _check(GOLDEN / f"{name}.txt", render_case(name, "table"))


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
@pytest.mark.parametrize("name", list(CASES))
def test_csv_and_markdown_unchanged(name: str, fmt: str) -> None:
    suffix = {"csv": "csv", "markdown": "md"}[fmt]
    _check(GOLDEN / f"{name}.{suffix}", render_case(name, fmt))


# ----------------------------------------------------------------------------- references


def _official_totals(name: str) -> list[tuple[str, int, int]]:
    """(variant, params, macs) of every official model a golden JSON document shows at its
    own resolution and batch 1 with 1,000 classes."""
    doc = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    if "variants" in doc and "totals" in doc["variants"][0]:  # list
        return [(v["variant"], v["totals"]["params"], v["totals"]["macs"]) for v in doc["variants"]]
    if "variants" in doc:  # budget: MACs and params at batch 1, each variant's resolution
        return [(v["variant"], v["params"], v["macs"]) for v in doc["variants"]]
    models = doc.get("models") or [doc]
    return [
        (m["variant"], m["totals"]["params"], m["totals"]["macs"])
        for m in models
        if m["kind"] == "official" and m["input"] == {"batch_size": 1, "resolution": _res(m)}
        and m["num_classes"] == 1000
    ]  # fmt: skip


def _res(model: dict) -> int:
    return model["coefficients"]["resolution"]


@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith(("scale", "summary_"))]
                         + ["summary_b0_blocks", "summary_b5_blocks"])  # fmt: skip
def test_golden_totals_are_the_independent_references(name: str) -> None:
    """The goldens were written by effnet itself; their totals must still be what torch's
    FlopCounterMode counts on torchvision's or timm's models (B8 and L2 included)."""
    rows = _official_totals(name)
    assert rows, name
    for variant, params, macs in rows:
        ref = REFERENCE["variants"][variant]
        assert (params, macs) == (ref["params"], ref["macs"]), (name, variant)
