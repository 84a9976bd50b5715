"""Bench settings: validated without torch, so a bad --iters answers at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

AMP_DTYPES = ("bfloat16", "float16")
MAX_ITERS = 100_000


@dataclass
class BenchSettings:
    """How to time: device, input, iteration budget and execution options."""

    device: str = "cpu"
    batch_size: int = 1
    resolution: int | None = None
    num_classes: int = 1000
    warmup: int = 2
    iters: int | None = None
    seconds: float = 5.0
    min_iters: int = 5
    amp: str | None = None
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None
    train: bool = False
    weights: str | Path | None = None

    def validate(self) -> BenchSettings:
        """Reject impossible budgets before torch is asked for anything."""
        for name in ("batch_size", "num_classes", "min_iters"):
            if getattr(self, name) < 1:
                raise UsageError(
                    f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}"
                )
        if self.warmup < 0:
            raise UsageError(f"--warmup must be >= 0, got {self.warmup}")
        if self.iters is not None and not 1 <= self.iters <= MAX_ITERS:
            raise UsageError(f"--iters must be in 1..{MAX_ITERS}, got {self.iters}")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise UsageError(f"--seconds must be a finite number > 0, got {self.seconds:g}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {self.threads}")
        if self.amp is not None and self.amp not in AMP_DTYPES:
            raise UsageError(f"--amp must be one of {', '.join(AMP_DTYPES)}, got '{self.amp}'")
        if self.device == "meta":
            raise UsageError("bench needs a real device (cpu, cuda, cuda:N, mps), not meta")
        return self
