"""The vocabularies behind every ``kind``: what a stage or block is built from, where a spec
came from, what an op is, what an op is timed and priced as, and where a Table-1 row sits.

Each was a plain string, one word meaning four things; each is now its own Enum, so a type
says which vocabulary a field holds. Members *are* their strings (a ``str`` mix-in whose
``str()`` and ``format()`` are the string's): JSON, CSV, f-strings, dictionary keys and
``==`` with a plain string behave exactly as the strings did, and a kind read back from a
JSON cache as a plain string still finds its entry. No torch, no other import.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """An Enum whose members are strings and print as their values: Python 3.11's
    ``enum.StrEnum``, which 3.10 (still supported) lacks."""

    __str__ = str.__str__
    __format__ = str.__format__


class BlockKind(StrEnum):
    """What a Table-1 row or a block is built from."""

    CONV = "conv"
    """One conv-bn-activation: the stem and the head."""
    MBCONV = "mbconv"
    """Inverted residual with a depthwise conv (and squeeze-excitation)."""
    FUSED = "fused"
    """Fused-MBConv (EfficientNetV2, EdgeTPU): the expansion and depthwise convs fused into one."""
    BOTTLENECK = "bottleneck"
    """ResNet's bottleneck: 1×1 reduce, 3×3, 1×1 expand, residual (projected when the
    shape changes), activation after the sum."""
    SEPARABLE = "separable"
    """MobileNetV1's depthwise-separable conv: k×k depthwise then 1×1 pointwise, each with
    batch-norm and activation, no residual."""


class SpecKind(StrEnum):
    """Where a model's coefficients came from."""

    OFFICIAL = "official"
    """A released variant (b0-b7, b8, l2, v2-s …): its published coefficients."""
    COMPOUND = "compound"
    """phi=F[,alpha,beta,gamma]: the compound-scaling formula."""
    CUSTOM = "custom"
    """w=W,d=D,r=R: multipliers given directly."""


class StageRole(StrEnum):
    """Where a Table-1 row sits in the network; profile adds the classifier as a row."""

    STEM = "stem"
    BLOCKS = "blocks"
    HEAD = "head"
    CLASSIFIER = "classifier"


class OpKind(StrEnum):
    """An op the shape probe intercepts in a forward pass (and the memory engine's graph)."""

    CONV = "conv"
    LINEAR = "linear"
    BATCH_NORM = "batch_norm"
    ACTIVATION = "activation"
    MULTIPLY = "multiply"
    ADD = "add"
    POOLING = "pooling"
    DROPOUT = "dropout"
    LOSS = "loss"
    NEW = "new"
    """A fresh tensor (stochastic depth's noise): handed out, never recorded as an op."""
    VIEW = "view"
    """A reshape the memory engine keeps in its graph (gradients pass through it)."""


class CostKind(StrEnum):
    """What an op is timed and priced as: `effnet profile`'s op kinds, and the latency
    model's per-kind costs. Convs split three ways; multiply and add join."""

    CONV = "conv"
    """Dense and pointwise convs."""
    DEPTHWISE = "depthwise"
    SE_CONV = "se_conv"
    """The squeeze-excitation block's two 1×1 convs, on a pooled 1×1 map."""
    BATCH_NORM = "batch_norm"
    ACTIVATION = "activation"
    ELEMENTWISE = "elementwise"
    POOLING = "pooling"
    LINEAR = "linear"
