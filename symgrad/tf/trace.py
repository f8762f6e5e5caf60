"""What each op means at the matrix level: rules from input `Traced` values to an output.

A tensor is one sympy expression over whole arrays: a scalar for rank 0, a matrix for rank 2 and
a 1×k row for rank 1 (numpy's own view of a vector when it broadcasts against a matrix). A
placeholder's `None` axis is the size symbol `batch_size`, so one generated kernel serves every
batch length; reductions over it are products with ones (or `SumAll`), and anything else applies
to the batch as a whole: mean-centring, normalising by a batch statistic and the log of a mean
are ordinary matrix expressions. Entrywise ops become `symgrad.matrix.Map`s, `matmul` a matrix
product, softmax and log-sum-exp the row nodes, so programs get `symgrad.matrix`'s BLAS kernels,
rules and checks.
"""

from dataclasses import dataclass

import sympy as sp

from ..errors import ShapeError, UnsupportedError
from ..matrix.algebra import matmul as _matmul
from ..matrix.algebra import scale
from ..matrix.algebra import transpose as _transpose
from ..matrix.nodes import Map, Ones, RowLogSumExp, RowSoftmax, SumAll, canonical_lambda
from ..primitives import tf_record

BATCH_SIZE = sp.Symbol("batch_size", integer=True, positive=True)  # the `None` axis of placeholders
_VARS = sp.symbols("_x0:4", real=True)


class BatchLengthError(ShapeError):
    """The batch axis meets a fixed length other than 1 (a constant of the batch's length): right in
    TensorFlow when the two agree at run time, so the session traces again with the batch length fixed."""


@dataclass(frozen=True)
class Traced:
    expr: sp.Basic  # scalar Expr (rank 0) or MatrixExpr (rank 1 as a 1×k row, rank 2)
    shape: tuple  # the tensor's shape: ints, BATCH_SIZE for the batch axis


def matrix_shape(shape, what):
    """The matrix a tensor of `shape` is held in: None (a scalar), (1, k) for vectors, or itself."""
    if len(shape) > 2:
        raise UnsupportedError(
            f"{what}: symgrad.tf traces tensors of rank ≤ 2 (scalars, vectors, matrices), got shape {shape}; "
            "flatten the extra axes into the features"
        )
    return None if not shape else (1, shape[0]) if len(shape) == 1 else tuple(shape)


def leaf(name, shape):
    """The symbol a leaf of `shape` is: a real Symbol for a scalar, else a MatrixSymbol."""
    dims = matrix_shape(shape, name)
    return sp.Symbol(name, real=True) if dims is None else sp.MatrixSymbol(name, *dims)


def _label(node):
    return f"{node.op} {node.name}"


# -- entrywise -------------------------------------------------------------------------------------
def broadcast(label, shapes):
    """numpy's broadcast of TF shapes (the batch symbol meets only itself or 1)."""
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes], strict=True):
        kept = {d for d in dims if d != 1}
        if len(kept) > 1:
            text = ", ".join(str(tuple("None" if d is BATCH_SIZE else d for d in s)) for s in shapes)
            error = BatchLengthError if BATCH_SIZE in kept else ShapeError
            raise error(f"{label}: shapes {text} cannot be broadcast together (None is the batch axis)")
        out.append(kept.pop() if kept else 1)
    return tuple(out)


def entrywise(label, fn, args):
    """`fn` applied entry by entry to broadcast `args`: plain sympy for scalars, else one `Map`."""
    shape = broadcast(label, [a.shape for a in args])
    exprs = [a.expr for a in args]
    if not any(e.is_Matrix for e in exprs):
        return Traced(fn(*exprs), shape)
    variables, operands, body_args = [], [], []
    for e in exprs:
        if not e.is_Matrix and e.is_number:
            body_args.append(e)
            continue
        if e in operands:
            body_args.append(variables[operands.index(e)])
            continue
        variables.append(_VARS[len(variables)])
        operands.append(e)
        body_args.append(variables[-1])
    body = sp.sympify(fn(*body_args))
    if body in variables and operands[variables.index(body)].shape == matrix_shape(shape, label):
        return Traced(operands[variables.index(body)], shape)
    if not any(o.is_Matrix for o, v in zip(operands, variables, strict=True) if v in body.free_symbols):
        ones = sp.Symbol("_ones", real=True)  # a body reading only scalars still fills the matrix
        variables.append(ones)
        operands.append(Ones(*matrix_shape(shape, label)))
        body = body * ones
    return Traced(Map(canonical_lambda(sp.Lambda(tuple(variables), body)), *operands), shape)


def unary(fn):
    def rule(node, x):
        return entrywise(_label(node), fn, [x])

    return rule


def log(node, x):
    """log, with log∘softmax rewritten to z − logsumexp(z) (a saturated softmax would give log 0)."""
    e = x.expr
    if isinstance(e, RowSoftmax) or (isinstance(e, sp.Transpose) and isinstance(e.arg, RowSoftmax)):
        flip = isinstance(e, sp.Transpose)
        z = (e.arg if flip else e).arg
        a, lse = _VARS[:2]
        out = Map(sp.Lambda((a, lse), a - lse), z, RowLogSumExp(z))
        return Traced(_transpose(out) if flip else out, x.shape)
    return entrywise(_label(node), sp.log, [x])


def binary(fn):
    def rule(node, a, b):
        return entrywise(_label(node), fn, [a, b])

    return rule


def dropout(node, x, noise, keep):
    return entrywise(_label(node), lambda v, u, k: v * sp.Heaviside(k - u, 0) / k, [x, noise, keep])


def clip(node, x, low, high):
    return entrywise(_label(node), lambda v, lo, hi: sp.Min(sp.Max(v, lo), hi), [x, low, high])


# -- products, reductions, rows ------------------------------------------------------------------------
def matmul(node, a, b):
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ShapeError(f"{_label(node)}: matmul multiplies matrices (rank 2), got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        error = BatchLengthError if BATCH_SIZE in (a.shape[1], b.shape[0]) else ShapeError
        raise error(f"{_label(node)}: inner dimensions differ, {a.shape} @ {b.shape}")
    return Traced(_matmul(a.expr, b.expr), (a.shape[0], b.shape[1]))


def axes_of(axis, rank, label):
    if axis is None:
        return tuple(range(rank))
    out = set()
    for ax in (axis,) if isinstance(axis, int) else axis:
        if not -rank <= ax < rank:
            raise ShapeError(f"{label}: axis {ax} is out of range for a tensor of rank {rank}")
        out.add(ax % rank)
    return tuple(sorted(out))


def _summed(x, axes, keepdims):
    """Σ over `axes` of the tensor `x` as ones products (SumAll for everything)."""
    e, rank = x.expr, len(x.shape)
    if rank == 0 or not axes:
        return e
    if rank == 1:
        return e * Ones(e.shape[1], 1) if keepdims else SumAll(e)
    m, n = e.shape
    if axes == (0,):
        return _matmul(Ones(1, m), e)
    if axes == (1,):
        col = _matmul(e, Ones(n, 1))
        return col if keepdims else _transpose(col)
    return _matmul(Ones(1, m), e, Ones(n, 1)) if keepdims else SumAll(e)


def reduce(mean):
    def rule(node, x):
        axis, keepdims = node.attrs
        axes = axes_of(axis, len(x.shape), _label(node))
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else tuple(
            d for i, d in enumerate(x.shape) if i not in axes)
        total = _summed(x, axes, keepdims)
        if mean:
            total = scale(1 / sp.Mul(*[x.shape[i] for i in axes]), total)
        return Traced(total, shape)

    return rule


def _rows(axis, x, label, what):
    """The tensor with `axis` as its rows' entries (a transpose when it is axis 0 of a matrix)."""
    if not x.shape:
        raise ShapeError(f"{label}: {what} needs a vector or matrix, got a scalar")
    ax = axes_of(axis, len(x.shape), label)[0]
    flip = len(x.shape) == 2 and ax == 0
    return (_transpose(x.expr) if flip else x.expr), flip


def softmax(node, x):
    e, flip = _rows(node.attrs[0], x, _label(node), "softmax")
    s = RowSoftmax(e)
    return Traced(_transpose(s) if flip else s, x.shape)


def log_softmax(node, x):
    e, flip = _rows(node.attrs[0], x, _label(node), "log_softmax")
    return log(node, Traced(_transpose(RowSoftmax(e)) if flip else RowSoftmax(e), x.shape))


def softmax_cross_entropy(node, labels, logits):
    """−Σ_k y_k log softmax(z)_k per row, in the stable form Σ_k y_k (lse − z_k): shape (rows,)."""
    label = _label(node)
    if len(logits.shape) != 2 or labels.shape != logits.shape:
        raise ShapeError(
            f"{label}: labels and logits must be (samples, classes) of the same shape, got {labels.shape} and {logits.shape}"
        )
    y, lse, z = _VARS[:3]
    Z = logits.expr
    terms = Map(sp.Lambda((y, lse, z), y * (lse - z)), labels.expr, RowLogSumExp(Z), Z)
    return Traced(_transpose(_matmul(terms, Ones(Z.shape[1], 1))), (logits.shape[0],))


def transpose(node, x):
    (perm,) = node.attrs
    rank = len(x.shape)
    perm = tuple(range(rank))[::-1] if perm is None else tuple(p % rank for p in perm)
    if sorted(perm) != list(range(rank)):
        raise ShapeError(f"{_label(node)}: perm {perm} is not a permutation of the {rank} axes")
    if rank < 2 or perm == (0, 1):
        return x
    return Traced(_transpose(x.expr), x.shape[::-1])


def reshape(node, x):
    """Reshapes between forms of one matrix: a row ↔ a vector, a column ↔ a vector, (N, k) to
    (-1, k). Anything else would reorder entries across rows of the batch; reshape the data in
    numpy before feeding it (a constant array's reshape is done there already, `ops.reshape`)."""
    (target,) = node.attrs
    shape = tuple(x.shape)
    sizes = [d for d in shape if d != 1]
    # the op's static shape has the sizes (None for the batch axis, held here as its symbol)
    out = None if node.shape is None else tuple(BATCH_SIZE if d is None else d for d in node.shape)
    if out is None or [d for d in out if d != 1] != sizes:
        raise UnsupportedError(
            f"{_label(node)}: reshaping {shape} to {target} would move entries between rows; symgrad.tf traces "
            "matrices (rank ≤ 2), so reshape the data with numpy before feeding it"
        )
    if out == shape:
        return x
    old, new = matrix_shape(shape, _label(node)), matrix_shape(out, _label(node))
    if (old is None) != (new is None):
        raise UnsupportedError(f"{_label(node)}: reshaping between a scalar and {shape if old else out} is not supported")
    if old == new:
        return Traced(x.expr, out)
    return Traced(_transpose(x.expr), out)  # (k, 1) ↔ (1, k): the same entries, one transposed


def assign(node, var, value):
    broadcast(_label(node), [var.shape, value.shape])
    return Traced(value.expr, var.shape)


def identity(node, x):
    return x


def apply_record(node, *args):
    """An op named by a primitive record (`tf=`): the record's function applied entry by entry."""
    return entrywise(_label(node), tf_record(node.op).function, args)


def rule(op):
    """The rule of `op`: the front-end's own (`RULES`), else its record's function entrywise."""
    found = RULES.get(op) or REFINEMENTS.get(op)
    if found is None and tf_record(op) is not None:
        return apply_record
    if found is None:
        raise UnsupportedError(f"symgrad.tf has no rule for the op {op!r}")
    return found


# the ops that are not one primitive applied entrywise (those come from the records: `apply_record`)
RULES = {
    "subtract": binary(lambda a, b: a - b),
    "divide": binary(lambda a, b: a / b),
    "squared_difference": binary(lambda a, b: (a - b) ** 2),
    "negative": unary(lambda a: -a),
    "square": unary(lambda a: a**2),
    "sqrt": unary(sp.sqrt),
    "rsqrt": unary(lambda a: 1 / sp.sqrt(a)),
    "reciprocal": unary(lambda a: 1 / a),
    "clip_by_value": clip,
    "dropout": dropout,
    "matmul": matmul,
    "reduce_sum": reduce(mean=False),
    "reduce_mean": reduce(mean=True),
    "softmax": softmax,
    "log_softmax": log_softmax,
    "softmax_cross_entropy": softmax_cross_entropy,
    "transpose": transpose,
    "reshape": reshape,
    "identity": identity,
    "cast": identity,  # between float types; the kernel computes in one dtype
    "assign": assign,
}

# ops a record names whose front-end rule adds a rewrite before applying the record's function
REFINEMENTS = {"log": log}  # log∘softmax → z − logsumexp(z)
