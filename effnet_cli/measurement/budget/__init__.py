"""Budget: the paper's constrained problem over every question's figures: which official
variant, which φ and which batch fit the limits (``budget``); ``constraints`` (no torch)
parses the limits, judges, ranks and walks the φ grid."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"budget": "collect"})
