"""Checking and normalising the `values` mapping users pass to every numeric entry point.

One place decides what a valid binding is, for scalar and matrix models alike, so autodiff, check
and generated kernels reject the same bad input with the same message. A scalar model's symbols
take one value per sample (a shared batch shape) or, as parameters, one number; a matrix model's
MatrixSymbols take arrays of their shape, whose sizes stay symbolic in the model (`X` is N×d) and
are read off the arrays passed (a size the model also uses as a number, a mean's 1/N, gets that value).
"""

import numbers

import numpy as np
import sympy as sp

from .errors import DTypeError, InvalidArgumentError, NonFiniteError, ShapeError, UnboundSymbolError

NONFINITE_POLICIES = ("raise", "propagate")


def as_symbol_list(wrt, what="wrt"):
    """`wrt` as a list of symbols (a single symbol is accepted); anything else is our error."""
    if isinstance(wrt, (sp.Symbol, sp.MatrixSymbol)):
        return [wrt]
    try:
        items = list(wrt)
    except TypeError:
        raise InvalidArgumentError(f"{what} must be a symbol or a list of symbols, got {wrt!r}") from None
    for item in items:
        if not isinstance(item, (sp.Symbol, sp.MatrixSymbol)):
            raise InvalidArgumentError(
                f"{what} entry {item!r} is a {type(item).__name__}, not a sympy Symbol; "
                "differentiate with respect to symbols (substitute expressions for new symbols first)"
            )
    if len(set(items)) != len(items):
        dup = sorted({str(s) for s in items if items.count(s) > 1})
        raise InvalidArgumentError(f"{what} lists {', '.join(dup)} more than once")
    return items


def as_expr(expr):
    """`expr` sympified, or our error when it is not an expression."""
    try:
        out = sp.sympify(expr, strict=True) if not isinstance(expr, sp.Basic) else expr
    except (sp.SympifyError, TypeError):
        raise InvalidArgumentError(f"expected a sympy expression, got {type(expr).__name__}: {expr!r}") from None
    if not isinstance(out, sp.Expr):
        raise InvalidArgumentError(f"expected a sympy expression, got {type(out).__name__}: {out}")
    return out


def _to_array(symbol, value, dtype):
    if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
        raise DTypeError(f"value of {symbol} is complex ({value!r}); symgrad differentiates real functions only")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is bad input
        raise DTypeError(f"value of {symbol} cannot be read as a number array: {exc}") from None
    if arr.dtype.kind == "c":
        raise DTypeError(f"value of {symbol} is complex ({arr.dtype}); symgrad differentiates real functions only")
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"value of {symbol} has dtype {arr.dtype}; pass real numbers (float32 or float64)")
    if dtype is None:
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float64
    return arr.astype(dtype, copy=False)


def bind(symbols, values, *, dtype=np.float64, nonfinite="raise", scalar=(), sizes=None):
    """Map every symbol in `symbols` to a float array, checking what the user passed.

    `scalar` lists symbols that must be single numbers (parameters of a scalar-level kernel).
    Returns (bound, batch_shape): arrays of the scalar symbols have shape (), the others share one
    batch shape (or are scalars broadcast over it). For a matrix model (`sizes=True`; by default,
    when `symbols` has MatrixSymbols) it returns (bound, sizes) instead: the sizes {size symbol: int}
    the matrices' arrays fix, every plain symbol being a single number and size symbols needing no
    value of their own (one the model reads as a number is bound to its size).
    """
    if nonfinite not in NONFINITE_POLICIES:
        raise InvalidArgumentError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    if not hasattr(values, "get"):
        raise InvalidArgumentError(f"values must be a mapping from symbols to numbers, got {type(values).__name__}")
    matrix = any(isinstance(s, sp.MatrixSymbol) for s in symbols) if sizes is None else sizes
    if matrix:  # no batch axis of scalars
        sizes_needed = _size_symbols(symbols)
        read_sizes = [s for s in symbols if s in sizes_needed]
        symbols = [s for s in symbols if s not in sizes_needed]
        scalar = {s for s in symbols if not isinstance(s, sp.MatrixSymbol)}
    by_name = {str(k): v for k, v in values.items() if isinstance(k, str)}
    missing = [s for s in symbols if s not in values and str(s) not in by_name]
    if missing:
        names = ", ".join(sorted(str(s) for s in missing))
        raise UnboundSymbolError(f"no value given for {names}; add it to the values mapping")
    bound, shapes = {}, {}
    for s in symbols:
        arr = _to_array(s, values[s] if s in values else by_name[str(s)], dtype)
        if nonfinite == "raise" and arr.size and not np.all(np.isfinite(arr)):
            raise NonFiniteError(
                f"value of {s} contains NaN or Inf; clean the data or pass nonfinite='propagate'"
            )
        if isinstance(s, sp.MatrixSymbol):
            _check_matrix_shape(s, arr)
        elif s in scalar and arr.ndim != 0:
            if arr.size != 1:
                raise ShapeError(f"parameter {s} must be a single number, got an array of shape {arr.shape}")
            arr = arr.reshape(())
        elif arr.ndim:
            shapes[s] = arr.shape
        bound[s] = arr
    if matrix:
        return bound, _bind_sizes(bound, read_sizes, dtype)
    batch = ()
    if shapes:
        try:
            batch = np.broadcast_shapes(*shapes.values())
        except ValueError:
            listing = ", ".join(f"{s}: {shp}" for s, shp in shapes.items())
            raise ShapeError(f"data arrays have mismatched batch shapes ({listing}); give every input the same length") from None
        if 0 in batch:
            raise ShapeError(f"empty batch (shape {batch}); pass at least one sample")
    return bound, batch


def _size_symbols(symbols):
    """The symbols in the shapes of the MatrixSymbols among `symbols`."""
    return {sym for m in symbols if isinstance(m, sp.MatrixSymbol) for dim in m.shape for sym in dim.free_symbols}


def _check_matrix_shape(symbol, arr):
    """A MatrixSymbol's value must be 2-D and match every concrete dimension of the symbol."""
    ok = arr.ndim == 2 and all(
        not dim.is_Integer or int(dim) == got for dim, got in zip(symbol.shape, arr.shape)
    )
    if not ok:
        rows, cols = symbol.shape
        raise ShapeError(f"value of {symbol} has shape {arr.shape}, but {symbol} is {rows}×{cols}")


def _bind_sizes(bound, read_sizes, dtype):
    """The sizes the matrices fix; the size symbols the model reads as numbers are bound to them."""
    sizes = infer_sizes(bound)
    for s in read_sizes:
        if s not in sizes:
            raise UnboundSymbolError(f"size {s} is not fixed by any matrix value; pass a matrix that has it")
        bound[s] = np.asarray(sizes[s], dtype=_float_dtype(bound, dtype))
    return sizes


def _float_dtype(bound, default):
    """The dtype a size read as a number takes: the first float array's, else `default`'s."""
    for v in bound.values():
        if v.dtype.kind == "f":
            return v.dtype
    return np.dtype(default) if default is not None else np.float64


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
