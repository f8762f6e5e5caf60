"""The mathematics of a derivation document, at scalar level: named quantities, δ terms, gradients.

The model's DAG is cut at its layers: every argument of an activation (or of logsumexp) is a
pre-activation `z`, every activation an abbreviation `h` (`ŷ` when it is a model output). Each
quantity gets a definition over earlier names, the loss `E` one over the last layer's. The chain
rule over this small graph gives the textbook recurrences

    δ_s = ∂E/∂z_s = Σ_{c consumes s} δ_c · ∂c/∂z_s,        ∂E/∂p = Σ_{c uses p} δ_c · ∂c/∂p,

computed with sympy on the small per-quantity definitions (not on the whole loss), and written back
over the abbreviations, so σ'(z) prints as h(1 − h).
"""

import re
from dataclasses import dataclass
from enum import Enum

import sympy as sp

from .. import functions as F
from ..dag import depends_on, is_operation, topological
from ..primitives import activation_functions
from ..rewrite import RULES, stabilize
from ..symbolic import adjoints, partials


class Kind(Enum):
    PRE = "pre-activation"
    ACTIVATION = "activation"
    AUXILIARY = "log-sum-exp"
    LOSS = "loss"


@dataclass(frozen=True)
class Quantity:
    """A named value of the forward pass: display symbol, the model's node, definition over names."""

    symbol: sp.Symbol
    node: sp.Expr
    definition: sp.Expr
    kind: Kind
    layer: int
    latex: str


@dataclass(frozen=True)
class Local:
    """∂of/∂wrt for one direct dependency, written over the named quantities."""

    of: Quantity
    wrt: sp.Symbol
    value: sp.Expr
    node: sp.Expr | None = None  # the model's node for this factor, where the kernel computes it


@dataclass(frozen=True)
class Delta:
    """δ = ∂E/∂z for one pre-activation: recurrence over later δ's and closed form."""

    stage: Quantity
    symbol: sp.Symbol
    recurrence: sp.Expr
    closed: sp.Expr
    adjoint: sp.Expr  # the same value in the model's symbols (what the generated kernel computes)
    latex: str


@dataclass(frozen=True)
class Gradient:
    """∂E/∂p for one parameter, per sample (the kernel sums it over the batch)."""

    param: sp.Symbol
    via_delta: sp.Expr
    closed: sp.Expr
    adjoint: sp.Expr


@dataclass
class ScalarSteps:
    """Everything a scalar-level derivation document states, in the order it states it."""

    quantities: list  # forward order, the loss last
    activation_rules: list  # (function class, z, rule expression) for each activation used
    locals: list  # Local, grouped by the quantity they belong to
    deltas: list  # Delta, from the output layer down
    gradients: list  # Gradient, in the model's parameter order
    rewritten: dict  # model node -> the node the kernel computes in its place (stable rewrites)

    def kernel_node(self, node):
        return self.rewritten.get(node, node)

    @property
    def loss(self):
        return self.quantities[-1]

    def abbreviate(self, expr):
        """`expr` over the model's symbols → over the named quantities (z, h, ...)."""
        return _abbreviate(expr, self.quantities)

    def expand(self, expr):
        """`expr` over δ's and named quantities → the same value in the model's own symbols."""
        by_delta = {d.symbol: d.closed for d in self.deltas}
        expr = expr.xreplace(by_delta)
        return expr.xreplace({q.symbol: q.node for q in self.quantities})


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _direct_params(node, params):
    """The parameters a pre-activation reads itself (W and b of its own unit), for ordering."""
    found = []
    for arg in node.args:
        found += [a for a in (arg.args if arg.is_Mul else (arg,)) if a in params]
    return sorted(_natural(str(p)) for p in found)


def _stages(model, order, dependent):
    """Pre-activations (layer, node) and abbreviation nodes, in forward order."""
    abbreviations = [n for n in order if isinstance(n, (*activation_functions().values(), F.logsumexp)) and n in dependent]
    pre = []
    for n in abbreviations:
        pre += [a for a in n.args if is_operation(a) and a in dependent and a not in pre]
    pre += [o for o in model.outputs if is_operation(o) and o in dependent and o not in pre and o not in abbreviations]
    pre_set = set(pre)
    layer = {}
    for n in order:
        inner = max((layer[c] for c in n.args), default=0) if is_operation(n) else 0
        layer[n] = inner + (n in pre_set)
    return pre, abbreviations, layer


def _name_quantities(model, pre, abbreviations, layer, params):
    """Dummy symbols and LaTeX names: z^{(l)}_j, h^{(l)}_j, ŷ_k, ℓ^{(l)}."""
    names = {}
    by_layer = {}
    for n in pre:
        by_layer.setdefault(layer[n], []).append(n)
    for lay, nodes in by_layer.items():
        nodes.sort(key=lambda n: _direct_params(n, params))
        for j, n in enumerate(nodes):
            names[n] = (f"z{lay}_{j}", f"z^{{({lay})}}_{{{j}}}", Kind.PRE)
    outputs = list(model.outputs)
    lse_count = {}
    for n in abbreviations:
        if n in outputs and len(n.args) == 1:
            k = outputs.index(n)
            names[n] = (f"yhat{k}", rf"\hat{{y}}_{{{k}}}", Kind.ACTIVATION)
        elif isinstance(n, F.logsumexp):
            i = lse_count[layer[n]] = lse_count.get(layer[n], -1) + 1
            sub = f"_{{{i}}}" if i else ""
            names[n] = (f"lse{layer[n]}_{i}", rf"\ell^{{({layer[n]})}}{sub}", Kind.AUXILIARY)
        else:
            arg = n.args[0]
            label = names[arg][0][1:] if arg in names else f"{layer[n]}_{len(names)}"
            tex = names[arg][1].replace("z", "h", 1) if arg in names else rf"h_{{{len(names)}}}"
            names[n] = (f"h{label}", tex, Kind.ACTIVATION)
    return names


def _abbreviate(expr, quantities, skip=None):
    """`expr` with every named node inside it replaced by its symbol (outermost first)."""
    inside = set(topological([expr]))
    table = {q.node: q.symbol for q in quantities if q.node in inside and q.node is not skip}
    out = expr.xreplace(table) if skip is None else _rebuild_args(expr, table)
    for q in quantities:
        # a pre-activation may survive only algebraically (−z distributed into a sum): match it by subs
        if q.kind is Kind.PRE and q.node in inside and q.node is not skip and q.symbol not in out.free_symbols:
            out = out.subs(q.node, q.symbol)
    return out


def _rebuild_args(expr, table):
    return expr.func(*[a.xreplace(table) for a in expr.args]) if expr.args else expr


def _activation_rules(abbreviations):
    """The generic derivative of each activation used: f'(z) written with f itself."""
    z = sp.Symbol("z", real=True)
    rules, seen = [], set()
    for n in abbreviations:
        cls = type(n)
        if cls in seen or not isinstance(n, tuple(activation_functions().values())):
            continue
        seen.add(cls)
        rules.append((cls, z, partials(cls(z))[0]))
    return rules


def scalar_steps(model):
    """Derive the named quantities, local derivatives, δ recurrences and gradients of `model`."""
    loss, params = model.loss, list(model.params)
    order = topological([loss])
    dependent = depends_on([loss], params)
    pre, abbreviations, layer = _stages(model, order, dependent)
    names = _name_quantities(model, pre, abbreviations, layer, set(params))
    position = {n: i for i, n in enumerate(order)}

    quantities = []
    for node in sorted(names, key=position.get):
        label, tex, kind = names[node]
        quantities.append(Quantity(sp.Dummy(label, real=True), node, node, kind, layer[node], tex))
    quantities = [
        Quantity(q.symbol, q.node, _abbreviate(q.node, quantities, skip=q.node), q.kind, q.layer, q.latex)
        for q in quantities
    ]
    loss_q = Quantity(sp.Dummy("E", real=True), loss, _abbreviate(loss, quantities), Kind.LOSS,
                      max(layer.values(), default=0) + 1, "E")
    quantities.append(loss_q)

    stages = [q for q in quantities if q.kind is Kind.PRE]
    consumers = [q for q in quantities if q.kind in (Kind.PRE, Kind.LOSS)]
    expand = {q.symbol: q.definition for q in quantities if q.kind in (Kind.ACTIVATION, Kind.AUXILIARY)}
    fold = {q.definition: q.symbol for q in quantities if q.kind in (Kind.ACTIVATION, Kind.AUXILIARY)}
    # consumers written over pre-activations only (activations expanded), for differentiating
    over_stages = {c.symbol: c.definition.xreplace(expand) for c in consumers}

    def local(c, wrt):
        return sp.diff(over_stages[c.symbol], wrt).xreplace(fold)

    # the kernel differentiates the loss after the stable rewrites; read its adjoints the same way
    rewritten = {}
    (stable,) = stabilize([loss], RULES, mapping=rewritten)
    adjoint = adjoints(stable, params)
    deltas = {}
    for s in reversed(stages):
        terms = [(c, local(c, s.symbol)) for c in consumers if s.symbol in over_stages[c.symbol].free_symbols]
        recurrence = sp.Add(*[(deltas[c.symbol].symbol if c.kind is Kind.PRE else 1) * d for c, d in terms])
        closed = sp.Add(*[(deltas[c.symbol].closed if c.kind is Kind.PRE else 1) * d for c, d in terms])
        deltas[s.symbol] = Delta(s, sp.Dummy(f"delta_{s.symbol.name}", real=True), recurrence, closed,
                                 adjoint.get(rewritten.get(s.node, s.node), sp.S.Zero), s.latex.replace("z", r"\delta", 1))

    gradients = []
    for p in params:
        terms = [(c, local(c, p)) for c in consumers if p in over_stages[c.symbol].free_symbols]
        via = sp.Add(*[(deltas[c.symbol].symbol if c.kind is Kind.PRE else 1) * d for c, d in terms])
        closed = sp.Add(*[(deltas[c.symbol].closed if c.kind is Kind.PRE else 1) * d for c, d in terms])
        gradients.append(Gradient(p, via, closed, adjoint.get(p, sp.S.Zero)))

    locals_ = []
    for q in quantities:
        if q.kind is Kind.ACTIVATION or q.kind is Kind.AUXILIARY:
            in_kernel = partials(rewritten.get(q.node, q.node))
            for a, part, computed in zip(q.node.args, partials(q.node), in_kernel, strict=True):
                arg = _abbreviate(a, quantities) if is_operation(a) else a
                if isinstance(arg, sp.Symbol):
                    locals_.append(Local(q, arg, _abbreviate(part, quantities), computed))
        else:
            wrts = sorted(q.definition.free_symbols & (set(params) | {x.symbol for x in quantities}),
                          key=lambda s: _natural(s.name))
            locals_ += [Local(q, w, sp.diff(q.definition, w)) for w in wrts]
    ordered = sorted(deltas.values(), key=lambda d: (-d.stage.layer, stages.index(d.stage)))
    return ScalarSteps(quantities, _activation_rules(abbreviations), locals_, ordered, gradients, rewritten)

