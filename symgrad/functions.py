"""Activation and helper functions as sympy `Function`s.

Each carries its exact derivative (`fdiff`, used by sympy's differentiation) and an `exp`/`log`
rewrite for high-precision evaluation. Numerically stable evaluation forms live in the printers and
in `symgrad.numeric`, not here: a sympy expression says *what* is computed, not *how*.
"""

import sympy as sp
from sympy.core.function import ArgumentIndexError


class _Activation(sp.Function):
    """A scalar function of one argument whose mpmath value comes from its exp/log rewrite."""

    nargs = 1

    def _eval_evalf(self, prec):
        return self._rewrite_exp()._eval_evalf(prec)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return self.func(x)._rewrite_exp()

    def _eval_is_real(self):
        return self.args[0].is_real


class sigmoid(_Activation):
    """σ(x) = 1 / (1 + e^(−x)); σ'(x) = σ(x)(1 − σ(x))."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_zero:  # is_number first: asking is_zero of a large sum walks all of it
            return sp.S.Half

    def _rewrite_exp(self):
        return 1 / (1 + sp.exp(-self.args[0]))

    def _latex(self, printer):
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


class relu(_Activation):
    """max(x, 0); derivative Heaviside(x) with the subgradient 0 at x = 0."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sp.Heaviside(self.args[0], 0)

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_real:
            return sp.Max(x, 0)

    def _rewrite_exp(self):
        return sp.Max(self.args[0], 0)

    def _eval_evalf(self, prec):
        return sp.Max(self.args[0], 0)._eval_evalf(prec)

    def _latex(self, printer):
        return r"\operatorname{relu}\left(%s\right)" % printer._print(self.args[0])


class softplus(_Activation):
    """log(1 + e^x); derivative σ(x)."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_zero:  # is_number first: asking is_zero of a large sum walks all of it
            return sp.log(2)

    def _rewrite_exp(self):
        return sp.log(1 + sp.exp(self.args[0]))

    def _latex(self, printer):
        return r"\operatorname{softplus}\left(%s\right)" % printer._print(self.args[0])


class logsigmoid(_Activation):
    """log σ(x) = −softplus(−x); derivative σ(−x) = 1 − σ(x)."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(-self.args[0])

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_zero:  # is_number first: asking is_zero of a large sum walks all of it
            return -sp.log(2)

    def _rewrite_exp(self):
        return -sp.log(1 + sp.exp(-self.args[0]))

    def _latex(self, printer):
        return r"\log\sigma\left(%s\right)" % printer._print(self.args[0])


class gelu(_Activation):
    """x·Φ(x) = x/2·(1 + erf(x/√2)), the exact (erf) form torch.nn.functional.gelu uses by default;
    derivative Φ(x) + x·φ(x)."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        x = self.args[0]
        return (1 + sp.erf(x / sp.sqrt(2))) / 2 + x * sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_zero:
            return sp.S.Zero

    def _rewrite_exp(self):
        x = self.args[0]
        return x * (1 + sp.erf(x / sp.sqrt(2))) / 2

    def _latex(self, printer):
        return r"\operatorname{GELU}\left(%s\right)" % printer._print(self.args[0])


class silu(_Activation):
    """x·σ(x) (swish); derivative σ(x) + silu(x)(1 − σ(x))."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        x = self.args[0]
        return sigmoid(x) + silu(x) * (1 - sigmoid(x))

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_zero:
            return sp.S.Zero

    def _rewrite_exp(self):
        return self.args[0] / (1 + sp.exp(-self.args[0]))

    def _latex(self, printer):
        return r"\operatorname{SiLU}\left(%s\right)" % printer._print(self.args[0])


class _WithParameter(_Activation):
    """An activation with a parameter after x, `DEFAULT` (torch.nn.functional's) when not given."""

    nargs = (1, 2)
    DEFAULT = None

    def __new__(cls, x, parameter=None, **options):
        # filled here, not in `eval`, so that nodes built unevaluated (evaluate=False) carry it too
        return super().__new__(cls, x, cls.DEFAULT if parameter is None else parameter, **options)

    @classmethod
    def eval(cls, x, parameter=None):  # the signature gives sympy nargs = (1, 2)
        if x.is_number and x.is_zero:
            return sp.S.Zero


class elu(_WithParameter):
    """x for x > 0, α(eˣ − 1) otherwise (α = 1 unless given, as torch); ∂/∂x = 1 or α·eˣ = elu + α."""

    DEFAULT = sp.S.One

    def fdiff(self, argindex=1):
        x, alpha = self.args
        if argindex == 1:
            return sp.Piecewise((1, x > 0), (alpha * sp.exp(x), True))
        if argindex == 2:
            return sp.Piecewise((0, x > 0), (sp.exp(x) - 1, True))
        raise ArgumentIndexError(self, argindex)

    def _rewrite_exp(self):
        x, alpha = self.args
        return sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True))

    def _latex(self, printer):
        return r"\operatorname{ELU}\left(%s\right)" % ", ".join(printer._print(a) for a in self.args)


class leaky_relu(_WithParameter):
    """x for x > 0, slope·x otherwise (slope 0.01 unless given, as torch); ∂/∂x = 1 or slope."""

    DEFAULT = sp.Rational(1, 100)

    def fdiff(self, argindex=1):
        x, slope = self.args
        if argindex == 1:
            return sp.Piecewise((1, x > 0), (slope, True))
        if argindex == 2:
            return sp.Piecewise((0, x > 0), (x, True))
        raise ArgumentIndexError(self, argindex)

    def _rewrite_exp(self):
        x, slope = self.args
        return sp.Piecewise((x, x > 0), (slope * x, True))

    def _latex(self, printer):
        return r"\operatorname{LeakyReLU}\left(%s\right)" % ", ".join(printer._print(a) for a in self.args)


class softsign(_Activation):
    """x/(1 + |x|); derivative 1/(1 + |x|)² = (1 − |softsign(x)|)²."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return 1 / (1 + sp.Abs(self.args[0])) ** 2

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_zero:
            return sp.S.Zero

    def _rewrite_exp(self):
        return self.args[0] / (1 + sp.Abs(self.args[0]))

    def _latex(self, printer):
        return r"\operatorname{softsign}\left(%s\right)" % printer._print(self.args[0])


class mish(_Activation):
    """x·tanh(softplus(x)); derivative t + x·σ(x)(1 − t²) with t = tanh(softplus(x))."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        x = self.args[0]
        t = sp.tanh(softplus(x))
        return t + x * sigmoid(x) * (1 - t**2)

    @classmethod
    def eval(cls, x):
        if x.is_number and x.is_zero:
            return sp.S.Zero

    def _rewrite_exp(self):
        return self.args[0] * sp.tanh(sp.log(1 + sp.exp(self.args[0])))

    def _latex(self, printer):
        return r"\operatorname{mish}\left(%s\right)" % printer._print(self.args[0])


class logsumexp(sp.Function):
    """log Σᵢ e^(xᵢ) over its arguments; ∂/∂xᵢ = softmax(x)ᵢ = e^(xᵢ − logsumexp(x))."""

    @classmethod
    def eval(cls, *args):
        if len(args) == 0:
            raise TypeError("logsumexp needs at least one argument")
        if len(args) == 1:
            return args[0]

    def fdiff(self, argindex=1):
        if not 1 <= argindex <= len(self.args):
            raise ArgumentIndexError(self, argindex)
        return sp.exp(self.args[argindex - 1] - self)

    def _rewrite_exp(self):
        return sp.log(sp.Add(*[sp.exp(a) for a in self.args]))

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return self._rewrite_exp()

    def _eval_evalf(self, prec):
        return self._rewrite_exp()._eval_evalf(prec)

    def _eval_is_real(self):
        if all(a.is_real for a in self.args):
            return True

    def _latex(self, printer):
        return r"\operatorname{LSE}\left(%s\right)" % ", ".join(printer._print(a) for a in self.args)


# sinc(x) = sin(x)/x and its derivatives are evaluated by their Taylor series where x² < SINC_SERIES_BELOW
# (sin(x)/x is 0/0 at 0; (x cos x − sin x)/x² cancels every digit near 0) and directly elsewhere.
# One set of coefficients for every path: numeric evaluation, numpy, math and CUDA kernels.
SINC_SERIES_BELOW = 4.0  # |x| < 2: 16 terms leave a truncation error under 1e-20 up to the third derivative
SINC_TERMS = 16


def sinc_taylor(order, terms=SINC_TERMS):
    """The series of sinc's `order`-th derivative: x^(order mod 2) · Σ_j c_j x^(2j), the c_j returned.

    From sinc(x) = Σ_k (−1)^k x^(2k)/(2k+1)!, differentiated term by term."""
    first = (order + 1) // 2  # the first k whose term survives `order` derivatives
    return [(-1) ** k / sp.factorial(2 * k + 1) * sp.ff(2 * k, order) for k in range(first, first + terms)]


SINC_TAYLOR, DSINC_TAYLOR, D2SINC_TAYLOR = sinc_taylor(0), sinc_taylor(1), sinc_taylor(2)


class dsinc(_Activation):
    """sinc'(x) = (x cos x − sin x)/x² (0 at 0): a primitive of its own, so that every path
    evaluates it stably (series near 0) instead of the form that cancels."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return d2sinc(self.args[0])

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Zero

    def _rewrite_exp(self):
        x = self.args[0]
        return (x * sp.cos(x) - sp.sin(x)) / x**2

    def _latex(self, printer):
        return r"\operatorname{sinc}'\left(%s\right)" % printer._print(self.args[0])


def d3sinc(x):
    """sinc'''(x): its series near 0, else (−cos u − 3 sinc''(u))/u at u = x, from x·sinc(x) = sin x
    differentiated three times. u is 2 where the series is taken, so neither branch is 0/0 there
    and nor are their derivatives (a reverse sweep multiplies the branch not taken by 0, not NaN)."""
    near = x**2 < SINC_SERIES_BELOW
    series = sp.S.Zero
    for c in reversed(sinc_taylor(3)):
        series = sp.Float(c, 30) + x**2 * series
    u = x + (2 - x) * sp.Heaviside(SINC_SERIES_BELOW - x**2, 0)  # not a Piecewise: sympy's diff nests those
    return sp.Piecewise((x * series, near), ((-sp.cos(u) - 3 * d2sinc(u)) / u, True))


class d2sinc(_Activation):
    """sinc''(x) = ((2 − x²) sin x − 2x cos x)/x³ (−1/3 at 0), a primitive as dsinc is: the
    second derivatives of sinc (Hessians) are finite and accurate at and near 0."""

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return d3sinc(self.args[0])

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.Rational(-1, 3)

    def _rewrite_exp(self):
        x = self.args[0]
        return ((2 - x**2) * sp.sin(x) - 2 * x * sp.cos(x)) / x**3

    def _latex(self, printer):
        return r"\operatorname{sinc}''\left(%s\right)" % printer._print(self.args[0])


tanh = sp.tanh
