"""Names a package offers without importing the module that defines them until first use.

A measuring package's ``__init__`` must stay light: importing
``effnet_cli.measurement.timing.settings`` (torch-free) runs ``timing/__init__.py`` first,
and the CLI imports such modules before it knows whether torch is needed at all.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each name in ``where`` from the module named beside
    it (relative to ``package``), cached on the package after the first look-up.

    No exported name may equal a submodule's name: importing that submodule would set the
    package attribute to the module and hide the function."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        value = getattr(import_module(f".{where[name]}", package), name)
        setattr(import_module(package), name, value)
        return value

    return __getattr__
