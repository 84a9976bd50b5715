"""`effnet paper TABLE`: the paper's Tables 1-4 rebuilt from real models, beside the paper."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PaperRow:
    """One row: what effnet measured (empty where it builds nothing: a comparator the paper
    quotes), what the paper printed, and their difference in percent of the paper's."""

    name: str
    measured: dict[str, Any]
    paper: dict[str, Any]
    delta_pct: dict[str, float] = field(default_factory=dict)
    """(measured − paper) / paper × 100 per figure both sides have: params, macs, ratio."""
    group: str = ""
    """Table 2: the EfficientNet of similar accuracy the row sits with; Table 3: the base
    network; Table 4: the pair."""
    spec: str | None = None
    """The spec effnet built for the row, None where it built nothing."""
    quoted: bool = False
    """True: the paper's figures only; effnet does not build this model (or, in Table 3,
    the paper does not publish how it was scaled)."""
    note: str = ""


@dataclass
class PaperTable:
    """A table of the paper, rebuilt: rows in the paper's order, where its figures come
    from, and how the measured side was made."""

    table: str
    title: str
    source: str
    rows: list[PaperRow]
    setup: dict[str, Any] = field(default_factory=dict)
    """How the measurements were taken (Table 4: device, threads, batch, steps)."""
    notes: list[str] = field(default_factory=list)
