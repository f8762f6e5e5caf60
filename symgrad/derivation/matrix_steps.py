"""The mathematics of a derivation document at matrix level: dense layers, δ matrices, gradients.

A batch is one N×d matrix X, a sample per row. The model's DAG is cut at its dense layers: a
product A·W with W a parameter, plus a bias row broadcast to every row (𝟏·b), is a pre-activation
Z; an entrywise function of it is an activation H (Ŷ for the model's output). The backward pass
is then the textbook one, in the layout the generated code uses (rows are samples):

    δ_L = ∂E/∂Z_L,   δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ f'(Z_l),   ∂E/∂W_l = A_lᵀ δ_l,   ∂E/∂b_l = 𝟏ᵀ δ_l.

None of these is written from a template: each is symgrad's matrix rule table
(`symgrad.matrix.rules.reverse`) applied to one small definition with a symbolic upstream δ
(⟨δ, A·W + 𝟏·b⟩ differentiated by A, W and b), and f' is the scalar rule written over H.
"""

from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .. import symbolic
from ..errors import UnsupportedError
from ..matrix.algebra import emap, hadamard
from ..matrix.graph import operands, topological
from ..matrix.nodes import SumAll, canonical_lambda
from ..matrix.rules import as_scalar_loss, reverse


@dataclass(frozen=True)
class DenseLayer:
    """One layer Z = A·W + 𝟏·b (H = f(Z) where it has an activation): model nodes and display symbols."""

    index: int
    input: object  # the model node A feeding the layer (an input, or the previous layer's output)
    weight: sp.MatrixSymbol
    bias: sp.MatrixSymbol | None
    product: sp.MatMul  # the model's node A·W (the kernel's adjoint of it is δ)
    node: sp.MatrixExpr  # the model's Z (rebuilt when the loss's sum absorbed it, as in Z − Y)
    activation: object  # the model's node f(Z), or None
    Z: sp.MatrixSymbol
    H: sp.MatrixSymbol | None
    delta: sp.MatrixSymbol

    @property
    def output(self):
        return self.activation if self.activation is not None else self.node

    @property
    def shown_output(self):
        return self.H if self.H is not None else self.Z


@dataclass(frozen=True)
class MatrixDelta:
    layer: DenseLayer
    recurrence: sp.MatrixExpr  # over the next layer's δ symbol
    closed: sp.MatrixExpr  # over the forward quantities only


@dataclass(frozen=True)
class MatrixGradient:
    param: sp.MatrixSymbol
    layer: DenseLayer
    via_delta: sp.MatrixExpr
    closed: sp.MatrixExpr


@dataclass
class MatrixSteps:
    """Everything a matrix-level derivation states: layers, definitions, local rules, δ's, gradients."""

    layers: list
    definitions: list  # (display symbol or "E", definition over display symbols, model node)
    activation_rules: list  # (layer, scalar variable, f'(z) over f, f'(Z) as a matrix over Z/H)
    dense_rules: list  # (layer, upstream A adjoint, W adjoint, b adjoint), with δ symbolic
    deltas: list  # MatrixDelta, output layer first
    gradients: list  # MatrixGradient, in the model's parameter order
    names: dict  # display symbol -> LaTeX

    def expand(self, expr):
        """`expr` over δ's and display symbols → the same value over the model's own symbols."""
        expr = expr.xreplace({d.layer.delta: d.closed for d in self.deltas})
        table = {}
        for layer in self.layers:
            table[layer.Z] = layer.node
            if layer.H is not None:
                table[layer.H] = layer.activation
        return expr.xreplace(table)


def _not_dense(model, why):
    return UnsupportedError(
        f"symgrad derive handles matrix-level models that are a chain of dense layers (A·W + 1·b, then an "
        f"entrywise activation), like symgrad.nn.matrix_mlp; in {model.name!r} {why}"
    )


def _bias_term(term, params):
    """b for a term 𝟏·b (the bias row b broadcast to every row), else None."""
    if isinstance(term, sp.MatMul) and len(term.args) == 2 and isinstance(term.args[0], sp.OneMatrix):
        return term.args[1] if term.args[1] in params else None
    return None


def find_layers(model):
    """The dense layers of a matrix-level `model`, input first (an error naming what does not fit)."""
    params = set(model.params)
    order = topological([model.loss])
    users = {}
    for node in order:
        for child in set(operands(node)):
            users.setdefault(child, []).append(node)
    products = [n for n in order if isinstance(n, sp.MatMul) and len(n.args) == 2
                and n.args[0].is_Matrix and not isinstance(n.args[0], sp.OneMatrix) and n.args[1] in params]
    layers, previous = [], None
    for k, product in enumerate(products, start=1):
        A, W = product.args
        if A not in model.inputs and (previous is None or A != previous.output):
            raise _not_dense(model, f"the product {product} does not read an input or the previous layer's output")
        bias, node = None, product
        for total in (u for u in users.get(product, []) if isinstance(u, sp.MatAdd)):
            terms = [t for t in total.args if _bias_term(t, params) is not None]
            if terms:
                bias = _bias_term(terms[0], params)
                node = total if len(total.args) == 2 else sp.MatAdd(product, terms[0])
        acts = [u for u in users.get(node, []) if isinstance(u, ElementwiseApplyFunction)]
        rows, cols = product.shape
        last = k == len(products)
        H = None
        if acts:
            H = sp.MatrixSymbol("_Yhat" if last else f"_H{k}", rows, cols)
        layer = DenseLayer(k, A, W, bias, product, node, acts[0] if acts else None,
                           sp.MatrixSymbol(f"_Z{k}", rows, cols), H, sp.MatrixSymbol(f"_delta{k}", rows, cols))
        layers.append(layer)
        previous = layer
    if not layers:
        raise _not_dense(model, "no product A·W with W a parameter was found")
    covered = {p for layer in layers for p in (layer.weight, layer.bias) if p is not None}
    missing = [str(p) for p in model.params if p not in covered]
    if missing:
        raise _not_dense(model, f"the parameter(s) {', '.join(missing)} are not a layer's weight or bias")
    return layers


def _display_table(layers):
    """Model node → display symbol, built input first so each layer's definition reads the last one's name."""
    table = {}
    for layer in layers:
        table[layer.node] = layer.Z
        if layer.activation is not None:
            table[layer.activation] = layer.H
    return table


def _loss_over_display(model, layers, table):
    """E with the layers' nodes replaced by their symbols (a sum that absorbed Z keeps its other terms)."""
    last = layers[-1]
    replace = dict(table)
    nodes = topological([model.loss])
    if last.activation is None and last.node not in set(nodes):
        for node in nodes:
            if isinstance(node, sp.MatAdd) and last.product in node.args:
                kept = [t for t in node.args if t != last.product and t not in last.node.args]
                replace[node] = sp.MatAdd(last.Z, *[t.xreplace(table) for t in kept])
    return as_scalar_loss(model.loss).xreplace(replace)


def _definition(layer, shown_input):
    ones = sp.OneMatrix(layer.product.shape[0], 1)
    z = shown_input * layer.weight
    return z if layer.bias is None else sp.MatAdd(z, ones * layer.bias)


def _activation_rule(layer):
    """(z, f'(z) over f, f'(Z) as a matrix over Z and H) for the layer's entrywise function."""
    fn = canonical_lambda(layer.activation.function)
    (var,), body = fn.variables, fn.expr
    y = sp.Symbol("_y", real=True)
    (d,) = symbolic.reverse(body, [var])
    over_output = d.xreplace({body: y})
    matrix = emap(over_output, (var, y), layer.Z, layer.H)
    return var, d, matrix


def _vjp(definition, delta, wrt):
    """⟨δ, definition⟩ differentiated by each of `wrt`: the adjoints the layer passes back."""
    return reverse(SumAll(sp.HadamardProduct(delta, definition)), wrt)


def matrix_steps(model):
    """Derive the layer equations, local rules, δ recurrences and gradients of a matrix-level `model`."""
    layers = find_layers(model)
    table = _display_table(layers)
    names = {}
    definitions, shown_inputs = [], {}
    for layer in layers:
        shown = layer.input if layer.index == 1 else layers[layer.index - 2].shown_output
        shown_inputs[layer.index] = shown
        names[layer.Z] = f"Z_{{{layer.index}}}"
        names[layer.delta] = rf"\delta_{{{layer.index}}}"
        definitions.append((layer.Z, _definition(layer, shown), layer.node))
        if layer.H is not None:
            names[layer.H] = r"\hat{Y}" if layer is layers[-1] else f"H_{{{layer.index}}}"
            definitions.append((layer.H, layer.Z.applyfunc(layer.activation.function), layer.activation))
    loss = _loss_over_display(model, layers, table)
    definitions.append(("E", loss, model.loss))

    activation_rules, fprime = [], {}
    for layer in layers:
        if layer.activation is not None:
            var, d, matrix = _activation_rule(layer)
            activation_rules.append((layer, var, d, matrix))
            fprime[layer.index] = matrix
    dense_rules = []
    for layer in layers:
        wrt = [shown_inputs[layer.index], layer.weight] + ([layer.bias] if layer.bias is not None else [])
        dense_rules.append((layer, *_vjp(_definition(layer, shown_inputs[layer.index]), layer.delta, wrt)))

    deltas = []
    for layer in reversed(layers):
        if layer is layers[-1]:
            upstream = reverse(loss, [layer.shown_output])[0]
            closed_upstream = upstream
        else:
            after = layers[layer.index]
            upstream = dense_rules[after.index - 1][1]
            closed_upstream = upstream.xreplace({after.delta: deltas[-1].closed})
        if layer.activation is not None:
            recurrence = hadamard(upstream, fprime[layer.index])
            closed = hadamard(closed_upstream, fprime[layer.index])
        else:
            recurrence, closed = upstream, closed_upstream
        deltas.append(MatrixDelta(layer, recurrence, closed))

    closed_delta = {d.layer.delta: d.closed for d in deltas}
    gradients = []
    by_param = {}
    for layer, _, d_weight, *d_bias in dense_rules:
        by_param[layer.weight] = (layer, d_weight)
        if d_bias:
            by_param[layer.bias] = (layer, d_bias[0])
    for p in model.params:
        layer, via = by_param[p]
        gradients.append(MatrixGradient(p, layer, via, via.xreplace(closed_delta)))
    return MatrixSteps(layers, definitions, activation_rules, dense_rules, deltas, gradients, names)
