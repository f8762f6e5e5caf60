"""Diagnostics about a model before it is compiled: a loss constant in every parameter, a DAG over the size limit.

A loss that sympy folds to 0 (softmax cross-entropy over one output: log-sum-exp of one logit is
the logit) or that reads none of the parameters gives zero gradients everywhere; training it
silently does nothing, so `symgrad.compile` says so with a `ConstantLossWarning`; at the matrix
level, where sympy does not fold it, a row softmax over one column is the sign of that mistake.
`check_size` is `max_ops` for every level: operations of the DAG (scalar or matrix nodes alike).
"""

import warnings

from .dag import free_symbols, op_count, topological
from .errors import ConstantLossWarning, SizeLimitError


def check_size(what, roots, max_ops):
    """Our error when the DAG of `roots` has more than `max_ops` operations (None: no limit)."""
    if max_ops is None:
        return
    ops = op_count(roots)
    if ops > max_ops:
        raise SizeLimitError(
            f"the {what} has {ops} operations, over the limit max_ops={max_ops}; "
            "raise max_ops (None means no limit) or split the model into smaller kernels"
        )


def warn_if_constant(loss, wrt, name):
    """Warn (`ConstantLossWarning`) when `loss` is identically zero or constant in all of `wrt`, or
    takes a softmax over one column (the usual way to get a zero loss at the matrix level)."""
    problem = _problem(loss, wrt)
    if problem:
        warnings.warn(f"the loss of kernel {name!r} {problem}", ConstantLossWarning, stacklevel=3)


NO_LEARNING = "every gradient is zero and training changes nothing"
ONE_OUTPUT = "for one output use binary cross-entropy with logits, not softmax cross-entropy"


def _problem(loss, wrt):
    if not wrt:  # nothing to train: a kernel for outputs only (symgrad.tf compiles those with loss 0)
        return None
    if loss == 0 or getattr(loss, "is_ZeroMatrix", False):
        return f"is identically zero: {NO_LEARNING} ({ONE_OUTPUT})"
    if not free_symbols([loss]) & set(wrt):
        return f"does not depend on any parameter ({', '.join(map(str, wrt))}): {NO_LEARNING}"
    from .matrix.nodes import RowLogSumExp, RowSoftmax

    if any(isinstance(node, (RowLogSumExp, RowSoftmax)) and node.arg.shape[1] == 1 for node in topological([loss])):
        return (f"takes a row softmax over a single column: softmax of one entry is 1 and its log-sum-exp the "
                f"entry itself, so a softmax cross-entropy over one output is identically zero ({ONE_OUTPUT})")
    return None
