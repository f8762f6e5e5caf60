"""`Model`: a differentiable model bundled with its parameters, inputs, targets and outputs.

A plain record the builders (`symgrad.nn`, `symgrad.matrix.layers`, `symgrad.tf`) return and the
compiler, checks and derivations read; below all of them.
"""

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .errors import InvalidArgumentError


@dataclass(frozen=True)
class DenseLayer:
    """outputs_j = activation(Σ_i weights[i][j] · inputs_i + biases[j])."""

    weights: tuple  # rows of symbols, input-major
    biases: tuple
    activation: str


@dataclass(frozen=True)
class DenseStack:
    """The dense layers of a scalar model, in order, and the name of its loss (see `symgrad.lift`)."""

    layers: tuple
    loss: str


@dataclass(frozen=True)
class Model:
    """A differentiable model: per-sample `loss`, `params` to train, data `inputs` and `targets`."""

    name: str
    loss: sp.Expr
    params: tuple
    inputs: tuple
    targets: tuple
    outputs: tuple
    init: dict = field(default_factory=dict, compare=False)
    structure: DenseStack | None = field(default=None, compare=False)  # the dense layers, when nn.mlp built them

    @property
    def data(self):
        return self.inputs + self.targets

    def initial_values(self):
        """A fresh copy of the initial parameter values (`init`): floats, or arrays for matrices."""
        missing = [p for p in self.params if p not in self.init]
        if missing:
            raise InvalidArgumentError(
                f"model {self.name!r} has no initial value for {', '.join(map(str, missing))}; pass "
                "init={symbol: value, ...} to Model (the nn builders fill it) or give values explicitly")
        return {p: np.array(self.init[p], dtype=float) if isinstance(p, sp.MatrixSymbol) else float(self.init[p])
                for p in self.params}
