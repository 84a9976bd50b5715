"""The package layout's promises: light modules stay torch-free, the architecture is data,
one model serves every measurement, and no module outgrows a reader."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import effnet_cli
from effnet_cli.arch.families import (
    FAMILIES,
    MBCONV,
    TORCH_BN,
    Coefficients,
    ConvRow,
    Family,
    StageRow,
    Variant,
)
from effnet_cli.arch.specs import parse_variant, resolve_official
from effnet_cli.errors import UsageError
from effnet_cli.measurement.counting.summary import measure
from effnet_cli.model import build_model, materialize
from effnet_cli.views.core import render
from effnet_cli.views.summary import summary_view

PACKAGE = Path(effnet_cli.__file__).parent
LIGHT_PACKAGES = ("arch", "views", "cli", "reports")
LIGHT_MODULES = (
    "cli", "choices", "reports", "kinds", "errors", "files", "devices", "units", "lazy", "ranks",
    "measurement",
    "measurement.trace", "measurement.counting", "measurement.memory", "measurement.timing",
    "measurement.budget", "measurement.timing.settings", "measurement.budget.constraints",
    "measurement.paper", "measurement.deploy", "measurement.deploy.extra", "measurement.plan",
)  # fmt: skip


HEAVY = ("torch", "torchinfo", "fvcore", "onnx", "onnxruntime")
"""What no light module may import: torch and its tools, and the deploy extra."""


def _light_modules() -> list[str]:
    names = [f"effnet_cli.{m}" for m in LIGHT_MODULES]
    for package in LIGHT_PACKAGES:
        path = [str(PACKAGE / package)]
        names += [f"effnet_cli.{package}.{m.name}" for m in pkgutil.iter_modules(path)]
    return names


def test_grammar_reports_and_views_import_no_torch() -> None:
    modules = _light_modules()
    assert "effnet_cli.views.summary" in modules and "effnet_cli.arch.specs" in modules
    assert "effnet_cli.reports.timing" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported: {out.stdout.strip()}"


QUESTIONS = {
    "trace": {"trace"},
    "counting": {"trace", "counting"},
    "memory": {"trace", "memory"},
    "timing": {"trace", "timing"},
    "budget": {"trace", "counting", "memory", "timing", "deploy", "plan", "budget"},
    "plan": {"trace", "memory", "timing", "plan"},
    "paper": {"trace", "counting", "timing", "paper"},
    "deploy": {"trace", "timing", "deploy"},
}
"""Which measuring packages each may import: budget → {counting, memory, timing, deploy,
plan} → trace (deploy → timing: onnxruntime's latency model is timing's fit on its own
samples; plan → {memory, timing}: checkpointing's memory saved against time added);
paper → {counting, timing} → trace."""


def _imported(path: Path) -> set[str]:
    """Every effnet_cli module a file imports, absolute or relative, at any depth."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0]  # a package's __init__ is relative to the package
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found |= {name} | {f"{name}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("effnet_cli.")}


def _question(module: str) -> str | None:
    parts = module.removesuffix(".__init__").split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "measurement" else None


def test_measuring_packages_import_one_way_only() -> None:
    """budget may read every question; counting, memory and timing only the trace layer
    and themselves; the trace layer nothing but itself."""
    wrong = []
    for path in (PACKAGE / "measurement").rglob("*.py"):
        mine = _question(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if mine is None:
            continue
        assert mine in QUESTIONS, f"{path}: a measuring package the layout test does not know"
        for target in _imported(path):
            theirs = _question(target)
            if theirs is not None and theirs not in QUESTIONS[mine]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert not wrong, wrong


def test_views_and_reports_never_import_the_measurement_layer() -> None:
    """Views render reports; what they need to know lives in reports/ or arch/, torch-free."""
    reports = list((PACKAGE / "reports").rglob("*.py"))
    assert PACKAGE / "reports" / "budget.py" in reports
    paths = [*(PACKAGE / "views").rglob("*.py"), *reports]
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {target}"
        for path in paths
        for target in _imported(path)
        if target.startswith("effnet_cli.measurement")
    ]
    assert paths and not wrong, wrong


def test_no_module_over_600_lines() -> None:
    sizes = {p.relative_to(PACKAGE): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 600, max(sizes.items(), key=lambda item: item[1])


MAX_FUNCTION_LINES = 60


def test_no_function_over_60_lines() -> None:
    """A function is read as a whole: from its first decorator to its last line, a Typer
    command's signature included (its options are what a reader has to hold in mind)."""
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = node.end_lineno - first + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{first} {node.name} ({lines} lines)")
    assert not long, long


TOY = Family(
    key="toy",
    title="Toy",
    stages=(
        StageRow(MBCONV, 1, 3, 1, 16, 16, 1, 0.25),
        StageRow(MBCONV, 4, 5, 2, 16, 24, 2, 0.0),
    ),
    stem=ConvRow(16, 3, 2),
    head=ConvRow(64, 1, 1),
    variants={"t0": Variant("t0", "Toy-T0", Coefficients(1.0, 1.0, 64, 0.1), TORCH_BN)},
)


def test_a_family_of_another_shape_flows_through_model_measurement_and_views(
    monkeypatch,
) -> None:
    """Four stages instead of nine, a stage without squeeze-excitation: nothing outside the
    family data may assume V1's shape."""
    monkeypatch.setitem(FAMILIES, "toy", TOY)
    spec = resolve_official("t0")
    summary = measure(spec)
    assert [s.stage for s in summary.stages] == [1, 2, 3, 4]
    assert [s.layers for s in summary.stages] == [1, 1, 2, 1]
    assert [b.se_channels for b in summary.blocks] == [4, 0, 0]
    assert [b.kernel for b in summary.blocks] == [3, 5, 5]
    model = build_model(spec, device="meta")
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    assert summary.stages[-1].output_resolution == [1, 1]
    with torch.no_grad():
        out = build_model(spec)(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 1000)
    view = summary_view(summary, blocks=True)
    for fmt in ("json", "csv", "markdown"):
        assert "Toy-T0" in render(view, fmt) or fmt == "csv"
    assert "Per MBConv block" in render(view, "markdown")


def test_materialized_model_equals_a_direct_build() -> None:
    """Building on meta and materialising gives the weights a direct build gives."""
    torch.manual_seed(0)
    direct = build_model("b0", num_classes=10).state_dict()
    torch.manual_seed(0)
    late = materialize(build_model("b0", num_classes=10, device="meta"), "cpu").state_dict()
    assert direct.keys() == late.keys()
    for key, value in direct.items():
        assert torch.equal(value, late[key]), key


def test_summary_on_a_device_builds_one_model(built_models) -> None:
    """Counting, timing and the fit check share one model: one EfficientNet is constructed."""
    from conftest import run

    result = run("summary", "b0", "--device", "cpu", "-r", "64", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert built_models == ["b0"]


@pytest.mark.parametrize(("variant", "blocks"), [("b0", 16), ("b7", 55), ("l2", 88), ("v2-s", 40)])
def test_block_counts_are_the_papers(variant: str, blocks: int) -> None:
    """Hand counts: B0's Table 1 sums to 16; B7 (d=3.1) rounds each stage up to 4+7+7+10+
    10+13+4 = 55; L2 (d=5.3) to 6+11+11+16+16+22+6 = 88; V2-S's six stages 2+4+4+6+9+15."""
    assert resolve_official(variant).blocks == blocks


def test_the_block_limit_is_a_one_line_usage_error() -> None:
    """d=62 gives 16×62 = 992 blocks (allowed); d=63 gives 1,008, past the 1,000 limit."""
    assert parse_variant("w=1,d=62,r=224").blocks == 992
    with pytest.raises(UsageError, match=r"has 1,008 blocks .*the limit is 1,000"):
        parse_variant("w=1,d=63,r=224")


def test_every_package_is_installed() -> None:
    """pyproject lists the packages explicitly: a new subpackage missing there would work in
    an editable install and vanish from a wheel."""
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    listed = set(
        re.findall(r'"(effnet_cli[\w.]*)"', text.split("packages = [", 1)[1].split("]")[0])
    )
    found = {
        ".".join(path.parent.relative_to(PACKAGE.parent).parts)
        for path in PACKAGE.rglob("__init__.py")
    }
    assert listed == found
