"""Scaling rules and stated limits: rounding, compound scaling, what the tool accepts.

No torch here, so every bad value is refused before anything heavy is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError
from .families import V1, Coefficients


class SpecError(UsageError):
    """A variant spec or scaling value the tool cannot accept; the message is user-facing."""


DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_GAMMA = 1.2, 1.1, 1.15
BASE_RESOLUTION = V1.base_resolution
TARGET = 2.0
"""The paper's constraint: α·β²·γ² ≈ 2, so that FLOPs grow by about 2^φ."""

MIN_RESOLUTION = 32
"""The network's total stride: below it the last stages see a 1×1 map (Keras' min_size too)."""
MAX_RESOLUTION = 16_384
MAX_BLOCKS = 1_000
"""Blocks in one model (L2 has 88, φ=12 has 144): beyond it building becomes a hang."""
MAX_WIDTH = 50.0
"""Width multiplier (L2 is 4.3, φ=41 at β=1.1 reaches it)."""


def round_filters(
    channels: int, width: float, divisor: int = V1.divisor, round_limit: float = V1.round_limit
) -> int:
    """Scale a channel count by ``width`` and round to a multiple of ``divisor``; with a
    ``round_limit`` (V1's released code: 0.9), never further down than that fraction."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < round_limit * scaled:
        rounded += divisor
    return rounded


def round_repeats(layers: int, depth: float) -> int:
    """Scale a stage's layer count by ``depth``, rounding up as the paper's code does."""
    return math.ceil(layers * depth)


def parse_number(text: str, label: str) -> float:
    """A finite float from user text; the error quotes ``label`` (e.g. "'phi=abc'")."""
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{label} is not a number") from None
    if not math.isfinite(value):
        raise SpecError(f"{label} must be a finite number")
    return value


def check_positive(key: str, value: float) -> float:
    """Reject zero, negative, NaN and infinite multipliers with a message naming the value."""
    if not math.isfinite(value) or value <= 0:
        raise SpecError(f"{key} must be a finite number > 0, got {value:g}")
    return value


def check_phi(value: float) -> float:
    """φ may be fractional or 0 (B0 itself) but not negative: the base network is the floor."""
    if not math.isfinite(value) or value < 0:
        raise SpecError(f"phi must be a finite number >= 0, got {value:g}")
    return value


def check_resolution(value: int, what: str = "resolution") -> int:
    """Input sizes the tool accepts: from the network's total stride to a stated ceiling."""
    if not MIN_RESOLUTION <= value <= MAX_RESOLUTION:
        raise SpecError(
            f"{what} {value} is outside {MIN_RESOLUTION}..{MAX_RESOLUTION} px "
            f"(the network downsamples by 32; the ceiling keeps models analysable)"
        )
    return value


def check_dropout(value: float) -> float:
    """Dropout is a probability in [0, 1)."""
    if not 0 <= value < 1:
        raise SpecError(f"dropout must be in [0, 1), got {value:g}")
    return value


def _power(base: float, exponent: float) -> float:
    try:
        return base**exponent
    except OverflowError:
        return math.inf


@dataclass(frozen=True)
class Compound:
    """The inputs of compound scaling (the paper's equation 3): φ, α, β, γ and the base
    resolution. One value, so the five numbers never travel apart."""

    phi: float
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    gamma: float = DEFAULT_GAMMA
    base_resolution: int = BASE_RESOLUTION
    family: str = V1.key
    """The family whose base network is scaled (B0's by default; the paper's Table 3 scales
    MobileNets and ResNet-50 by the same rule)."""

    def check(self) -> Compound:
        """φ ≥ 0; α, β, γ finite and > 0; the base resolution within the stated limits."""
        check_phi(self.phi)
        for key in ("alpha", "beta", "gamma"):
            check_positive(key, getattr(self, key))
        check_resolution(self.base_resolution, "base resolution")
        return self

    @property
    def constraint(self) -> float:
        """α·β²·γ²: the FLOPs factor of one step of φ."""
        return self.alpha * self.beta**2 * self.gamma**2

    @property
    def predicted_flops_ratio(self) -> float:
        """(α·β²·γ²)^φ: what the formula predicts for FLOPs relative to B0."""
        return _power(self.constraint, self.phi)

    @property
    def doubling_ratio(self) -> float:
        """2^φ: the paper's intended growth."""
        return _power(TARGET, self.phi)

    @property
    def resolution_exact(self) -> float:
        return self.base_resolution * self.gamma**self.phi

    def coefficients(self, dropout: float = V1.dropout) -> Coefficients:
        """d = α^φ, w = β^φ, r = base·γ^φ rounded to the nearest pixel."""
        try:
            width, depth, exact = self.beta**self.phi, self.alpha**self.phi, self.resolution_exact
        except OverflowError:
            raise SpecError(
                f"phi={self.phi:g} overflows α^φ, β^φ or γ^φ: far past the limits "
                f"({MAX_BLOCKS:,} blocks, width {MAX_WIDTH:g}, {MAX_RESOLUTION} px)"
            ) from None
        return Coefficients(width, depth, math.floor(exact + 0.5), dropout)

    def at(self, phi: float) -> Compound:
        """The same α, β, γ and base at another φ."""
        return Compound(phi, self.alpha, self.beta, self.gamma, self.base_resolution, self.family)
