"""effnet: an architecture inspector for EfficientNet.

``from effnet_cli import build_model, measure, memory, profile, budget`` gives the Python API.
Each is loaded on first use so that importing the package (as the CLI does for ``--help``)
never imports torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "budget", "build_model", "measure", "memory", "parse_variant", "profile"]

_LAZY = {
    "build_model": "model.network",
    "measure": "measurement.summary",
    "memory": "measurement.peak",
    "parse_variant": "arch.specs",
    "profile": "measurement.profile",
    "budget": "measurement.budget",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'effnet_cli' has no attribute '{name}'")
