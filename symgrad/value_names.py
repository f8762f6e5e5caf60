"""The one naming pass of both levels: what a kernel's values are called, so that a person can
follow its backward pass.

A value's own name comes first. At scalar level a dense unit's sum b + Σ w·u (one bias, weight
products, all parameters) is its pre-activation `z<unit>`, an activation of it `h<unit>`, that
less a target (h − y) `error<unit>`, where <unit> is the bias's name after its leading letters
(`b1_0` → `z1_0`, `h1_0`: layer 1, unit 0 of `nn.mlp`; `unit_names`); at matrix level the k-th
product of matrices is `z<k>` and the k-th entrywise map `h<k>` (`layer_names`). The loss, the
model outputs and further results (Hessians) are named by the lowering entry. Then, at both
levels, the adjoint ∂loss/∂v of a value or parameter v is `d_<v>` (`d_z1_0`, `d_W1_0_0`; `d_z1`,
`d_W1`), and a gradient nothing else names is `d_<parameter>`. What is left each level names
itself: the scalar level after the operation (`sum_1`, `neg_1`, `exp_2`), the matrix level as a
plain temporary `t`. These are bases the lowering makes unique and safe: every piece is a safe
identifier already (`names.identifier`).
"""

import re

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .dag import is_operation
from .names import identifier

_UNIT = re.compile(r"^[A-Za-z]+(\d\w*)$")  # b1_0 -> 1_0
_OPERATIONS = ((sp.Add, "sum"), (sp.Mul, "prod"), (sp.Piecewise, "piecewise"))


def _is_weighted(term, params):
    """w·u with w a parameter and u not one."""
    return (isinstance(term, sp.Mul) and len(term.args) == 2
            and sum(a in params for a in term.args) == 1)


def _unit_bias(node, params):
    """The bias of a dense unit's sum b + Σ w·u, else None."""
    if not isinstance(node, sp.Add):
        return None
    biases = [a for a in node.args if a in params]
    if len(biases) != 1 or len(node.args) < 2:
        return None
    if not all(_is_weighted(a, params) for a in node.args if a is not biases[0]):
        return None
    return biases[0]


def unit_names(forward, params, idents):
    """Scalar level: the forward values a name exists for, dense units' `z`, their activations' `h`.

    `forward` are the forward pass's nodes in dependency order, `idents` the parameters' identifiers.
    """
    params = set(params)
    names = {}
    for node in forward:
        bias = _unit_bias(node, params)
        if bias is not None:
            m = _UNIT.match(idents[bias])
            names[node] = f"z{m[1]}" if m else f"z_{idents[bias]}"
        elif isinstance(node, sp.Function) and len(node.args) == 1 and names.get(node.args[0], "").startswith("z"):
            names[node] = "h" + names[node.args[0]][1:]
        elif (found := _error_of(node, names, params)) is not None:
            names[node] = "error" + found[1:]
    return names


def _error_of(node, names, params):
    """The name of the unit whose output less a target `node` is (h − y), else None."""
    if not (isinstance(node, sp.Add) and len(node.args) == 2):
        return None
    for out, other in (node.args, node.args[::-1]):
        if (names.get(out, "")[:1] in ("h", "z") and isinstance(other, sp.Mul) and len(other.args) == 2
                and other.args[0] is sp.S.NegativeOne and other.args[1].is_Symbol and other.args[1] not in params):
            return names[out]
    return None


def layer_names(forward):
    """Matrix level: `z<k>` for the k-th product of two or more matrices, `h<k>` for the k-th
    entrywise map, `forward` being the forward pass's nodes in dependency order."""
    names, counts = {}, {"z": 0, "h": 0}
    for node in forward:
        kind = None
        if isinstance(node, sp.MatMul) and sum(a.is_Matrix and not isinstance(a, sp.OneMatrix) for a in node.args) > 1:
            kind = "z"
        elif isinstance(node, ElementwiseApplyFunction):
            kind = "h"
        if kind:
            counts[kind] += 1
            names[node] = f"{kind}{counts[kind]}"
    return names


class ValueNames:
    """The base names of one kernel's values: `own` names (node -> base), then the adjoint rule.

    `adjoints` are the sweep's node -> ∂loss/∂node (loss first), `mapping` what the rewrites made
    of each node, `grads` the gradient expressions in `params` order, `idents` the arguments'
    identifiers.
    """

    def __init__(self, own, adjoints, mapping, params, grads, idents):
        self.own = own
        self.adjoint_nodes = adjoint_of(adjoints, mapping)
        self.grads = {g: f"d_{idents[p]}" for p, g in zip(params, grads, strict=True)}

    def base(self, node, ident_of):
        """`node`'s base name, or None when the level names it; `ident_of(v)` is the identifier
        holding value v where it has one worth citing (None otherwise)."""
        if node in self.own:
            return self.own[node]
        of = self.adjoint_nodes.get(node, ())
        for nodes_first in (True, False):  # a named value's adjoint before a parameter's
            for inner in of:
                held = ident_of(inner)
                if held is not None and is_operation(inner) == nodes_first:
                    return f"d_{held}"
        for inner in of:
            if inner in self.own:
                return f"d_{self.own[inner]}"
        return self.grads.get(node)


def adjoint_of(adjoints, mapping):
    """Adjoint expression -> the nodes it is the adjoint of, nearest the inputs first.

    `adjoints` are `symbolic.adjoints` (node -> ∂loss/∂node, loss first), `mapping` what the rewrites
    made of each node (absent: unchanged).
    """
    out = {}
    for node, adj in reversed(list(adjoints.items())):
        out.setdefault(mapping.get(adj, adj), []).append(mapping.get(node, node))
    return out


def operation_name(node):
    """The fallback base: what kind of operation `node` is (`sum`, `prod`, `square`, `exp` ...)."""
    if isinstance(node, sp.Mul) and len(node.args) == 2 and node.args[0] is sp.S.NegativeOne:
        return "neg"
    if isinstance(node, sp.Pow):
        return "square" if node.exp == 2 else "pow"
    for cls, name in _OPERATIONS:
        if isinstance(node, cls):
            return name
    if isinstance(node, sp.Function):
        return identifier(type(node).__name__.lower())
    return "v"
