"""Memory: the predicted peak of one step per stage, the real step measured beside it (by
the trace layer's ``tracker``), the largest batch within a limit (``memory``,
``largest_batch``), and each rank's step under data parallelism (``per_rank``)."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(
    __name__, {"memory": "peak", "largest_batch": "peak", "per_rank": "data_parallel"}
)
