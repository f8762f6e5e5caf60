"""What no kernel of either level can compute, refused by name at compile time."""

import sympy as sp

from ..dag import topological
from ..errors import DTypeError
from ..primitives import kernel_record
from ..registry import foreign_error, is_foreign


def reject_unprintable(order, loss, grads, predictions, params):
    """Our error at compile time for what no kernel can compute: a non-real constant (I, zoo;
    kernels compute over the reals) or a user's own function class nobody registered (`registry.is_foreign`).
    `order` are the nodes to look at (every node of the DAG of `loss`, `grads` and `predictions`);
    the message says which of them a bad one is in."""
    foreign = next((node for node in order if is_foreign(node) and kernel_record(node) is None), None)
    if foreign is not None:
        raise foreign_error(foreign, "a generated kernel")
    bad = next((node for node in order if _non_real_constant(node)), None)
    if bad is None:
        return
    labelled = [("the loss", loss), *((f"the gradient in {p}", g) for p, g in zip(params, grads, strict=True)),
                *((f"output {k}", o) for k, o in enumerate(predictions))]
    where = next((label for label, root in labelled if bad in topological([root])), "the model")
    raise DTypeError(
        f"{where} contains the non-real number {bad}; symgrad works over the reals "
        "(write the model with real functions; complex intermediate values are not supported)"
    )


def _non_real_constant(node):
    """An atom that is a number and not real (I, zoo); functions (a Lambda such as sympy's
    IdentityFunction, whose assumptions raise) are not numbers."""
    return (not node.args and isinstance(node, sp.Expr) and not isinstance(node, sp.Lambda)
            and node.is_number and node.is_extended_real is False)
