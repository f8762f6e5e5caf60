"""What the records' `linear` rules share: K of a node that depends linearly on a direction V.

A column (m×1) or scalar u has u = K·V (K is m×n, 1×n); a row (1×m) has uᵀ = K·V; a value that
is neither depends on V in a way no K describes (`NotLinear`). `symgrad.matrix.linear` walks.
"""

import sympy as sp

from ...errors import UnsupportedError
from ..algebra import emap, matmul, transpose

K = sp.Symbol("_k", real=True)


class NotLinear(UnsupportedError):
    """The expression is not linear in the direction (or not a row/column chain of it)."""


def shape(x):
    return tuple(x.shape) if x.is_Matrix else (sp.S.One, sp.S.One)


def as_column(x):
    """An independent operand as the column it contributes per direction (rows transposed)."""
    if not x.is_Matrix:
        return x
    rows, cols = x.shape
    if cols == 1:
        return x
    if rows == 1:
        return transpose(x)
    raise NotLinear(f"{str(x)[:60]} is a {rows}×{cols} matrix among row and column values")


def times_scalar_matrix(k, s):
    """K times a 1×1 matrix (or scalar) s, as an entrywise product (a 1×1 does not multiply m×n)."""
    if not getattr(s, "is_Matrix", False):
        return matmul(s, k)
    return emap(K * sp.Symbol("_s", real=True), (K, sp.Symbol("_s", real=True)), k, s)
