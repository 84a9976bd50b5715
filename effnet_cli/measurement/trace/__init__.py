"""The trace layer every question shares: the shape probe (``probe``), the simulated
memory engine (``simulate``), how a module path maps to a Table-1 stage (``stages``), and
the one path from a spec to a model ready to measure (``prepare``)."""
