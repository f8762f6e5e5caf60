"""Records of the error function and its complement, with a vectorized numpy erf/erfc.

numpy has no erf ufunc. The numpy spelling is W. J. Cody's rational approximations ("Rational
Chebyshev approximations for the error function", Math. Comp. 23, 1969; netlib's CALERF) written
with numpy operations: erf near 0, erfc = e^(−x²)·R(x) beyond, e^(−x²) taken in two factors so
its rounding does not grow with x², so erfc keeps its digits in the tail (erfc(10) ≈ 2.1e-45, not
1 − 1 = 0). The same text is the generated module's helper and the numeric evaluation's erf.
"""

import math

import mpmath
import numpy as np
import sympy as sp

from .build import call, mul, neg, power
from .record import Helper, Primitive
from .registry import add_record

NEAR = 0.46875  # |x| at most this: erf by its own approximation, erfc = 1 − erf
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)


def _ratio(numer, denom, top, v):
    """Cody's nested form: ((top·v + n0)·v + n1)·v … over ((v + d0)·v + d1)·v …, as text."""
    num, den = f"{top!r}*{v}", v
    for n, d in zip(numer[:-1], denom[:-1], strict=True):
        num, den = f"({num} + {n!r})*{v}", f"({den} + {d!r})*{v}"
    return f"({num} + {numer[-1]!r})/({den} + {denom[-1]!r})"


def numpy_text(name):
    """The helper `erf` or `erfc`: both compute erfc(|x|) away from 0, then take their own side."""
    small = f"x*{_ratio(_A[:4], _B, _A[4], 's')}"  # erf(x) for |x| <= NEAR
    finish = {
        "erf": ["return np.where(y <= NEAR, small, np.sign(x)*(1.0 - far))"],
        "erfc": ["far = np.where(x < 0.0, 2.0 - far, far)", "return np.where(y <= NEAR, 1.0 - small, far)"],
    }[name]
    lines = [
        f"def {name}(x):",
        "    # W. J. Cody's rational approximations (Math. Comp. 23, 1969); erfc(|x|) = e^(-x^2) R(|x|)",
        "    y = np.abs(x)",
        "    c = np.minimum(y, 28.0)  # erfc(28) underflows to 0: every branch stays finite beyond",
        "    z = c*c",
        "    s = np.minimum(z, 0.25)  # each branch kept finite where np.where does not take it",
        f"    small = {small}",
        "    t = 1.0/np.maximum(z, 16.0)",
        "    m = np.minimum(c, 4.0)",
        f"    tail = (0.5641895835477563 - t*{_ratio(_P[:5], _Q, _P[5], 't')})/np.maximum(c, 4.0)",
        f"    far = np.where(y <= 4.0, {_ratio(_C[:8], _D, _C[8], 'm')}, tail)",
        "    head = np.trunc(16.0*c)/16.0  # e^(-y^2) in two factors: no rounding error grown by y^2",
        "    far = far*np.exp(-head*head)*np.exp(-(c - head)*(c + head))",
        *("    " + line for line in finish),
    ]
    return "\n".join(lines).replace("NEAR", repr(NEAR))


def _vectorized(name):
    """The helper's own text as a function, for the numeric evaluation (one implementation)."""
    scope = {"np": np}
    exec(compile(numpy_text(name), f"<symgrad {name}>", "exec"), scope)  # noqa: S102 - our own text
    return scope[name]


numpy_erf, numpy_erfc = _vectorized("erf"), _vectorized("erfc")
ERF = Helper("erf", numpy=numpy_text("erf"))
ERFC = Helper("erfc", numpy=numpy_text("erfc"))
_TWO_OVER_ROOT_PI = 2 / sp.sqrt(sp.pi)


def _gauss(x, scale):
    """scale·2/√π·e^(−x²): the slope of erf (scale 1) and erfc (scale −1)."""
    return mul(scale * _TWO_OVER_ROOT_PI, call(sp.exp, neg(power(x, 2))))


for record in (
    Primitive(sp.erf, partials=lambda n: [_gauss(n.args[0], 1)],
              vjp=lambda g, ans, x: [g * (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)],
              evaluate=lambda b, x: b.erf(x), numpy=ERF, loop="erf", cuda="erf", mpmath=mpmath.erf, tf=("erf",)),
    Primitive(sp.erfc, partials=lambda n: [_gauss(n.args[0], -1)],
              vjp=lambda g, ans, x: [-g * np.exp(-x * x) / (0.5 * math.sqrt(math.pi))],
              evaluate=lambda b, x: b.erfc(x), numpy=ERFC, loop="erfc", cuda="erfc", mpmath=mpmath.erfc,
              tf=("erfc",)),
):
    add_record(record)
