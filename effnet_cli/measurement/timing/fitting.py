"""The latency model's least squares: non-negative coefficients per op kind, at a footprint
knee. Pure arithmetic on timed samples (torch for the solves); what is timed, and how the
per-kind costs become a step, is ``latency.py``'s."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class OpSample(NamedTuple):
    """One op of a calibration model, as the fit reads it."""

    kind: str
    macs: int
    read: int
    """Bytes read: inputs and weights."""
    write: int
    """Bytes written: the output."""
    seconds: float


def nnls(rows: list[list[float]], target: list[float]) -> list[float]:
    """Least squares with every coefficient ≥ 0, by Lawson and Hanson's active set: a
    feature joins the fit while the residual still pulls its coefficient up, and one whose
    coefficient would turn negative leaves it. The optimum is the one an enumeration of every
    subset of features would find (the problem is convex), in a few small solves instead of
    63 per op kind, which made the fits a tenth of the calibration's time. Columns are
    scaled to unit length for the solves (MACs and byte counts reach 1e9)."""
    a = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(target, dtype=torch.float64)
    norms = a.norm(dim=0)
    norms[norms == 0] = 1.0
    a = a / norms
    n = a.shape[1]
    x = torch.zeros(n, dtype=torch.float64)
    passive: list[int] = []
    tol = 1e-12 * max(1.0, float(y.norm()))
    for _ in range(3 * n):
        pull = a.T @ (y - a @ x)
        free = [j for j in range(n) if j not in passive and pull[j] > tol]
        if not free:
            break
        passive.append(max(free, key=lambda j: float(pull[j])))
        x, passive = _passive_solve(a, y, x, passive)
    return (x / norms).tolist()


def _passive_solve(a: torch.Tensor, y: torch.Tensor, x: torch.Tensor, passive: list[int]
                   ) -> tuple[torch.Tensor, list[int]]:  # fmt: skip
    """The least-squares solution on the passive features, stepping back towards ``x`` and
    dropping the features that reach zero until every passive coefficient is positive."""
    while passive:
        z = torch.zeros_like(x)
        z[passive] = torch.linalg.lstsq(a[:, passive], y.unsqueeze(1)).solution.squeeze(1)
        if bool((z[passive] > 0).all()):
            return z, passive
        neg = [j for j in passive if z[j] <= 0]
        step = min(float(x[j] / (x[j] - z[j])) for j in neg)
        x = x + step * (z - x)
        passive = [j for j in passive if x[j] > 1e-15 * (1 + float(x.abs().max()))]
    return torch.zeros_like(x), passive


KNEES = tuple(mib << 20 for mib in (1, 2, 4, 8, 16, 32, 64))
"""Candidate footprints (bytes read + written) beyond which an op pays the large-tensor
rates: out of cache, and on the CPU fresh pages for its output. The fit picks one."""


def features(macs: int, read: int, write: int, knee: int) -> list[float]:
    big = float(read + write > knee)
    return [1.0, float(macs), float(read), float(write), big * read, big * write]


def fit_kind(samples: list[OpSample], knee: int) -> tuple[list[float], float]:
    """One kind's coefficients at one knee, by least squares weighted by 1/time (a timing's
    noise grows with its length: neither the many tiny ops nor the few large ones rule), and
    the summed squared relative error that picks the knee."""
    rows = [[f / math.sqrt(o.seconds) for f in features(o.macs, o.read, o.write, knee)]
            for o in samples]  # fmt: skip
    target = [math.sqrt(o.seconds) for o in samples]
    coef = nnls(rows, target)
    err = sum(
        ((sum(c * f for c, f in zip(coef, row, strict=True)) - t) / t) ** 2
        for row, t in zip(rows, target, strict=True)
    )
    return coef, err
