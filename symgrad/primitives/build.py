"""Building sympy nodes without sympy's evaluation: what the partial derivatives are written with.

Unevaluated, so sympy neither flattens a shared adjoint into each product nor queries assumptions
down the whole depth of a large expression.
"""

import sympy as sp


def built(node):
    """`node` with its hash cached now, while its operands' hashes are (O(1), no deep recursion)."""
    hash(node)
    return node


def mul(*factors):
    """An unevaluated product: no flattening into shared operands, no assumption queries."""
    factors = [f for f in factors if f is not sp.S.One]
    if any(f is sp.S.Zero for f in factors):
        return sp.S.Zero
    if not factors:
        return sp.S.One
    # _from_args: sympy's constructor for already-canonical operands (skips its cache and checks)
    return factors[0] if len(factors) == 1 else built(sp.Mul._from_args(factors))


def add(*terms):
    """An unevaluated sum (zero terms dropped)."""
    terms = [t for t in terms if t is not sp.S.Zero]
    if not terms:
        return sp.S.Zero
    return terms[0] if len(terms) == 1 else built(sp.Add._from_args(terms))


def neg(x):
    return mul(sp.S.NegativeOne, x)


def power(base, exponent):
    if exponent is sp.S.One:
        return base
    if exponent is sp.S.Zero:
        return sp.S.One
    return built(sp.Pow(base, exponent, evaluate=False))


def call(func, *args):
    """`func(*args)` unevaluated: sympy's `eval` would query assumptions down the whole depth."""
    return built(func(*args, evaluate=False))
