#!/usr/bin/env python3
"""Regenerate the golden outputs of tests/test_golden.py, deliberately.

Prints every number that would change, JSON path by JSON path (old → new), and every other
file that would change; writes nothing unless --write is given. A commit that regenerates
goldens should say why each listed number moved.

    python tests/tools/regenerate_golden.py            # show what changed
    python tests/tools/regenerate_golden.py --write    # and write the new files
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from test_golden import CASES, GOLDEN, render_case  # noqa: E402

SUFFIXES = {"json": "json", "table": "txt", "csv": "csv", "markdown": "md"}


def numbers(doc: Any, path: str = "") -> dict[str, Any]:
    """Every number (and null) in a JSON document by its path, e.g. variants[3].totals.macs."""
    if isinstance(doc, dict):
        return {
            k: v for key, item in doc.items() for k, v in numbers(item, f"{path}.{key}").items()
        }
    if isinstance(doc, list):
        return {
            k: v for i, item in enumerate(doc) for k, v in numbers(item, f"{path}[{i}]").items()
        }
    if isinstance(doc, bool) or not isinstance(doc, int | float | None):
        return {}
    return {path.lstrip("."): doc}


def number_changes(old: str, new: str) -> list[str]:
    a, b = numbers(json.loads(old)), numbers(json.loads(new))
    lines = [f"  {k}: {a.get(k, '(absent)')} → {b.get(k, '(absent)')}"
             for k in sorted(a.keys() | b.keys()) if a.get(k, "∅") != b.get(k, "∅")]  # fmt: skip
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the changed files")
    args = parser.parse_args()
    changed = 0
    for name in CASES:
        for fmt, suffix in SUFFIXES.items():
            path = GOLDEN / f"{name}.{suffix}"
            new = render_case(name, fmt)
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            if new == old:
                continue
            changed += 1
            print(f"{path.name} changed")
            if fmt == "json" and old:
                print("\n".join(number_changes(old, new)) or "  (no number changed)")
            if args.write:
                path.write_text(new, encoding="utf-8")
    print(f"{changed} file(s) differ" + (", written" if args.write and changed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
