"""Checking and normalising the `values` mapping users pass to every numeric entry point.

One place decides what a valid binding is, so autodiff, check and generated kernels reject the
same bad input with the same message.
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


def bind(symbols, values, *, dtype=np.float64, nonfinite="raise", scalar=()):
    """Map every symbol in `symbols` to a float array, checking what the user passed.

    `scalar` lists symbols that must be single numbers (parameters of a scalar-level kernel).
    Returns (bound, batch_shape): arrays of the scalar symbols have shape (), the others share one
    batch shape (or are scalars broadcast over it).
    """
    if nonfinite not in NONFINITE_POLICIES:
        raise InvalidArgumentError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    if not hasattr(values, "get"):
        raise InvalidArgumentError(f"values must be a mapping from symbols to numbers, got {type(values).__name__}")
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


def _check_matrix_shape(symbol, arr):
    """A MatrixSymbol's value must be 2-D and match every concrete dimension of the symbol."""
    ok = arr.ndim == 2 and all(
        not dim.is_Integer or int(dim) == got for dim, got in zip(symbol.shape, arr.shape)
    )
    if not ok:
        rows, cols = symbol.shape
        raise ShapeError(f"value of {symbol} has shape {arr.shape}, but {symbol} is {rows}×{cols}")
