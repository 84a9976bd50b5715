"""Shared reference figures (the design contract's tables, also in the README) and fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from effnet_cli.cli import app

FIXTURES = Path(__file__).parent / "fixtures"

PARAMS = {
    "b0": 5_288_548, "b1": 7_794_184, "b2": 9_109_994, "b3": 12_233_232, "b4": 19_341_616,
    "b5": 30_389_784, "b6": 43_040_704, "b7": 66_347_960, "b8": 87_413_142, "l2": 480_309_308,
}  # fmt: skip
MACS_G = {
    "b0": 0.386, "b1": 0.687, "b2": 0.994, "b3": 1.827, "b4": 4.394, "b5": 10.266,
    "b6": 19.068, "b7": 37.746, "b8": 62.597, "l2": 475.704,
}  # fmt: skip
TORCHVISION = ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7")
REFERENCE = json.loads((FIXTURES / "reference_macs.json").read_text())
"""Params and MACs of every official variant (V1 and V2) by torch's FlopCounterMode on
torchvision's or timm's implementation: ``fixtures/make_flop_reference.py`` made it."""
B0_TABLE1 = [
    (1, "Conv3x3", 224, 32, 1),
    (2, "MBConv1, k3x3", 112, 16, 1),
    (3, "MBConv6, k3x3", 112, 24, 2),
    (4, "MBConv6, k5x5", 56, 40, 2),
    (5, "MBConv6, k3x3", 28, 80, 3),
    (6, "MBConv6, k5x5", 14, 112, 3),
    (7, "MBConv6, k5x5", 14, 192, 4),
    (8, "MBConv6, k3x3", 7, 320, 1),
    (9, "Conv1x1 & Pooling & FC", 7, 1280, 1),
]
B5_RESOLUTIONS = [456, 228, 228, 114, 57, 29, 29, 15, 15]
B5_CHANNELS = [48, 24, 40, 64, 128, 176, 304, 512, 2048]
B5_LAYERS = [1, 3, 5, 5, 7, 7, 9, 3, 1]


@pytest.fixture(scope="session")
def torchvision_reference() -> dict:
    """state_dict keys/shapes, params, BN settings of torchvision 0.29.1's efficientnet_bN."""
    return json.loads((FIXTURES / "torchvision_efficientnet.json").read_text())["variants"]


@pytest.fixture(scope="session")
def torchvision_logits() -> dict:
    return json.loads((FIXTURES / "torchvision_logits.json").read_text())["variants"]


@pytest.fixture
def built_models(monkeypatch) -> list[str]:
    """The names of the EfficientNets constructed while the test runs, in order."""
    from effnet_cli.model.network import EfficientNet

    built: list[str] = []
    original = EfficientNet.__init__

    def counting(self, spec, *args, **kwargs) -> None:
        built.append(spec.name)
        original(self, spec, *args, **kwargs)

    monkeypatch.setattr(EfficientNet, "__init__", counting)
    return built


def run(*args: str):
    """Invoke the CLI in-process; stdout and stderr come back separately. A bug in effnet
    (exit 70, an internal error) fails the test here, whatever the test expected: no test
    may accept a crash as a clean outcome."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code != 70 and "internal error" not in result.stderr, result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def assert_one_line_error(result, code: int, *fragments: str) -> None:
    """Exit code, one 'effnet: error:' line on stderr naming the problem, empty stdout."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("effnet: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def fixed_clock(monkeypatch) -> None:
    """A fixed roofline and latency model: prediction paths run, nothing is calibrated."""
    from effnet_cli.measurement.timing import latency, profiling, trust
    from effnet_cli.measurement.timing.latency import KNEES, Calibration, CostModel
    from effnet_cli.measurement.timing.optimes import PRICE_KINDS
    from effnet_cli.measurement.timing.roofline import Roofline
    from effnet_cli.measurement.timing.training import TrainFit

    line = Roofline("cpu", "fake", 2, 1e11, 1e10, 0.0)
    model = CostModel({k: (1e-6, 1e-11, 1e-10, 1e-10, 0.0, 0.0) for k in PRICE_KINDS},
                      (1.0, 0.0, 0.0), KNEES[0], ("fake",))  # fmt: skip
    fake = Calibration("cpu", "fake", 2, [], 0.0)
    monkeypatch.setattr(profiling, "roofline", lambda device, recalibrate=False: (line, None))
    monkeypatch.setattr(latency, "calibration", lambda *a, **k: (fake, None))
    monkeypatch.setattr(trust, "calibration", lambda *a, **k: (fake, None))
    monkeypatch.setattr(latency, "fit", lambda cal, leave_out=None: model)
    monkeypatch.setattr(profiling, "fit", lambda cal, leave_out=None: model)
    monkeypatch.setattr(latency, "train_fit", lambda cal, leave_out=None: TrainFit(3.0, 1e-5))


@pytest.fixture
def steady(monkeypatch) -> None:
    """The drift probe finds the device as it was calibrated: a test about something else
    is not turned by this noisy machine's drift into a rescaled or recalibrated run
    (tests/test_trust.py drives the drift check itself)."""
    from effnet_cli.measurement.timing import trust
    from effnet_cli.measurement.timing.drift import Drift

    def same(then, extra=None) -> Drift:
        return Drift(dict.fromkeys(then.seconds, 1.0), 0.05, 0.0)

    monkeypatch.setattr(trust, "drift", same)


def calibrate_into(path: Path):
    """A latency calibration run into the cache under ``path`` and written there even when
    the machine was busy (calibration() then serves that run only and caches nothing, and
    the next prediction would calibrate afresh, with other figures than a test holds)."""
    import torch

    from effnet_cli.measurement.timing import latency
    from effnet_cli.measurement.timing.cache import cache_key, cache_path, write_cache

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(path))
        cal, _ = latency.calibration()
        entries = {cache_key("cpu", torch.get_num_threads()): latency._dump(cal)}
        write_cache(cache_path(latency.CACHE_NAME), entries, "latency calibration")
    return cal
