"""Checkpointing's price and plan: the memory each checkpointed stage saves (the memory
engine) against the time its recompute adds (the latency model), and the cheapest stages
that fit a limit (``priced_memory``, ``plan_stages``)."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(
    __name__, {"priced_memory": "checkpoint", "plan_stages": "search", "subset_peaks": "search"}
)
