"""symgrad.register: a user's own sympy Function on every path, and our errors for what is missing."""

import numpy as np
import pytest
import sympy as sp
from cuda_cases import needs_cxx

import symgrad
from symgrad.primitives import RECORDS

X = np.array([0.5, -1.0, 2.0])
x, w = sp.symbols("x w")


def _cube_class(name="ucube"):
    return type(name, (sp.Function,), {"nargs": 1})


@pytest.fixture
def cube():
    cls = _cube_class()
    symgrad.register(
        cls,
        partials=lambda node: [3 * node.args[0] ** 2],
        vjp=lambda g, ans, v: [g * 3.0 * v * v],
        evaluate=lambda backend, v: v * v * v,
        numpy="def ucube(x):\n    return x*x*x",
        loop="def scalar_ucube(x):\n    return x*x*x",
        cuda="__device__ inline sg_real sg_ucube(sg_real x) { return x*x*x; }",
        mpmath=lambda v: v**3,
        latex=r"\operatorname{cube}",
    )
    yield cls
    RECORDS.pop(cls, None)


def _truth(wv):  # d/dw Σ (w x)³ = Σ 3 w² x³
    return float(np.sum(3 * wv**2 * X**3))


def test_grad_autodiff_check_and_hessian(cube):
    loss = cube(w * x)
    values = {x: X, w: 0.7}
    (g,) = symgrad.grad(loss, [w])
    assert float(np.sum(sp.lambdify([x, w], g)(X, 0.7))) == pytest.approx(_truth(0.7), rel=1e-12)
    assert symgrad.autodiff.grad(loss, [w], values)[0] == pytest.approx(_truth(0.7), rel=1e-12)
    assert symgrad.check(loss, [w], values).ok
    assert symgrad.autodiff.hessian(loss, [w], values)[0, 0] == pytest.approx(float(np.sum(6 * 0.7 * X**3)), rel=1e-12)


@pytest.mark.parametrize("batch", [3, 40])  # the per-sample loop and the vectorized path
def test_compiled_numpy_kernel(cube, batch):
    data = np.linspace(-2, 2, batch)
    kernel = symgrad.compile(cube(w * x), wrt=[w], inputs=[x])
    assert "def ucube(x)" in kernel.source
    (g,) = kernel.grad({x: data, w: 0.7})
    assert g == pytest.approx(float(np.sum(3 * 0.49 * data**3)), rel=1e-12)


def test_matrix_entrywise_map(cube):
    W, A = sp.MatrixSymbol("W", 2, 2), sp.MatrixSymbol("A", 2, 2)
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    loss = sp.trace(ElementwiseApplyFunction(sp.Lambda(x, cube(x)), sp.HadamardProduct(W, A)))
    Wv, Av = np.array([[0.3, -0.2], [0.5, 0.1]]), np.array([[1.0, 2.0], [-1.0, 0.5]])
    (g,) = symgrad.autodiff.grad(loss, [W], {W: Wv, A: Av})
    want = np.diag(np.diag(3 * (Wv * Av) ** 2 * Av))
    np.testing.assert_allclose(g, want, rtol=1e-12)


@needs_cxx
def test_cuda_kernel_through_the_host_emulation(cube):
    from symgrad.cuda_emu import Backend

    kernel = symgrad.compile(cube(w * x), wrt=[w], inputs=[x], target="cuda")
    assert "sg_ucube" in kernel.source
    (g,) = kernel.on(Backend()).grad({x: X, w: 0.7})
    assert g == pytest.approx(_truth(0.7), rel=1e-12)


def test_derivation_latex(cube):
    assert r"\operatorname{cube}" in sp.latex(cube(w * x))


def test_a_missing_spelling_is_refused_by_that_target_by_name():
    cls = _cube_class("cube_no_cuda")
    symgrad.register(cls, partials=lambda n: [3 * n.args[0] ** 2], vjp=lambda g, a, v: [g * 3.0 * v * v],
                     evaluate=lambda b, v: v * v * v, numpy="def cube_no_cuda(x):\n    return x*x*x")
    try:  # the numpy target prints the per-sample loop too: that spelling is missing first
        with pytest.raises(symgrad.UnsupportedError, match="cube_no_cuda.*loop spelling.*loop=..."):
            symgrad.compile(cls(w * x), wrt=[w], inputs=[x])
    finally:
        RECORDS.pop(cls, None)
    symgrad.register(cls, partials=lambda n: [3 * n.args[0] ** 2], vjp=lambda g, a, v: [g * 3.0 * v * v],
                     evaluate=lambda b, v: v * v * v, numpy="def cube_no_cuda(x):\n    return x*x*x",
                     loop="def scalar_cube_no_cuda(x):\n    return x*x*x")
    try:
        assert symgrad.autodiff.grad(cls(w * x), [w], {x: X, w: 0.7})[0] == pytest.approx(_truth(0.7))
        symgrad.compile(cls(w * x), wrt=[w], inputs=[x])
        with pytest.raises(symgrad.UnsupportedError, match="cube_no_cuda.*cuda spelling.*not given to symgrad.register"):
            symgrad.compile(cls(w * x), wrt=[w], inputs=[x], target="cuda")
    finally:
        RECORDS.pop(cls, None)


def test_an_unregistered_user_class_is_refused_and_told_to_register():
    cls = _cube_class("cube_unknown")
    with pytest.raises(symgrad.UnsupportedError, match="symgrad.register"):
        symgrad.compile(cls(w * x), wrt=[w], inputs=[x])


@pytest.mark.parametrize("bad, message", [
    (lambda: symgrad.register(len), "sympy Function subclass"),
    (lambda: symgrad.register(_cube_class("np")), "cannot name a generated helper"),
    (lambda: symgrad.register(_cube_class("sigmoid")), "already the name"),
    (lambda: symgrad.register(_cube_class("c1"), numpy="def evil(x):\n    return x"), "must start with"),
    (lambda: symgrad.register(_cube_class("c2"), numpy="os.system('x')"), "neither a function name"),
    (lambda: symgrad.register(_cube_class("c3"), cuda="__device__ sg_real other(sg_real x) { return x; }"),
     "must define sg_c3"),
])
def test_bad_registrations_are_our_error(bad, message):
    with pytest.raises(symgrad.InvalidArgumentError, match=message):
        bad()
