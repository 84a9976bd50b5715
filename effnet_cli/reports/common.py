"""What several reports share: the description of one run of a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

D = TypeVar("D")


@dataclass
class RunSetup(Generic[D]):
    """Which model ran, where, on what input and how: the eight fields bench, memory and
    profile each open with, declared once so the three say them alike.

    A report inherits it, so its JSON keeps these as flat keys, first, in this order.
    ``device`` is the device's name (bench, memory) or, for profile, the device with its
    measured roofline (``DeviceRoofline``, a JSON object).
    """

    variant: str
    title: str
    device: D
    batch_size: int
    resolution: int
    mode: str
    """'inference' (eval, no grad) or 'train' (forward, backward and, for memory, the
    optimizer's step)."""
    amp: str | None
    """The autocast dtype (bfloat16, float16), or None: float32."""
    channels_last: bool
