"""What each op means at the scalar level: rules from input `Value`s to an output `Value`.

A `Value` is a tensor written out as sympy expressions. A tensor with a batch axis (a placeholder
declared with `None` in its shape, and everything computed from it per sample) keeps the
expressions of ONE sample: `elems` has the tensor's shape without the batch axis, `batch_axis`
says where that axis sits. The generated kernel evaluates them for every sample at once.
Reducing over the batch axis gives a tensor without one whose value is
`elems + Σ_samples summed` — the kernel's batch sum. Linear ops carry both parts along; a
non-linear function of a batch sum would need a second pass over the data, so it is refused
with an `UnsupportedError` that says what to write instead.
"""

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .. import functions as F
from ..errors import ShapeError, UnsupportedError

BATCH_SIZE = sp.Symbol("batch_size", positive=True)  # the number of samples; a kernel input


@dataclass
class Value:
    elems: np.ndarray  # object array of sympy expressions
    batch_axis: int | None = None  # where the batch axis sits in the tensor's shape
    summed: np.ndarray | None = None  # without a batch axis: value = elems + Σ_samples summed

    @property
    def shape(self):
        """The tensor's shape, `None` standing for the batch axis."""
        dims = list(self.elems.shape)
        if self.batch_axis is not None:
            dims.insert(self.batch_axis, None)
        return tuple(dims)


def obj(x):
    """`x` as an object array of sympy expressions."""
    arr = np.empty(np.shape(x), dtype=object)
    flat = np.asarray(x, dtype=object).reshape(-1)
    arr.reshape(-1)[:] = [sp.sympify(e) for e in flat]
    return arr


def _apply(fn, *arrays):
    """`fn` elementwise over broadcast object arrays (the result is an object array)."""
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    out = np.empty(shape, dtype=object)
    flat = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
    out.reshape(-1)[:] = [fn(*args) for args in zip(*flat, strict=True)]
    return out


def _zeros(shape):
    return obj(np.zeros(shape, dtype=int))


def _refuse(what, detail):
    raise UnsupportedError(
        f"{what}: {detail}; symgrad.tf sums over the batch axis inside one generated kernel, so apply "
        "non-linear functions per sample, before reduce_sum/reduce_mean over the batch"
    )


def has_sum(v):
    return v.summed is not None and any(e != 0 for e in v.summed.flat)


# -- elementwise ---------------------------------------------------------------------------------
def unary(fn, name, linear=False):
    """A rule applying `fn` to every element; linear functions pass through batch sums."""

    def rule(node, x):
        if has_sum(x) and not linear:
            _refuse(f"{name} of {node.inputs[0].name}", "the argument is a sum over the batch")
        summed = _apply(fn, x.summed) if x.summed is not None else None
        return Value(_apply(fn, x.elems), x.batch_axis, summed)

    return rule


def _align(node, values):
    """Elements of `values` made broadcastable, and the batch axis of the result."""
    ranks = [len(v.shape) for v in values]
    rank = max(ranks)
    from_right = {r - v.batch_axis for v, r in zip(values, ranks, strict=True) if v.batch_axis is not None}
    if len(from_right) > 1:
        raise ShapeError(
            f"{node.op} {node.name}: the batch axes of its inputs do not line up "
            f"(shapes {[v.shape for v in values]}); transpose one so that samples meet samples"
        )
    if not from_right:
        return [v.elems for v in values], None
    p = from_right.pop()
    out = []
    for v, r in zip(values, ranks, strict=True):
        e = v.elems
        if v.batch_axis is None and r >= p:
            if e.shape[r - p] != 1:
                raise ShapeError(
                    f"{node.op} {node.name}: an input of shape {v.shape} has {e.shape[r - p]} entries along "
                    f"the batch axis of the other input ({[w.shape for w in values]}); it must have 1 there"
                )
            e = np.squeeze(e, axis=r - p)
        out.append(e)
    return out, rank - p


def binary(fn, name, kind):
    """A two-argument elementwise rule; `kind` says how batch sums combine ("add", "mul", "div", None)."""

    def rule(node, a, b):
        label = f"{name} {node.name}"
        if a.batch_axis is None and b.batch_axis is None:
            return _unbatched_binary(fn, label, kind, a, b)
        if has_sum(a) or has_sum(b):
            _refuse(label, "it combines per-sample values with a sum over the batch")
        (ea, eb), axis = _align(node, [a, b])
        return Value(_broadcast_apply(node, fn, ea, eb), axis)

    return rule


def _broadcast_apply(node, fn, *arrays):
    try:
        return _apply(fn, *arrays)
    except ValueError:
        shapes = [tuple(t.shape) if t.shape is not None else "unknown" for t in node.inputs]
        raise ShapeError(f"{node.op} {node.name}: shapes {shapes} cannot be broadcast together") from None


def _unbatched_binary(fn, label, kind, a, b):
    sa, sb = has_sum(a), has_sum(b)
    if not (sa or sb):
        return Value(_broadcast_apply_plain(fn, label, a.elems, b.elems))
    za = a.summed if sa else _zeros(a.elems.shape)
    zb = b.summed if sb else _zeros(b.elems.shape)
    elems = _broadcast_apply_plain(fn, label, a.elems, b.elems)
    if kind == "add":
        return Value(elems, None, _apply(fn, za, zb))
    if kind == "mul" and not (sa and sb):
        return Value(elems, None, _apply(fn, za, b.elems) if sa else _apply(fn, a.elems, zb))
    if kind == "div" and not sb:
        return Value(elems, None, _apply(fn, za, b.elems))
    _refuse(label, "it is not linear in a sum over the batch")


def _broadcast_apply_plain(fn, label, *arrays):
    try:
        return _apply(fn, *arrays)
    except ValueError:
        raise ShapeError(f"{label}: shapes {[a.shape for a in arrays]} cannot be broadcast together") from None


# -- matmul ------------------------------------------------------------------------------------------
def _dot(A, B):
    """A @ B for 2-D object arrays, each entry one flat sympy Add."""
    out = np.empty((A.shape[0], B.shape[1]), dtype=object)
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            out[i, j] = sp.Add(*[A[i, k] * B[k, j] for k in range(A.shape[1])])
    return out


def matmul(node, a, b):
    label = f"matmul {node.name}"
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ShapeError(f"{label}: matmul multiplies matrices (rank 2), got shapes {a.shape} and {b.shape}")
    ka, kb = a.shape[1], b.shape[0]
    if None not in (ka, kb) and ka != kb:
        raise ShapeError(f"{label}: inner dimensions differ, {a.shape} @ {b.shape}")
    if a.batch_axis is None and b.batch_axis is None:
        sa, sb = has_sum(a), has_sum(b)
        if sa and sb:
            _refuse(label, "both factors are sums over the batch")
        summed = _dot(a.summed, b.elems) if sa else _dot(a.elems, b.summed) if sb else None
        return Value(_dot(a.elems, b.elems), None, summed)
    if has_sum(a) or has_sum(b):
        _refuse(label, "it multiplies per-sample values with a sum over the batch")
    if a.batch_axis == 0 and b.batch_axis is None:  # rows are samples: (N, k) @ (k, p)
        return Value(_dot(a.elems[None, :], b.elems)[0], 0)
    if b.batch_axis == 1 and a.batch_axis is None:  # columns are samples: (m, k) @ (k, N)
        return Value(_dot(a.elems, b.elems[:, None])[:, 0], 1)
    if a.batch_axis == 1 and b.batch_axis == 0:  # (m, N) @ (N, p): a sum over the samples
        return Value(_zeros((a.elems.shape[0], b.elems.shape[0])), None, _dot(a.elems[:, None], b.elems[None, :]))
    raise ShapeError(
        f"{label}: shapes {a.shape} @ {b.shape} (None = the batch axis) would mix different samples or "
        "contract over parameters with the batch; put samples in the rows of the left or the columns of the right factor"
    )


# -- reductions, softmax, transpose ---------------------------------------------------------------------
def _axes(axis, rank, label):
    if axis is None:
        return tuple(range(rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for ax in axes:
        if not -rank <= ax < rank:
            raise ShapeError(f"{label}: axis {ax} is out of range for a tensor of rank {rank}")
        out.append(ax % rank)
    return tuple(sorted(set(out)))


def _sum_axes(arr, axes, keepdims):
    """Σ over `axes` of an object array, each result one flat sympy Add."""
    rest = [ax for ax in range(arr.ndim) if ax not in axes]
    moved = np.transpose(arr, rest + list(axes))
    shape = moved.shape[: len(rest)]
    flat = moved.reshape(shape + (-1,))
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        out[idx] = sp.Add(*flat[idx])
    if keepdims:
        out = out.reshape([1 if ax in axes else arr.shape[ax] for ax in range(arr.ndim)])
    return out


def reduce(mean):
    def rule(node, x):
        axis, keepdims = node.attrs
        label = f"{'reduce_mean' if mean else 'reduce_sum'} {node.name}"
        axes = _axes(axis, len(x.shape), label)
        b = x.batch_axis
        elem_axes = tuple(ax - (b is not None and ax > b) for ax in axes if ax != b)
        count = math.prod(x.elems.shape[ax] for ax in elem_axes)
        scale = sp.Integer(1) / count if mean and count else sp.Integer(1)
        if b is not None and b in axes:
            if mean:
                scale = scale / BATCH_SIZE
            per = _apply(lambda e: e * scale, _sum_axes(x.elems, elem_axes, keepdims))
            if keepdims:
                per = np.expand_dims(per, b)
            return Value(_zeros(per.shape), None, per)
        elems = _apply(lambda e: e * scale, _sum_axes(x.elems, elem_axes, keepdims))
        summed = None
        if x.summed is not None:
            summed = _apply(lambda e: e * scale, _sum_axes(x.summed, elem_axes, keepdims))
        new_b = b if b is None or keepdims else b - sum(ax < b for ax in axes)
        return Value(elems, new_b, summed)

    return rule


def softmax(node, x):
    (axis,) = node.attrs
    label = f"softmax {node.name}"
    if has_sum(x):
        _refuse(label, "its argument is a sum over the batch")
    ax = _axes(axis, len(x.shape), label)[0]
    if ax == x.batch_axis:
        raise UnsupportedError(f"{label}: softmax over the batch axis would mix samples; take it over a feature axis")
    ax -= x.batch_axis is not None and ax > x.batch_axis
    moved = np.moveaxis(x.elems, ax, -1)
    out = np.empty(moved.shape, dtype=object)
    for idx in np.ndindex(moved.shape[:-1]):
        z = list(moved[idx])
        lse = F.logsumexp(*z)
        out[idx] = [sp.exp(zk - lse) for zk in z]
    return Value(np.moveaxis(out, -1, ax), x.batch_axis)


def transpose(node, x):
    (perm,) = node.attrs
    rank = len(x.shape)
    perm = tuple(range(rank))[::-1] if perm is None else tuple(p % rank for p in perm)
    if sorted(perm) != list(range(rank)):
        raise ShapeError(f"transpose {node.name}: perm {perm} is not a permutation of the {rank} axes")
    b = x.batch_axis
    if b is None:
        summed = np.transpose(x.summed, perm) if x.summed is not None else None
        return Value(np.transpose(x.elems, perm), None, summed)
    rest = [p - (p > b) for p in perm if p != b]
    return Value(np.transpose(x.elems, rest), perm.index(b))


def reshape(node, x):
    (target,) = node.attrs
    label = f"reshape {node.name} of {node.inputs[0].name} to {target}"
    if x.batch_axis is None:
        size = x.elems.size
        fixed = int(np.prod([d for d in target if d != -1]))
        shape = tuple(size // fixed if d == -1 else d for d in target)
        if int(np.prod(shape)) != size:
            raise ShapeError(f"{label}: {size} values do not fit")
        summed = None if x.summed is None else x.summed.reshape(shape)
        return Value(x.elems.reshape(shape), None, summed)
    if x.batch_axis != 0 or not target or target[0] != -1 or -1 in target[1:]:
        raise UnsupportedError(f"{label}: the batch axis must stay first; reshape to (-1, …) with the other sizes given")
    if int(np.prod(target[1:])) != x.elems.size:
        raise ShapeError(f"{label}: one sample has {x.elems.size} values")
    return Value(x.elems.reshape(target[1:]), 0)


def assign(node, var, value):
    if value.batch_axis is not None:
        raise ShapeError(
            f"assign {node.name}: the new value of {node.inputs[0].name} has a batch axis ({value.shape}); "
            "reduce it over the batch first"
        )
    return Value(np.broadcast_to(value.elems, var.elems.shape), None,
                 None if value.summed is None else np.broadcast_to(value.summed, var.elems.shape))


def identity(node, x):
    return x


def _relu(x):
    return F.relu(x)


RULES = {
    "add": binary(lambda a, b: a + b, "add", "add"),
    "subtract": binary(lambda a, b: a - b, "subtract", "add"),
    "multiply": binary(lambda a, b: a * b, "multiply", "mul"),
    "divide": binary(lambda a, b: a / b, "divide", "div"),
    "pow": binary(lambda a, b: a**b, "pow", None),
    "maximum": binary(lambda a, b: sp.Max(a, b), "maximum", None),
    "minimum": binary(lambda a, b: sp.Min(a, b), "minimum", None),
    "negative": unary(lambda a: -a, "negative", linear=True),
    "square": unary(lambda a: a**2, "square"),
    "sqrt": unary(sp.sqrt, "sqrt"),
    "exp": unary(sp.exp, "exp"),
    "log": unary(sp.log, "log"),
    "abs": unary(sp.Abs, "abs"),
    "sigmoid": unary(F.sigmoid, "sigmoid"),
    "tanh": unary(sp.tanh, "tanh"),
    "relu": unary(_relu, "relu"),
    "softplus": unary(F.softplus, "softplus"),
    "matmul": matmul,
    "reduce_sum": reduce(mean=False),
    "reduce_mean": reduce(mean=True),
    "softmax": softmax,
    "transpose": transpose,
    "reshape": reshape,
    "identity": identity,
    "assign": assign,
}
