"""Measurement: runs models and returns report dataclasses; never prints.

Split by the question it answers, over one shared trace layer:
``trace`` (shape probe, simulated memory engine, stage naming, prepare) ←
``counting``, ``memory``, ``timing`` ← ``budget``. Imports run that way only
(``tests/test_layout.py``). Each package's ``__init__`` imports nothing heavy: its public
functions load on first use.
"""
