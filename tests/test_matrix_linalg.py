"""Inverse, Determinant and logdet: each one matrix-node record, checked on every path.

References, none of them symgrad's rules: sympy's own inverse/det of an explicit matrix of
symbols differentiated by `sympy.diff` (the scalar expansion), central finite differences, and
PyTorch autograd through torch.linalg.inv/det/slogdet written directly (not symgrad's DAG).
The Matrix Cookbook's forms the records implement: d X⁻¹ = −X⁻¹ dX X⁻¹, ∇ det X = det X · X⁻ᵀ,
∇ log|det X| = X⁻ᵀ.
"""

import numpy as np
import pytest
import sympy as sp
import torch

import symgrad
from symgrad.hessian_check import fd_hvp, torch_hvp
from symgrad.matrix import SumAll, logdet
from symgrad.matrix.evaluate import evaluate
from symgrad.matrix.graph import matrix_symbols
from symgrad.matrix.hessian import hvp
from symgrad.matrix.hessian_kernel import compile_hessian
from symgrad.primitives import matrix_record
from symgrad.values import bind

X = sp.MatrixSymbol("X", 3, 3)
B = sp.MatrixSymbol("B", 3, 3)
v = sp.MatrixSymbol("v", 3, 1)
RNG = np.random.default_rng(7)
VALUES = {X: np.eye(3) * 2.0 + RNG.normal(size=(3, 3)) * 0.4, B: RNG.normal(size=(3, 3)), v: RNG.normal(size=(3, 1))}
NEGATIVE = {**VALUES, X: VALUES[X] @ np.diag([1.0, 1.0, -1.0])}  # det X < 0: log|det X| still defined


def _t(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def _cases(X, B, v):
    """name -> (loss, wrt, the same loss written with torch on the tensors of each symbol)."""
    eye = torch.eye(X.shape[0], dtype=torch.float64)
    return {
        "inverse": (SumAll(sp.HadamardProduct(sp.Inverse(X), B)), [X, B], lambda t: (torch.linalg.inv(t[X]) * t[B]).sum()),
        "inverse-times-vector": (SumAll(sp.Inverse(X) * v), [X, v], lambda t: (torch.linalg.inv(t[X]) @ t[v]).sum()),
        "determinant": (sp.Determinant(X), [X], lambda t: torch.linalg.det(t[X])),
        "determinant-of-product": (sp.Determinant(X * B), [X, B], lambda t: torch.linalg.det(t[X] @ t[B])),
        "logdet": (logdet(X), [X], lambda t: torch.linalg.slogdet(t[X])[1]),
        "logdet-gram": (logdet(X.T * X + sp.Identity(X.shape[0])), [X],
                        lambda t: torch.linalg.slogdet(t[X].T @ t[X] + eye)[1]),
        "mixed": (logdet(X) * sp.Determinant(B) + sp.Trace(sp.Inverse(X) * B)
                  + SumAll((sp.Inverse(X) * v).applyfunc(sp.tanh)), [X, B, v],
                  lambda t: torch.linalg.slogdet(t[X])[1] * torch.linalg.det(t[B])
                  + torch.trace(torch.linalg.inv(t[X]) @ t[B]) + torch.tanh(torch.linalg.inv(t[X]) @ t[v]).sum()),
    }


CASES = _cases(X, B, v)
X2, B2, v2 = sp.MatrixSymbol("X", 2, 2), sp.MatrixSymbol("B", 2, 2), sp.MatrixSymbol("v", 2, 1)
SMALL = {X2: np.array([[1.7, 0.3], [-0.4, 1.2]]), B2: np.array([[0.5, -1.1], [0.8, 0.2]]), v2: np.array([[0.6], [-1.3]])}


def _expanded(loss, values):
    """(scalar loss over entry symbols, {MatrixSymbol: matrix of its entry symbols}) by sympy alone."""
    entries = {m: sp.Matrix(*np.shape(values[m]), lambda i, j, m=m: sp.Symbol(f"{m.name}_{i}{j}", real=True))
               for m in values}
    return loss.xreplace(entries).doit(), entries


def scalar_expansion(loss, wrt, values):
    flat, entries = _expanded(loss, values)
    symbols = [s for m in sorted(entries, key=str) for s in entries[m]]
    numbers = [float(x) for m in sorted(entries, key=str) for x in np.ravel(values[m])]
    out = []
    for w in wrt:
        e = entries[w]
        slopes = sp.lambdify(symbols, [sp.diff(flat, s) for s in e], "mpmath")(*numbers)
        out.append(np.array([float(d) for d in slopes]).reshape(e.shape))
    return out


def torch_reference(torch_loss, wrt, values):
    tensors = {m: _t(np.asarray(values[m], dtype=float)) for m in values}
    torch_loss(tensors).backward()
    return [tensors[w].grad.numpy() for w in wrt]


def _evaluated(exprs, values):
    bound, sizes = bind(sorted(values, key=str), values)
    return [np.asarray(o, dtype=float) for o in evaluate(exprs, bound, sizes)]


@pytest.mark.parametrize("values", [VALUES, NEGATIVE], ids=["det>0", "det<0"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_path_agrees_with_torch_and_finite_differences(case, values):
    """symbolic (evaluated), autodiff, check (its finite differences), the numpy kernel vs torch."""
    loss, wrt, torch_loss = CASES[case]
    want = torch_reference(torch_loss, wrt, values)
    symbolic = _evaluated(symgrad.grad(loss, wrt), values)
    autodiff = symgrad.autodiff.grad(loss, wrt, values)
    report = symgrad.check(loss, wrt, values)
    assert report.ok, report
    kernel = symgrad.compile(loss, wrt=wrt, cache=False)
    value, compiled = kernel.loss_and_grad(values)
    (expected_value,) = _evaluated([loss], values)
    np.testing.assert_allclose(value, expected_value, rtol=1e-10)
    for got, rtol in ((symbolic, 1e-9), (autodiff, 1e-9), (compiled, 1e-9), ([r.fd for r in report.rows], 1e-5)):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-8)


@pytest.mark.parametrize("case", list(CASES))
def test_small_sizes_agree_with_the_scalar_expansion(case):
    """2×2, where sympy's explicit inverse and determinant differentiate quickly."""
    loss, wrt, _ = _cases(X2, B2, v2)[case]
    want = scalar_expansion(loss, wrt, SMALL)
    for got in (_evaluated(symgrad.grad(loss, wrt), SMALL), symgrad.autodiff.grad(loss, wrt, SMALL),
                symgrad.compile(loss, wrt=wrt, cache=False).loss_and_grad(SMALL)[1]):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_the_gradients_have_the_cookbook_forms():
    """∇ det X = det X · X⁻ᵀ, ∇ log|det X| = X⁻ᵀ, ∇ Σ X⁻¹ = −X⁻ᵀ 1 1ᵀ X⁻ᵀ (as expressions)."""
    inv_t = sp.Transpose(sp.Inverse(X))
    assert symgrad.grad(logdet(X), [X]) == [inv_t]
    (d_det,) = symgrad.grad(sp.Determinant(X), [X])
    assert d_det == sp.MatMul(sp.Determinant(X), inv_t)
    values = VALUES[X]
    (d_sum,) = _evaluated(symgrad.grad(SumAll(sp.Inverse(X)), [X]), {X: values})
    inv = np.linalg.inv(values)
    np.testing.assert_allclose(d_sum, -inv.T @ np.ones((3, 3)) @ inv.T, rtol=1e-12)


def test_logdet_is_stable_where_det_overflows():
    big = {X: np.eye(3) * 1e120}
    ((value,),) = [_evaluated([logdet(X)], big)]
    assert np.isclose(value, 3 * 120 * np.log(10))
    assert np.isinf(_evaluated([sp.log(sp.Abs(sp.Determinant(X)))], big)[0])  # the naive form overflows
    kernel = symgrad.compile(logdet(X), wrt=[X], cache=False)
    value, (grad,) = kernel.loss_and_grad(big)
    assert np.isclose(value, 3 * 120 * np.log(10))
    np.testing.assert_allclose(grad, np.eye(3) * 1e-120, rtol=1e-12)


@pytest.mark.parametrize("case", ["inverse", "inverse-times-vector", "determinant", "logdet", "logdet-gram", "mixed"])
def test_hessian_vector_products(case):
    """H·V in X, forward over reverse (the records' tangents applied to their adjoints), against
    finite differences of the autodiff gradient, torch.autograd.functional.hvp and the generated kernel."""
    loss, _, _ = CASES[case]
    values = {m: VALUES[m] for m in matrix_symbols([loss])}
    direction = RNG.normal(size=(3, 3))
    (product,), (d,) = hvp(loss, [X])
    (closed,) = _evaluated([product], {**values, d: direction})
    (fd,) = fd_hvp(loss, [X], values, [direction])
    reference = torch_hvp(loss, X, values, direction)
    kernel = compile_hessian(loss, [X], inputs=sorted(set(values) - {X}, key=str))
    (generated,) = kernel.hvp(values, [direction])
    np.testing.assert_allclose(closed, reference, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fd, reference, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(generated, reference, rtol=1e-8, atol=1e-10)
    if case == "logdet":  # the cookbook: H·V = −X⁻ᵀ Vᵀ X⁻ᵀ
        inv = np.linalg.inv(values[X])
        np.testing.assert_allclose(closed, -inv.T @ direction.T @ inv.T, rtol=1e-10)


def test_symbolic_sizes_compile_and_agree():
    n = sp.Symbol("n", integer=True, positive=True)
    Y = sp.MatrixSymbol("Y", n, n)
    loss = logdet(Y) + sp.Determinant(Y) + SumAll(sp.Inverse(Y))
    kernel = symgrad.compile(loss, wrt=[Y], cache=False)
    for size in (2, 4):
        y = np.eye(size) * 1.5 + RNG.normal(size=(size, size)) * 0.2
        value, (grad,) = kernel.loss_and_grad({Y: y})
        inv = np.linalg.inv(y)
        want = inv.T + np.linalg.det(y) * inv.T - inv.T @ np.ones((size, size)) @ inv.T
        np.testing.assert_allclose(grad, want, rtol=1e-9)
        assert np.isclose(value, np.linalg.slogdet(y)[1] + np.linalg.det(y) + inv.sum())


def test_a_singular_matrix_is_undefined_never_a_traceback():
    """Documented policy: no inverse → NaN, which check and the kernels report as undefined.

    det X itself is defined there (0) but its gradient det X · X⁻ᵀ is not computed (the adjugate
    would be): NaN, and check reports the disagreement with finite differences instead of passing."""
    singular = {X: np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])}
    for loss in (SumAll(sp.Inverse(X)), logdet(X), sp.Determinant(X)):
        assert np.all(np.isnan(symgrad.autodiff.grad(loss, [X], singular)[0]))
        if isinstance(loss, sp.Determinant):
            report = symgrad.check(loss, [X], singular)
            assert not report.ok and np.all(np.isfinite(report.rows[0].fd))
        else:
            with pytest.raises(symgrad.NonFiniteError, match="undefined"):
                symgrad.check(loss, [X], singular)
        kernel = symgrad.compile(loss, wrt=[X], cache=False)
        with pytest.raises(symgrad.NonFiniteError):
            kernel.loss_and_grad(singular)
        _, (grad,) = kernel.loss_and_grad(singular, nonfinite="propagate")
        assert np.all(np.isnan(grad))


def test_non_square_matrices_are_our_error_naming_the_shape():
    R = sp.MatrixSymbol("R", 2, 3)
    with pytest.raises(symgrad.ShapeError, match=r"logdet needs a square matrix; R is 2×3"):
        logdet(R)
    m, k = sp.symbols("m k", integer=True, positive=True)
    Z = sp.MatrixSymbol("Z", m, k)  # sympy cannot tell Z is not square: our kernel and evaluation say so
    with pytest.raises(symgrad.ShapeError, match=r"Inverse needs a square matrix; Z is m×k"):
        symgrad.compile(SumAll(sp.Inverse(Z)), wrt=[Z], cache=False)
    with pytest.raises(symgrad.ShapeError, match=r"Determinant needs a square matrix; Z has the value shape \(2, 3\)"):
        symgrad.autodiff.grad(sp.Determinant(Z), [Z], {Z: np.ones((2, 3))})


def test_the_cuda_target_refuses_them_by_name_with_the_declared_gap():
    for loss, name in ((SumAll(sp.Inverse(X)), "Inverse"), (sp.Determinant(X), "Determinant"), (logdet(X), "LogDet")):
        gap = matrix_record(type(loss) if name != "Inverse" else sp.Inverse).gaps["cuda"]
        with pytest.raises(symgrad.UnsupportedError, match=f"the CUDA target cannot compute {name}.*cuSOLVER"):
            symgrad.compile(loss, wrt=[X], target="cuda", cache=False)
        assert "cuSOLVER" in gap


def test_each_is_one_record_holding_every_path():
    for cls in (sp.Inverse, sp.Determinant, type(logdet(X))):
        record = matrix_record(cls)
        assert record.function is cls
        for path in ("adjoint", "array_vjp", "forward", "tangent", "lower", "numpy_call"):
            assert getattr(record, path) is not None, (cls, path)
        assert set(record.gaps) == {"linear", "cuda"}
