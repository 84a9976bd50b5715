"""Whether the optional deploy extra is installed, asked without importing it (or torch)."""

from __future__ import annotations

from importlib.util import find_spec

from ...errors import RuntimeFailure

DEPLOY = ("onnx", "onnxruntime", "onnxscript")
"""What `effnet export` and the onnxruntime runtime need: pip install 'effnet[deploy]'."""


def require_deploy(what: str) -> None:
    """One line naming what to install when any of the deploy extra is missing (exit 1)."""
    missing = [name for name in DEPLOY if find_spec(name) is None]
    if missing:
        raise RuntimeFailure(
            f"{what} needs {', '.join(DEPLOY)} (missing: {', '.join(missing)}): "
            f"pip install 'effnet[deploy]' (or pip install {' '.join(DEPLOY)})"
        )
