"""The CUDA expression printer: sympy's C99 printer plus symgrad's functions in stable forms.

One printer per precision: float32 kernels print `expf`, `1.0F` (no silent promotion to double),
float64 kernels `exp`, `1.0`. Our functions print as calls to `__device__` helpers defined at the
top of the kernel source, in the same numerically stable forms as the numpy target; the printer
records which helpers a kernel needs. Everything printed here compiles both with NVRTC/nvcc and,
through symgrad's emulation header, with a host C++ compiler.
"""

from sympy import Rational
from sympy.codegen.ast import float32, float64, real
from sympy.printing.c import C99CodePrinter
from sympy.printing.precedence import PRECEDENCE

from ..errors import UnsupportedError
from ..functions import DSINC_TAYLOR, SINC_SERIES_BELOW, SINC_TAYLOR
from .printers import KnownClassesOnly, helper_calls, horner, undefined_otherwise

PRECISIONS = {"float64": float64, "float32": float32}


def _helpers(f, lit):
    """name -> device function text; `f` is the math-function suffix, `lit` the literal suffix."""
    one, zero, small = f"1.0{lit}", f"0.0{lit}", f"{float(SINC_SERIES_BELOW)!r}{lit}"
    return {
        "sigmoid": (
            "__device__ inline sg_real sg_sigmoid(sg_real x) {\n"
            f"    if (x >= {zero}) return {one} / ({one} + exp{f}(-x));\n"
            f"    const sg_real e = exp{f}(x);\n"
            f"    return e / ({one} + e);\n"
            "}"
        ),
        "softplus": (
            "__device__ inline sg_real sg_softplus(sg_real x) {\n"
            f"    return fmax{f}(x, {zero}) + log1p{f}(exp{f}(-fabs{f}(x)));\n"
            "}"
        ),
        "logsigmoid": (
            "__device__ inline sg_real sg_logsigmoid(sg_real x) {\n"
            f"    return fmin{f}(x, {zero}) - log1p{f}(exp{f}(-fabs{f}(x)));\n"
            "}"
        ),
        "relu": "__device__ inline sg_real sg_relu(sg_real x) {\n" f"    return x > {zero} ? x : {zero};\n" "}",
        "sinc": (  # the series near 0, where sin(x)/x is 0/0 (coefficients: symgrad.functions)
            "__device__ inline sg_real sg_sinc(sg_real x) {\n"
            f"    const sg_real x2 = x * x;\n    if (x2 < {small}) return {horner(SINC_TAYLOR, 'x2', lit)};\n"
            f"    return sin{f}(x) / x;\n"
            "}"
        ),
        "dsinc": (  # sinc'(x); the series near 0, where (x cos x - sin x)/x^2 cancels
            "__device__ inline sg_real sg_dsinc(sg_real x) {\n"
            f"    const sg_real x2 = x * x;\n    if (x2 < {small}) return x * ({horner(DSINC_TAYLOR, 'x2', lit)});\n"
            f"    return (x * cos{f}(x) - sin{f}(x)) / x2;\n"
            "}"
        ),
        "step": (
            "__device__ inline sg_real sg_step(sg_real x, sg_real at_zero) {\n"
            f"    return x > {zero} ? {one} : (x == {zero} ? at_zero : {zero});\n"
            "}"
        ),
    }


def _logsumexp_helper(arity, f, lit):
    xs = [f"x{k}" for k in range(arity)]
    m = xs[0]
    for x in xs[1:]:
        m = f"fmax{f}({m}, {x})"
    total = " + ".join(f"exp{f}({x} - m)" for x in xs)
    return (
        f"__device__ inline sg_real sg_logsumexp{arity}({', '.join('sg_real ' + x for x in xs)}) {{\n"
        f"    sg_real m = {m};\n"
        f"    if (!isfinite(m)) m = 0.0{lit};\n"
        f"    return m + log{f}({total});\n"
        "}"
    )


@helper_calls("sigmoid", "softplus", "logsigmoid", "relu", "sinc", "dsinc")
class CudaExprPrinter(KnownClassesOnly, C99CodePrinter):
    """C expressions for one precision; symgrad's functions become `sg_*` device helpers."""

    target_name = "cuda"

    def __init__(self, dtype="float64"):
        super().__init__(
            {"type_aliases": {real: PRECISIONS[dtype]}, "allow_unknown_functions": False, "strict": False}
        )
        self.dtype = dtype
        self.func_suffix = "f" if dtype == "float32" else ""  # expf, fmaxf ...
        self.literal_suffix = "F" if dtype == "float32" else ""  # 1.0F
        self.helpers = {}  # name -> device function text, for the functions printed so far

    def _helper(self, name, expr):
        self.helpers[name] = _helpers(self.func_suffix, self.literal_suffix)[name]
        return f"sg_{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Heaviside(self, expr):
        self.helpers["step"] = _helpers(self.func_suffix, self.literal_suffix)["step"]
        at_zero = self._print(expr.args[1]) if len(expr.args) > 1 else f"0.5{self.literal_suffix}"
        return f"sg_step({self._print(expr.args[0])}, {at_zero})"

    def _print_logsumexp(self, expr):
        arity = len(expr.args)
        self.helpers[f"logsumexp{arity}"] = _logsumexp_helper(arity, self.func_suffix, self.literal_suffix)
        return f"sg_logsumexp{arity}({', '.join(self._print(a) for a in expr.args)})"

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
