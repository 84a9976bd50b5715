"""The nn.Module side: layers, blocks, the network built from a resolved spec, checkpoints."""

from .checkpoints import load_weights
from .network import EfficientNet, build_model, materialize

__all__ = ["EfficientNet", "build_model", "load_weights", "materialize"]
