"""`effnet budget`: the limits, the figures against them, the ranking, the φ search, the
views, and one line for every bad value."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest
from conftest import assert_one_line_error, calibrate_into, run

from effnet_cli import budget
from effnet_cli.arch.specs import OFFICIAL
from effnet_cli.errors import UsageError
from effnet_cli.measurement.budget import collect as collect_module
from effnet_cli.measurement.budget.constraints import budget_constraints, judge, largest_phi, rank
from effnet_cli.measurement.counting.summary import measure
from effnet_cli.measurement.memory.peak import memory
from effnet_cli.measurement.trace.simulate import predict
from effnet_cli.model import build_model
from effnet_cli.reports import BudgetRow
from effnet_cli.units import parse_bytes, parse_count, parse_ms
from effnet_cli.views.budget import budget_view
from effnet_cli.views.core import render

GIB = 2**30


@pytest.fixture(scope="module")
def macs_2g():
    """The README's first question: under 2 GMACs and 20 MB of float16 weights."""
    return budget(max_macs="2G", max_weights="20MB", dtype="float16")


# ----------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("text", "count"), [("2G", 2 * 10**9), ("2e9", 2 * 10**9), ("500M", 5 * 10**8), ("20k", 20_000)]
)
def test_counts_are_decimal(text: str, count: int) -> None:
    assert parse_count(text, "--max-macs") == count


@pytest.mark.parametrize(
    ("text", "size"),
    [("20MB", 20 * 10**6), ("20MiB", 20 * 2**20), ("1.5GiB", 3 * 2**29), ("24GB", 24 * 10**9),
     ("2e9", 2 * 10**9)],
)  # fmt: skip
def test_sizes_are_decimal_or_binary_by_their_unit(text: str, size: int) -> None:
    assert parse_bytes(text, "--max-weights") == size


@pytest.mark.parametrize(("text", "ms"), [("30ms", 30.0), ("0.5s", 500.0), ("250us", 0.25),
                                          ("30", 30.0)])  # fmt: skip
def test_durations_are_in_milliseconds(text: str, ms: float) -> None:
    assert parse_ms(text, "--max-latency") == pytest.approx(ms)


@pytest.mark.parametrize("text", ["0", "-1ms", "30min", "abc", "nan", "inf"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="--max-latency"):
        parse_ms(text, "--max-latency")


# ----------------------------------------------------------------------------- rules


def test_options_that_qualify_a_missing_limit_are_refused() -> None:
    cases = [
        ({}, "at least one limit"),
        ({"max_macs": "2G", "dtype": "float16"}, "--max-weights"),
        ({"max_macs": "2G", "train": True}, "--max-memory"),
        ({"max_macs": "2G", "max_batch": True}, "--max-memory"),
        ({"max_macs": "2G", "measure": True}, "--max-latency"),
        ({"max_macs": "2G", "batch_size": 8}, "--batch-size"),
        ({"max_memory": "1GiB", "optimizer": "adam"}, "--train"),
        ({"max_latency": "30ms", "device": "meta"}, "not meta"),
    ]
    for options, fragment in cases:
        with pytest.raises(UsageError, match=fragment):
            budget_constraints(**options)


def test_memory_without_a_batch_searches_the_largest_batch() -> None:
    assert budget_constraints(max_memory="4GiB").max_batch
    assert not budget_constraints(max_memory="4GiB", batch_size=8).max_batch
    assert budget_constraints(max_memory="4GiB", batch_size=8, max_batch=True).max_batch


def test_judge_gives_margins_and_names_the_limits_exceeded() -> None:
    c = budget_constraints(max_macs="1G", max_params="10M")
    row = BudgetRow(variant="x", title="X", family="v1", resolution=224, batch_size=1,
                    top1=None, macs=1_250_000_000, params=5_000_000)  # fmt: skip
    judge(row, c)
    assert row.failed == ["macs"] and not row.fits
    assert row.margins == {"macs": pytest.approx(-0.25), "params": pytest.approx(0.5)}


def test_a_limit_not_reached_does_not_count_as_met() -> None:
    c = budget_constraints(max_macs="1G", max_memory="1GiB")
    row = BudgetRow(variant="x", title="X", family="v1", resolution=224, batch_size=1,
                    top1=None, macs=10)  # fmt: skip
    assert not judge(row, c).fits and row.failed == []


def _row(name: str, top1: float | None, fits: bool) -> BudgetRow:
    return BudgetRow(variant=name, title=name, family="v1", resolution=224, batch_size=1,
                     top1=top1, fits=fits)  # fmt: skip


def test_rank_orders_by_paper_top1_then_unranked_then_failing() -> None:
    rows = rank([_row("b0", 77.1, True), _row("b8", None, True), _row("b4", 82.9, False),
                 _row("b2", 80.1, True), _row("v2-s", None, False)])  # fmt: skip
    assert [r.variant for r in rows] == ["b2", "b0", "b8", "b4", "v2-s"]
    assert [r.rank for r in rows] == [1, 2, None, None, None]


# ----------------------------------------------------------------------------- φ search


def _walk(passes, step=0.1, phi_max=16.0):
    seen = []

    def record(phi: float):
        seen.append(phi)
        return passes(phi)

    return largest_phi(record, step, phi_max), seen


def test_search_finds_the_last_grid_point_of_a_monotone_figure() -> None:
    walk, seen = _walk(lambda phi: phi <= 2.55)
    assert walk.best == 2.5 and not walk.reached_max
    assert seen == [0.0, 1.0, 2.0, 3.0, 4.0, 2.9, 2.8, 2.7, 2.6, 2.5]
    assert [ok for phi, ok, _ in walk.checked if phi > 2.5] == [False] * 6


def test_a_figure_that_dips_below_the_limit_again_is_found() -> None:
    """Rounding can make a larger φ fit where a smaller one did not: 2.4 fails, 2.5 fits."""
    walk, _ = _walk(lambda phi: phi <= 2.3 or phi == 2.5)
    assert walk.best == 2.5


def test_a_whole_step_that_fails_once_does_not_end_the_search() -> None:
    walk, seen = _walk(lambda phi: phi <= 1.5 or 2.5 <= phi <= 3.2)
    assert walk.best == 3.2
    assert seen[:6] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_nothing_fits_and_everything_fits() -> None:
    none, seen = _walk(lambda phi: False)
    assert none.best is None and seen == [0.0, 1.0]
    everything, _ = _walk(lambda phi: True, phi_max=2.5)
    assert everything.best == 2.5 and everything.reached_max


def test_the_stated_limits_are_the_ceiling() -> None:
    walk, _ = _walk(lambda phi: None if phi > 3.05 else True)
    assert walk.best == 3.0 and walk.reached_max


@pytest.mark.parametrize(("step", "phi_max"), [(0.3, 16), (0, 16), (1.5, 16), (0.1, -1),
                                               (0.1, 99)])  # fmt: skip
def test_bad_grids_are_refused(step: float, phi_max: float) -> None:
    with pytest.raises(UsageError):
        largest_phi(lambda phi: True, step, phi_max)


# ----------------------------------------------------------------------------- measured


def test_official_figures_are_summarys_figures(macs_2g) -> None:
    rows = {r.variant: r for r in macs_2g.variants}
    assert set(rows) == set(OFFICIAL)
    for name in ("b0", "b3", "l2", "v2-b0", "v2-s"):
        totals = measure(name).totals
        assert (rows[name].macs, rows[name].params) == (totals.macs, totals.params)
        assert rows[name].weight_bytes == totals.params * 2  # float16


def test_best_official_is_the_paper_best_that_fits(macs_2g) -> None:
    fitting = {r.variant for r in macs_2g.variants if r.fits}
    assert fitting == {
        "b0",
        "b1",
        "b2",
        "v2-b0",
        "v2-b1",
        "lite0",
        "lite1",
        "lite2",
        "lite3",
        "edgetpu-s",
        "mobilenetv1",
        "mobilenetv2",
    }  # b3: 24.5 MB of float16 weights
    assert macs_2g.best_official == "b2"
    assert [r.variant for r in macs_2g.variants[:3]] == ["b2", "b1", "b0"]
    assert {r.variant: r.failed for r in macs_2g.variants}["b4"] == ["macs", "weights"]


def test_the_compound_answer_fits_and_the_next_grid_point_does_not(macs_2g) -> None:
    a = macs_2g.compound
    assert a.phi is not None and a.fits
    model = measure(f"phi={a.phi:g}").totals
    assert (a.macs, a.params) == (model.macs, model.params)
    assert a.params * 2 <= 20 * 10**6 and a.macs <= 2 * 10**9
    above = measure(f"phi={a.phi + 0.1:.1f}").totals
    assert above.params * 2 > 20 * 10**6 or above.macs > 2 * 10**9
    assert a.nearest_official in {"b1", "b2", "b3"}
    assert all(not c.fits for c in a.checked if c.phi > a.phi)


def test_each_network_is_built_once(built_models) -> None:
    """Every official and the φ candidates; φ=0 at 224 px is B0's network, built once."""
    report = budget(max_macs="1G")
    assert len(built_models) == len(OFFICIAL) + len(report.compound.checked) - 1
    assert len(set(built_models)) == len(built_models)
    assert "phi=0" not in built_models and "phi=1" in built_models


def test_memory_limits_use_the_memory_engine() -> None:
    report = budget(max_memory="24GB", batch_size=8, train=True, optimizer="adam")
    rows = {r.variant: r for r in report.variants}
    expected = memory("b1", batch_size=8, train=True, optimizer="adam").peak_bytes
    assert rows["b1"].peak_bytes == expected
    assert rows["b1"].max_batch is None  # -b given: no largest-batch search
    assert rows["l2"].failed == ["memory"] and rows["b0"].fits
    assert report.compound.peak_bytes <= 24 * 10**9


def test_largest_batch_per_variant_fits_and_one_more_does_not() -> None:
    report = budget(max_memory="2GiB", max_macs="1G")
    rows = {r.variant: r for r in report.variants}
    for name in ("b0", "v2-b0"):
        best = rows[name].max_batch
        model = build_model(name, device="meta")
        res = rows[name].resolution
        assert predict(model, (best, 3, res, res)).peak_bytes <= 2 * GIB
        assert predict(model, (best + 1, 3, res, res)).peak_bytes > 2 * GIB
    assert report.compound.max_batch is not None and report.compound.max_batch > 1


def test_resolution_applies_to_every_model() -> None:
    report = budget(max_macs="1G", resolution=128)
    assert {r.resolution for r in report.variants} == {128}
    assert {c.resolution for c in report.compound.checked} == {128}


# ----------------------------------------------------------------------------- latency


def _fake_latency(monkeypatch, per_gmac_ms: float = 10.0) -> list[str]:
    """A stand-in for the latency model: proportional to the MACs of the trace it is given,
    with a note as a calibration cache would give one."""
    calls: list[str] = []

    def fake(spec, trace, shape, model):
        calls.append(spec.name)
        macs = sum(op.macs for op in trace.ops if op.kind in ("conv", "linear"))
        return macs / 1e9 * per_gmac_ms

    loaded = SimpleNamespace(note="latency cache: fake", band=lambda ms: None, state=None)
    monkeypatch.setattr(
        collect_module,
        "load_latency_model",
        lambda progress=None, train=False, runtime="eager": loaded,
    )
    monkeypatch.setattr(collect_module, "predicted_latency_ms", fake)
    return calls


def test_latency_limit_asks_the_latency_model_per_candidate(monkeypatch) -> None:
    calls = _fake_latency(monkeypatch)
    report = budget(max_latency="20ms")  # 2 GMACs at 10 ms per GMAC
    rows = {r.variant: r for r in report.variants}
    assert rows["b3"].fits and not rows["b4"].fits and rows["b4"].failed == ["latency"]
    assert rows["b3"].latency_source == "predicted"
    assert rows["b3"].latency_ms == pytest.approx(rows["b3"].macs / 1e8)
    assert len(calls) == len(OFFICIAL) + sum(1 for c in report.compound.checked)
    assert report.latency_notes == ["latency cache: fake"]
    assert report.compound.macs <= 2 * 10**9


def _timing(spec, p90: float = 1.0) -> SimpleNamespace:
    """What bench returns, as far as the budget reads it: 1 ms median."""
    return SimpleNamespace(title=spec.title, latency_ms={"median": 1.0, "p90": p90})


def test_measure_times_only_candidates_that_meet_the_other_limits(monkeypatch) -> None:
    _fake_latency(monkeypatch)
    timed: list[str] = []

    def fake_timing(spec, c):
        timed.append(spec.name)
        return _timing(spec)

    monkeypatch.setattr(collect_module, "measured_latency", fake_timing)
    report = budget(max_latency="20ms", max_params="10M", measure=True, phi_max=2)
    rows = {r.variant: r for r in report.variants}
    assert set(timed) >= {"b0", "b1", "b2", "v2-b0"}  # params ≤ 10 M
    assert not set(timed) & {"b3", "b4", "l2", "v2-s"}  # over 10 M parameters
    assert rows["b2"].latency_source == "measured" and rows["b2"].latency_ms == 1.0
    assert rows["b2"].predicted_latency_ms == pytest.approx(rows["b2"].macs / 1e8)


def test_measure_does_not_time_what_is_predicted_far_over(monkeypatch) -> None:
    """At 100 ms per GMAC and a 20 ms limit, models predicted above 100 ms are not timed."""
    _fake_latency(monkeypatch, per_gmac_ms=100.0)
    timed: list[str] = []
    noisy = lambda spec, c: timed.append(spec.name) or _timing(spec, p90=3.0)  # noqa: E731
    monkeypatch.setattr(collect_module, "measured_latency", noisy)
    report = budget(max_latency="20ms", measure=True, phi_max=2)
    officials = {r.variant: r for r in report.variants}
    assert set(timed) & set(officials) == {
        "b0",
        "b1",
        "b2",
        "v2-b0",
        "lite0",
        "lite1",
        "lite2",
        "mobilenetv1",
        "mobilenetv2",
    }  # ≤ 100 ms
    assert officials["v2-b1"].latency_source == "predicted" and not officials["v2-b1"].fits
    assert officials["b2"].fits  # timed at the fake's 1 ms
    assert any("not timed" in note and "b3" in note for note in report.notes)
    assert report.compound.phi == 1.0  # φ = 1.1 is predicted at 110 ms: not timed, fails
    markdown = render(budget_view(report), "markdown")
    assert "| Predicted ms | Measured ms |" in markdown and "| not timed |" in markdown
    assert "EfficientNet-B0's p90 is 3.0× its median: the machine was busy" in markdown


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A latency calibration run once into a cache of this module's own."""
    path = tmp_path_factory.mktemp("cache")
    return str(path), calibrate_into(path)


def test_latency_is_the_latency_models_estimate(calibrated, steady, monkeypatch) -> None:
    from effnet_cli.measurement.timing.latency import estimate, fit
    from effnet_cli.measurement.trace.probe import probe_forward

    cache, cal = calibrated
    monkeypatch.setenv("XDG_CACHE_HOME", cache)
    report = budget(max_latency="25ms", max_macs="1G", phi_max=1)
    rows = {r.variant: r for r in report.variants}
    for name in ("b0", "v2-b1"):
        res = rows[name].resolution
        trace = probe_forward(build_model(name, device="meta"), (1, 3, res, res))
        expected = estimate(trace, fit(cal), report.calibration.scale).total_ms  # drift
        assert rows[name].latency_ms == pytest.approx(expected)
        assert rows[name].latency_source == "predicted"
        low, high = rows[name].predicted_range_ms
        assert low < expected < high
        inside = low <= 25 <= high
        assert ("latency" in rows[name].uncertain) == inside
        assert ("latency" in rows[name].failed) == (expected > 25 and not inside)
    assert report.compound.phi is None or report.compound.latency_ms <= 25


def test_measure_times_for_real_once_per_network(calibrated, steady, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", calibrated[0])
    report = budget(max_latency="2s", max_macs="0.4G", measure=True, phi_max=0)
    b0 = next(r for r in report.variants if r.variant == "b0")
    assert b0.latency_source == "measured" and b0.measured_latency_ms > 0
    assert b0.predicted_latency_ms is not None
    assert report.compound.measured_latency_ms == b0.measured_latency_ms  # B0's network
    timed = {r.variant for r in report.variants if r.measured_latency_ms is not None}
    assert timed == {r.variant for r in report.variants if r.macs <= 0.4e9}  # b0, lite0, mbv2


def test_latency_cli_writes_the_models_note_to_stderr(monkeypatch) -> None:
    _fake_latency(monkeypatch)
    result = run("budget", "--max-latency", "20ms", "--phi-max", "2", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("effnet: latency cache: fake") == 1
    doc = json.loads(result.stdout)
    assert doc["constraints"]["max_latency_ms"] == 20.0


# ----------------------------------------------------------------------------- views


def test_json_has_the_design_keys(macs_2g) -> None:
    doc = json.loads(render(budget_view(macs_2g), "json"))
    assert {"constraints", "variants", "best_official", "compound"} <= set(doc)
    row_keys = {"variant", "macs", "params", "weight_bytes", "peak_bytes", "batch_size",
                "latency_ms", "fits", "failed", "top1"}  # fmt: skip
    assert all(row_keys <= set(row) for row in doc["variants"])
    assert {"phi", "width", "depth", "resolution", "macs", "params", "peak_bytes", "latency_ms",
            "nearest_official"} <= set(doc["compound"])  # fmt: skip
    assert doc["constraints"]["max_weight_bytes"] == 20 * 10**6
    assert doc["best_official"] == "b2"


def test_csv_carries_what_json_carries(macs_2g) -> None:
    doc = json.loads(render(budget_view(macs_2g), "json"))
    rows = list(csv.DictReader(io.StringIO(render(budget_view(macs_2g), "csv"))))
    officials = [r for r in rows if r["role"] == "official"]
    assert [r["variant"] for r in officials] == [v["variant"] for v in doc["variants"]]
    for line, row in zip(officials, doc["variants"], strict=True):
        assert int(line["macs"]) == row["macs"] and int(line["weight_bytes"]) == row["weight_bytes"]
        assert line["failed"] == ";".join(row["failed"])
        assert line["max_macs"] == "2000000000" and line["dtype"] == "float16"
    (answer,) = [r for r in rows if r["role"] == "compound"]
    assert float(answer["phi"]) == doc["compound"]["phi"]
    assert answer["nearest_official"] == doc["compound"]["nearest_official"]
    assert sum(r["role"] == "phi_search" for r in rows) == len(doc["compound"]["checked"])
    assert [r["variant"] for r in rows if r["best"] == "True"] == ["b2"]


def test_table_and_markdown_name_the_answer(macs_2g) -> None:
    markdown = render(budget_view(macs_2g), "markdown")
    assert "| 1 | b2 |" in markdown and "paper top-1 %" in markdown
    assert f"phi={macs_2g.compound.phi:g}" in markdown
    table = run("budget", "--max-macs", "2G", "--max-weights", "20MB", "--dtype", "float16")
    assert table.exit_code == 0
    assert "Best official variant" in table.stdout and "b2 (EfficientNet-B2)" in table.stdout


def test_plot_draws_the_budget(tmp_path) -> None:
    import xml.etree.ElementTree as ET

    svg = tmp_path / "budget.svg"
    result = run("budget", "--max-macs", "2G", "--phi-max", "3", "--plot", str(svg))
    assert result.exit_code == 0, result.stderr
    ET.parse(svg)
    text = svg.read_text()
    assert "max-macs 2 G" in text and "largest φ = 2.2" in text and "published" in text


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([], ["at least one limit"]),
        (["--max-macs", "2GB"], ["'2GB'", "count"]),
        (["--max-macs=-5"], ["'-5'"]),
        (["--max-macs", "0"], ["'0'"]),
        (["--max-params", "lots"], ["'lots'"]),
        (["--max-weights", "20M"], ["'20M'", "MiB"]),
        (["--max-weights", "0MB"], ["'0MB'"]),
        (["--max-memory", "4QB"], ["'4QB'"]),
        (["--max-memory=-4GiB"], ["'-4GiB'"]),
        (["--max-latency", "30min"], ["'30min'"]),
        (["--max-latency", "0ms"], ["'0ms'"]),
        (["--max-macs", "2G", "--dtype", "float8"], ["'float8'"]),
        (["--max-macs", "2G", "--dtype", "float16"], ["--max-weights"]),
        (["--max-macs", "2G", "--train"], ["--max-memory"]),
        (["--max-memory", "1GiB", "--optimizer", "adam"], ["--train"]),
        (["--max-memory", "1GiB", "--train", "--optimizer", "lion"], ["'lion'"]),
        (["--max-memory", "1GiB", "--amp", "fp8"], ["'fp8'"]),
        (["--max-macs", "2G", "--measure"], ["--max-latency"]),
        (["--max-macs", "2G", "-b", "4"], ["--batch-size"]),
        (["--max-memory", "1GiB", "-b", "0"], ["'0'"]),
        (["--max-latency", "30ms", "--device", "meta"], ["meta"]),
        (["--max-latency", "30ms", "--device", "tpu"], ["'tpu'"]),
        (["--max-latency", "30ms", "--device", "cuda"], ["CPU only", "--measure"]),
        (["--max-macs", "2G", "--phi-step", "0.3"], ["--phi-step", "0.3"]),
        (["--max-macs", "2G", "--phi-max", "-1"], ["--phi-max"]),
        (["--max-macs", "2G", "--alpha", "0"], ["alpha", "0"]),
        (["--max-macs", "2G", "-r", "5"], ["'5'"]),
        (["--max-macs", "2G", "--num-classes", "0"], ["'0'"]),
        (["--max-macs", "2G", "--format", "xml"], ["'xml'"]),
        (["--max-macs", "2G", "--plot", "chart.gif"], ["chart.gif"]),
    ],
)
def test_bad_budget_input_is_one_line(args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run("budget", *args), 2, *fragments)


def test_a_bad_value_writes_no_output_file(tmp_path) -> None:
    out = tmp_path / "budget.json"
    result = run("budget", "--max-macs", "2XB", "-f", "json", "-o", str(out))
    assert_one_line_error(result, 2, "'2XB'")
    assert not out.exists()


# ----------------------------------------------------------------------------- --world-size


@pytest.mark.parametrize("strategy", ["ddp", "zero1", "fsdp"])
def test_world_size_judges_the_highest_ranks_peak_as_memory_predicts_it(strategy) -> None:
    """budget --world-size's peak of a variant is memory --world-size's per-rank peak (the
    same rank steps), and its largest batch is global: the ranks times the largest batch one
    rank holds, the next per-rank batch over the limit."""
    from effnet_cli.arch.specs import parse_variant
    from effnet_cli.measurement.memory.data_parallel import per_rank
    from effnet_cli.ranks import DataParallel

    spec = parse_variant("b0")
    c = budget_constraints(max_memory="200MiB", train=True, optimizer="adamw", resolution=64,
                           world_size=2, strategy=strategy)  # fmt: skip
    assert c.batch_size == 2 and c.max_batch  # one sample a rank, the largest batch searched
    ev = collect_module.Evaluator(c)
    report = memory(spec, batch_size=4, resolution=64, train=True, optimizer="adamw")
    setting = DataParallel(2, strategy)
    assert ev.peak(spec, 4) == per_rank(spec, report, setting).peak_bytes
    largest, _ = ev.max_batch(spec, ev.peak(spec, 2))
    assert largest > 0 and largest % 2 == 0
    limit = parse_bytes("200MiB", "--max-memory")
    assert ev.peak(spec, largest) <= limit < ev.peak(spec, largest + 2)


@pytest.mark.parametrize("strategy", ["ddp", "zero1", "fsdp"])
def test_world_size_with_checkpointing_plans_each_ranks_step(strategy, fixed_clock) -> None:
    """budget --world-size --checkpointing: the largest global batch with every stage
    checkpointed in every rank, then the cheapest stages that fit it, judged on the highest
    rank. The planned peak is memory --world-size --checkpoint's per-rank peak with those
    stages (simulated, not decomposed), within the limit; one sample more per rank does not
    fit even with every stage checkpointed."""
    from effnet_cli.arch.specs import parse_variant
    from effnet_cli.measurement.memory.data_parallel import per_rank
    from effnet_cli.ranks import DataParallel

    spec, setting = parse_variant("b0"), DataParallel(2, strategy)
    limits = dict(max_memory="200MiB", train=True, optimizer="adamw", resolution=64,
                  world_size=2, strategy=strategy)  # fmt: skip
    ev = collect_module.Evaluator(budget_constraints(**limits, checkpointing=True))
    plain, _ = collect_module.Evaluator(budget_constraints(**limits)).max_batch(
        spec, ev.peak(spec, 2))  # fmt: skip
    largest, chosen = ev.max_batch(spec, ev.peak(spec, 2))
    assert chosen is not None and chosen.recompute_ms > 0
    assert largest > plain and largest % 2 == 0
    planned = ev.plan(spec, largest)
    assert planned is not None and planned[1].stages == chosen.stages

    def rank_peak(batch: int, stages) -> int:
        report = memory(spec, batch_size=batch, resolution=64, train=True, optimizer="adamw",
                        checkpoint=stages)  # fmt: skip
        return per_rank(spec, report, setting).peak_bytes

    limit = parse_bytes("200MiB", "--max-memory")
    assert rank_peak(largest, chosen.stages) == planned[0] <= limit < rank_peak(largest + 2, "all")


BUDGET_RANKS_USAGE = [
    (["--max-macs", "1G", "--world-size", "2"], ("--world-size", "--max-memory")),
    (["--max-memory", "8GiB", "--world-size", "2"], ("--world-size", "--train")),
    (["--max-memory", "8GiB", "--train", "--world-size", "0"], ("--world-size", "0")),
    (["--max-memory", "8GiB", "--train", "--world-size", "4", "-b", "6"], ("6", "4")),
    (["--max-memory", "8GiB", "--train", "--strategy", "zero1"], ("--strategy", "--world-size")),
    (["--max-memory", "8GiB", "--train", "--bucket-view"], ("--bucket-view", "--world-size")),
    (["--max-memory", "8GiB", "--train", "--world-size", "2", "--max-latency", "1s"],
     ("--world-size", "--max-latency", "not modelled")),
    (["--max-memory", "8GiB", "--train", "--world-size", "2", "--strategy", "ring"],
     ("--strategy", "ring")),
]  # fmt: skip


@pytest.mark.parametrize(("args", "fragments"), BUDGET_RANKS_USAGE,
                         ids=[" ".join(a) for a, _ in BUDGET_RANKS_USAGE])  # fmt: skip
def test_world_size_bad_input_is_one_line(args: list[str], fragments: tuple[str, ...]) -> None:
    assert_one_line_error(run("budget", *args), 2, *fragments)


def test_world_size_is_in_the_json_only_when_given() -> None:
    with_ranks = budget_constraints(max_memory="8GiB", train=True, world_size=4, batch_size=8)
    from effnet_cli.views.budget import _constraints

    assert _constraints(with_ranks)["world_size"] == 4
    assert _constraints(with_ranks)["strategy"] == "ddp"
    assert "world_size" not in _constraints(budget_constraints(max_memory="8GiB", train=True))
