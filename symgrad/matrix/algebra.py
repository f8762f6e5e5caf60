"""Small simplifying constructors for the matrix expressions that derivative rules build.

They do the obvious algebra only (drop identities and zeros, fold scalar factors, push transposes
through products, cancel double transposes), so gradients read like the textbook formulas
(`W2ᵀ`, `h1ᵀ δ2`) without calling sympy's canonicaliser, which is slow and sometimes wrong.
"""

import sympy as sp

from .nodes import Map, Ones, broadcast_shape, canonical_lambda

ONE = sp.S.One


def is_zero(m):
    return isinstance(m, sp.ZeroMatrix) or (not m.is_Matrix and m == 0)


def is_identity(m):
    return isinstance(m, sp.Identity) or (isinstance(m, sp.OneMatrix) and m.shape == (1, 1))


def matmul(*factors):
    """The product of scalars and matrices, flattened; identities dropped, zeros absorbing."""
    scalar, mats = ONE, []
    shape_rows, shape_cols = None, None
    for f in map(sp.sympify, factors):
        parts = f.args if isinstance(f, sp.MatMul) else (f,)
        for p in parts:
            if p.is_Matrix:
                shape_rows = p.shape[0] if shape_rows is None else shape_rows
                shape_cols = p.shape[1]
                if not is_identity(p):
                    mats.append(p)
            else:
                scalar = scalar * p
    if shape_rows is None:
        return scalar
    if scalar == 0 or any(is_zero(m) for m in mats):
        return sp.ZeroMatrix(shape_rows, shape_cols)
    if not mats:
        mats = [sp.Identity(shape_rows) if shape_rows != 1 else Ones(1, 1)]
    if scalar == 1 and len(mats) == 1:
        return mats[0]
    return sp.MatMul(*([] if scalar == 1 else [scalar]), *mats)


def add(*terms):
    """The sum of matrices (or of scalars), flattened, zeros dropped."""
    flat = []
    for t in terms:
        flat.extend(t.args if isinstance(t, sp.Add) else (t,))  # MatAdd is an Add too
    counts = {}
    for t in flat:
        if not is_zero(t):
            counts[t] = counts.get(t, 0) + 1
    kept = [t if k == 1 else scale(k, t) for t, k in counts.items()]
    if not kept:
        return flat[0] if flat else sp.S.Zero
    if len(kept) == 1:
        return kept[0]
    if kept[0].is_Matrix:
        return sp.MatAdd(*kept)
    return sp.Add(*kept)


def transpose(m):
    """mᵀ with the transpose pushed to the leaves (AB)ᵀ = BᵀAᵀ, (Aᵀ)ᵀ = A."""
    if isinstance(m, sp.Transpose):
        return m.arg
    if isinstance(m, (sp.Identity,)) or not m.is_Matrix:
        return m
    if isinstance(m, sp.OneMatrix):
        return Ones(m.shape[1], m.shape[0])
    if isinstance(m, sp.ZeroMatrix):
        return sp.ZeroMatrix(m.shape[1], m.shape[0])
    if isinstance(m, sp.MatMul):
        return matmul(*[transpose(f) for f in reversed(m.args)])
    if isinstance(m, sp.MatAdd):
        return add(*[transpose(t) for t in m.args])
    if isinstance(m, sp.HadamardProduct):
        return sp.HadamardProduct(*[transpose(f) for f in m.args])
    return sp.Transpose(m)


def scale(c, m):
    return matmul(c, m) if m.is_Matrix else c * m


def _ones_multiple(m):
    """c when m is c·OneMatrix (entrywise multiplication by it is scaling by c), else None."""
    if isinstance(m, sp.OneMatrix):
        return sp.S.One
    if isinstance(m, sp.MatMul):
        mats = [a for a in m.args if a.is_Matrix]
        if len(mats) == 1 and isinstance(mats[0], sp.OneMatrix):
            return sp.Mul(*[a for a in m.args if not a.is_Matrix])
    return None


def hadamard(*factors):
    """The entrywise product; factors c·OneMatrix of the full shape become the scalar c."""
    shape = factors[0].shape
    scalar, kept = sp.S.One, []
    for f in factors:
        c = _ones_multiple(f) if f.shape == shape else None
        if c is None:
            kept.append(f)
        else:
            scalar = scalar * c
    if not kept:
        return scale(scalar, Ones(*shape))
    body = kept[0] if len(kept) == 1 else sp.HadamardProduct(*kept)
    return scale(scalar, body)


def emap(body, variables, *operands):
    """Map(Lambda(variables, body), operands), dropping operands the body does not read.

    Numbers, and operands that are c·OneMatrix where the others keep the shape, enter the body as numbers.
    """
    shape = broadcast_shape(operands)
    keep = dict(zip(variables, operands, strict=True))
    for v, o in zip(variables, operands, strict=True):
        if not o.is_Matrix and o.is_number:  # a constant operand (an exponent) enters the body
            body = body.xreplace({v: o})
            del keep[v]
            continue
        c = _ones_multiple(o) if o.is_Matrix else None
        rest = [keep[u] for u in keep if u != v and u in body.free_symbols]
        if c is not None and any(r.is_Matrix for r in rest) and broadcast_shape(rest) == shape:
            if c.is_Number:  # not `is_number`: sympy's recursion down a deep scalar adjoint
                body = body.xreplace({v: c})
                del keep[v]
            else:
                keep[v] = c  # a scalar operand, broadcast
    pairs = [(v, o) for v, o in keep.items() if v in body.free_symbols]
    if not any(o.is_Matrix for _, o in pairs):
        # a body that reads no matrix is a constant (or scalar) times ones
        scalar = body.xreplace(dict(pairs))
        return scale(scalar, Ones(*shape)) if scalar != 0 else sp.ZeroMatrix(*shape)
    if broadcast_shape([o for _, o in pairs]) != shape:
        pairs.append((sp.Symbol("_ones", real=True), Ones(*shape)))
        body = body * pairs[-1][0]
    if len(pairs) == 1 and body == pairs[0][0]:
        return pairs[0][1]
    return Map(canonical_lambda(sp.Lambda(tuple(v for v, _ in pairs), body)), *[o for _, o in pairs])


def sum_rows_to(adjoint, shape):
    """Sum a broadcast adjoint back to an operand's `shape` (a 1×n row, an m×1 column, or a scalar)."""
    from .nodes import SumAll

    if not shape:
        return SumAll(adjoint)
    rows, cols = adjoint.shape
    if shape[0] == 1 and rows != 1:
        adjoint = matmul(Ones(1, rows), adjoint)
    if shape[1] == 1 and cols != 1:
        adjoint = matmul(adjoint, Ones(cols, 1))
    return adjoint
