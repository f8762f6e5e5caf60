"""Binding values to a matrix-level expression: arrays by MatrixSymbol, sizes read off their shapes.

Sizes stay symbolic in the model (`X` is N×d); the arrays passed at the call fix them. A size
symbol that the expression also uses as a number (a mean's 1/N) takes the value read off the data.
"""

import numpy as np
import sympy as sp

from ..errors import ShapeError, UnboundSymbolError
from ..values import bind as bind_scalar
from .graph import size_symbols


def infer_sizes(bound):
    """{size symbol: int} from the arrays bound to MatrixSymbols; inconsistent sizes are our error."""
    sizes, seen = {}, {}
    matrices = [s for s in bound if isinstance(s, sp.MatrixSymbol)]
    for s in matrices:
        for dim, got in zip(s.shape, bound[s].shape, strict=True):
            if isinstance(dim, sp.Symbol):
                if dim in sizes and sizes[dim] != got:
                    raise ShapeError(
                        f"size {dim} is {sizes[dim]} in {seen[dim]} ({seen[dim].shape}) but {got} in {s} "
                        f"(value of shape {bound[s].shape}); give every matrix a consistent shape"
                    )
                sizes.setdefault(dim, got)
                seen.setdefault(dim, s)
    for s in matrices:
        for dim, got in zip(s.shape, bound[s].shape, strict=True):
            if not dim.is_Integer and not isinstance(dim, sp.Symbol):
                want = dim.xreplace({k: sp.Integer(v) for k, v in sizes.items()})
                if want.is_Integer and int(want) != got:
                    raise ShapeError(f"value of {s} has shape {bound[s].shape}, but {s} is {s.shape[0]}×{s.shape[1]} = {want}")
    return sizes


def bind(symbols, values, dtype=np.float64, nonfinite="raise"):
    """(bound, sizes): every symbol's checked array, and the sizes the matrices fix.

    Scalar symbols must be single numbers here (a matrix model has no batch axis of scalars);
    size symbols need no value of their own.
    """
    sizes_needed = size_symbols(symbols)
    own = [s for s in symbols if not (isinstance(s, sp.Symbol) and s in sizes_needed)]
    scalars = {s for s in own if not isinstance(s, sp.MatrixSymbol)}
    bound, _ = bind_scalar(own, values, dtype=dtype, nonfinite=nonfinite, scalar=scalars)
    sizes = infer_sizes(bound)
    for s in sizes_needed & set(symbols):
        if s not in sizes:
            raise UnboundSymbolError(f"size {s} is not fixed by any matrix value; pass a matrix that has it")
        bound[s] = np.asarray(sizes[s], dtype=bound_dtype(bound, dtype))
    return bound, sizes


def bound_dtype(bound, default):
    for v in bound.values():
        if v.dtype.kind == "f":
            return v.dtype
    return np.dtype(default) if default is not None else np.float64


def shape_of(node, sizes):
    """The integer shape of matrix `node` once the sizes are known."""
    subs = {k: sp.Integer(v) for k, v in sizes.items()}
    out = []
    for dim in node.shape:
        dim = sp.sympify(dim).xreplace(subs)
        if not dim.is_Integer:
            raise UnboundSymbolError(f"the size {dim} of {str(node)[:60]} is not fixed by any value; pass a matrix that has it")
        out.append(int(dim))
    return tuple(out)
