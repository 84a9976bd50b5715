"""Loading a user's checkpoint: strict, wrapper-tolerant, with one-line mismatch errors; a
reference implementation's own layout (torchvision's ResNet and MobileNetV2) is matched
tensor for tensor, in order."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..files import WeightsError, check_checkpoint_path

__all__ = ["WeightsError", "load_weights"]


def _state_dict_from(obj: object, path: Path) -> dict[str, Tensor]:
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise WeightsError(f"{path}: not a state_dict (expected a dict of tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _mismatch(model: nn.Module, state: dict[str, Tensor], path: Path) -> str | None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    if not (missing or extra or shapes):
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s), e.g. {missing[0]}")
    if extra:
        parts.append(f"{len(extra)} unexpected key(s), e.g. {extra[0]}")
    if shapes:
        k = shapes[0]
        parts.append(
            f"{len(shapes)} shape mismatch(es), e.g. {k}: "
            f"file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        )
    return f"{path}: checkpoint does not fit {model.spec.title}: " + "; ".join(parts)


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a user's checkpoint strictly; any mismatch is one WeightsError naming what differs."""
    path = check_checkpoint_path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise WeightsError(_unreadable(path, exc)) from None
    state = _state_dict_from(obj, path)
    problem = _mismatch(model, state, path)
    if problem:
        state = _in_order(model, state) or {}
        if not state:
            raise WeightsError(problem)
    model.load_state_dict(state, strict=True)
    return model


def _in_order(model: nn.Module, state: dict[str, Tensor]) -> dict[str, Tensor] | None:
    """A checkpoint in the reference implementation's own layout, renamed to effnet's.

    effnet holds every network as ``features.{stage}.{block}`` so that one stage map
    serves all families; torchvision's ResNet (``layer1.0.conv1``) and MobileNetV2 (flat
    ``features.{i}.conv``) name the same tensors otherwise. Both create their tensors in
    the order effnet does, so the file is accepted when, one for one in that order, every
    tensor has the same last name part (weight, bias, running_mean …) and the same shape;
    anything else is refused (None) with the name-based mismatch.
    """
    own = model.state_dict()
    if len(own) != len(state):
        return None
    renamed = {}
    for (key, mine), (theirs, tensor) in zip(own.items(), state.items(), strict=True):
        if key.rpartition(".")[2] != theirs.rpartition(".")[2] or mine.shape != tensor.shape:
            return None
        renamed[key] = tensor
    return renamed


def _unreadable(path: Path, exc: Exception) -> str:
    with open(path, "rb") as handle:
        magic = handle.read(4)
    # torch.save writes a zip archive (PK..) or, in its legacy format, a pickle (0x80 ..).
    if not (magic.startswith(b"PK") or magic.startswith(b"\x80")):
        return f"{path}: not a PyTorch checkpoint (no torch.save header)"
    if "Weights only load failed" in str(exc):
        return (
            f"{path}: holds pickled Python objects (e.g. a whole model), which are not loaded "
            "for safety; save model.state_dict() instead"
        )
    return f"{path}: not a PyTorch checkpoint torch.load can read ({type(exc).__name__})"
