"""Small factors first: a product's broadcast operands are multiplied together before the big one.

numpy evaluates `X*(1 - s)*s` left to right, so an N×n array `X` meets two N×1 columns in two
N×n passes; `X*((1 - s)*s)` makes one. In every product of an entrywise expression, the factors
whose shape is smaller than the product's (columns, rows, scalars, numbers) are split off into a
temporary of their own, so the big operand is touched once. Sums likewise: `m - Z + log(s)` with
m, s columns is `(m + log(s)) - Z`, one N×k pass instead of two.
"""

import sympy as sp


def shape_of_expr(expr, shape_of):
    """The broadcast shape of `expr` (2-D, 1 on broadcast axes) from the shapes of its symbols."""
    dims = [1, 1]
    for s in expr.free_symbols:
        shape = tuple(shape_of(s.name))
        shape = (1,) * (2 - len(shape)) + shape
        for axis, dim in enumerate(shape[-2:]):
            if dim != 1:
                dims[axis] = dim
    return tuple(dims)


def small_factors_first(expr, shape_of, hoist):
    """`expr` with each product's smaller factors (each sum's smaller terms) replaced by one temporary.

    `shape_of(name)` is a value's shape; `hoist(expr)` records a new temporary for `expr` and
    returns its name. Products with at most one small factor are left alone (nothing to gain).
    """
    if expr.is_Atom:
        return expr
    args = [small_factors_first(a, shape_of, hoist) for a in expr.args]
    if args != list(expr.args):
        expr = expr.func(*args)
    if not isinstance(expr, (sp.Mul, sp.Add)):
        return expr
    own = shape_of_expr(expr, shape_of)
    small = [f for f in expr.args if shape_of_expr(f, shape_of) != own]
    if len(small) < 2 or len(small) == len(expr.args):
        return expr
    big = [f for f in expr.args if shape_of_expr(f, shape_of) == own]
    small = small_factors_first(expr.func(*small), shape_of, hoist)  # columns with scalars: scalars first
    return expr.func(*big, sp.Symbol(hoist(small)))
