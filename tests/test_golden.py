"""Golden outputs: the restructure and later work must not change what users see by accident.

Each case is a command line whose ``--format json`` document, table view (at 120 columns),
CSV and Markdown were saved before the package was reorganised. A deliberate change to the
output regenerates them with ``EFFNET_REGEN_GOLDEN=1 python -m pytest tests/test_golden.py`` and
says so in its commit. Wall-time fields (``seconds``) are left out: they differ every run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from effnet_cli.cli import app

GOLDEN = FIXTURES / "golden"
REGENERATE = bool(os.environ.get("EFFNET_REGEN_GOLDEN"))

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


def _check(path: Path, actual: str) -> None:
    if REGENERATE:
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} changed"


@pytest.mark.parametrize("name", list(CASES))
def test_json_unchanged(name: str) -> None:
    doc = _without_wall_time(json.loads(_run([*CASES[name], "--format", "json"])))
    _check(GOLDEN / f"{name}.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("name", list(CASES))
def test_table_view_unchanged(name: str) -> None:
    _check(GOLDEN / f"{name}.txt", _run(CASES[name]))


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
@pytest.mark.parametrize("name", list(CASES))
def test_csv_and_markdown_unchanged(name: str, fmt: str) -> None:
    suffix = {"csv": "csv", "markdown": "md"}[fmt]
    _check(GOLDEN / f"{name}.{suffix}", _run([*CASES[name], "--format", fmt]))
