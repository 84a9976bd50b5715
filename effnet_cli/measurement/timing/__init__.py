"""Timing: the one timing loop (``loop``), bench, the device's roofline, op-kind times, the
latency model and profile. ``settings`` validates their options without torch."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"benchmark": "bench", "profile": "profiling"})
