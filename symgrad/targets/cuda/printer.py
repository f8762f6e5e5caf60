"""The CUDA expression printer: sympy's C99 printer plus symgrad's functions in stable forms.

One printer per precision: float32 kernels print `expf`, `1.0F` (no silent promotion to double),
float64 kernels `exp`, `1.0`. Functions print as their primitive records spell them for CUDA: a C
math function, or a call to a `__device__` helper defined at the top of the kernel source, in the
same numerically stable forms as the numpy target; the printer collects the helpers a kernel needs. Everything printed here compiles both with NVRTC/nvcc and,
through symgrad's emulation header, with a host C++ compiler.
"""

from sympy import Rational
from sympy.codegen.ast import float32, float64, real
from sympy.printing.c import C99CodePrinter
from sympy.printing.precedence import PRECEDENCE

from ...errors import UnsupportedError
from ...primitives import Helper
from ..python_printers import RecordSpellings, undefined_otherwise

PRECISIONS = {"float64": float64, "float32": float32}


def _step(f, lit):
    """Heaviside's printed form (its record leaves it to the printer)."""
    return (
        "__device__ inline sg_real sg_step(sg_real x, sg_real at_zero) {\n"
        f"    return x > 0.0{lit} ? 1.0{lit} : (x == 0.0{lit} ? at_zero : 0.0{lit});\n"
        "}"
    )


class CudaExprPrinter(RecordSpellings, C99CodePrinter):
    """C expressions for one precision; symgrad's functions become `sg_*` device helpers."""

    target_name = "cuda"
    record_target = "cuda"

    def __init__(self, dtype="float64"):
        super().__init__(
            {"type_aliases": {real: PRECISIONS[dtype]}, "allow_unknown_functions": False, "strict": False}
        )
        self.dtype = dtype
        self.func_suffix = "f" if dtype == "float32" else ""  # expf, fmaxf ...
        self.literal_suffix = "F" if dtype == "float32" else ""  # 1.0F
        self.helpers = {}  # name -> device function text, for the functions printed so far

    def spelled(self, spelling, args):
        """A C math function (with the precision's suffix: expf) or a `__device__` helper's call."""
        if isinstance(spelling, Helper):
            name = spelling.cuda_name(len(args))
            self.helpers[name] = spelling.cuda_text(self.func_suffix, self.literal_suffix, len(args))
            return f"{name}({', '.join(args)})"
        return f"{spelling}{self.func_suffix}({', '.join(args)})"

    def _print_Heaviside(self, expr):
        self.helpers["step"] = _step(self.func_suffix, self.literal_suffix)
        at_zero = self._print(expr.args[1]) if len(expr.args) > 1 else f"0.5{self.literal_suffix}"
        return f"sg_step({self._print(expr.args[0])}, {at_zero})"

    def _print_Integer(self, expr):
        # a real literal: no integer division, no int/float overload ambiguity
        return f"{expr.p}.0{self.literal_suffix}"

    def _print_NumberSymbol(self, expr):
        # pi, E ...: a literal (NVRTC has no M_PI)
        return self._print_Float(expr.evalf(20))

    _print_Pi = _print_NumberSymbol
    _print_Exp1 = _print_NumberSymbol

    def _print_Pow(self, expr):
        base, exp = expr.args
        if exp == Rational(1, 3):  # C's cbrt is real for a negative base; numpy and math give NaN
            b = self._print(base)
            return f"(({b}) < 0.0{self.literal_suffix} ? NAN : cbrt{self.func_suffix}({b}))"
        if exp.is_Integer and 1 <= abs(exp.p) <= 3:
            # small powers as products, parenthesized: a parent may print this node where it
            # expects a tighter-binding power (`1/x**2` must not become `1/x*x`)
            b = self.parenthesize(base, PRECEDENCE["Mul"], strict=True)
            product = b if abs(exp.p) == 1 else "(" + "*".join([b] * abs(exp.p)) + ")"
            return product if exp.p > 0 else f"1.0{self.literal_suffix}/{product}"
        return super()._print_Pow(expr)

    def statement(self, expr):
        """The right-hand side of `t = expr;`: a top-level square or cube needs no parentheses."""
        text = self.doprint(expr)
        if expr.is_Pow and expr.exp.is_Integer and 2 <= expr.exp.p <= 3:
            return text[1:-1]
        return text

    def _print_Piecewise(self, expr):
        expr = undefined_otherwise(expr)
        out = self._print(expr.args[-1].expr)
        for e, c in reversed(expr.args[:-1]):
            out = f"(({self._print(c)}) ? ({self._print(e)}) : ({out}))"
        return out

    def _print_not_supported(self, expr):
        raise UnsupportedError(
            f"the {self.target_name} target cannot print {type(expr).__name__} (in {str(expr)[:60]}); "
            "rewrite it with supported functions"
        )
