"""Stable rewrites: generated kernels are finite where the true value is, and accurate to a few ulps.

Every case is written the naive way a user would (1/(1 + e^(−u)), log(1 + e^u), e^u − 1, ...), so
the test also proves the rewrite fired. The true value of the function and of its derivative comes
from mpmath at 600 digits, evaluated at the exact binary value of each input. The parameter enters
as u = x + w with w = 0, so ∂/∂w is exactly f'(x).
"""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import functions as F
from symgrad import nn
from symgrad.ir import Assign
from symgrad.rewrite import RULES, stabilize

x, y, w = sp.symbols("x y w", real=True)
u = x + w

# name -> (naive expression of u, domain of x as (lo, hi) or None)
CASES = {
    "sigmoid": (1 / (1 + sp.exp(-u)), None),
    "sigmoid_ratio": (sp.exp(u) / (1 + sp.exp(u)), None),
    "softplus": (sp.log(1 + sp.exp(u)), None),
    "logsigmoid": (sp.log(1 / (1 + sp.exp(-u))), None),
    "log_one_minus_sigmoid": (sp.log(1 - F.sigmoid(u)), None),
    "log1p": (sp.log(1 + u), (-0.99, np.inf)),
    "expm1": (sp.exp(u) - 1, (-np.inf, 700.0)),
    "scaled_expm1": (3 * (sp.exp(u) - 1), (-np.inf, 700.0)),  # sympy spells it 3*exp(u) - 3
    "exp_difference": (sp.exp(u) - sp.exp(-u), (-700.0, 700.0)),
    "tanh": (sp.tanh(u), None),
    "sigmoid_function": (F.sigmoid(u), None),
    # hard target y = 1 (y is Y_VALUE everywhere; 1 − y is 0.5 there): see test_bce_with_soft_target
    "bce_from_probability": (nn.binary_cross_entropy([F.sigmoid(u)], [2 * y]), None),
    "logsumexp": (sp.log(sp.exp(u) + sp.exp(y)), None),
}
# how the naive form must come out of the rewrites (no naive piece left in the lowered code)
FORBIDDEN = {"sigmoid": "exp(", "sigmoid_ratio": "exp(", "softplus": "log(", "logsigmoid": "log(",
             "log_one_minus_sigmoid": "log(", "log1p": "log(", "expm1": "exp(", "logsumexp": "log("}

TINY = [5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-20, 1e-5]
F64 = sorted({s * v for v in [*TINY, 0.5, 1.0, 5.0, 20.0, 40.0, 100.0, 700.0, 745.0, 1000.0] for s in (1.0, -1.0)}
             | {0.0, -0.0})
F32 = sorted({s * v for v in [1.4e-45, 1e-40, 1.1754944e-38, 1e-20, 1e-5, 0.5, 1.0, 5.0, 20.0, 50.0, 88.0, 100.0]
              for s in (1.0, -1.0)} | {0.0})
Y_VALUE = 0.5  # the second data input (target of the cross-entropy, second logit of logsumexp)
ULPS = 4
# the softmax weight e^(a − lse) inherits the rounding of lse and of a − lse (|a − lse| + |lse|)·2^-53,
# absolute, as a relative error: up to 2·(|a − lse| + |lse|) ulps on top (the value stays within ULPS)
LSE_DERIVATIVE_EXTRA = {"logsumexp"}


def _oracle(expr):
    """f and f' as mpmath functions of x (600 digits), from the expression's exp/log form."""
    exact = expr.rewrite(sp.exp)
    value = sp.lambdify([x, y, w], exact, modules="mpmath")
    deriv = sp.lambdify([x, y, w], sp.diff(exact, w), modules="mpmath")
    return value, deriv


def _truth(fn, xs, dtype):
    with mpmath.workdps(600):
        out = []
        for v in xs:
            r = fn(mpmath.mpf(float(v)), mpmath.mpf(Y_VALUE), mpmath.mpf(0))
            out.append(float(r) if mpmath.isfinite(r) else np.nan)
    return np.array(out, dtype=np.float64)


def _ulp_error(got, true, dtype):
    """|got − true| in units of the last place of `true` rounded to `dtype` (subnormal spacing near 0)."""
    true_rounded = true.astype(dtype)
    spacing = np.spacing(np.abs(true_rounded)).astype(np.float64)
    return np.abs(got.astype(np.float64) - true) / spacing


def _points(dtype, domain):
    pts = np.array(F64 if dtype == "float64" else F32)
    if domain:
        pts = pts[(pts > domain[0]) & (pts < domain[1])]
    return pts


def _check(name, dtype, loop):
    expr, domain = CASES[name]
    kernel = symgrad.compile(expr, wrt=[w], inputs=[x, y], outputs=[expr], dtype=dtype)
    pts = _points(dtype, domain)
    value_fn, deriv_fn = _oracle(expr)
    true_value, true_deriv = _truth(value_fn, pts, dtype), _truth(deriv_fn, pts, dtype)
    representable = np.isfinite(true_value) & (np.abs(true_value) <= np.finfo(dtype).max)
    representable &= np.isfinite(true_deriv) & (np.abs(true_deriv) <= np.finfo(dtype).max)
    if loop:  # one sample at a time: the generated per-sample loop on Python floats
        got = [kernel.loss_and_grad({x: [p], y: [Y_VALUE], w: 0.0}, nonfinite="propagate") for p in pts]
        value = np.array([g[0] for g in got], dtype=np.float64)
        deriv = np.array([g[1][0] for g in got], dtype=np.float64)
    else:
        values = {x: pts.astype(dtype), y: np.full(len(pts), Y_VALUE, dtype), w: 0.0}
        (value,) = kernel.predict(values, nonfinite="propagate")
        deriv = kernel.per_sample_grad(values, nonfinite="propagate")[:, 0]
    assert np.all(np.isfinite(value[representable])), f"{name}: non-finite value at {pts[~np.isfinite(value)]}"
    assert np.all(np.isfinite(deriv[representable])), f"{name}: non-finite derivative at {pts[~np.isfinite(deriv)]}"
    for what, got, true in (("value", value, true_value), ("derivative", deriv, true_deriv)):
        err = _ulp_error(got[representable], true[representable], dtype)
        exponent = np.abs(pts[representable]) + np.abs(true_value[representable])  # bounds |a − lse| + |lse|
        tol = ULPS + (2 * exponent if what == "derivative" and name in LSE_DERIVATIVE_EXTRA else 0)
        worst = int(np.argmax(err - tol))
        assert err[worst] <= np.broadcast_to(tol, err.shape)[worst], (
            f"{name} {what} ({dtype}) is {err[worst]:.1f} ulps off at x={pts[representable][worst]!r}: "
            f"got {got[representable][worst]!r}, true {true[representable][worst]!r}"
        )
    return kernel


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vectorized_kernel_is_finite_and_accurate_at_extremes(name, dtype):
    kernel = _check(name, dtype, loop=False)
    if name in FORBIDDEN:
        body = "\n".join(line for line in kernel.source.splitlines() if " = " in line and "#" not in line)
        assert f"np.{FORBIDDEN[name]}" not in body, f"naive {FORBIDDEN[name]} left in:\n{body}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_per_sample_loop_is_finite_and_accurate_at_extremes(name):
    _check(name, "float64", loop=True)


def test_every_rule_fires_somewhere_in_the_cases():
    fired = []
    stabilize([expr for expr, _ in CASES.values()] + [sp.exp(x) / (sp.exp(x) + sp.exp(y)), sp.log(sp.exp(x) + 1) + 0 * sp.log(1 + sp.exp(y))], applied=fired)
    fired_after_grad = []
    grads = symgrad.grad(sp.tanh(x) + F.sigmoid(x), [x])
    stabilize(grads, applied=fired_after_grad)
    from sympy.codegen.cfunctions import log1p

    stabilize([log1p(sp.exp(x))], applied=fired)
    assert {r.name for r in RULES} <= set(fired) | set(fired_after_grad)


def test_rewrites_are_applied_to_backward_code():
    """σ'(z) = σ(z)(1 − σ(z)) comes out of the differentiation and is rewritten to σ(z)σ(−z)."""
    ir = symgrad.compiler.build_ir(F.sigmoid(u), wrt=[w], inputs=[x])
    backward = [st for st in ir.statements if st.phase.value == "backward" and isinstance(st, Assign)]
    assert backward and not any("1 - " in str(st.expr) for st in backward)


def test_softmax_and_cross_entropy_forms():
    z0, z1 = sp.symbols("z0 z1", real=True)
    naive = sp.log(sp.exp(z0) / (sp.exp(z0) + sp.exp(z1)))
    (stable,) = stabilize([naive])
    assert stable == z0 - F.logsumexp(z0, z1)
    kernel = symgrad.compile(-naive, wrt=[z0], inputs=[z1])
    loss, (g,) = kernel.loss_and_grad({z0: 1000.0, z1: [0.0, 1000.0, -1000.0]})
    # true: softplus(-1000) + log 2 + softplus(2000); d/dz0: σ(−1000) − 1/2 − 1 + σ(−2000)·0 …
    with mpmath.workdps(50):
        true = sum(-1000 + mpmath.log(mpmath.exp(1000) + mpmath.exp(v)) for v in (0, 1000, -1000))
        true_g = sum(mpmath.exp(1000) / (mpmath.exp(1000) + mpmath.exp(v)) - 1 for v in (0, 1000, -1000))
    assert loss == pytest.approx(float(true), rel=1e-15)
    assert g == pytest.approx(float(true_g), rel=1e-15)


def test_disabling_rewrites_shows_what_they_fix():
    naive = sp.log(1 + sp.exp(u))
    raw = symgrad.compile(naive, wrt=[w], inputs=[x], rewrites=())
    stable = symgrad.compile(naive, wrt=[w], inputs=[x])
    values = {x: [1000.0] * 20, w: 0.0}
    assert not np.isfinite(raw.loss(values, nonfinite="propagate"))
    assert stable.loss(values) == 20 * 1000.0


def test_unknown_rule_name_is_our_error():
    with pytest.raises(symgrad.InvalidArgumentError, match="unknown rewrite rule"):
        symgrad.compile(u, wrt=[w], inputs=[x], rewrites=["no_such_rule"])


def _cuda_points(dtype):
    return np.array(F64 if dtype == "float64" else F32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_emulated_cuda_kernel_is_finite_and_accurate_at_extremes(dtype):
    """The same cases through the CUDA target (run by the host emulation): one kernel, one
    parameter per case, so each column of the per-sample gradient is one case's derivative."""
    cuda_cases = pytest.importorskip("cuda_cases")
    if not cuda_cases.HAVE_CXX:
        pytest.skip("no host C++20 compiler for the CUDA emulation")
    from symgrad.cuda_emu import Backend

    names = sorted(CASES)
    ws = [sp.Symbol(f"w_{n}", real=True) for n in names]
    exprs = [CASES[n][0].subs(w, wn) for n, wn in zip(names, ws, strict=True)]
    kernel = symgrad.compile(sp.Add(*exprs), wrt=ws, inputs=[x, y], outputs=exprs, target="cuda", dtype=dtype, cache=False)
    kernel = kernel.on(Backend())
    pts = _cuda_points(dtype)
    values = {x: pts.astype(dtype), y: np.full(len(pts), Y_VALUE, dtype), **dict.fromkeys(ws, 0.0)}
    with np.errstate(all="ignore"):
        outs = kernel.predict(values, nonfinite="propagate")
        per_sample = np.asarray(kernel.per_sample_grad(values, nonfinite="propagate"))
    for j, name in enumerate(names):
        expr, domain = CASES[name]
        keep = np.ones(len(pts), bool) if not domain else (pts > domain[0]) & (pts < domain[1])
        value_fn, deriv_fn = _oracle(expr)
        true_value, true_deriv = _truth(value_fn, pts[keep], dtype), _truth(deriv_fn, pts[keep], dtype)
        ok = np.isfinite(true_value) & (np.abs(true_value) <= np.finfo(dtype).max)
        ok &= np.isfinite(true_deriv) & (np.abs(true_deriv) <= np.finfo(dtype).max)
        for what, got, true in (("value", np.asarray(outs[j])[keep], true_value), ("derivative", per_sample[keep, j], true_deriv)):
            assert np.all(np.isfinite(got[ok])), f"cuda {name} {what}: non-finite at {pts[keep][ok][~np.isfinite(got[ok])]}"
            err = _ulp_error(got[ok], true[ok], dtype)
            exponent = np.abs(pts[keep][ok]) + np.abs(true_value[ok])
            tol = ULPS + (2 * exponent if what == "derivative" and name in LSE_DERIVATIVE_EXTRA else 0)
            worst = int(np.argmax(err - tol))
            assert err[worst] <= np.broadcast_to(tol, err.shape)[worst], (
                f"cuda {name} {what} ({dtype}) is {err[worst]:.1f} ulps off at x={pts[keep][ok][worst]!r}: "
                f"got {got[ok][worst]!r}, true {true[ok][worst]!r}"
            )
