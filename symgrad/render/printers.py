"""Expression printers for the Python targets: numpy (vectorized) and math (one sample at a time).

Our functions print as calls to small helpers defined at the top of the generated module, in
their numerically stable forms; the printer records which helpers a module needs.
"""

from sympy import Basic, Piecewise, S
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from .. import functions as F
from ..errors import UnsupportedError
from ..registry import foreign_error, is_foreign


def horner(coefficients, var, lit=""):
    """c0 + v*(c1 + v*(c2 + ...)) as text (the series of `symgrad.functions` for sinc)."""
    text = f"{float(coefficients[-1])!r}{lit}"
    for c in reversed(coefficients[:-1]):
        text = f"{float(c)!r}{lit} + {var}*({text})"
    return text


_SMALL = repr(float(F.SINC_SERIES_BELOW))
# helper name -> (numpy definition, math definition); stable forms only
HELPERS = {
    "sinc": (
        f"def sinc(x):\n    x2 = x*x\n    small = x2 < {_SMALL}  # the series near 0, where sin(x)/x is 0/0\n"
        "    safe = np.where(small, 1.0, x)\n"
        f"    return np.where(small, {horner(F.SINC_TAYLOR, 'x2')}, np.sin(safe)/safe)",
        f"def scalar_sinc(x):\n    x2 = x*x\n    if x2 < {_SMALL}:  # the series near 0, where sin(x)/x is 0/0\n"
        f"        return {horner(F.SINC_TAYLOR, 'x2')}\n    return math.sin(x)/x",
    ),
    "dsinc": (
        f"def dsinc(x):\n    x2 = x*x\n    small = x2 < {_SMALL}  # the series near 0, where the direct form cancels\n"
        "    safe = np.where(small, 1.0, x)\n"
        f"    return np.where(small, x*({horner(F.DSINC_TAYLOR, 'x2')}), (safe*np.cos(safe) - np.sin(safe))/(safe*safe))",
        f"def scalar_dsinc(x):\n    x2 = x*x\n    if x2 < {_SMALL}:  # the series near 0, where the direct form cancels\n"
        f"        return x*({horner(F.DSINC_TAYLOR, 'x2')})\n    return (x*math.cos(x) - math.sin(x))/x2",
    ),
    "sigmoid": (
        # 1/(1 + e) for x >= 0, e/(1 + e) below; the numerator max(e, x >= 0) is 1 or e without
        # np.where, whose data-dependent branches cost more than the exp on random signs
        "def sigmoid(x):\n    e = np.exp(-np.abs(x))  # never overflows\n"
        "    return np.maximum(e, x >= 0.0) / (1.0 + e)",
        "def scalar_sigmoid(x):\n    if x >= 0.0:\n        return 1.0 / (1.0 + math.exp(-x))\n"
        "    e = math.exp(x)\n    return e / (1.0 + e)",
    ),
    "softplus": (
        "def softplus(x):\n    return np.logaddexp(0.0, x)",
        "def scalar_softplus(x):\n    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))",
    ),
    "logsigmoid": (
        "def logsigmoid(x):\n    return -np.logaddexp(0.0, -x)",
        "def scalar_logsigmoid(x):\n    return min(x, 0.0) - math.log1p(math.exp(-abs(x)))",
    ),
    "relu": (
        "def relu(x):\n    return np.maximum(x, 0.0)",
        "def scalar_relu(x):\n    return 0.0 if x <= 0.0 else x  # NaN stays NaN, as in numpy",
    ),
    "step": (
        "def step(x, at_zero):\n"
        "    # np.heaviside's semantics at comparison speed (np.heaviside is ~60x slower than x > 0)\n"
        "    x = np.asarray(x)\n    out = np.array(x > 0, dtype=x.dtype if x.dtype.kind == 'f' else np.float64)\n"
        "    if at_zero:\n        out[x == 0] = at_zero\n    nan = np.isnan(x)\n    if nan.any():\n"
        "        out[nan] = np.nan  # NaN stays NaN, as in numpy\n    return out if out.ndim else out[()]",
        "def scalar_step(x, at_zero):\n    if x != x:\n        return x  # NaN stays NaN, as in numpy\n"
        "    return 1.0 if x > 0.0 else (at_zero if x == 0.0 else 0.0)",
    ),
    "logsumexp": (
        "def logsumexp(*xs):\n    m = xs[0]\n    for x in xs[1:]:\n        m = np.maximum(m, x)\n"
        "    m = np.where(np.isfinite(m), m, 0.0)\n    return m + np.log(sum(np.exp(x - m) for x in xs))",
        "def scalar_logsumexp(*xs):\n    m = max(xs)\n    if not math.isfinite(m):\n        m = 0.0\n"
        "    return m + math.log(math.fsum(math.exp(x - m) for x in xs))",
    ),
}


def undefined_otherwise(piecewise):
    """A Piecewise with no default branch is undefined (NaN, as sympy says) where no condition holds:
    every printer prints that explicit last branch instead of its own idea of "no value"
    (Python's `None`, which crashed the per-sample loop; CUDA had no spelling at all)."""
    if piecewise.args[-1].cond == True:  # noqa: E712 - sympy's true is not Python's True
        return piecewise
    return Piecewise(*piecewise.args, (S.NaN, True), evaluate=False)


class KnownClassesOnly:
    """Printer mixin: sympy's printers dispatch on class *names* (`_print_relu`, the table entry
    "exp"), so a user's own class spelled like one of ours or sympy's would print as that function.
    Only operations whose class sympy or symgrad defines reach the dispatch; any other is our error."""

    def _print(self, expr, **kwargs):
        if isinstance(expr, Basic) and is_foreign(expr):
            raise foreign_error(expr, f"the {self.target_name} target")
        return super()._print(expr, **kwargs)


def helper_calls(*names):
    """Class decorator: `_print_<name>` prints a call of the target's helper `name` (via `_helper`)."""

    def add(cls):
        for name in names:
            setattr(cls, f"_print_{name}", lambda self, expr, name=name: self._helper(name, expr))
        return cls

    return add


@helper_calls("sigmoid", "softplus", "logsigmoid", "relu", "logsumexp", "sinc", "dsinc")
class _HelperMixin(KnownClassesOnly):
    """Printing of symgrad's functions as helper calls, shared by both Python printers."""

    helper_prefix = ""

    def _helper(self, name, expr):
        self.helpers.add(name)
        args = ", ".join(self._print(a) for a in expr.args)
        return f"{self.helper_prefix}{name}({args})"

    def _print_Heaviside(self, expr):
        self.helpers.add("step")
        at_zero = self._print(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return f"{self.helper_prefix}step({self._print(expr.args[0])}, {at_zero})"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Rational(self, expr):
        return f"{expr.p}/{expr.q}"

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        b = self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
        if exp == -1:
            return f"1/{b}"
        if exp.is_Integer:
            return f"{b}**{exp.p}" if exp.p > 0 else f"{b}**({exp.p})"
        return super()._print_Pow(expr, rational=rational)

    def _print_not_supported(self, expr):
        raise UnsupportedError(
            f"the {self.target_name} target cannot print {type(expr).__name__} (in {str(expr)[:60]}); "
            "rewrite it with supported functions"
        )


class NumpyExprPrinter(_HelperMixin, NumPyPrinter):
    """Vectorized numpy expressions (`np.` prefix)."""

    target_name = "numpy"

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})
        self.helpers = set()

    def _module_format(self, fqn, register=True):
        if "." in fqn and not fqn.startswith("numpy."):  # sympy's math/scipy fallbacks: not vectorized, not imported
            raise UnsupportedError(
                f"the {self.target_name} target has no numpy form of {fqn.rsplit('.', 1)[-1]} ({fqn}); "
                "rewrite it with supported functions"
            )
        return "np." + fqn[len("numpy."):] if fqn.startswith("numpy.") else super()._module_format(fqn, register)

    def _print_Max(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = f"np.maximum({out}, {self._print(a)})"
        return out

    def _print_Min(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = f"np.minimum({out}, {self._print(a)})"
        return out


class MathExprPrinter(_HelperMixin, PythonCodePrinter):
    """Python-float expressions (`math.` prefix), for the per-sample loop of small batches."""

    target_name = "numpy (per-sample loop)"
    helper_prefix = "scalar_"

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})
        self.helpers = set()

    def _print_sign(self, expr):
        x = self._print(expr.args[0])
        return f"(({x} > 0) - ({x} < 0))"

    def _print_Piecewise(self, expr):
        return super()._print_Piecewise(undefined_otherwise(expr))

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp.is_Integer or exp in (S.Half, -S.Half):  # integer powers, math.sqrt: no complex results
            return super()._print_Pow(expr, rational=rational)
        # Python's ** returns a complex number for a negative base; math.pow raises ValueError,
        # which sends the batch to the vectorized path (IEEE NaN, then the nonfinite= policy)
        return f"math.pow({self._print(base)}, {self._print(exp)})"
