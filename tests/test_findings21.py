"""What a second new user's trial found (issue 21): verdicts a real device can break, labels
that named what was not counted, columns that carried nothing, text copied between commands.
One test (or more) per numbered item; bench's (2, 3) live in test_bench.py."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, run

from effnet_cli.arch.specs import parse_variant
from effnet_cli.headroom import CUDA_RESERVE_BYTES, STORAGE_ONLY, parse_reserve
from effnet_cli.measurement.budget.constraints import budget_constraints, judge
from effnet_cli.measurement.memory.peak import largest_batch, memory
from effnet_cli.reports import Figures

TINY = "w=0.25,d=0.25,r=64"

# ----------------------------------------------------------------------------- item 1


def test_memory_reserve_is_taken_off_the_limit_before_the_largest_batch() -> None:
    """The largest batch fits the limit less the reserve, and one more does not."""
    limit, kept = 64 * 2**20, parse_reserve("16MiB", "meta")
    r = memory(TINY, max_batch=True, limit_bytes=limit, reserve=kept)
    assert (r.reserve_bytes, r.usable_bytes) == (16 * 2**20, 48 * 2**20)
    spec = parse_variant(TINY)
    assert r.max_batch == largest_batch(spec, 64, False, "sgd", r.usable_bytes, "meta")
    one_more = memory(TINY, batch_size=r.max_batch + 1).peak_bytes
    assert r.max_batch_peak_bytes <= r.usable_bytes < one_more
    without = memory(TINY, max_batch=True, limit_bytes=limit)
    assert without.reserve_bytes == 0 and without.max_batch > r.max_batch


def test_memory_shows_the_reserve_and_its_source() -> None:
    result = run("memory", TINY, "--max-batch", "--limit", "64MiB", "--reserve", "16MiB")
    assert result.exit_code == 0, result.stderr
    assert "64.0 MiB (67,108,864 bytes) − reserve 16.0 MiB (--reserve) = 48.0 MiB" in result.stdout
    doc = json.loads(run("memory", TINY, "--max-batch", "--limit", "64MiB", "--reserve", "16MiB",
                         "--format", "json").stdout)  # fmt: skip
    assert doc["reserve_bytes"] == 16 * 2**20 and doc["usable_bytes"] == 48 * 2**20
    assert doc["reserve_source"] == "--reserve"


def test_cuda_has_a_default_allowance_that_the_user_overrides() -> None:
    assert parse_reserve(None, "cuda").nbytes == CUDA_RESERVE_BYTES == 512 * 2**20
    assert parse_reserve(None, "cuda:1").source == "default CUDA allowance"
    assert parse_reserve(None, "cpu").nbytes == parse_reserve(None, "meta").nbytes == 0
    assert parse_reserve("0", "cuda").nbytes == 0
    assert parse_reserve("1GiB", "cuda").nbytes == 2**30
    c = budget_constraints(max_memory="8GiB", device="cuda")
    assert c.reserve_bytes == CUDA_RESERVE_BYTES and c.reserve_source == "default CUDA allowance"
    assert budget_constraints(max_memory="8GiB", device="cuda", reserve="0").reserve_bytes == 0
    assert budget_constraints(max_memory="8GiB").reserve_bytes == 0


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["memory", TINY, "--reserve", "1GiB"], ("--reserve", "--max-batch")),
        (["memory", TINY, "--max-batch", "--limit", "1GiB", "--reserve", "2GiB"],
         ("--reserve", "leaves nothing", "--limit")),
        (["memory", TINY, "--max-batch", "--limit", "1GiB", "--reserve", "-3"],
         ("--reserve", "'-3'", "0 or more")),
        (["memory", TINY, "--max-batch", "--limit", "1GiB", "--reserve", "lots"],
         ("--reserve", "'lots'")),
        (["budget", "--max-macs", "1G", "--reserve", "1GiB"], ("--reserve", "--max-memory")),
        (["budget", "--max-memory", "1GiB", "--reserve", "1GiB"],
         ("--reserve", "leaves nothing", "--max-memory")),
        (["budget", "--max-memory", "1GiB", "--reserve", "nan"], ("--reserve", "'nan'")),
    ],
)  # fmt: skip
def test_bad_reserve_is_one_line(args: list[str], fragments: tuple[str, ...]) -> None:
    assert_one_line_error(run(*args), 2, *fragments)


def test_budget_judges_memory_against_the_limit_less_the_reserve() -> None:
    plain = json.loads(run("budget", "--max-memory", "64MiB", "--format", "json").stdout)
    kept = json.loads(run("budget", "--max-memory", "64MiB", "--reserve", "16MiB",
                          "--format", "json").stdout)  # fmt: skip
    assert kept["constraints"]["reserve_bytes"] == 16 * 2**20
    peaks = {v["variant"]: v["peak_bytes"] for v in plain["variants"]}
    for b in kept["variants"]:
        assert peaks[b["variant"]] == b["peak_bytes"]
        assert b["margins"]["memory"] == pytest.approx(
            (48 * 2**20 - b["peak_bytes"]) / (48 * 2**20)
        )
    fits = {v["variant"] for v in kept["variants"] if v["fits"]}
    assert fits < {v["variant"] for v in plain["variants"] if v["fits"]}
    assert all(v["peak_bytes"] <= 48 * 2**20 for v in kept["variants"] if v["fits"])


def _figures(margin: float, name: str) -> Figures:
    f = Figures(macs=1, params=1, weight_bytes=1, peak_bytes=1, latency_ms=1.0)
    limit = {"memory": "max_memory", "latency": "max_latency", "macs": "max_macs"}[name]
    value = round((1 - margin) * 1000)
    setattr(f, {"memory": "peak_bytes", "latency": "latency_ms", "macs": "macs"}[name], value)
    c = budget_constraints(**{limit: "1000"})
    return judge(f, c)


@pytest.mark.parametrize(
    ("name", "margin", "verdict"),
    [("memory", 0.03, "marginal"), ("memory", 0.06, "fits"), ("memory", -0.01, "fails"),
     ("latency", 0.049, "marginal"), ("latency", 0.2, "fits"),
     ("macs", 0.01, "fits"), ("macs", -0.01, "fails")],
)  # fmt: skip
def test_a_verdict_within_5pct_of_a_movable_limit_is_marginal(
    name: str, margin: float, verdict: str
) -> None:
    """Peak memory and latency, which a real device moves, pass marginally within 5% of
    the limit; MACs are exact, so a pass on them is a pass."""
    f = _figures(margin, name)
    assert f.verdict == verdict
    assert f.fits == (verdict != "fails")
    assert f.marginal == ([name] if verdict == "marginal" else [])


def test_budget_shows_a_marginal_fit_as_marginal_not_a_tick() -> None:
    """B0's inference peak at 1 is 32,361,368 bytes: a limit 2% above it is marginal."""
    limit = str(int(32_361_368 / 0.98))
    out = run("budget", "--max-memory", limit).stdout
    b0 = next(line for line in out.splitlines() if line.split()[:2] == ["1", "b0"])
    assert "≈ marginal: memory" in b0 and "✓" not in b0
    assert "under 5% to spare" in out and STORAGE_ONLY.split(":")[0] in out
    doc = json.loads(run("budget", "--max-memory", limit, "--format", "json").stdout)
    row = next(v for v in doc["variants"] if v["variant"] == "b0")
    assert row["verdict"] == "marginal" and row["fits"] and row["marginal"] == ["memory"]
    assert STORAGE_ONLY in doc["notes"]
    csv_text = run("budget", "--max-memory", limit, "--format", "csv").stdout
    assert ",marginal,memory," in csv_text


def test_every_memory_verdict_says_its_peak_is_tensor_storage_only() -> None:
    for args in (["memory", TINY], ["memory", TINY, "--max-batch", "--limit", "1GiB"],
                 ["budget", "--max-memory", "1GiB"]):  # fmt: skip
        lines = run(*args, "--wide").stdout.splitlines()
        assert STORAGE_ONLY in lines, args
    assert json.loads(run("memory", TINY, "--format", "json").stdout)["storage_only"]


def test_memory_marks_a_largest_batch_near_the_limit_marginal() -> None:
    """The largest batch's peak is at most one sample below the limit, so on a large
    limit it is marginal, and the batch that leaves 5% free is given beside it."""
    r = memory(TINY, max_batch=True, limit_bytes=256 * 2**20)
    usable = r.usable_bytes
    assert r.margin_pct == pytest.approx(100 * (usable - r.max_batch_peak_bytes) / usable)
    assert r.marginal == (r.margin_pct < 5)
    assert r.marginal  # one sample of this model is far under 5% of 256 MiB
    safe = r.headroom_batch
    assert memory(TINY, batch_size=safe).peak_bytes <= 0.95 * usable
    assert memory(TINY, batch_size=safe + 1).peak_bytes > 0.95 * usable
    out = run("memory", TINY, "--max-batch", "--limit", "256MiB", "--wide").stdout
    assert f"marginal (under 5%); batch {safe} leaves 5% free" in out


# ----------------------------------------------------------------------------- item 5


def test_memory_names_autocast_copies_only_under_amp() -> None:
    plain = run("memory", TINY, "--wide").stdout
    assert "autocast" not in plain
    amp = run("memory", TINY, "--amp", "bfloat16", "--wide").stdout
    assert "weights (and autocast's cached bfloat16 copies)" in amp


# ----------------------------------------------------------------------------- item 4


def test_compare_lines_v1_and_v2_up_by_role_in_every_view() -> None:
    """B4 has 9 stages, V2-S 8: V2-S's head sits on the head row, its row 8 is empty, in
    the sparklines as in the tables, and each stage's block kind is shown."""
    out = run("compare", "b4", "v2-s", "--wide").stdout.splitlines()
    sparks = {line.split()[0]: line for line in out if line.split()[:1] in (["b4"], ["v2-s"])
              and "▁" in line}  # fmt: skip
    b4_macs, b4_params = sparks["b4"].split()[1:]
    assert len(b4_macs) == len(b4_params) == 9
    v2 = sparks["v2-s"][sparks["v2-s"].index("v2-s") + 4 :].strip()
    macs, params = v2.split("   ")[:1] + v2.split("   ")[-1:]
    assert len(macs) == 9 and macs[7] == " " and macs[8] != " ", v2
    assert len(params) == 9 and params[7] == " ", v2
    blocks = out.index(next(line for line in out if line.startswith("Per stage: block")))
    rows = {line.split()[0]: line for line in out[blocks + 3 : blocks + 13] if line.strip()}
    assert "Fused-MBConv1, k3x3" in rows["2"] and "MBConv1, k3x3" in rows["2"]
    assert "MBConv4, k3x3, SE0.25" in rows["5"]
    assert rows["8"].split() == ["8", "MBConv6,", "k3x3"]  # V2-S has no 8th stage
    assert rows["head"].count("Conv1x1 & Pooling & FC") == 2


def test_compare_chart_lines_up_the_heads(monkeypatch, tmp_path) -> None:
    """The --plot chart puts both heads over one tick labelled 'head' (the real figure's
    bars are read back before it is saved)."""
    pytest.importorskip("matplotlib")
    from effnet_cli.measurement.counting.analysis import compare
    from effnet_cli.views import plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    specs = [parse_variant("b4"), parse_variant("v2-s")]
    plots.plot_compare(compare(specs), tmp_path / "c.png")
    ax = figures[0].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["1", "2", "3", "4", "5", "6", "7", "8", "head"]
    b4, v2 = (container.patches for container in ax.containers)
    assert len(b4) == 9 and len(v2) == 8
    centre = [round(p.get_x() + p.get_width() / 2) for p in v2]
    assert centre == [1, 2, 3, 4, 5, 6, 7, 9]  # no bar on row 8; the head on the head's row


# ----------------------------------------------------------------------------- item 9


def test_piped_output_has_no_trailing_spaces() -> None:
    import subprocess
    import sys

    for args in (["summary", "b0"], ["compare", "b4", "v2-s"], ["memory", TINY]):
        out = subprocess.run([sys.executable, "-m", "effnet_cli", *args], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        lines = out.splitlines()
        assert len(lines) > 10 and not [line for line in lines if line != line.rstrip()], args


def test_a_table_title_stays_on_one_line_or_breaks_between_phrases() -> None:
    from effnet_cli.views.core import title_lines

    title = "Cost profile, stages 1→9 (per row, tallest = largest stage)"
    assert title_lines(title, 80) == title
    assert title_lines(title, 40) == "Cost profile, stages 1→9\n(per row, tallest = largest stage)"
    assert title_lines("Per stage: input resolution, channels, layers", 30) == (
        "Per stage:\ninput resolution, channels,\nlayers"
    )
    env = {"COLUMNS": "70", "NO_COLOR": "1"}
    from typer.testing import CliRunner

    from effnet_cli.cli import app

    out = CliRunner().invoke(app, ["compare", "b0", "b4"], env=env).stdout.splitlines()
    assert title in out  # the table is 30 columns wide; its title is not wrapped to it
    assert "Per stage: input resolution, channels, layers" in out


def test_sweep_orders_width_before_depth_as_scale_does() -> None:
    sweep = run("scale", "--sweep", "0:2", "--wide").stdout.splitlines()
    header = next(line for line in sweep if line.split()[:2] == ["φ", "w"]).split()
    assert header[1:4] == ["w", "d", "r"]  # found by its first two, checked to the third
    scale = run("scale", "--phi", "2", "--wide").stdout.splitlines()
    rows = [line.split()[0] for line in scale if line.split()[:1] in (["width"], ["depth"])]
    assert rows == ["width", "depth"]


# ----------------------------------------------------------------------------- item 6


def test_list_shows_no_empty_paper_columns_for_v2() -> None:
    out = run("list", "--wide").stdout
    v1, v2 = out.split("EfficientNetV2 B0")
    assert "paper M" in v1 and "top-1 %" in v1
    header = next(line for line in v2.splitlines() if line.split()[:1] == ["Variant"])
    assert header.split() == ["Variant", "w", "d", "r", "dropout", "Params", "M", "MACs", "G",
                              "Weights", "MiB"]  # fmt: skip
    assert "effnet carries no figures from the EfficientNetV2 paper" in v2
    rows = [line for line in v2.splitlines() if line.strip().startswith("v2-")]
    assert len(rows) == 8 and not [row for row in rows if "—" in row]
    assert "image" not in out and "searched" not in out
    doc = json.loads(run("list", "--format", "json").stdout)
    assert all(v["paper"] is None for v in doc["variants"] if v["family"] == "v2")


# ----------------------------------------------------------------------------- item 7


def test_profile_predict_only_drops_the_empty_times_bound_column(fixed_clock) -> None:
    predicted = run("profile", TINY, "--predict-only", "--wide").stdout
    assert "Bound ms" in predicted and "× bound" not in predicted
    measured = run("profile", TINY, "--iters", "2", "--warmup", "0", "--op-steps", "1",
                   "--wide").stdout  # fmt: skip
    assert "× bound" in measured
    doc = json.loads(run("profile", TINY, "--predict-only", "--format", "json").stdout)
    assert all(row["times_bound"] is None for row in doc["stages"])


# ----------------------------------------------------------------------------- item 8


def _helps() -> dict[str, dict[str, str]]:
    """Each command's options' help texts, by command and option."""
    import typer

    from effnet_cli.cli import app

    return {name: {p.opts[0]: p.help or "" for p in command.params if p.param_type_name == "option"}
            for name, command in typer.main.get_command(app).commands.items()}  # fmt: skip


def test_each_commands_device_help_says_what_a_device_does_there() -> None:
    helps = _helps()
    assert "measures its peak" in helps["memory"]["--device"]
    assert "fvcore" not in helps["memory"]["--device"]
    assert "times a few steps" in helps["summary"]["--device"]
    assert "times" not in helps["compare"]["--device"]
    assert len({helps[c]["--device"] for c in ("summary", "compare", "memory")}) == 3


SHARED_HELP = {
    "--format", "--output", "--wide", "--num-classes", "--resolution", "--export", "--plot",
    "--weights", "--threads", "--warmup", "--iters", "--engine", "--alpha", "--beta", "--gamma",
    "--batch-size", "--amp", "--channels-last", "--dtype",
}  # fmt: skip
"""Options whose one help text is true of every command that has them."""


def test_no_help_text_is_copied_between_commands_that_mean_different_things() -> None:
    """An option not in SHARED_HELP has a help text of its own in each command (a text
    copied from another command is how memory's --device came to speak of fvcore)."""
    helps = _helps()
    owners: dict[tuple[str, str], list[str]] = {}
    for command, options in helps.items():
        for option, text in options.items():
            if option not in SHARED_HELP:
                owners.setdefault((option, text), []).append(command)
    timing = ["bench", "profile"]  # one timing loop: their shared options mean the same
    copied = {key: cmds for key, cmds in owners.items() if len(cmds) > 1 and cmds != timing}
    assert not copied, copied


# ----------------------------------------------------------------------------- item 10


def test_a_pipe_is_told_in_one_line_when_calibration_starts(capsys) -> None:
    from effnet_cli.cli.output import phase_ticks
    from effnet_cli.measurement.timing.settings import CALIBRATING

    tick = phase_ticks(None, "EfficientNet-B0")
    tick("timing stages", 0, 10)
    tick(CALIBRATING, 0, 12)
    tick(CALIBRATING, 1, 12)
    tick(CALIBRATING, 12, 12)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("effnet: calibrating the latency model")
    assert "timing 12 small models" in err[0] and "latency.json" in err[0]


def test_calibration_reports_its_start_before_timing_anything(monkeypatch) -> None:
    from effnet_cli.measurement.timing import latency

    events: list[tuple[str, int]] = []
    monkeypatch.setattr(
        latency, "_samples", lambda spec, batch, stages: events.append(("timed", 0))
    )
    probe = latency.ProbeTiming(dict.fromkeys(("matmul", "copy", "model"), 1e-3), 0.05)
    monkeypatch.setattr(latency, "time_probe", lambda extra=None: probe)
    monkeypatch.setattr(latency, "held_out_errors", lambda cal, priced=None: [])
    monkeypatch.setattr(latency, "time_train_step", lambda spec, batch: events.append(("timed", 0)))
    monkeypatch.setattr(latency, "_train_rows", lambda cal: [])
    monkeypatch.setattr(latency, "training_held_out", lambda rows, wgrad: [])
    monkeypatch.setattr(latency, "time_wgrad", lambda: 1e-9)
    monkeypatch.setattr(latency, "fit", lambda cal, leave_out=None: None)
    latency.calibrate(lambda done, total: events.append(("progress", done)))
    plan = len(latency._plan()) + len(latency.TRAIN_CALIBRATION)
    assert events[:2] == [("progress", 0), ("timed", 0)]
    assert [done for kind, done in events if kind == "progress"] == list(range(plan + 1))


def test_budget_and_profile_announce_a_calibration_on_a_pipe(fixed_clock, monkeypatch) -> None:
    """With stderr not a terminal, the first prediction's calibration is one stderr line,
    in budget as in profile (the calibration itself is the fixed one here)."""
    from effnet_cli.measurement.timing import latency, trust

    fake = latency.calibration()[0]

    def calibrating(recalibrate=False, progress=None, plan=None):
        if progress is not None:
            progress(0, 12)
        return fake, None

    monkeypatch.setattr(latency, "calibration", calibrating)
    monkeypatch.setattr(trust, "calibration", calibrating)
    for args in (["budget", "--max-latency", "30ms", "--phi-max", "0"],
                 ["profile", TINY, "--predict-only"]):  # fmt: skip
        err = run(*args).stderr.splitlines()
        assert [line for line in err if "calibrating the latency model" in line], args
