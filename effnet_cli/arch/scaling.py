"""Compound scaling as arithmetic: φ, α, β, γ → d, w, r, the constraint, sweeps and grids.

No torch here: everything the `scale` command derives before it measures a model, so bad
values are rejected (and `--help` answers) without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError
from .families import FAMILIES, V1
from .rules import TARGET, Compound, check_phi, parse_number
from .specs import ResolvedSpec, family_named, resolve_compound, resolve_official


@dataclass(frozen=True)
class Derivation:
    """Every step from a ``Compound`` (φ, α, β, γ, base) to the multipliers the model is
    built with, rounding included."""

    compound: Compound
    depth_multiplier: float
    width_multiplier: float
    resolution_exact: float
    resolution: int
    constraint: float
    constraint_distance: float
    predicted_flops_ratio: float
    doubling_ratio: float

    @property
    def phi(self) -> float:
        return self.compound.phi


def derive(compound: Compound) -> Derivation:
    """Equation 3 of the paper, with the rounding the model applies."""
    compound.check()
    coefficients = compound.coefficients()
    return Derivation(
        compound=compound,
        depth_multiplier=coefficients.depth,
        width_multiplier=coefficients.width,
        resolution_exact=compound.resolution_exact,
        resolution=coefficients.resolution,
        constraint=compound.constraint,
        constraint_distance=compound.constraint - TARGET,
        predicted_flops_ratio=compound.predicted_flops_ratio,
        doubling_ratio=compound.doubling_ratio,
    )


def spec_for(d: Derivation) -> ResolvedSpec:
    """The model a derivation describes (same rules as the `phi=` variant spec)."""
    return resolve_compound(d.compound)


def base_spec(compound: Compound) -> ResolvedSpec:
    """The base network (B0, or ``--base``'s) at the base resolution: the denominator of
    every ratio `scale` shows."""
    base = Compound(0.0, base_resolution=compound.base_resolution, family=compound.family)
    return resolve_compound(base, name=FAMILIES[compound.family].base)


def official_for_phi(phi: float, family: str = V1.key) -> ResolvedSpec | None:
    """The hand-tuned variant the paper made for this φ (B0-B7 for 0-7), else None (every
    other family: none of its variants stands for a φ)."""
    for variant in FAMILIES[family].variants.values():
        if variant.phi is not None and variant.phi == phi:
            return resolve_official(variant.name)
    return None


def base_family(key: str) -> str:
    """`scale --base`: the family whose base network the φ rule scales (a family key or its
    base's name); EfficientNetV2 has no φ, and says so in one line."""
    try:
        family = family_named(key, f"--base {key}")
    except UsageError as exc:
        raise UsageError(str(exc).replace("unknown family", "unknown base")) from None
    if not family.compound:
        raise UsageError(
            f"scale explores EfficientNet's compound rule φ, α, β, γ; {family.title} has "
            f"no φ: scale its base with a spec such as 'effnet summary w=1.1,d=1.2,r=260,"
            f"family={family.key}', or compare its official variants"
        )
    return family.key


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
