"""A small Keras: `Sequential`, functional `Model(inputs, outputs)` and subclassed models;
`compile`, `fit` (History, progress lines, validation), `evaluate`, `predict`, `summary`."""

from . import activations, datasets, initializers, layers, losses, metrics, models, optimizers, utils
from .history import History
from .models import Input, Model, Sequential

__all__ = ["Sequential", "Model", "Input", "History", "layers", "losses", "optimizers", "activations", "metrics",
           "initializers", "datasets", "models", "utils"]
