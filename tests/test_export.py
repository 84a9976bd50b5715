"""`effnet export`: the ONNX file torch's exporter writes, checked by onnx, run by
onnxruntime against torch's logits, with the model's parameters one for one; bad input is
one line and nothing is half-written."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import FIXTURES, assert_one_line_error, run

from effnet_cli import build_model
from effnet_cli.arch.specs import parse_variant
from effnet_cli.errors import RuntimeFailure
from effnet_cli.measurement.deploy import exporting, extra
from effnet_cli.measurement.deploy.exporting import export_onnx

PARITY = ["b0", "b3", "v2-s", "lite0", "edgetpu-s", "resnet50", "mobilenetv1", "mobilenetv2"]
"""B0, B3, V2-S and one model of every family since added."""


@pytest.mark.parametrize("variant", PARITY)
def test_parity_with_torch_and_every_parameter_in_the_file(variant: str, tmp_path) -> None:
    """onnxruntime's logits equal torch's (float32: max |Δ| ≤ 1e-4, and ≤ 1e-5 of the largest
    logit, since untrained logits can be tiny), at two batch sizes through a dynamic batch."""
    path = tmp_path / f"{variant}.onnx"
    r = export_onnx(parse_variant(variant), path, resolution=64, batch_size=2, dynamic_batch=True)
    assert r.parity["max_abs_diff"] <= 1e-4 and r.parity["rtol"] <= 1e-5
    assert r.parity["batches"] == [2, 3] and r.input_shape == ["batch", 3, 64, 64]
    model = build_model(variant, device="meta")
    assert r.initializer_params == r.params == sum(p.numel() for p in model.parameters())
    assert path.stat().st_size == r.bytes and r.ops["Conv"] > 0
    assert "BatchNormalization" in r.ops  # nothing folded away
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_cli_json_has_the_design_keys_and_loads_weights(tmp_path) -> None:
    """A checkpoint in torchvision's layout (the seeded ResNet-50 of test_families), exported
    at batch 1 and a fixed shape: logits of order 10, still equal."""
    from test_families import _protocol_state

    ref = json.loads((FIXTURES / "families_reference.json").read_text())["variants"]["resnet50"]
    weights = tmp_path / "resnet50.pth"
    torch.save(_protocol_state(ref["state_dict"]), weights)
    out = tmp_path / "r50.onnx"
    result = run("export", "resnet50", str(out), "-r", "96", "--weights", str(weights),
                 "--opset", "18", "-f", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"path", "opset", "bytes", "ops", "parity"} <= set(doc)
    assert doc["opset"] == 18 and doc["input_shape"] == [1, 3, 96, 96]
    assert doc["parity"]["logits_max_abs"] > 1 and doc["parity"]["rtol"] <= 1e-5
    assert doc["weights"] == str(weights) and doc["bytes"] == out.stat().st_size


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_formats(fmt: str, tmp_path) -> None:
    result = run("export", "w=0.25,d=0.2,r=32", str(tmp_path / "t.onnx"), "-f", fmt)
    assert result.exit_code == 0, result.stderr
    if fmt == "csv":
        header, row = result.stdout.strip().splitlines()
        assert "max_abs_diff" in header and "ops_Conv" in header and len(row.split(",")) > 10
    else:
        assert "onnxruntime vs torch" in result.stdout and "BatchNormalization" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "fragments"),
    [(["--opset", "17"], 2, ("--opset 17", "18..")), (["--opset", "99"], 2, ("--opset 99",)),
     (["--weights", "/nonexistent.pt"], 2, ("no such checkpoint",))],
)  # fmt: skip
def test_bad_options_are_one_line(args, code, fragments, tmp_path) -> None:
    path = tmp_path / "x.onnx"
    assert_one_line_error(run("export", "w=0.25,d=0.2,r=32", str(path), *args), code, *fragments)
    assert not path.exists()


def test_unwritable_path_is_one_line(tmp_path) -> None:
    assert_one_line_error(run("export", "b0", "/nonexistent/dir/b0.onnx"), 1, "does not exist")
    assert_one_line_error(run("export", "b0", str(tmp_path)), 2, "is a directory")


def test_a_checkpoint_of_another_model_is_one_line(tmp_path) -> None:
    weights = tmp_path / "b1.pth"
    torch.save(build_model("w=0.25,d=0.3,r=32").state_dict(), weights)
    result = run("export", "w=0.25,d=0.2,r=32", str(tmp_path / "x.onnx"), "--weights", str(weights))
    assert_one_line_error(result, 2, "does not fit")


def test_missing_extra_names_what_to_install(monkeypatch, tmp_path) -> None:
    real = extra.find_spec
    monkeypatch.setattr(extra, "find_spec", lambda n: None if n == "onnxruntime" else real(n))
    result = run("export", "b0", str(tmp_path / "b0.onnx"))
    assert_one_line_error(result, 1, "missing: onnxruntime", "pip install 'effnet[deploy]'")


def test_a_failed_check_leaves_nothing(monkeypatch, tmp_path) -> None:
    """The file is renamed into place only after onnxruntime's parity run: a failure there
    leaves neither the file nor its temporary."""

    def broken(*args, **kwargs):
        raise RuntimeFailure("parity run failed")

    monkeypatch.setattr(exporting, "_parity", broken)
    path = tmp_path / "x.onnx"
    assert_one_line_error(run("export", "w=0.25,d=0.2,r=32", str(path)), 1, "parity run failed")
    assert list(tmp_path.iterdir()) == []
