"""A small Keras: `Sequential([Dense(...)])`, `compile`, `train_on_batch`, `fit`, `predict`."""

from . import activations, layers, losses, optimizers, utils
from .models import History, Sequential

__all__ = ["Sequential", "History", "layers", "losses", "optimizers", "activations", "utils"]
