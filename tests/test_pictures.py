"""Charts, exports and terminal bars: files are produced, well formed, and say the numbers."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import assert_one_line_error, run

PNG = b"\x89PNG\r\n\x1a\n"


def _ok(*args: str):
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    return result


def test_sweep_plot_png_and_svg(tmp_path) -> None:
    png, svg = tmp_path / "sweep.png", tmp_path / "sweep.svg"
    _ok("scale", "--sweep", "0:7", "--plot", str(png))
    assert png.read_bytes().startswith(PNG) and png.stat().st_size > 20_000
    _ok("scale", "--sweep", "0:3", "--plot", str(svg))
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = svg.read_text()
    assert "compound coefficient" in text and "FLOPS" in text  # axis labels with convention


def test_list_and_compare_plots(tmp_path) -> None:
    svg, png = tmp_path / "list.svg", tmp_path / "cmp.png"
    _ok("list", "--plot", str(svg))
    ET.parse(svg)
    assert "top-1" in svg.read_text()
    _ok("compare", "b0", "b3", "phi=3", "--plot", str(png))
    assert png.read_bytes().startswith(PNG)


def test_list_plot_draws_one_line_per_family_with_paper_figures(monkeypatch, tmp_path) -> None:
    """EfficientNet's B0-B7 and the EfficientNet paper's ResNets are two curves: no segment
    joins B7 to ResNet-50."""
    from effnet_cli.measurement.counting.analysis import list_variants
    from effnet_cli.views import plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    plots.plot_list(list_variants(), tmp_path / "list.png")
    macs_axis = figures[0].axes[0]
    lines = {line.get_label(): len(line.get_xdata()) for line in macs_axis.get_lines()}
    assert lines == {"EfficientNet": 8, "ResNet": 2}


def test_exports_hold_what_the_terminal_shows(tmp_path) -> None:
    html, svg = tmp_path / "b0.html", tmp_path / "list.svg"
    result = _ok("summary", "b0", "--export", str(html))
    page = html.read_text()
    assert page.lstrip().startswith("<!DOCTYPE html>")
    for number in ("5,288,548", "385,814,752", "MBConv6, k5x5"):
        assert number in page and number in result.stdout
    _ok("list", "--export", str(svg))
    ET.parse(svg)
    assert "480.309" in svg.read_text().replace("&#160;", " ")


def test_export_of_scale_and_compare(tmp_path) -> None:
    cases = [
        (["scale", "--phi", "3"], "1.3310"),
        (["compare", "b0", "b4"], "19.34 M"),
        (["scale", "--sweep", "0:2"], "385.8 M"),
    ]
    for i, (args, number) in enumerate(cases):
        target = tmp_path / f"view{i}.html"
        _ok(*args, "--export", str(target))
        assert number in target.read_text().replace("&#160;", " ")


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    target = tmp_path / "x.png"
    result = run("scale", "--sweep", "0:2", "--plot", str(target))
    assert_one_line_error(result, 1, "matplotlib", "effnet[plot]")
    assert not target.exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["scale", "--phi", "3", "--plot", "x.png"], ["--sweep"]),
        (["list", "--plot", "x.pdf"], ["'x.pdf'", ".png or .svg"]),
        (["summary", "b0", "--export", "x.txt"], ["'x.txt'", ".html or .svg"]),
        (["list", "--plot", "same.svg", "--export", "same.svg"], ["different files"]),
    ],
)
def test_picture_usage_errors(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(*args), 2, *fragments)


def test_terminal_bars_without_colour() -> None:
    out = _ok("summary", "b0").stdout
    assert "Where the cost goes" in out and "█" in out and "38.3%" in out
    lines = [line for line in out.splitlines() if line.strip().startswith("7 ")]
    assert any("█████" in line for line in lines)  # stage 7 holds the most parameters
    profile = _ok("compare", "b0", "b4").stdout
    assert "Cost profile" in profile
    assert any(ch in profile for ch in "▁▂▃▄▅▆▇")
