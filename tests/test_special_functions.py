"""The special functions, each one record, on every path: erf, erfc, atan2, asinh, acosh, atanh,
sinc (and its derivatives), log1p, expm1, hypot.

Values against mpmath at points in the edge regions (tails, subnormals, 0, domain ends, 1e200);
gradients symbolic (reverse and sympy's diff) vs the records' VJPs vs finite differences vs torch;
compiled numpy kernels on both batch paths, the CUDA host emulation and `nvcc -ptx`; Hessians
symbolic vs forward-over-reverse vs the Hessian kernel vs torch; matrix entrywise maps; LaTeX.
"""

from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp
from cuda_cases import emulate_expressions, needs_cxx, needs_nvcc, ptx
from sympy.codegen.cfunctions import expm1, hypot, log1p

import symgrad
from symgrad import autodiff
from symgrad import functions as F
from symgrad.check import batch_total, finite_difference, torch_grad
from symgrad.numeric import TorchBackend, evaluate
from symgrad.primitives import RECORDS, record_for
from symgrad.primitives.error_function import numpy_erf, numpy_erfc
from symgrad.targets.numpy.scalar import LOOP_MAX

x, y, a, b, w = sp.symbols("x y a b w", real=True)
TINY = 5e-324


@dataclass(frozen=True)
class Spec:
    """A function, points where its value is checked (edge regions), and an interior point
    (x, y arrays) where its derivatives are."""

    fn: object
    points: tuple  # tuples of arguments
    interior: tuple  # (xs, ys) for the gradient checks: f(a x + b[, y])
    rtol: float = 1e-14

    @property
    def arity(self):
        return len(self.points[0])

    def of(self, *args):
        return self.fn(*args[: self.arity])


def _signed(*values):
    return tuple((v,) for v in values) + tuple((-v,) for v in values if v)


SPECS = {
    "erf": Spec(sp.erf, _signed(0.0, TINY, 1e-310, 1e-300, 1e-8, 0.3, 0.46875, 0.5, 1.0, 2.5, 4.0, 4.5, 6.0, 27.0, 1e300),
                (np.linspace(-2.5, 2.5, 7), None)),
    "erfc": Spec(sp.erfc, _signed(0.0, TINY, 1e-300, 1e-8, 0.3, 0.46875, 0.5, 1.0, 2.5, 4.0, 4.5, 6.0)
                 + ((10.0,), (15.0,), (26.0,), (26.5,), (27.5,), (100.0,)), (np.linspace(-2.5, 3.5, 7), None)),
    "atan2": Spec(sp.atan2, ((1.0, 2.0), (1.0, -2.0), (-1.0, -2.0), (-1.0, 2.0), (3.0, 0.0), (-3.0, 0.0), (0.0, 2.0),
                             (1e-300, 1.0), (1e200, 1e200), (1e200, -1e-200), (TINY, -1.0)),
                  (np.linspace(-2.0, 2.0, 7), np.array([1.5, -0.7, 0.4, -2.0, 0.9, -0.3, 2.2]))),
    "asinh": Spec(sp.asinh, _signed(0.0, TINY, 1e-300, 1e-8, 0.5, 3.0, 1e8, 1e200, 1e300), (np.linspace(-3, 3, 7), None)),
    "acosh": Spec(sp.acosh, ((1.0,), (1.0 + 2**-52,), (1.0 + 1e-9,), (1.5,), (10.0,), (1e8,), (1e200,), (1e300,)),
                  (np.linspace(1.2, 4.0, 7), None)),
    "atanh": Spec(sp.atanh, _signed(0.0, TINY, 1e-300, 1e-8, 0.5, 0.9, 1 - 1e-12), (np.linspace(-0.8, 0.8, 7), None)),
    "hypot": Spec(hypot, ((3.0, 4.0), (1e200, 1e200), (-1e300, 1e300), (1e-200, 1e-200), (TINY, TINY), (0.0, 5.0),
                          (-2.0, 1e-10), (0.0, 0.0)),
                  (np.linspace(-2.0, 2.0, 7), np.array([1.5, -0.7, 0.4, -2.0, 0.9, -0.3, 2.2]))),
    "sinc": Spec(sp.sinc, _signed(0.0, 1e-300, 1e-10, 0.5, 1.9999, 2.0, 2.0001, 5.0, 1e5),
                 (np.array([-3.0, -2.0, -0.4, 0.0, 0.4, 2.0, 3.0]), None)),
    "dsinc": Spec(F.dsinc, _signed(0.0, 1e-300, 1e-10, 0.5, 1.9999, 2.0001, 5.0, 1e5), (np.linspace(-3, 3, 7), None),
                  rtol=1e-13),
    "d2sinc": Spec(F.d2sinc, _signed(0.0, 1e-300, 1e-10, 0.5, 1.9999, 2.0001, 5.0, 1e5), (np.linspace(-3, 3, 7), None),
                   rtol=1e-12),
    "log1p": Spec(log1p, ((0.0,), (TINY,), (1e-300,), (-1e-20,), (1e-10,), (-0.5,), (3.0,), (1e10,), (1e300,)),
                  (np.linspace(-0.5, 3, 7), None)),
    "expm1": Spec(expm1, _signed(0.0, TINY, 1e-300, 1e-20, 1e-10, 0.5, 5.0, 30.0, 700.0), (np.linspace(-2, 2, 7), None)),
}
NAMES = sorted(SPECS)


def _mpmath(spec, args):
    """The record's own high-precision value at 60 digits; independent of numpy, torch and libm."""
    with mpmath.workdps(60):
        return float(record_for(spec.fn).mpmath(*[mpmath.mpf(v) for v in args]))


def _columns(spec):
    return [np.array([p[i] for p in spec.points]) for i in range(spec.arity)]


def _want(spec):
    return np.array([_mpmath(spec, p) for p in spec.points])


def _assert_close(got, want, rtol, what):
    got = np.asarray(got, dtype=np.float64)
    err = np.abs(got - want)
    bad = ~(err <= rtol * np.abs(want) + 4 * TINY)
    assert not bad.any(), f"{what}: at {np.flatnonzero(bad)} got {got[bad]} want {want[bad]}"


def test_every_special_function_is_a_record_of_its_own():
    for name, spec in SPECS.items():
        assert spec.fn in RECORDS, name
        assert not RECORDS[spec.fn].gaps.keys() - {"tf"}, (name, RECORDS[spec.fn].gaps)


@pytest.mark.parametrize("name", NAMES)
def test_numeric_evaluation_matches_mpmath_on_numpy_and_torch(name):
    spec = SPECS[name]
    args = (x, y)[: spec.arity]
    cols, want = _columns(spec), _want(spec)
    (got,) = evaluate([spec.fn(*args)], dict(zip(args, cols)))
    _assert_close(got, want, spec.rtol, f"{name} numpy evaluation")
    torch = pytest.importorskip("torch", reason="torch is not installed; the torch evaluation needs it")
    (got,) = evaluate([spec.fn(*args)], {s: torch.tensor(c, dtype=torch.float64) for s, c in zip(args, cols)},
                      TorchBackend())
    if name in ("dsinc", "d2sinc"):  # symgrad's own: torch computes the same series
        _assert_close(got.numpy(), want, spec.rtol, f"{name} torch evaluation")
    else:  # torch's own libm-class functions: a few ulp, and the tails as accurate
        _assert_close(got.numpy(), want, max(spec.rtol, 1e-15), f"{name} torch evaluation")


@cache
def _value_kernel(name):
    spec = SPECS[name]
    args = (x, y)[: spec.arity]
    loss = spec.fn(w * args[0], *args[1:])
    return symgrad.compile(loss, wrt=[w], inputs=list(args), outputs=[spec.fn(*args)], cache=False)


@pytest.mark.parametrize("name", NAMES)
def test_compiled_numpy_kernel_values_on_both_batch_paths(name):
    spec = SPECS[name]
    kernel, cols, want = _value_kernel(name), _columns(spec), _want(spec)
    args = (x, y)[: spec.arity]
    n = len(want)
    chunks = range(0, n, LOOP_MAX)  # at most LOOP_MAX samples a call: the per-sample loop
    loop = np.concatenate([kernel.predict({**{s: c[i:i + LOOP_MAX] for s, c in zip(args, cols)}, w: 1.0})[0]
                           for i in chunks])
    _assert_close(loop, want, spec.rtol, f"{name} per-sample loop")
    reps = LOOP_MAX // n + 2  # more than LOOP_MAX samples: the vectorized path
    (vec,) = kernel.predict({**{s: np.tile(c, reps) for s, c in zip(args, cols)}, w: 1.0})
    _assert_close(vec, np.tile(want, reps), spec.rtol, f"{name} vectorized numpy")


@needs_cxx
@pytest.mark.parametrize("name", NAMES)
def test_cuda_spelling_values_through_the_host_emulation(name):
    spec = SPECS[name]
    args = (x, y)[: spec.arity]
    out, source = emulate_expressions([spec.fn(*args)], args, _columns(spec))
    _assert_close(out[0], _want(spec), spec.rtol, f"{name} CUDA (host emulation)")


def _gradient_case(spec):
    xs, ys = spec.interior
    expr = spec.of(a * x + b, y)
    values = {x: xs, a: 0.9, b: 0.1}
    if ys is not None:
        values[y] = ys
    return expr, values


@pytest.mark.parametrize("name", NAMES)
def test_gradient_paths_agree(name):
    """symbolic (reverse sweep and sympy's diff) = the record's VJP = torch, ≈ finite differences."""
    spec = SPECS[name]
    expr, values = _gradient_case(spec)
    wrt = [a, b, x] + ([y] if y in values else [])
    ad = autodiff.grad(expr, wrt, values)
    for method in ("reverse", "diff"):
        sym = evaluate(symgrad.grad(expr, wrt, method=method), values)
        for s, d, v in zip(sym, ad, wrt, strict=True):
            s = batch_total(s, (7,), np.shape(values[v]))
            np.testing.assert_allclose(s, d, rtol=1e-12, atol=1e-13, err_msg=f"{name} {method} d/d{v}")
    for f, d, v in zip(finite_difference(expr, wrt, values), ad, wrt, strict=True):
        np.testing.assert_allclose(f, d, rtol=1e-6, atol=1e-7, err_msg=f"{name} finite differences d/d{v}")
    tg = torch_grad(expr, wrt, values)
    if tg is not None:
        for t, d, v in zip(tg, ad, wrt, strict=True):
            np.testing.assert_allclose(t, d, rtol=1e-12, atol=1e-13, err_msg=f"{name} torch d/d{v}")
    assert symgrad.check(expr, [a, b], values).ok


@cache
def _gradient_kernel(name, target):
    spec = SPECS[name]
    expr, values = _gradient_case(spec)
    inputs = [x] + ([y] if y in values else [])
    return symgrad.compile(expr, wrt=[a, b], inputs=inputs, target=target, cache=False)


@pytest.mark.parametrize("name", NAMES)
def test_compiled_gradient_on_both_batch_paths(name):
    spec = SPECS[name]
    expr, values = _gradient_case(spec)
    want = autodiff.grad(expr, [a, b], values)
    kernel = _gradient_kernel(name, "numpy")
    np.testing.assert_allclose(kernel.grad(values), want, rtol=1e-12, err_msg=f"{name} per-sample loop")
    reps = LOOP_MAX // 7 + 1
    tiled = {k: np.tile(v, reps) if np.ndim(v) else v for k, v in values.items()}
    np.testing.assert_allclose(kernel.grad(tiled), np.multiply(want, reps), rtol=1e-12,
                               err_msg=f"{name} vectorized")


@needs_cxx
@pytest.mark.parametrize("name", NAMES)
def test_compiled_cuda_gradient_through_the_host_emulation(name):
    from symgrad.cuda_emu import Backend

    spec = SPECS[name]
    expr, values = _gradient_case(spec)
    got = _gradient_kernel(name, "cuda").on(Backend()).grad(values)
    np.testing.assert_allclose(got, autodiff.grad(expr, [a, b], values), rtol=1e-12)


@needs_nvcc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernels_with_every_special_function_compile_to_ptx(dtype, tmp_path):
    loss = sum(spec.of(a * x + b, y) for spec in SPECS.values() if spec.fn not in (sp.acosh, sp.atanh))
    loss += sp.acosh(1 + (a * x) ** 2) + sp.atanh(sp.tanh(a * x) / 2)
    kernel = symgrad.compile(loss, wrt=[a, b], inputs=[x, y], target="cuda", dtype=dtype, cache=False)
    suffix = "f" if dtype == "float32" else ""
    for c in ("erf", "erfc", "atan2", "asinh", "acosh", "atanh", "hypot", "log1p", "expm1"):
        assert f"{c}{suffix}(" in kernel.source, c
    assert ".entry sg_loss_grad(" in ptx(kernel.source, "sm_80", tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_paths_agree(name):
    """symbolic Hessian = forward-over-reverse on dual numbers = the Hessian kernel = torch."""
    spec = SPECS[name]
    expr, values = _gradient_case(spec)
    want = autodiff.hessian(expr, [a, b], values)
    sym = [[float(np.sum(v)) for v in evaluate(row, values)] for row in symgrad.hessian(expr, [a, b])]
    np.testing.assert_allclose(sym, want, rtol=1e-11, atol=1e-12, err_msg=f"{name} symbolic Hessian")
    inputs = [x] + ([y] if y in values else [])
    kernel = symgrad.compile_hessian(expr, wrt=[a, b], inputs=inputs)
    np.testing.assert_allclose(kernel.hessian(values), want, rtol=1e-11, atol=1e-12, err_msg=f"{name} kernel")
    np.testing.assert_allclose(autodiff.hvp(expr, [a, b], values, [1.0, -2.0]), want @ [1.0, -2.0], rtol=1e-12)
    torch = pytest.importorskip("torch", reason="torch is not installed; the torch Hessian needs it")
    data = {s: torch.tensor(v, dtype=torch.float64) for s, v in values.items() if np.ndim(v)}

    def loss(p):
        (value,) = evaluate([expr], {**data, a: p[0], b: p[1]}, TorchBackend())
        return value.sum()

    th = torch.autograd.functional.hessian(loss, torch.tensor([0.9, 0.1], dtype=torch.float64))
    np.testing.assert_allclose(th.numpy(), want, rtol=1e-11, atol=1e-12, err_msg=f"{name} torch Hessian")


def _sinc_derivatives_closed_form(xs, order):
    """sinc's derivative of `order` from its closed form at 1000 digits (enough to survive the
    cancellation near 0), its limit at exactly 0: an oracle independent of the series."""
    t = sp.Symbol("t")
    closed = sp.lambdify(t, sp.diff(sp.sin(t) / t, t, order), "mpmath")
    with mpmath.workdps(1000):
        return np.array([float(closed(mpmath.mpf(v))) if v else [1, 0, -1 / 3, 0][order] for v in xs])


def test_sinc_second_and_third_derivatives_are_finite_and_accurate_at_and_near_zero():
    """The second derivative of sinc at exactly 0 was NaN symbolically (dsinc's partial divided by x)."""
    xs = np.array([0.0, 1e-300, 1e-8, -1e-3, 0.5, 1.9999, 2.0001, -3.0])
    d2, d3 = _sinc_derivatives_closed_form(xs, 2), _sinc_derivatives_closed_form(xs, 3)
    ones = {w: 1.0, x: xs}
    (h,) = symgrad.hessian(sp.sinc(w * x), [w])  # d²/dw² sinc(w x) at w = 1: x² sinc''(x)
    np.testing.assert_allclose(evaluate(h, ones)[0], xs**2 * d2, rtol=1e-13, atol=1e-300)
    # the reverse sweep from sinc; sympy's diff from dsinc (sympy's own sinc' is (x cos x − sin x)/x²)
    for method, start in (("reverse", symgrad.grad(sp.sinc(x), [x])[0]), ("diff", F.dsinc(x))):
        (g2,) = symgrad.grad(start, [x], method=method)
        np.testing.assert_allclose(evaluate([g2], ones)[0], d2, rtol=1e-12, err_msg=method)
        (g3,) = symgrad.grad(g2, [x], method=method)
        np.testing.assert_allclose(evaluate([g3], ones)[0], d3, rtol=1e-12, atol=1e-15, err_msg=method)
        (g4,) = symgrad.grad(g3, [x], method=method)  # the fourth through the Piecewise: finite at 0
        assert np.isfinite(evaluate([g4], ones)[0]).all(), method
    # the kernel paths at w = 0: d²/dw² Σ sinc(w x) = Σ x² sinc''(0) = −Σ x²/3
    at_zero = {w: 0.0, x: np.array([0.5, -1.0, 2.0])}
    want = -np.sum(at_zero[x] ** 2) / 3
    kernel = symgrad.compile_hessian(sp.sinc(w * x), wrt=[w], inputs=[x])
    np.testing.assert_allclose(kernel.hessian(at_zero), [[want]], rtol=1e-14)
    assert autodiff.hessian(sp.sinc(w * x), [w], at_zero)[0, 0] == pytest.approx(want, rel=1e-14)
    # the records' mpmath values (the reference gradients' oracle) agree with the closed forms
    for fn, order in ((F.dsinc, 1), (F.d2sinc, 2)):
        with mpmath.workdps(30):
            mp = np.array([float(record_for(fn).mpmath(mpmath.mpf(v))) for v in xs])
        np.testing.assert_allclose(mp, _sinc_derivatives_closed_form(xs, order), rtol=1e-15, atol=1e-300)


def test_erfc_keeps_its_digits_in_the_tail_and_hypot_does_not_overflow():
    for name, args, want in [("erfc", (10.0,), 2.088487583762544757e-45), ("erfc", (-10.0,), 2.0),
                             ("hypot", (1e200, 1e200), 1.4142135623730951e200)]:
        spec = SPECS[name]
        syms = (x, y)[: spec.arity]
        values = {**{s: np.array([v]) for s, v in zip(syms, args)}, w: 1.0}
        assert evaluate([spec.fn(*syms)], values)[0][0] == pytest.approx(want, rel=1e-15)
        assert _value_kernel(name).predict(values)[0][0] == pytest.approx(want, rel=1e-15)
    # the gradient of hypot at 1e200 is finite too (∂/∂x = x/hypot reuses the node)
    expr = hypot(w * x, y)
    values = {x: np.array([1e200]), y: np.array([1e200]), w: 1.0}
    (g,) = symgrad.compile(expr, wrt=[w], inputs=[x, y], cache=False).grad(values)
    assert g == pytest.approx(1e200 / np.sqrt(2), rel=1e-15)
    assert autodiff.grad(expr, [w], values)[0] == pytest.approx(1e200 / np.sqrt(2), rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn, reference", [(numpy_erf, mpmath.erf), (numpy_erfc, mpmath.erfc)])
def test_vectorized_numpy_erf_is_within_a_few_ulp(fn, reference, dtype):
    """The numpy spelling of erf/erfc against mpmath over a wide range, tails and subnormals."""
    rng = np.random.default_rng(11)
    xs = np.concatenate([np.linspace(-7, 7, 1401), rng.uniform(-30, 30, 400), np.geomspace(1e-320, 1e2, 300),
                         -np.geomspace(1e-320, 30, 200), [0.46875, np.nextafter(0.46875, 1), 4.0, 4.0000001, 26.5,
                                                          np.inf, -np.inf]]).astype(dtype)
    got = fn(xs)
    assert got.dtype == dtype
    with mpmath.workdps(40):
        want = np.array([float(reference(mpmath.mpf(float(v)))) for v in xs])
    ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    ulps = np.abs(got.astype(np.float64) - want) / np.maximum(ulp, np.finfo(dtype).smallest_subnormal)
    assert ulps.max() <= 8, (xs[np.argmax(ulps)], ulps.max())
    assert np.isnan(fn(np.array([np.nan], dtype=dtype)))[0]


@pytest.mark.parametrize("name", ["erf", "erfc", "asinh", "atanh", "sinc", "log1p", "expm1", "atan2", "hypot"])
def test_matrix_entrywise_map(name):
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    spec = SPECS[name]
    W, A = sp.MatrixSymbol("W", 2, 2), sp.MatrixSymbol("A", 2, 2)
    t = sp.Symbol("t", real=True)
    f = sp.Lambda(t, spec.of(t, sp.Rational(3, 4)))  # a two-argument function with a constant second
    loss = sp.trace(ElementwiseApplyFunction(f, sp.HadamardProduct(W, A)))
    Wv, Av = np.array([[0.3, -0.2], [0.5, 0.1]]), np.array([[1.0, 2.0], [-1.0, 0.5]])
    (g,) = autodiff.grad(loss, [W], {W: Wv, A: Av})
    (sym,) = symgrad.grad(loss, [W])
    # d/dW trace(f(W∘A)) = diag(f'(W_ii A_ii) A_ii), f' from the scalar-level symbolic gradient
    slope = [float(evaluate(symgrad.grad(f(t), [t]), {t: Wv[i, i] * Av[i, i]})[0]) for i in range(2)]
    want = np.diag([slope[i] * Av[i, i] for i in range(2)])
    np.testing.assert_allclose(g, want, rtol=1e-12)
    np.testing.assert_allclose(np.array(sym.subs({W: sp.Matrix(Wv), A: sp.Matrix(Av)}).doit().evalf(), dtype=float),
                               want, rtol=1e-12)


def test_latex_names_each_function():
    for name, text in [("erf", r"\operatorname{erf}"), ("erfc", r"\operatorname{erfc}"), ("asinh", r"\operatorname{asinh}"),
                       ("acosh", r"\operatorname{acosh}"), ("atanh", r"\operatorname{atanh}"),
                       ("hypot", r"\operatorname{hypot}"), ("atan2", r"\operatorname{atan}_{2}"),
                       ("sinc", r"\operatorname{sinc}"), ("d2sinc", r"\operatorname{sinc}''"),
                       ("log1p", r"\operatorname{log1p}"), ("expm1", r"\operatorname{expm}_{1}")]:
        assert text in sp.latex(SPECS[name].of(w * x, y)), name


@pytest.mark.parametrize("name", ["erf", "erfc", "asinh", "acosh", "atanh", "atan2"])
def test_symgrad_tf_ops_match_tensorflow_in_value_and_gradient(name):
    """symgrad.tf builds each from its record's tf name; real TensorFlow is the oracle."""
    import sys

    limit = sys.getrecursionlimit()
    real = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'symgrad[tf-oracle]')")
    sys.setrecursionlimit(limit)  # importing TensorFlow raises it; other tests' deep expressions rely on ours
    from symgrad import tf

    assert name in RECORDS[SPECS[name].fn].tf
    rng = np.random.default_rng(3)
    low = {"acosh": 1.1, "atanh": -0.9}.get(name, -2.5)
    high = {"atanh": 0.9}.get(name, 2.5 if name != "acosh" else 4.0)
    data, other = rng.uniform(low, high, size=(3, 4)), rng.normal(size=(3, 4))
    results = []
    for module in (tf, real):
        op = getattr(module.math, name)
        v = module.Variable(data)
        with module.GradientTape() as tape:
            y = module.reduce_sum((op(v, other) if name == "atan2" else op(v)) * other)
        results.append((float(y.numpy()), tape.gradient(y, v).numpy()))
    (got, g), (want, gw) = results
    assert got == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(g, gw, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_on_dual_numbers(name):
    """Each evaluation rule run on dual numbers carries the derivative (the tangent rule H·v uses):
    atan2 had no forward-mode rule."""
    from symgrad.dual import Dual

    spec = SPECS[name]
    expr, values = _gradient_case(spec)
    for v, direction in ((x, (1.0, 0.0)), (y, (0.0, 1.0))):
        if v not in values:
            continue
        dual = {**values, x: Dual(values[x], np.full(7, direction[0]))}
        if y in values:
            dual[y] = Dual(values[y], np.full(7, direction[1]))
        (out,) = evaluate([expr], dual)
        np.testing.assert_allclose(out.value, evaluate([expr], values)[0], rtol=1e-15)
        (want,) = evaluate(symgrad.grad(expr, [v]), values)
        np.testing.assert_allclose(out.tangent, want, rtol=1e-12, atol=1e-14, err_msg=f"{name} d/d{v}")


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_float32_kernels_keep_erf_within_a_few_float32_ulp(name):
    fn = SPECS[name].fn
    kernel = symgrad.compile(fn(w * x), wrt=[w], inputs=[x], outputs=[fn(x)], dtype="float32", cache=False)
    xs = np.concatenate([np.linspace(-6, 10, 60), [1e-30, -1e-40, 0.46875, 4.0]]).astype(np.float32)
    (got,) = kernel.predict({x: xs, w: 1.0})  # 64 samples: the vectorized helper
    with mpmath.workdps(30):
        want = np.array([float(record_for(fn).mpmath(mpmath.mpf(float(v)))) for v in xs])
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    ulps = np.abs(np.asarray(got, np.float64) - want) / np.maximum(ulp, np.finfo(np.float32).smallest_subnormal)
    assert ulps.max() <= 8, (xs[np.argmax(ulps)], ulps.max())
