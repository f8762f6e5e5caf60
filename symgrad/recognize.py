"""Finding the dense layers of a hand-written scalar loss, so that it compiles like an `nn.mlp` model.

A dense layer is a family of sums b_j + Σ_i W_ij · u_i over the same inputs u_i, each weight and
bias a distinct parameter; the next layer's inputs are one activation of those sums. Candidates
are read off the expression DAG, then the network they describe is rebuilt with `symgrad.nn` and
kept only when it is exactly the given loss (a liftable loss of the last layer's outputs), so a
loss with any other structure keeps the unrolled scalar kernel.
"""

import sympy as sp

from . import nn
from .dag import topological
from .primitives import activation, activation_functions

LIFTABLE_LOSSES = ("squared_error", "mse", "softmax_cross_entropy", "binary_cross_entropy_with_logits")


def _as_unit(node, params):
    """(bias, {input: weight}) when `node` is b + Σ w·u with distinct parameters b, w; else None."""
    bias, weights = None, {}
    for term in node.args:
        if term in params:
            if bias is not None:
                return None
            bias = term
            continue
        if not (isinstance(term, sp.Mul) and len(term.args) == 2):
            return None
        w, u = term.args if term.args[0] in params else term.args[::-1]
        if w not in params or u in params or u in weights:
            return None
        weights[u] = w
    if bias is None or not weights:
        return None
    return bias, weights


def _next_inputs(zs, name):
    act = activation(name)
    if name == "identity":
        return list(zs)
    return [act(z, evaluate=False) if isinstance(act, type) else act(z) for z in zs]


def recognize(loss, params, data):
    """(DenseStack, features, targets, outputs) when `loss` is a dense network over `data` whose
    weights and biases are exactly `params` (units ordered as their biases are in `params`), else None."""
    n_params, params, order = len(params), set(params), {p: k for k, p in enumerate(params)}
    units = {}
    for node in topological([loss]):
        if isinstance(node, sp.Add) and (unit := _as_unit(node, params)) is not None:
            units[node] = unit
    by_inputs = {}
    for node, (_bias, weights) in units.items():
        by_inputs.setdefault(frozenset(weights), []).append(node)
    data_set = set(data)
    first = [key for key in by_inputs if key <= data_set]
    if len(first) != 1:
        return None
    features = [d for d in data if d in first[0]]
    targets = [d for d in data if d not in first[0]]
    layers, inputs, key = [], features, first[0]
    while True:
        zs = sorted(by_inputs[key], key=lambda z: order[units[z][0]])
        weights = tuple(tuple(units[z][1][u] for z in zs) for u in inputs)
        biases = tuple(units[z][0] for z in zs)
        found = [(name, nxt) for name in [*activation_functions(), "identity"] for nxt in [_next_inputs(zs, name)]
                 if frozenset(nxt) in by_inputs and frozenset(nxt) != key]
        if len(found) != 1:
            result = _final(loss, layers, weights, biases, zs, features, targets)
            if result is None or sum(len(w) * len(layer.biases) + len(layer.biases)
                                     for layer in result[0].layers for w in [layer.weights]) != n_params:
                return None
            return result
        name, inputs = found[0]
        layers.append(nn.DenseLayer(weights, biases, name))
        key = frozenset(inputs)


def _final(loss, layers, weights, biases, zs, features, targets):
    """The stack whose rebuilt loss is `loss`, trying each output activation and loss; else None."""
    h = features
    for layer in layers:
        h = nn.dense_outputs(h, layer.weights, layer.biases, activation(layer.activation))
    symbols = [w for layer in layers for row in layer.weights for w in row] + [w for row in weights for w in row]
    symbols += [b for layer in layers for b in layer.biases] + list(biases)
    if len(biases) != len(targets) or len(set(symbols)) != len(symbols):
        return None  # a weight shared between units is not a dense layer (its gradient sums over them)
    for name in [*activation_functions(), "identity"]:
        outputs = nn.dense_outputs(h, weights, biases, activation(name))
        for loss_name in LIFTABLE_LOSSES:
            if nn.LOSSES[loss_name](outputs, targets) == loss:
                return nn.DenseStack((*layers, nn.DenseLayer(weights, biases, name)), loss_name), features, targets, outputs
    return None
