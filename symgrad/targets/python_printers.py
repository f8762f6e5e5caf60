"""Expression printers for the Python targets: numpy (vectorized) and math (one sample at a time).

Every function prints as its primitive record spells it (`symgrad.primitives`): a numpy/math
function, or a call to a small helper defined at the top of the generated module in its numerically
stable form; the printer collects the helpers a module needs.
"""

import math

from sympy import Basic, Function, Piecewise, S
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from ..errors import UnsupportedError
from ..primitives import PRINTER, Helper, kernel_record
from ..registry import foreign_error, is_foreign

# Heaviside's printed form (its record says the printer writes it): a helper of the Python targets
STEP = (
    "def step(x, at_zero):\n"
    "    # np.heaviside's semantics at comparison speed (np.heaviside is ~60x slower than x > 0)\n"
    "    x = np.asarray(x)\n    out = np.array(x > 0, dtype=x.dtype if x.dtype.kind == 'f' else np.float64)\n"
    "    if at_zero:\n        out[x == 0] = at_zero\n    nan = np.isnan(x)\n    if nan.any():\n"
    "        out[nan] = np.nan  # NaN stays NaN, as in numpy\n    return out if out.ndim else out[()]",
    "def scalar_step(x, at_zero):\n    if x != x:\n        return x  # NaN stays NaN, as in numpy\n"
    "    return 1.0 if x > 0.0 else (at_zero if x == 0.0 else 0.0)",
)


def undefined_otherwise(piecewise):
    """A Piecewise with no default branch is undefined (NaN, as sympy says) where no condition holds:
    every printer prints that explicit last branch instead of its own idea of "no value"
    (Python's `None`, which crashed the per-sample loop; CUDA had no spelling at all)."""
    if piecewise.args[-1].cond == True:  # noqa: E712 - sympy's true is not Python's True
        return piecewise
    return Piecewise(*piecewise.args, (S.NaN, True), evaluate=False)


def missing_spelling(expr, record, target, target_name):
    """Our error for an operation whose record has no spelling for `target`."""
    reason = record.gaps.get(target) if record is not None else None
    known = "its record has no" if record is not None else "symgrad has no record of it, so no"
    return UnsupportedError(
        f"the {target_name} target cannot print {type(expr).__name__} (in {str(expr)[:60]}): {known} {target} "
        f"spelling{f' ({reason})' if reason else ''}. Give one to symgrad.register({type(expr).__name__}, "
        f"{target}=...) or rewrite it with supported functions"
    )


class RecordSpellings:
    """Printer mixin: every operation prints as its primitive record spells it for this target
    (`record_target`: "numpy", "loop" or "cuda"). Operators the record leaves to the printer (+, *,
    Piecewise, comparisons) print as sympy's printer does; a function without a spelling for this
    target, or a class neither sympy nor symgrad defines and nobody registered, is our error
    (sympy's printers dispatch on class *names*, so a user's `relu` must not print as ours)."""

    def _print(self, expr, **kwargs):
        if not (isinstance(expr, Basic) and expr.args):
            return super()._print(expr, **kwargs)
        record = kernel_record(expr)
        if record is None and is_foreign(expr):
            raise foreign_error(expr, f"the {self.target_name} target")
        if record is None and not isinstance(expr, Function):
            return super()._print(expr, **kwargs)  # a container sympy's printer writes (Tuple ...)
        spelling = record.spelling(self.record_target) if record is not None else None
        if spelling is None:
            raise missing_spelling(expr, record, self.record_target, self.target_name)
        if spelling == PRINTER:
            return super()._print(expr, **kwargs)
        return self.spelled(spelling, [self._print(a) for a in expr.args])


class _PythonSpellings(RecordSpellings):
    """Printing of records' spellings and symgrad's conventions, shared by both Python printers."""

    module = "np"
    helper_prefix = ""

    def spelled(self, spelling, args):
        """A call of the function the spelling names, or of its helper (defined once per module)."""
        if isinstance(spelling, Helper):
            self.helpers[spelling.name] = getattr(spelling, self.record_target)
            return f"{self.helper_prefix}{spelling.name}({', '.join(args)})"
        return f"{self.module}.{spelling}({', '.join(args)})"

    def _print_Heaviside(self, expr):
        self.helpers["step"] = STEP[self.record_target == "loop"]
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


class NumpyExprPrinter(_PythonSpellings, NumPyPrinter):
    """Vectorized numpy expressions (`np.` prefix)."""

    target_name = "numpy"
    record_target = "numpy"

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})
        self.helpers = {}  # helper name -> its definition, for the functions printed so far
        self._constant = {}  # expression -> whether it is a real number (memo: one test per node)

    def _print(self, expr, **kwargs):
        literal = self.constant_literal(expr) if isinstance(expr, Basic) else None
        return literal if literal is not None else super()._print(expr, **kwargs)

    def constant_literal(self, expr):
        """A real constant such as sqrt(2)/sqrt(pi) as its float literal (None for anything else, and
        for a number, infinity or NaN that prints as itself): `np.sqrt(2)` is a float64 numpy scalar,
        which NumPy 2 does not demote, so `np.sqrt(2)*x` of a float32 array would compute in float64;
        a Python float adopts the array's dtype (and is correctly rounded)."""
        if not (expr.args and self._is_constant(expr)):
            return None
        value = float(expr.evalf(20))
        return repr(value) if math.isfinite(value) else None

    def _is_constant(self, expr):
        known = self._constant.get(expr)
        if known is None:
            operands_constant = all([self._is_constant(a) for a in expr.args]) if expr.args else expr.is_number
            known = operands_constant and getattr(expr, "is_real", None) is True  # not a symbol, I or zoo
            self._constant[expr] = known
        return known

    def _module_format(self, fqn, register=True):
        if "." in fqn and not fqn.startswith("numpy."):  # sympy's math/scipy fallbacks: not vectorized, not imported
            raise UnsupportedError(
                f"the {self.target_name} target has no numpy form of {fqn.rsplit('.', 1)[-1]} ({fqn}); "
                "rewrite it with supported functions"
            )
        return "np." + fqn[len("numpy."):] if fqn.startswith("numpy.") else super()._module_format(fqn, register)

    def _as_ordered_terms(self, expr, order=None):
        """sympy's order, except `b - a` for `-a + b`: numpy then makes one pass over the arrays, not
        a negation and a sum (the same rounding: only the first two terms trade places)."""
        terms = list(super()._as_ordered_terms(expr, order=order))
        if len(terms) >= 2 and terms[0].could_extract_minus_sign() and not terms[1].could_extract_minus_sign():
            terms[0], terms[1] = terms[1], terms[0]
        return terms

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


class MathExprPrinter(_PythonSpellings, PythonCodePrinter):
    """Python-float expressions (`math.` prefix), for the per-sample loop of small batches."""

    target_name = "numpy (per-sample loop)"
    record_target = "loop"
    module = "math"
    helper_prefix = "scalar_"

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})
        self.helpers = {}  # helper name -> its definition, for the functions printed so far

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
