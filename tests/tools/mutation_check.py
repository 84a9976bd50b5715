#!/usr/bin/env python3
"""A short mutation check: break the code on purpose, one way at a time, and show that the
tests notice, and which test.

Each mutant is a copy of the repository with one textual change applied; the tests chosen
for it run against that copy (PYTHONPATH points at it) and must fail. Nothing in the working
tree is touched. Prints a Markdown table: mutant, what was broken, caught or MISSED, the
first failing test. Exit code 1 if any mutant survived.

    python tests/tools/mutation_check.py
    python tests/tools/mutation_check.py --only macs,csv
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    """One deliberate breakage: a file, the text to replace (exactly once) and with what,
    and the tests that should catch it."""

    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = (
    Mutant(
        "macs",
        "a MAC off by one conv: the stem's convolution counts nothing",
        "effnet_cli/measurement/trace/probe.py",
        "    macs = n * out_ch * ho * wo * per_group * kh * kw\n",
        "    macs = n * out_ch * ho * wo * per_group * kh * kw\n"
        "    macs = 0 if t.stack and t.stack[-1] == 'features.0.0' else macs\n",
        ("tests/test_measure.py", "tests/test_golden.py"),
    ),
    Mutant(
        "memory",
        "a memory term dropped: batch-norm buffers left out of the peak",
        "effnet_cli/measurement/trace/simulate.py",
        '"buffers": sum(b.numel() * b.element_size() for b in model.buffers()),',
        '"buffers": 0,',
        ("tests/test_memory.py",),
    ),
    Mutant(
        "view",
        "a view raising: memory's view fails on every report",
        "effnet_cli/views/memory.py",
        "def memory_view(r: MemoryReport) -> View:\n",
        "def memory_view(r: MemoryReport) -> View:\n    raise KeyError(r.variant)\n",
        ("tests/test_memory.py", "tests/test_errors.py"),
    ),
    Mutant(
        "busy",
        "a calibration marked busy says nothing",
        "effnet_cli/measurement/timing/latency.py",
        "    if spread > BUSY:\n",
        "    if spread > BUSY * 1000:\n",
        ("tests/test_latency_model.py",),
    ),
    Mutant(
        "csv",
        "a CSV column dropped: every table loses its last field",
        "effnet_cli/views/core.py",
        "    fields = [c for c in columns if c.field is not None]\n",
        "    fields = [c for c in columns if c.field is not None][:-1]\n",
        ("tests/test_golden.py", "tests/test_outputs.py"),
    ),
    Mutant(
        "atomic",
        "a non-atomic write: the output file is written in place",
        "effnet_cli/files.py",
        "        os.replace(tmp, path)\n",
        "        Path(path).write_bytes(raw)\n        Path(tmp).unlink()\n",
        ("tests/test_outputs.py", "tests/test_errors.py"),
    ),
)


def _copy() -> Path:
    """The repository's tracked and untracked files (not .git, venvs or caches) in a temp dir."""
    dest = Path(tempfile.mkdtemp(prefix="effnet-mutant-"))
    skip = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".pytest_cache",
                                  ".ruff_cache", ".hypothesis", "*.egg-info")  # fmt: skip
    shutil.copytree(ROOT, dest / "repo", ignore=skip)
    return dest / "repo"


def _apply(repo: Path, m: Mutant) -> None:
    path = repo / m.path
    text = path.read_text()
    if text.count(m.old) != 1:
        raise SystemExit(f"{m.name}: the text to break is not in {m.path} exactly once")
    path.write_text(text.replace(m.old, m.new))


def _first_failure(output: str) -> str:
    match = re.search(r"^FAILED (\S+)", output, re.M) or re.search(r"^ERROR (\S+)", output, re.M)
    return match.group(1) if match else ""


def run(m: Mutant) -> tuple[bool, str]:
    """Whether the chosen tests failed on the mutant, and the first test that did."""
    repo = _copy()
    try:
        _apply(repo, m)
        env = {**os.environ, "PYTHONPATH": str(repo)}
        probe = "import effnet_cli; print(effnet_cli.__file__)"
        where = subprocess.run([sys.executable, "-c", probe], cwd=repo, env=env,
                               capture_output=True, text=True).stdout  # fmt: skip
        if not where.startswith(str(repo)):
            raise SystemExit(f"the mutant's effnet_cli is not imported (got {where.strip()})")
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests]
        out = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
        return out.returncode != 0, _first_failure(out.stdout)
    finally:
        shutil.rmtree(repo.parent, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated mutant names")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only.split(",")]
    print("| mutant | what was broken | result | caught by |")
    print("|---|---|---|---|")
    survived = 0
    for m in chosen:
        caught, test = run(m)
        survived += not caught
        print(f"| {m.name} | {m.what} | {'caught' if caught else 'MISSED'} | {test} |",
              flush=True)  # fmt: skip
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
