"""The scalar level's part of the lowering (`symgrad.lowering`): per-sample values → `KernelIR`.

A scalar kernel's values are per sample (type (N,)) where they depend on the data and computed
once (type ()) where they do not; the loss and gradients are sums over the batch (`Reduce`).

Common subexpressions come for free: sympy expressions are DAGs with structurally equal nodes
identical, so every node used more than once (or that is a result) becomes one named temporary.
Single-use nodes are inlined into their consumer up to a small depth, which keeps lines readable
and every later pass (printing included) shallow. Nodes that do not depend on the data are
evaluated once, outside the per-sample work. All walks are iterative.

Temporaries are named by the one naming pass (`symgrad.value_names`): the forward pass's
`z1_0`, `h1_0`, the backward pass's adjoints `d_z1_0`, `d_W1_0_0`; what it leaves unnamed after
its operation (`sum_1`); the gradient sums are `grad_W1_0_0`.
"""

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import Boolean

from ..dag import free_symbols, is_operation, structural_hash, topological
from ..errors import UnboundSymbolError, UnsupportedError
from ..ir import ArrayVar, Assign, KernelIR, Phase, Reduce, ReduceOp, Role, TensorType
from ..names import comment_text
from ..value_names import operation_name, unit_names
from .checks import reject_unprintable

MAX_INLINE_DEPTH = 6
BATCH = "N"  # the size name of the batch axis: a per-sample value has type (N,)
# sums and products wider than this are split into partial results: one very long line would
# overflow the Python compiler's recursion limit (a + b + c + ... nests one level per term)
MAX_WIDTH = 32
LOSS_NAME = "sample_loss"  # one sample's loss; `loss` is its sum over the batch


def _rebuild(node, args):
    if isinstance(node, (sp.Add, sp.Mul)):
        return node.func._from_args(args)  # unevaluated, without sympy's constructor cache
    try:
        return node.func(*args, evaluate=False)
    except TypeError:
        return node.func(*args)


def _inline_only(node):
    """Branch pairs and conditions are parts of a Piecewise, not values: never temporaries."""
    return isinstance(node, (ExprCondPair, Boolean))


def _small_nodes(order, limit=12):
    """Which nodes are small enough to quote in a comment (tree size capped, so linear time)."""
    size = {}
    for node in order:
        own = max(1, len(node.args) - 1) if is_operation(node) else 0
        size[node] = min(limit + 1, own + sum(size[c] for c in (node.args if own else ())))
    return {node: s <= limit for node, s in size.items()}


def reject_unbound(roots, data, params):
    """Our error for a symbol that is neither an input nor a parameter."""
    unbound = free_symbols(roots) - set(data) - set(params)
    if unbound:
        names = ", ".join(sorted(map(str, unbound)))
        raise UnboundSymbolError(
            f"{names} is neither an input nor a parameter; pass it in inputs= or wrt=, or substitute a value"
        )


def forward_names(loss, predictions, params, idents):
    """The forward values' own names: dense units' `z`, `h`, `error` (`value_names.unit_names`)."""
    return unit_names(topological([loss, *predictions]), params, idents)


def lower(name, loss, grads, predictions, extras, data, params, dtype, namer, idents, names):
    """The IR for `loss` (per sample), `grads` (per sample, `params` order) and outputs, the
    arguments spelled `idents` by `namer`, the values named by `names` (`ValueNames`)."""
    if extras:
        raise UnsupportedError("further results (Hessians) are lowered at matrix level only")
    roots = [loss, *grads, *predictions]
    per_sample, once = TensorType((BATCH,), dtype), TensorType((), dtype)
    data_vars = [ArrayVar(idents[s], s, Role.DATA, per_sample) for s in data]
    param_vars = [ArrayVar(idents[s], s, Role.PARAM, once) for s in params]
    types = {v.ident: v.type for v in data_vars + param_vars}
    ref = {v.symbol: sp.Symbol(v.ident) for v in data_vars + param_vars}

    order = topological(roots)
    reject_unprintable(order, loss, grads, predictions, params)
    uses = {}
    for node in order:
        for c in set(node.args) if is_operation(node) else ():
            uses[c] = uses.get(c, 0) + 1
    batched = {}
    data_set = set(data)
    for node in order:
        batched[node] = node in data_set or any(batched[c] for c in (node.args if is_operation(node) else ()))
    forward = set(topological([loss, *predictions]))
    small = _small_nodes(order)
    root_set = set(roots)

    statements = []
    depth = dict.fromkeys(ref, 0)
    folded = {}  # node -> the single-use nodes inlined into its expression (itself included)
    origins = {}  # node -> the temporary whose statement computes it

    def ident_of(value):
        held = ref.get(value)
        return held.name if isinstance(held, sp.Symbol) else None

    def base_name(node):
        """(base, numbered): the naming pass's base, else the node's operation's (numbered)."""
        base = names.base(node, ident_of)
        return (base, False) if base is not None else (operation_name(node), True)

    def emit(node, expr, note="", base=None):
        target = namer.fresh(*base) if base else namer.fresh(operation_name(node), numbered=True)
        phase = Phase.FORWARD if node in forward else Phase.BACKWARD
        types[target] = per_sample if batched[node] else once
        statements.append(Assign(target, expr, types[target], phase, note))
        return sp.Symbol(target)

    def materialize(node, expr):
        ref[node] = emit(node, expr, comment_text(node) if small[node] else "", base_name(node))
        for inner in folded.pop(node, (node,)):
            origins[inner] = ref[node].name
        depth[node] = 0

    def narrowed(node, operands):
        """Operands of a wide Add/Mul, folded into partial results of at most MAX_WIDTH terms."""
        while len(operands) > MAX_WIDTH:
            chunks = [operands[i : i + MAX_WIDTH] for i in range(0, len(operands), MAX_WIDTH)]
            operands = [emit(node, _rebuild(node, chunk)) if len(chunk) > 1 else chunk[0] for chunk in chunks]
        return operands

    for node in order:
        if node in ref:
            continue
        if not is_operation(node):
            ref[node] = node
            depth[node] = 0
            continue
        if batched[node]:
            # a data-independent operand is hoisted: computed once, not once per sample
            for c in node.args:
                if not batched[c] and is_operation(c) and depth[c] > 0 and not _inline_only(c):
                    materialize(c, ref[c])
        operands = [ref[c] for c in node.args]
        if isinstance(node, (sp.Add, sp.Mul)):
            operands = narrowed(node, operands)
        expr = _rebuild(node, operands)
        folded[node] = {node}.union(*(folded.pop(c) for c in node.args if c in folded))
        d = 1 + max(depth[c] for c in node.args)
        if _inline_only(node):
            ref[node], depth[node] = expr, 0
        elif uses.get(node, 0) > 1 or node in root_set or d > MAX_INLINE_DEPTH:
            materialize(node, expr)
        else:
            ref[node] = expr
            depth[node] = d

    def result(root):
        if not is_operation(root):
            materialize(root, ref[root])
        return ref[root].name

    loss_src = result(loss)
    grad_srcs = [result(g) for g in grads]
    pred_srcs = [result(p) for p in predictions]

    def batch_sum(target, source, phase, comment):
        types[target] = once
        statements.append(Reduce(target, source, ReduceOp.SUM, 0, once, phase, comment))
        return target

    loss_out = batch_sum("loss", loss_src, Phase.FORWARD, "loss summed over the batch")
    grad_outs = [batch_sum(namer.internal("grad_", v.ident), src, Phase.BACKWARD, comment_text(f"dloss/d{v.symbol}"))
                 for v, src in zip(param_vars, grad_srcs, strict=True)]
    return KernelIR(
        name=name,
        data=data_vars,
        params=param_vars,
        statements=statements,
        loss=loss_out,
        grads=grad_outs,
        predictions=pred_srcs,
        types=types,
        source_hash=structural_hash(roots),
        dtype=dtype,
        sizes={BATCH: (data_vars[0].ident, 0)} if data_vars else {},
        size_names={BATCH: "n"},
        origins=origins,
    )
