"""What a memory verdict leaves out, and how near a limit a verdict may be before it is only
marginal. No torch: memory and budget check their options with it before anything loads.

effnet's peak is the bytes of live tensor storages. A real device needs more than that: on
CUDA the context (the driver's and libraries' code and data, a few hundred MiB), the caching
allocator's rounding and the blocks it keeps, and cuDNN/cuBLAS workspaces; on a CPU oneDNN's
scratch. ``--reserve`` keeps headroom for them: it is taken off the limit before anything is
judged against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError
from .units import parse_bytes

CUDA_RESERVE_BYTES = 512 * 2**20
"""The default --reserve on a CUDA device: torch's CUDA context takes about 300-500 MiB once
the first kernel loads (less with lazy module loading, more with cuDNN's and cuBLAS's
workspaces), and the caching allocator rounds every block up. 512 MiB covers a typical
context and leaves some room for the rest; give --reserve to say what your card needs."""

MARGINAL = 0.05
"""A figure that a real device can move (a peak of tensor storage only, a predicted time)
and that passes its limit with less than this share of the limit to spare is marginal."""

STORAGE_ONLY = (
    "Peak = tensor storage only: the CUDA context, the caching allocator's rounding and "
    "library workspaces (cuDNN, cuBLAS, oneDNN) are not in it; --reserve keeps headroom "
    "for them."
)


@dataclass(frozen=True)
class Reserve:
    """Headroom kept free of a memory limit, and where its size came from."""

    nbytes: int
    source: str
    """'--reserve', 'default CUDA allowance' or 'none'."""

    def usable(self, limit: int) -> int:
        """What is left of ``limit`` for tensors."""
        return limit - self.nbytes


def default_reserve(device: str) -> Reserve:
    """No reserve on the CPU and meta (give --reserve for the device you target); the
    CUDA allowance on a CUDA device."""
    if device.startswith("cuda"):
        return Reserve(CUDA_RESERVE_BYTES, "default CUDA allowance")
    return Reserve(0, "none")


def parse_reserve(text: str | None, device: str) -> Reserve:
    """--reserve as given (0 turns the default off), or the device's default."""
    if text is None:
        return default_reserve(device)
    return Reserve(parse_bytes(text, "--reserve", zero_ok=True), "--reserve")


def check_reserve(reserve: Reserve, limit: int | None, limit_option: str) -> None:
    """A reserve must leave something of the limit (exit 2)."""
    if limit is not None and reserve.nbytes >= limit:
        raise UsageError(
            f"--reserve of {reserve.nbytes:,} bytes ({reserve.source}) leaves nothing of "
            f"{limit_option} ({limit:,} bytes): lower --reserve or raise {limit_option}"
        )


def marginal(margin: float | None) -> bool:
    """Whether a passing figure's margin, (limit − figure) / limit, is under 5%."""
    return margin is not None and 0 <= margin < MARGINAL
