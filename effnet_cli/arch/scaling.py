"""Compound scaling as arithmetic: φ, α, β, γ → d, w, r, the constraint, sweeps and grids.

No torch here: everything the `scale` command derives before it measures a model, so bad
values are rejected (and `--help` answers) without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError
from .specs import (
    BASE_RESOLUTION,
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_GAMMA,
    ResolvedSpec,
    check_compound,
    check_phi,
    compound_coefficients,
    parse_number,
    parse_variant,
    resolve_compound,
)

TARGET = 2.0
"""The paper's constraint: α·β²·γ² ≈ 2, so that FLOPs grow by about 2^φ."""


@dataclass(frozen=True)
class Derivation:
    """Every step from (φ, α, β, γ, base) to the multipliers the model is built with."""

    phi: float
    alpha: float
    beta: float
    gamma: float
    base_resolution: int
    depth_multiplier: float
    width_multiplier: float
    resolution_exact: float
    resolution: int
    constraint: float
    constraint_distance: float
    predicted_flops_ratio: float
    doubling_ratio: float


def derive(
    phi: float,
    alpha: float = DEFAULT_ALPHA,
    beta: float = DEFAULT_BETA,
    gamma: float = DEFAULT_GAMMA,
    base_resolution: int = BASE_RESOLUTION,
) -> Derivation:
    """Equation 3 of the paper, with the rounding the model applies."""
    check_compound(phi, alpha, beta, gamma, base_resolution)
    constraint = alpha * beta**2 * gamma**2
    coefficients = compound_coefficients(phi, alpha, beta, gamma, base_resolution)
    exact = base_resolution * gamma**phi
    return Derivation(
        phi=phi,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        base_resolution=base_resolution,
        depth_multiplier=coefficients.depth,
        width_multiplier=coefficients.width,
        resolution_exact=exact,
        resolution=coefficients.resolution,
        constraint=constraint,
        constraint_distance=constraint - TARGET,
        predicted_flops_ratio=_power(constraint, phi),
        doubling_ratio=_power(TARGET, phi),
    )


def _power(base: float, exponent: float) -> float:
    try:
        return base**exponent
    except OverflowError:
        return math.inf


def spec_for(d: Derivation) -> ResolvedSpec:
    """The model a derivation describes (same rules as the `phi=` variant spec)."""
    return resolve_compound(d.phi, d.alpha, d.beta, d.gamma, d.base_resolution)


def base_spec(base_resolution: int) -> ResolvedSpec:
    """B0 at the base resolution: the denominator of every ratio `scale` shows."""
    return resolve_compound(0.0, base_resolution=base_resolution, name="b0")


def official_for_phi(phi: float) -> ResolvedSpec | None:
    """The hand-tuned Bφ for whole φ from 0 to 7 (the paper's B0-B7), else None."""
    if phi == int(phi) and 0 <= phi <= 7:
        return parse_variant(f"b{int(phi)}")
    return None


MAX_SWEEP_ROWS = 200


def parse_sweep(text: str) -> list[float]:
    """START:STOP[:STEP], STOP included (0:7 gives the eight φ of B0-B7); STEP defaults to 1."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise UsageError(f"--sweep '{text}' is not START:STOP[:STEP] (e.g. 0:7 or 0:3:0.5)")
    start, stop = (
        parse_number(parts[0], f"--sweep start '{parts[0]}'"),
        parse_number(parts[1], f"--sweep stop '{parts[1]}'"),
    )
    step = parse_number(parts[2], f"--sweep step '{parts[2]}'") if len(parts) == 3 else 1.0
    if step <= 0:
        raise UsageError(f"--sweep '{text}': STEP must be > 0")
    if stop < start:
        raise UsageError(f"--sweep '{text}' is reversed: STOP must be >= START")
    check_phi(start)
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_SWEEP_ROWS:
        raise UsageError(f"--sweep '{text}' gives {count} rows; the limit is {MAX_SWEEP_ROWS}")
    return [round(start + i * step, 10) for i in range(count)]


@dataclass(frozen=True)
class Candidate:
    """One (α, β, γ) of the grid search, with its constraint."""

    alpha: float
    beta: float
    gamma: float
    constraint: float


MAX_CANDIDATES = 2_000
"""Grid points one --search may measure (step 0.02 at tolerance 0.1 gives 1,381)."""


def _grid(top: float, step: float) -> list[float]:
    return [round(1 + i * step, 6) for i in range(int((top - 1) / step + 1e-9) + 1)]


def search_grid(step: float, tolerance: float, max_alpha: float = 2.0) -> list[Candidate]:
    """α, β, γ ≥ 1 on a grid of ``step`` with |α·β²·γ² − 2| ≤ ``tolerance``.

    α ranges up to ``max_alpha``; β and γ up to √2, beyond which β²γ² alone exceeds 2.
    """
    if not 0 < step <= 1 or not math.isfinite(step):
        raise UsageError(f"--grid-step must be in (0, 1], got {step:g}")
    if not 0 < tolerance < 1 or not math.isfinite(tolerance):
        raise UsageError(f"--tolerance must be in (0, 1), got {tolerance:g}")
    alphas, others = _grid(max_alpha, step), _grid(math.sqrt(TARGET), step)
    out = []
    for a in alphas:
        for b in others:
            for g in others:
                c = a * b * b * g * g
                if abs(c - TARGET) <= tolerance:
                    out.append(Candidate(a, b, g, c))
    if len(out) > MAX_CANDIDATES:
        raise UsageError(
            f"--grid-step {step:g} with --tolerance {tolerance:g} gives {len(out):,} candidates; "
            f"the limit is {MAX_CANDIDATES:,} (use a larger --grid-step or a smaller --tolerance)"
        )
    return out
