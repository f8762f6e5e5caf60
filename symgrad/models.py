"""The bundled models (by name) and loading a model from a user's Python file."""

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import sympy as sp

from . import nn
from .errors import InvalidArgumentError

# the second seed text's data: three samples of four features, one target each
SEED_X = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
SEED_Y = np.array([[1.0], [1.0], [0.0]])


def seed():
    """The seed 4-3-1 sigmoid MLP with squared error E = Σ(yp − yt)²."""
    return nn.mlp([4, 3, 1], activation="sigmoid", loss="squared_error", name="seed", seed=0)


def perceptron():
    """The first seed text's perceptron: 2-D points, two classes, softmax output, cross-entropy."""
    return nn.mlp([2, 2], activation="identity", loss="softmax_cross_entropy", name="perceptron", seed=0)


def perceptron_data(n_per_class=50, seed=0):
    """Two Gaussian point clouds (red around (−2, −2), blue around (2, 2)) with one-hot labels."""
    rng = np.random.default_rng(seed)
    red = rng.normal(size=(n_per_class, 2)) - 2
    blue = rng.normal(size=(n_per_class, 2)) + 2
    X = np.concatenate([red, blue])
    Y = np.concatenate([np.tile([1.0, 0.0], (n_per_class, 1)), np.tile([0.0, 1.0], (n_per_class, 1))])
    return X, Y


def mlp_matrix():
    """A matrix-level 4-8-3 tanh MLP with softmax cross-entropy: the batch is one N×4 matrix X."""
    return nn.matrix_mlp([4, 8, 3], activation="tanh", name="mlp_matrix", seed=0)


def mlp_matrix_data(n_per_class=8, seed=0):
    """Three Gaussian clusters in 4-D (centres on ±2 along different axes) with one-hot labels."""
    rng = np.random.default_rng(seed)
    centres = np.array([[2.0, 0.0, 0.0, -2.0], [0.0, 2.0, -2.0, 0.0], [-2.0, -2.0, 2.0, 2.0]])
    X = np.concatenate([c + rng.normal(size=(n_per_class, 4)) for c in centres])
    Y = np.repeat(np.eye(3), n_per_class, axis=0)
    return X, Y


BUNDLED = {"seed": seed, "perceptron": perceptron, "mlp_matrix": mlp_matrix}
DATA = {"seed": lambda: (SEED_X, SEED_Y), "perceptron": perceptron_data, "mlp_matrix": mlp_matrix_data}


def data_values(model, X, Y=None):
    """The `values` entries binding the model's input and target symbols to X and Y: whole
    matrices for a matrix-level model (one input X, one target Y), else one column per symbol."""
    if any(isinstance(s, sp.MatrixSymbol) for s in model.inputs):
        return {model.inputs[0]: X, **({model.targets[0]: Y} if Y is not None else {})}
    values = {s: X[:, i] for i, s in enumerate(model.inputs)}
    if Y is not None:
        values.update({s: Y[:, i] for i, s in enumerate(model.targets)})
    return values


def load(name_or_path):
    """A bundled model by name, or the `model` (a `symgrad.nn.Model`) defined in a Python file."""
    if name_or_path in BUNDLED:
        return BUNDLED[name_or_path]()
    path = Path(name_or_path)
    if not path.is_file():
        raise InvalidArgumentError(
            f"no bundled model or file named {name_or_path!r}; bundled models: {', '.join(sorted(BUNDLED))}"
        )
    spec = importlib.util.spec_from_file_location(f"symgrad_user_model_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = getattr(module, "model", None)
    if callable(model) and not isinstance(model, nn.Model):
        model = model()
    if not isinstance(model, nn.Model):
        raise InvalidArgumentError(f"{path} must define `model`, a symgrad.nn.Model (or a function returning one)")
    return model


def uninitialized(model):
    """The parameters a hand-built `Model` gave no `init` value."""
    return [p for p in model.params if p not in model.init]


def _drawn_parameters(model, seed=0):
    """`init`, with seeded normal values (scale 0.5) for parameters it lacks: enough to check gradients at."""
    rng = np.random.default_rng(seed)

    def draw(p):
        return rng.normal(scale=0.5, size=tuple(int(d) for d in p.shape)) if isinstance(p, sp.MatrixSymbol) else 0.5 * rng.normal()

    init = {p: model.init[p] if p in model.init else draw(p) for p in model.params}
    return dataclasses.replace(model, init=init).initial_values()


def example_values(model):
    """Initial parameters plus the model's bundled data (or a small random batch for user models);
    parameters without `init` get seeded random values (see `uninitialized`)."""
    if model.name in DATA:
        X, Y = DATA[model.name]()
    else:
        rng = np.random.default_rng(0)
        if any(isinstance(s, sp.MatrixSymbol) for s in model.inputs):
            X, Y = (rng.normal(size=(8, int(s.shape[1]))) for s in (model.inputs[0], model.targets[0]))
        else:
            X, Y = rng.normal(size=(8, len(model.inputs))), rng.uniform(size=(8, len(model.targets)))
    return {**_drawn_parameters(model), **data_values(model, X, Y)}
