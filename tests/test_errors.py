"""Bad input: one clear line, the documented exit code, nothing on stdout, no traceback."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
import torch
from conftest import assert_one_line_error, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from effnet_cli.cli import app

USAGE = [
    # summary: variant specs
    (["summary", "b9"], ["'b9'", "did you mean 'b8'"]),
    (["summary", "efficentnet-b3"], ["'efficentnet-b3'"]),
    (["summary", "B3x"], ["'B3x'"]),
    (["summary", "w=1.2,d=1.4"], ["'w=1.2,d=1.4'", "w, d, r"]),
    (["summary", "phi="], ["'phi='"]),
    (["summary", "phi=abc"], ["'phi=abc'"]),
    (["summary", "phi=-2"], ["-2"]),
    (["summary", "phi=nan"], ["nan"]),
    (["summary", "phi=inf"], ["inf"]),
    (["summary", "w=-1,d=1,r=224"], ["-1"]),
    (["summary", "w=1,d=0,r=224"], ["d must be", "0"]),
    (["summary", "w=1,d=1,r=abc"], ["'r=abc'"]),
    (["summary", "w=1,d=1,r=20"], ["20", "32..16384"]),
    (["summary", "w=1,d=1,r=100000"], ["100000", "32..16384"]),
    (["summary", "phi=50"], ["'phi=50'", "1,000"]),
    (["summary", "w=99,d=1,r=224"], ["99", "limit is 50"]),
    (["summary", "gamma=1.1"], ["'gamma=1.1'"]),
    (["summary", "foo=1"], ["'foo'"]),
    (["summary", "phi=1,dropout=2"], ["dropout", "2"]),
    # summary: options
    (["summary", "b0", "-r", "0"], ["'0'"]),
    (["summary", "b0", "-r", "100000"], ["'100000'"]),
    (["summary", "b0", "-r", "abc"], ["'abc'"]),
    (["summary", "b0", "-b", "0"], ["'0'", "--batch-size"]),
    (["summary", "b0", "--batch-size=-3"], ["'-3'"]),
    (["summary", "b0", "--num-classes", "0"], ["'0'", "--num-classes"]),
    (["summary", "b0", "--device", "tpu"], ["'tpu'"]),
    (["summary", "b0", "--device", "cuda:x"], ["'cuda:x'"]),
    (["summary", "b0", "--device", "cpu:1"], ["'cpu:1'"]),
    (["summary", "b0", "--format", "xml"], ["'xml'"]),
    (["summary", "b0", "--engine", "magic"], ["'magic'"]),
    (["summary", "b0", "--pooling", "sum"], ["'sum'"]),
    (["summary", "b0", "--bogus"], ["--bogus"]),
    (["summary", "b0", "--engine", "fvcore"], ["fvcore"]),
    (["summary", "b0", "--weights", "/nope/x.pth", "--device", "cpu"], ["/nope/x.pth"]),
    (["summary"], ["variant"]),
    (["frobnicate"], ["frobnicate"]),
    # scale
    (["scale"], ["exactly one of"]),
    (["scale", "--phi", "-1"], ["-1"]),
    (["scale", "--phi", "nan"], ["nan"]),
    (["scale", "--phi", "30"], ["'phi=30'", "1,000"]),
    (["scale", "--phi", "x"], ["'x'"]),
    (["scale", "--phi", "1", "--alpha", "0"], ["alpha", "0"]),
    (["scale", "--phi", "1", "--beta", "-1"], ["beta", "-1"]),
    (["scale", "--phi", "1", "--gamma", "inf"], ["gamma", "inf"]),
    (["scale", "--phi", "1", "--base-resolution", "10"], ["'10'"]),
    (["scale", "--sweep", "7:0"], ["'7:0'", "reversed"]),
    (["scale", "--sweep", "0:x"], ["'x'"]),
    (["scale", "--sweep", "0"], ["'0'"]),
    (["scale", "--sweep", "0:3:-1"], ["'0:3:-1'", "STEP"]),
    (["scale", "--sweep", "0:1000:0.001"], ["limit is 200"]),
    (["scale", "--search", "--tolerance", "5"], ["5"]),
    (["scale", "--search", "--grid-step", "0"], ["--grid-step", "0"]),
    (["scale", "--phi", "1", "--format", "yaml"], ["'yaml'"]),
    # compare, list
    (["compare", "b0"], ["at least two"]),
    (["compare", "b0", "b99"], ["'b99'"]),
    (["compare", "b0", "b1", "-r", "5"], ["'5'"]),
    (["compare", "b0", "b1", "--device", "quantum"], ["'quantum'"]),
    (["list", "--format", "pdf"], ["'pdf'"]),
    (["list", "extra"], ["extra"]),
]


@pytest.mark.parametrize(("args", "fragments"), USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_errors(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(*args), 2, *fragments)


def test_table_has_at_least_forty_cases() -> None:
    assert len(USAGE) >= 40


def test_runtime_errors_exit_1(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert_one_line_error(run("summary", "b0", "--device", "cuda"), 1, "'cuda'")
    assert_one_line_error(run("compare", "b0", "b1", "--device", "cuda:1"), 1, "'cuda:1'")
    assert_one_line_error(run("summary", "b0", "--device", "mps"), 1, "'mps'")
    missing = tmp_path / "no" / "x.json"
    assert_one_line_error(run("summary", "b0", "-o", str(missing)), 1, str(missing.parent))
    assert_one_line_error(run("list", "-o", str(tmp_path)), 1, "is a directory")


def test_memory_check_refuses_before_allocating(monkeypatch) -> None:
    import effnet_cli.measurement.trace.prepare as measure_module

    monkeypatch.setattr(measure_module, "available_bytes", lambda device: 8 << 20)
    result = run("summary", "b0", "--device", "cpu")
    assert_one_line_error(result, 1, "GiB", "cpu", "--batch-size")


def test_output_is_atomic(tmp_path) -> None:
    target = tmp_path / "out.json"
    assert_one_line_error(run("summary", "b9", "-f", "json", "-o", str(target)), 2, "'b9'")
    assert not target.exists()
    target.write_text("previous")
    assert_one_line_error(run("summary", "phi=99", "-o", str(target)), 2, "phi=99")
    assert target.read_text() == "previous"
    ok = run("summary", "b0", "-f", "json", "-o", str(target))
    assert ok.exit_code == 0 and ok.stdout == "" and "wrote" in ok.stderr
    assert json.loads(target.read_text())["variant"] == "b0"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


# ----------------------------------------------------------------------------- terminals


NARROW_CASES = [
    (["summary", "b0", "--blocks"], ["5,288,548", "10.84 M", "91.53 M", "25.74 M"]),
    (["list"], ["480.309", "475.704", "9.2*", "77.1"]),
    (["compare", "b0", "b4"], ["19.34 M", "4.394 G"]),
    (["scale", "--phi", "3"], ["1.3310", "341", "3.251 G"]),
    (["scale", "--sweep", "0:7"], ["385.8 M", "39.66 G", "37.75 G"]),
]


@pytest.mark.parametrize("columns", [60, 80, 100, 120])
@pytest.mark.parametrize(
    ("args", "numbers"), NARROW_CASES, ids=[" ".join(a) for a, _ in NARROW_CASES]
)
def test_any_terminal_width_keeps_numbers_whole(args, numbers, columns: int) -> None:
    from rich.cells import cell_len

    result = CliRunnerEnv(COLUMNS=str(columns)).invoke(args)
    assert result.exit_code == 0, result.stderr
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= columns
    for number in numbers:
        assert number in result.stdout, (args, columns, number)


class CliRunnerEnv:
    """CliRunner with environment variables set for the invocation."""

    def __init__(self, **env: str) -> None:
        self.env = env

    def invoke(self, args: list[str]):
        from typer.testing import CliRunner

        from effnet_cli.cli import app

        return CliRunner().invoke(app, args, env=self.env)


def _through_a_terminal(env: dict[str, str]) -> bytes:
    """Run `effnet summary b0` with stdout on a pseudo-terminal and return what it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "effnet_cli", "summary", "b0"],
        stdout=slave, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "120", **env},
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks)


def test_colour_only_on_a_terminal_without_no_color() -> None:
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    os.environ.pop("NO_COLOR", None)
    assert b"\x1b[" in _through_a_terminal({"TERM": "xterm-256color", **clean})
    assert b"\x1b[" not in _through_a_terminal({"TERM": "xterm-256color", "NO_COLOR": "1"})


def test_pipes_get_clean_machine_formats() -> None:
    for fmt in ("json", "csv", "markdown"):
        out = subprocess.run(
            [sys.executable, "-m", "effnet_cli", "summary", "b1", "-f", fmt],
            capture_output=True, check=True,
        )  # fmt: skip
        assert b"\x1b" not in out.stdout and out.stderr == b""
        if fmt == "json":
            json.loads(out.stdout)


CTRL_C_INSIDE_THE_SEARCH = """
import signal, sys
# a terminal's Ctrl-C raises KeyboardInterrupt; a process started in the background (as a
# test runner may be) inherits SIGINT ignored, so put the terminal's handler back
signal.signal(signal.SIGINT, signal.default_int_handler)
import effnet_cli.measurement.counting.analysis as analysis
real = analysis.measure
def interrupted(*args, **kwargs):
    signal.raise_signal(signal.SIGINT)  # Ctrl-C, to this (the main) thread, inside the search
    return real(*args, **kwargs)
analysis.measure = interrupted
sys.argv = ["effnet", "scale", "--search", "--grid-step", "0.02"]
from effnet_cli.cli import main
main()
"""


def test_ctrl_c_exits_130_quietly() -> None:
    """SIGINT at a known point inside a command (not after a guessed sleep)."""
    proc = subprocess.run([sys.executable, "-c", CTRL_C_INSIDE_THE_SEARCH],
                          capture_output=True, timeout=120)  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert b"Traceback" not in proc.stderr and proc.stdout == b""


# ----------------------------------------------------------------------------- properties

NAMES = ["b0", "B1", "efficientnet-b2", "EfficientNet_B3", "b7", "l2", "b9", "c3", ""]
numbers = st.one_of(
    st.floats(min_value=-2, max_value=6),
    st.sampled_from([float("nan"), float("inf"), -float("inf")]),
    st.integers(min_value=-5, max_value=400),
    st.sampled_from(["abc", "", "1e9", "-0", "nan"]),
)


@st.composite
def specs(draw) -> str:
    kind = draw(st.sampled_from(["name", "phi", "raw", "junk"]))
    if kind == "name":
        return draw(st.sampled_from(NAMES))
    if kind == "phi":
        extra = draw(st.sampled_from(["", ",alpha=1.3", ",gamma=0", ",beta=x", ",dropout=0.9"]))
        return f"phi={draw(numbers)}{extra}"
    if kind == "raw":
        keys = draw(st.permutations(["w", "d", "r"]))
        drop = draw(st.integers(min_value=0, max_value=1))
        return ",".join(f"{k}={draw(numbers)}" for k in keys[drop:])
    return draw(st.text(max_size=12))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command=st.sampled_from(["summary", "compare"]),
    spec=specs(),
    other=specs(),
    resolution=st.one_of(st.none(), st.integers(min_value=-5, max_value=20000)),
    batch=st.one_of(st.none(), st.integers(min_value=-2, max_value=4)),
    fmt=st.sampled_from(["json", "json", "csv", "table", "bad"]),
)
def test_any_input_gives_a_clean_outcome(command, spec, other, resolution, batch, fmt) -> None:
    args = [command, spec] + ([other] if command == "compare" else [])
    if resolution is not None:
        args += ["-r", str(resolution)]
    if batch is not None:
        args += ["-b", str(batch)]
    args += ["-f", fmt]
    result = run(*args)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    if result.exit_code == 0:
        assert result.stderr == ""
        if fmt == "json":
            json.loads(result.stdout)
    else:
        assert result.stdout == "" and result.stderr.startswith("effnet: error: ")
        assert len(result.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- bugs


def _crash(monkeypatch) -> None:
    """A bug inside a command: the measurement divides by zero."""
    import effnet_cli.measurement.counting.summary as summary

    def broken(*args, **kwargs):
        return 1 // 0

    monkeypatch.setattr(summary, "measure_prepared", broken)


def test_a_bug_is_exit_70_with_one_line_asking_for_a_report(monkeypatch) -> None:
    _crash(monkeypatch)
    result = CliRunner().invoke(app, ["summary", "b0", "-f", "json"])
    assert result.exit_code == 70 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("effnet: error: internal error: ZeroDivisionError: ")
    assert "bug in effnet" in line and "report" in line and "EFFNET_DEBUG=1" in line


def test_effnet_debug_shows_the_traceback(monkeypatch) -> None:
    _crash(monkeypatch)
    monkeypatch.setenv("EFFNET_DEBUG", "1")
    result = CliRunner().invoke(app, ["summary", "b0"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_the_test_runner_refuses_an_internal_error(monkeypatch) -> None:
    """conftest.run fails any test that meets a bug, whatever exit code it expected."""
    _crash(monkeypatch)
    with pytest.raises(AssertionError, match="internal error"):
        run("summary", "b0")
