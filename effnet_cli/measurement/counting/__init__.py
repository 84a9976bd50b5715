"""Counting: params, MACs and activations per stage and block (``measure``); the compound
scaling views built on it: scale, sweep, search, compare, list (``analysis``)."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"measure": "summary", "measure_prepared": "summary"})
