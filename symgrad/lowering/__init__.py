"""Lowering: a loss, its gradients and the model outputs → one `KernelIR`, at either level.

One entry for both levels does what every kernel needs: the stable rewrites, the check that
every symbol is bound, the arguments' identifiers, and the one naming pass
(`symgrad.value_names`). Then the level's own part lowers the values: `scalar` (per-sample
expressions, sums over the batch) or `matrix` (products, fused entrywise blocks, reductions);
each refuses what no kernel can print (`checks`) on the walk of the DAG it makes anyway.
"""

from ..dag import gc_paused
from ..names import Namer
from ..rewrite import RULES, stabilize
from ..value_names import ValueNames
from . import matrix, scalar

LEVELS = {"scalar": scalar, "matrix": matrix}  # the level's part: names, checks and `lower`


@gc_paused()
def lower(name, loss, grads, predictions, data, params, dtype="float64", rewrites=RULES, adjoints=None, extras=(),
          level="scalar"):
    """The `KernelIR` for `loss`, its `grads` (`params` order) and the model outputs `predictions`.

    The stable `rewrites` (`symgrad.rewrite`) are applied to all of them, forward and backward
    alike. `adjoints` (the sweep's node -> ∂loss/∂node, whose values the grads are) name the
    backward pass's values. `extras` are (name, expression) pairs of further derived results (a
    Hessian, H·V; matrix level), lowered with the backward pass under those names. `level` is
    "scalar" (per-sample values, sums over the batch) or "matrix" (whole arrays).
    """
    rewritten = {}
    n_grads, n_out = len(grads), len(predictions)
    roots = stabilize([loss, *grads, *predictions, *(e for _, e in extras)], rewrites, mapping=rewritten)
    loss, grads, predictions = roots[0], roots[1 : 1 + n_grads], roots[1 + n_grads : 1 + n_grads + n_out]
    extras = list(zip((n for n, _ in extras), roots[1 + n_grads + n_out :], strict=True))
    level = LEVELS[level]
    level.reject_unbound(roots, data, params)
    namer = Namer()
    idents = {s: namer.user(s.name) for s in [*data, *params]}
    own = level.forward_names(loss, predictions, params, idents)
    own[loss] = level.LOSS_NAME
    for k, p in enumerate(predictions, start=1):
        own.setdefault(p, f"output{k}" if len(predictions) > 1 else "output")
    own.update({e: n for n, e in extras})
    names = ValueNames(own, adjoints or {}, rewritten, params, grads, idents)
    ir = level.lower(name, loss, grads, predictions, extras, data, params, dtype, namer, idents, names)
    ir.origins = {**{old: ir.origins[new] for old, new in rewritten.items() if new in ir.origins}, **ir.origins}
    return ir
