"""How figures are written: SI suffixes, binary byte units, ratios, text bars and sparklines."""

from __future__ import annotations

from collections.abc import Sequence


def si(value: float, digits: int = 3) -> str:
    """Compact figure with an SI suffix: 5288548 → '5.29 M', 385814752 → '0.386 G'."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {suffix}"
    return f"{value:.{digits}g}"


def macs_g(value: int) -> str:
    """MACs in G with three decimals, as the reference list gives them (T from 10^12 up)."""
    if value >= 1e12:
        return f"{value / 1e12:.3f} T"
    return f"{value / 1e9:.3f} G"


def nbytes(value: int) -> str:
    """Bytes in binary units (MiB/GiB), as memory is usually reported."""
    for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= scale:
            return f"{value / scale:.1f} {suffix}"
    return f"{value} B"


def hw(pair: Sequence[int]) -> str:
    """'224×224' for a [h, w] pair."""
    return f"{pair[0]}×{pair[1]}"


def pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def ratio(value: float) -> str:
    """'2.57×', '16.4×', '2,422×': three significant digits, never scientific notation."""
    return f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"


_EIGHTHS = " ▏▎▍▌▋▊▉"
_LEVELS = "▁▂▃▄▅▆▇█"


def bar(share: float, cells: int) -> str:
    """A horizontal bar of ``cells`` characters filled to ``share`` (block eighths): it
    reads without colour and copies as text."""
    eighths = round(max(0.0, min(1.0, share)) * cells * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(cells)


def spark(values: Sequence[float]) -> str:
    """One character per value, its height scaled to the largest: '▁▁▄▃▄▇█▃▂'."""
    top = max(values) if values else 0
    if top <= 0:
        return _LEVELS[0] * len(values)
    return "".join(_LEVELS[min(7, int(v / top * 7.999))] for v in values)


def bar_cells(width: int | None) -> int:
    """Bar length for a terminal ``width`` columns wide (two bars share a row); the longest
    when there is no limit."""
    return 30 if width is None else max(6, min(30, (width - 30) // 2))
