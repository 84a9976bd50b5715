"""One vocabulary per option: the parser (Typer's enums), the validators below it and the
tables keyed by a choice all agree with ``effnet_cli.choices``."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import pytest

from effnet_cli import choices
from effnet_cli.cli import options
from effnet_cli.errors import UsageError


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (options.Format, choices.FORMATS),
        (options.Engine, choices.ENGINES),
        (options.Pooling, choices.POOLINGS),
        (options.Amp, choices.AMP_DTYPES),
        (options.Optimizer, choices.OPTIMIZERS),
        (options.Dtype, choices.WEIGHT_DTYPES),
        (options.Strategy, choices.STRATEGIES),
    ],
)
def test_typer_enums_offer_exactly_the_choices(enum: type[Enum], values: tuple[str, ...]) -> None:
    assert tuple(member.value for member in enum) == values
    assert all(member.name == member.value and isinstance(member, str) for member in enum)


def test_tables_keyed_by_a_choice_cover_it_exactly() -> None:
    from effnet_cli.arch.families import FAMILIES
    from effnet_cli.measurement.trace.simulate import STATE_PER_PARAM

    assert tuple(FAMILIES) == choices.FAMILY_KEYS
    assert tuple(STATE_PER_PARAM) == choices.OPTIMIZERS
    assert tuple(choices.OPTIMIZER_NAMES) == choices.OPTIMIZERS
    assert tuple(choices.DTYPE_BYTES) == choices.WEIGHT_DTYPES
    assert tuple(choices.STRATEGY_NAMES) == choices.STRATEGIES
    assert set(choices.RUNTIMES) == {"eager", "compile", "onnxruntime"}


def _validators() -> dict[str, tuple[tuple[str, ...], Callable[[str], object]]]:
    """Each validator below the CLI, called with one value of one vocabulary."""
    from effnet_cli.measurement.budget.constraints import budget_constraints
    from effnet_cli.measurement.counting.summary import _choose_engine
    from effnet_cli.measurement.memory.peak import check_step as _check
    from effnet_cli.measurement.timing.settings import BenchSettings
    from effnet_cli.units import check_dtype

    return {
        "bench --amp": (choices.AMP_DTYPES, lambda v: BenchSettings(amp=v).validate()),
        "memory --amp": (choices.AMP_DTYPES, lambda v: _check(False, "sgd", (1, 3, 64, 64), v)),
        "memory --optimizer": (
            choices.OPTIMIZERS,
            lambda v: _check(False, v, (1, 3, 64, 64), None),
        ),
        "budget --amp": (
            choices.AMP_DTYPES,
            lambda v: budget_constraints(max_memory="1GiB", amp=v),
        ),
        "budget --optimizer": (
            choices.OPTIMIZERS,
            lambda v: budget_constraints(max_memory="1GiB", train=True, optimizer=v),
        ),
        "--dtype": (choices.WEIGHT_DTYPES, check_dtype),
        "--engine": (choices.ENGINES, lambda v: _choose_engine(v, "cpu")),
    }


VALIDATED = ("bench --amp", "memory --amp", "memory --optimizer", "budget --amp",
             "budget --optimizer", "--dtype", "--engine")  # fmt: skip


@pytest.mark.parametrize("name", VALIDATED)
def test_validators_accept_the_choices_and_name_them_when_refusing(name: str) -> None:
    validators = _validators()
    assert set(validators) == set(VALIDATED)
    values, validate = validators[name]
    for value in values:
        validate(value)
    with pytest.raises(UsageError) as refused:
        validate("float8")
    assert ", ".join(values) in str(refused.value)
