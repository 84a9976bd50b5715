"""Paper: the EfficientNet paper's Tables 1-4 rebuilt from real models (counting's figures,
and Table 4's latency timed in one alternating run), beside the figures the paper printed
(``arch/paper.py``)."""

from ...lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"paper_table": "tables"})
