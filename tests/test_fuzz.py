"""Fuzzing every command and every option that takes a value: whatever the input, the
outcome is clean — exit 0 with parseable output, or one `effnet: error:` line with exit 1
or 2. A bug (exit 70) fails the test through conftest.run, so a crash is never a pass.

Values mix good, bad and extreme ones. Models stay tiny and timing budgets short, and the
latency calibration and roofline are replaced by fixed ones: this tests the command line,
not the CPU."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from conftest import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TINY = "w=0.5,d=0.3,r=96"
EXPORT_PATH = str(Path(tempfile.gettempdir()) / f"effnet-fuzz-{os.getpid()}.onnx")
"""Where fuzzed exports write (each run replaces it atomically)."""
MODELS = [TINY, "w=0.5,d=0.3,r=64", "b0", "v2-b0", "phi=0.5", "b9", "w=0,d=1,r=64"]
Values = st.SearchStrategy[str]


def v(good: list[str], bad: list[str]) -> Values:
    """A value: two draws in three from the good ones, so commands run as often as they fail."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad))


INTS = v(["1", "2", "3"], ["-1", "0", "x", "1e3", ""])
RES = v(["32", "64"], ["0", "99999", "x"])
FLOATS = v(["0.01", "0.1"], ["0", "-1", "nan", "inf", "x"])
BYTES = v(["4GiB", "1GB", "500MB", "2e9", "10TB"], ["0", "-1", "x", "4 GiB"])
AMP = v(["bfloat16", "float16"], ["fp8", ""])
DEVICES = v(["cpu"], ["meta", "cuda", "cuda:9", "mps", "tpu", ""])
RESERVE = v(["0", "512MiB", "1GB"], ["-1", "x", "nan", "100TB"])
CLASSES = v(["10", "1000"], ["0", "-5", "x"])
FLAG = None

OPTIONS: dict[str, dict[str, Values | None]] = {  # option → its values (None: a flag)
    "summary": {"-r": RES, "-b": INTS, "--num-classes": INTS,
                "--device": v(["cpu", "meta"], ["cuda", "x"]),
                "--dtype": v(["float16", "int8"], ["x"]), "--engine": v(["fast", "auto"], ["x"]),
                "--pooling": v(["avg", "max"], ["x"]), "--layers": v(["1", "2"], ["0", "x"]),
                "--weights": v(["/nonexistent.pt"], [""]), "--no-top": FLAG, "--blocks": FLAG},
    "compare": {"-r": RES, "-b": INTS, "--dtype": v(["bfloat16"], ["x"]),
                "--engine": v(["fast"], ["x"]), "--device": v(["meta"], ["x"]),
                "--num-classes": INTS},
    "list": {"-b": INTS, "--num-classes": INTS, "--dtype": v(["int8"], ["float64"])},
    "scale": {"--phi": v(["0", "1", "2.5"], ["-1", "nan", "x", "40"]), "--alpha": FLOATS,
              "--beta": FLOATS, "--gamma": FLOATS, "--base-resolution": v(["64"], ["0", "x"]),
              "--sweep": v(["0:3", "0:2:0.5"], ["3:0", "0:x", "0:1:0", "x"]),
              "--search": FLAG, "--grid-step": v(["0.1", "0.2"], ["0", "-1", "x"]),
              "--tolerance": v(["0.05"], ["0", "-1", "x"]), "--top": INTS, "-b": INTS,
              "--base": v(["b0", "resnet50", "mobilenetv2", "lite"], ["v2", "resnet101", "x"]),
              "--num-classes": CLASSES},
    "bench": {"--device": DEVICES, "-b": INTS, "-r": RES, "--iters": INTS,
              "--seconds": FLOATS, "--warmup": INTS, "--amp": AMP, "--threads": INTS,
              "--channels-last": FLAG, "--train": FLAG,
              "--weights": v(["/nonexistent.pt"], [""]), "--num-classes": CLASSES,
              "--runtime": v(["eager", "onnxruntime"], ["x", "tpu"]),
              "--onnx": v(["/nonexistent.onnx"], [""]), "--quantize": v(["int8"], ["int4", ""])},
    "memory": {"-b": INTS, "-r": RES, "--train": FLAG,
               "--optimizer": v(["sgd", "adam", "adamw", "none"], ["rmsprop"]),
               "--device": v(["cpu", "meta"], ["cuda", "x"]), "--max-batch": FLAG,
               "--limit": BYTES, "--amp": AMP, "--channels-last": FLAG, "--reserve": RESERVE,
               "--num-classes": CLASSES,
               "--checkpoint": v(["3", "2-4", "1,3", "all", "auto"],
                                 ["0", "3-", "5-3", "a", "", "99"]),
               "--world-size": v(["1", "2"], ["0", "-1", "3", "x", ""]),
               "--strategy": v(["ddp", "zero1", "fsdp"], ["zero3", ""]), "--bucket-view": FLAG},
    "profile": {"--device": DEVICES, "-b": INTS, "-r": RES, "--iters": INTS,
                "--warmup": INTS, "--op-steps": INTS, "--amp": AMP, "--threads": INTS,
                "--train": FLAG, "--predict-only": FLAG, "--channels-last": FLAG,
                "--num-classes": CLASSES, "--seconds": FLOATS, "--recalibrate": FLAG,
                "--weights": v(["/nonexistent.pt"], [""]),
                "--runtime": v(["eager", "onnxruntime"], ["compile", "x"]),
                "--onnx": v(["/nonexistent.onnx"], [""]), "--quantize": v(["int8"], ["int4", ""]),
                "--checkpoint": v(["3", "1-2", "all"], ["auto", "0", "x", "99"])},
    "budget": {"--max-macs": v(["2G", "0.4G", "1e30"], ["0", "-1", "x"]),
               "--max-params": v(["10M"], ["0", "x"]), "--max-weights": BYTES,
               "--dtype": v(["float16"], ["int4"]), "--max-memory": BYTES, "-b": INTS,
               "--train": FLAG, "--optimizer": v(["adam"], ["x"]), "--amp": AMP,
               "--max-batch": FLAG, "--max-latency": v(["30ms", "1s"], ["0", "x", "5"]),
               "--device": v(["cpu", "meta"], ["cuda"]), "-r": v(["64"], ["0", "x"]),
               "--phi-step": v(["0.5"], ["0.3", "0", "x"]),
               "--phi-max": v(["0", "1"], ["40", "-1", "x"]), "--reserve": RESERVE,
               "--num-classes": CLASSES, "--alpha": FLOATS, "--beta": FLOATS, "--gamma": FLOATS,
               "--runtime": v(["eager", "onnxruntime"], ["compile", "x"]),
               "--checkpointing": FLAG, "--world-size": v(["1", "2"], ["0", "-1", "x", ""]),
               "--strategy": v(["ddp", "zero1"], ["zero3", ""]), "--bucket-view": FLAG},
    "paper": {"--threads": v(["1", "2"], ["0", "-1", "x"]), "--iters": v(["1"], ["0", "x"]),
              "--warmup": v(["0"], ["-1", "x"])},
    "export": {"-r": RES, "-b": INTS, "--dynamic-batch": FLAG,
               "--opset": v(["18", "20"], ["17", "99", "x"]),
               "--weights": v(["/nonexistent.pt"], [""])},
}  # fmt: skip
NOT_FUZZED = {"--format", "--output", "--export", "--plot", "--wide", "--measure", "--compile"}
"""Options left out of the draw: the format is drawn for every line, output files and
plots have tests of their own (test_outputs.py), --wide changes only the terminal, and
--measure and --compile take seconds per draw (test_budget.py, test_bench.py run them)."""
FIRST = {  # what each command needs before its options, drawn from
    "summary": lambda draw: [draw(st.sampled_from(MODELS))],
    "compare": lambda draw: [draw(st.sampled_from(MODELS)), draw(st.sampled_from(MODELS))],
    "list": lambda draw: [],
    "scale": lambda draw: draw(st.sampled_from([["--phi", "2"], ["--sweep", "0:2"], ["--search"]])),
    "bench": lambda draw: [draw(st.sampled_from(MODELS[:2] + MODELS[5:]))],
    "memory": lambda draw: [draw(st.sampled_from(MODELS))],
    "profile": lambda draw: [draw(st.sampled_from(MODELS[:2] + MODELS[5:]))],
    "budget": lambda draw: draw(
        st.sampled_from([["--max-macs", "1G"], ["--max-memory", "2GiB"], ["--max-latency", "40ms"]])
    ),
    "paper": lambda draw: [draw(st.sampled_from(["table1", "table2", "table3", "table5"]))],
    "export": lambda draw: [draw(st.sampled_from(["w=0.25,d=0.2,r=32", "b9"])), EXPORT_PATH],
}
QUICK = {"bench": ["--iters", "2", "--warmup", "0"], "profile": ["--iters", "2", "--warmup", "0",
                                                                 "--op-steps", "1"]}  # fmt: skip
"""Defaults that keep a valid timing run short; the drawn options come after and win."""


@st.composite
def command_lines(draw, command: str) -> list[str]:
    args = [command, *FIRST[command](draw), *QUICK.get(command, [])]
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONS[command])), max_size=3, unique=True))
    for option in chosen:
        values = OPTIONS[command][option]
        args += [option] if values is None else [option, draw(values)]
    return [*args, "-f", draw(st.sampled_from(["json", "csv", "markdown", "table"]))]


def _clean(args: list[str]) -> None:
    result = run(*args)  # a bug (exit 70) fails here
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    if result.exit_code != 0:
        assert result.stdout == "", args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("effnet: error: "), (args, lines)
    elif args[-1] == "json":
        json.loads(result.stdout)


SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@pytest.mark.parametrize(
    ("command", "examples"),
    [("summary", 15), ("compare", 10), ("list", 4), ("scale", 15), ("bench", 12),
     ("memory", 15), ("profile", 12), ("budget", 8), ("paper", 8), ("export", 4)],
)  # fmt: skip
def test_every_command_and_option_gives_a_clean_outcome(fixed_clock, command, examples) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=SLOW_OK)
    @given(args=command_lines(command))
    def check(args: list[str]) -> None:
        _clean(args)

    check()


def test_every_option_is_fuzzed_or_named_as_left_out() -> None:
    """A new option joins the fuzzing: every option of every command is drawn above or
    listed, with its reason, in NOT_FUZZED."""
    import typer

    from effnet_cli.cli import app

    for name, command in typer.main.get_command(app).commands.items():
        drawn = set(OPTIONS.get(name, {})) | NOT_FUZZED
        for param in command.params:
            if param.param_type_name == "option":
                assert set(param.opts) & drawn, (name, param.opts)
