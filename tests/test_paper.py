"""`effnet paper`: the paper's Tables 1-4 rebuilt from real models beside the printed
figures. The printed figures are data (arch/paper.py); these tests pin that every measured
figure is the model's own and every delta is computed against the printed one."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import assert_one_line_error, run

from effnet_cli.arch import paper as P
from effnet_cli.measurement.counting.summary import measure
from effnet_cli.measurement.paper import paper_table, tables


def test_table1_is_b0_as_built() -> None:
    t = paper_table("table1")
    assert [r.name for r in t.rows] == [str(i) for i in range(1, 10)]
    assert all(r.measured == r.paper and r.note == "" for r in t.rows)
    assert [r.measured["channels"] for r in t.rows] == [32, 16, 24, 40, 80, 112, 192, 320, 1280]


def test_table2_measures_what_effnet_builds_and_quotes_the_rest() -> None:
    t = paper_table("table2")
    assert [r.name for r in t.rows] == [line.model for line in P.TABLE2]
    built = {r.name: r for r in t.rows if not r.quoted}
    assert set(built) == {f"EfficientNet-B{i}" for i in range(8)} | {"ResNet-50", "ResNet-152"}
    for row in built.values():
        totals = measure(row.spec).totals
        assert (row.measured["params"], row.measured["macs"]) == (totals.params, totals.macs)
        assert row.delta_pct["macs"] == pytest.approx(
            (totals.macs - row.paper["flops"]) / row.paper["flops"] * 100)  # fmt: skip
    resnet = built["ResNet-50"]
    assert resnet.paper["printed"]["params"] == "26M" and resnet.paper["params"] == 26_000_000
    assert resnet.measured["params_ratio"] == pytest.approx(25_557_032 / 5_288_548)
    gpipe = t.rows[-1]
    assert gpipe.quoted and gpipe.measured == {} and gpipe.paper["flops"] is None


def test_table3_builds_the_published_scalings_and_invents_no_compound() -> None:
    t = paper_table("table3")
    names = [r.name for r in t.rows]
    assert names == [f"{n} {s}" for n in ("mobilenetv1", "mobilenetv2", "resnet50", "b0")
                     for s in P.SCALINGS]  # fmt: skip
    rows = {r.name: r for r in t.rows}
    for name in ("mobilenetv2 compound", "resnet50 compound"):
        assert rows[name].quoted and rows[name].spec is None and rows[name].measured == {}
        assert "does not publish" in rows[name].note and rows[name].paper["flops"] > 0
    assert rows["mobilenetv1 compound"].spec == "w=1.2,d=1.4,r=291,family=mobilenetv1"
    assert rows["resnet50 r=2"].spec == "w=1,d=1,r=448,family=resnet50"
    for row in t.rows:
        if row.spec:
            assert row.measured["macs"] == measure(row.spec).totals.macs
    assert rows["mobilenetv1 d=4"].paper == {} and rows["b0 compound"].spec == "phi=2"


class FakeClock:
    """A clock that reads 100 ms for every ResNet-152 step and 20 ms for every B1 step (the
    loop alternates them, warm-up included), so the speed-up is exactly 5."""

    def __init__(self, device) -> None:
        self.calls = 0

    def time(self, step) -> float:
        self.calls += 1
        return 100.0 if self.calls % 2 else 20.0


def test_table4_times_the_pair_alternating_and_reports_the_median_ratio(monkeypatch) -> None:
    monkeypatch.setattr(tables, "Clock", FakeClock)
    t = paper_table("table4", threads=1, iters=3, warmup=1)
    resnet, b1, gpipe, b7 = t.rows
    assert (resnet.measured["latency_ms"], b1.measured["latency_ms"]) == (100.0, 20.0)
    assert b1.measured["ratio"] == 5.0 and b1.paper["ratio"] == 5.7
    assert b1.delta_pct["ratio"] == pytest.approx((5.0 - 5.7) / 5.7 * 100)
    assert gpipe.quoted and b7.quoted and b7.paper["printed"]["speedup"] == "6.1x"
    assert t.setup == {"device": "cpu", "threads": 1, "batch_size": 1, "rounds": 3,
                       "warmup": 1, "ratio_spread": [5.0, 5.0]}  # fmt: skip


def test_table4_runs_for_real() -> None:
    result = run("paper", "table4", "--iters", "1", "--warmup", "0", "-f", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    b1 = doc["rows"][1]
    assert b1["name"] == "EfficientNet-B1" and b1["measured"]["ratio"] > 0
    assert doc["setup"]["threads"] == 1


@pytest.mark.parametrize("fmt", ["csv", "markdown", "table"])
def test_every_format(fmt: str) -> None:
    result = run("paper", "table3", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert len(rows) == 20 and rows[0]["table"] == "table3"
        assert {"measured_macs", "paper_flops", "delta_pct_macs", "note"} <= set(rows[0])
    else:
        assert "ResNet-50 compound scale" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [(["table5"], ("table5",)), (["table2", "--threads", "2"], ("--threads", "Table 4 only")),
     (["table4", "--iters", "0"], ("--iters",)), (["table4", "--threads", "0"], ("--threads",)),
     (["table4", "--warmup", "-1"], ("--warmup",))],
)  # fmt: skip
def test_bad_input_is_one_line(args: list[str], fragments: tuple[str, ...]) -> None:
    assert_one_line_error(run("paper", *args), 2, *fragments)
