"""Memory: the predicted peak of one step per stage, the real step measured beside it (by
the trace layer's ``tracker``), and the largest batch within a limit (``memory``,
``largest_batch``)."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"memory": "peak", "largest_batch": "peak"})
