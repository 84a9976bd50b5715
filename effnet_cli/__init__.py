"""effnet: an architecture inspector for EfficientNet.

``from effnet_cli import build_model, measure, memory, profile, budget`` gives the Python API.
Each is loaded on first use so that importing the package (as the CLI does for ``--help``)
never imports torch.
"""

from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["__version__", "budget", "build_model", "measure", "memory", "parse_variant", "profile"]

__getattr__ = lazy_exports(
    __name__,
    {
        "build_model": "model.network",
        "measure": "measurement.counting",
        "memory": "measurement.memory",
        "parse_variant": "arch.specs",
        "profile": "measurement.timing",
        "budget": "measurement.budget",
    },
)
