"""The trace layer every question shares: the shape probe (``probe``), the simulated
memory engine (``simulate``), how a module path maps to a Table-1 stage (``stages``), the
one path from a spec to a model ready to measure (``prepare``), and the real step under a
live-storage tracker (``tracker``: what memory and bench measure, and the engine is checked
against)."""
