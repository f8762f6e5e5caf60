"""One reverse sweep for scalar and matrix nodes (`symgrad.sweep`), symbolic and numeric.

A mixed model (scalar nodes around matrix nodes, matrix nodes around entrywise scalar maps, scalar
parameters inside the maps) is differentiated by the symbolic sweep and the numeric one and both
are compared with central differences of the model's value and with torch's autograd. Every
reverse-mode entry point is shown to run the one walk, and chains far deeper than Python's
recursion limit go through it at both levels.
"""

import sys

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import autodiff, matrix, sweep, symbolic, vjp
from symgrad.dag import op_count
from symgrad.matrix import SumAll
from symgrad.matrix import autodiff as matrix_autodiff
from symgrad.matrix.evaluate import evaluate
from symgrad.matrix.rules import reverse as matrix_reverse
from symgrad.values import bind

N = sp.Symbol("N", integer=True, positive=True)
X = sp.MatrixSymbol("X", N, 3)
Y = sp.MatrixSymbol("Y", N, 2)
W = sp.MatrixSymbol("W", 3, 2)
b = sp.MatrixSymbol("b", 1, 2)
s, c = sp.symbols("s c", real=True)
t, u = sp.symbols("t u", real=True)
PARAMS = [W, b, s, c]


def mixed_loss():
    """sin(s)·log(1 + Σ H∘H) + c²·tr(WᵀW) + exp(c·Σ σ(Z)∘Y)/(1 + s²), with H = tanh(s·Z), Z = XW + 1b.

    Scalar nodes (sin, log, exp, the quotient) around matrix nodes (SumAll, Trace, products), and
    matrix nodes around entrywise maps whose bodies read the scalar parameter s."""
    Z = X * W + sp.OneMatrix(N, 1) * b
    H = matrix.Map(sp.Lambda((t, u), sp.tanh(u * t)), Z, s)
    P = matrix.Map(sp.Lambda((t, u), symgrad.sigmoid(t) * u), Z, Y)
    return (sp.sin(s) * sp.log(1 + SumAll(sp.HadamardProduct(H, H)))
            + c**2 * sp.Trace(W.T * W)
            + sp.exp(c * SumAll(P) / 4) / (1 + s**2))


def mixed_values(seed=0):
    rng = np.random.default_rng(seed)
    return {X: rng.normal(size=(5, 3)), Y: rng.uniform(size=(5, 2)), W: rng.normal(scale=0.5, size=(3, 2)),
            b: rng.normal(scale=0.5, size=(1, 2)), s: 0.8, c: -0.6}


def _value(loss, values):
    symbols = sorted({X, Y, W, b, s, c}, key=str)
    bound, sizes = bind(symbols, values, sizes=True)
    (out,) = evaluate([loss], bound, sizes)
    return float(out)


def finite_differences(loss, values, h=1e-6):
    """Central differences of the model's value, entry by entry (the value only: no derivative code)."""
    out = []
    for p in PARAMS:
        base = np.asarray(values[p], dtype=float)
        grad = np.zeros(base.shape)
        for index in np.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[index] += h
            down[index] -= h
            f = [_value(loss, {**values, p: (v if v.shape else float(v))}) for v in (up, down)]
            grad[index] = (f[0] - f[1]) / (2 * h)
        out.append(grad if grad.shape else float(grad))
    return out


def torch_grads(values):
    """The same model written in torch, differentiated by torch's autograd."""
    torch = pytest.importorskip("torch", reason="torch is the independent oracle; not installed")
    T = {k: torch.tensor(np.asarray(v, dtype=float), dtype=torch.float64) for k, v in values.items()}
    leaves = [T[p].requires_grad_() for p in PARAMS]
    Wt, bt, st, ct = leaves
    Z = T[X] @ Wt + bt
    H = torch.tanh(st * Z)
    P = torch.sigmoid(Z) * T[Y]
    loss = (torch.sin(st) * torch.log(1 + (H * H).sum()) + ct**2 * torch.trace(Wt.T @ Wt)
            + torch.exp(ct * P.sum() / 4) / (1 + st**2))
    loss.backward()
    return [leaf.grad.numpy() if leaf.ndim else float(leaf.grad) for leaf in leaves]


def symbolic_grads(loss, values):
    exprs = symbolic.reverse(matrix.rules.as_scalar_loss(loss), PARAMS)
    bound, sizes = bind(sorted({X, Y, W, b, s, c}, key=str), values, sizes=True)
    return [np.broadcast_to(v, np.shape(values[p])) for v, p in zip(evaluate(exprs, bound, sizes), PARAMS, strict=True)]


def test_mixed_model_symbolic_and_numeric_sweeps_agree_with_finite_differences_and_torch():
    loss, values = mixed_loss(), mixed_values()
    symbolic_result = symbolic_grads(loss, values)
    numeric = autodiff.grad(loss, PARAMS, values)
    fd = finite_differences(loss, values)
    reference = torch_grads(values)
    for p, sym, num, f, ref in zip(PARAMS, symbolic_result, numeric, fd, reference, strict=True):
        assert np.shape(num) == np.shape(values[p]), f"numeric gradient of {p} has the wrong shape"
        np.testing.assert_allclose(sym, ref, rtol=1e-10, atol=1e-12, err_msg=f"symbolic sweep d/d{p} vs torch")
        np.testing.assert_allclose(num, ref, rtol=1e-10, atol=1e-12, err_msg=f"numeric sweep d/d{p} vs torch")
        np.testing.assert_allclose(f, ref, rtol=1e-6, atol=1e-8, err_msg=f"finite differences d/d{p} vs torch")
    # and the public doors: symgrad.grad (matrix expressions) evaluates to the same numbers
    exprs = symgrad.grad(loss, PARAMS)
    bound, sizes = bind(sorted({X, Y, W, b, s, c}, key=str), values, sizes=True)
    for v, ref in zip(evaluate(exprs, bound, sizes), reference, strict=True):
        np.testing.assert_allclose(np.broadcast_to(v, np.shape(ref)), ref, rtol=1e-10, atol=1e-12)


@pytest.fixture
def walks(monkeypatch):
    """Every call of the one walk, recorded (the walk itself still runs)."""
    calls = []
    walk = sweep.reverse_sweep

    def recorded(root, wrt, *args, **kwargs):
        calls.append(root)
        return walk(root, wrt, *args, **kwargs)

    monkeypatch.setattr(sweep, "reverse_sweep", recorded)
    return calls


SCALAR_LOSS = (sp.sin(s * c) + sp.exp(s)) ** 2
SCALAR_VALUES = {s: 0.3, c: np.array([0.5, -1.0, 2.0])}


@pytest.mark.parametrize("door", [
    pytest.param(lambda: symbolic.adjoints(SCALAR_LOSS, [s, c]), id="symbolic.adjoints"),
    pytest.param(lambda: symbolic.grad(SCALAR_LOSS, [s, c]), id="symbolic.grad"),
    pytest.param(lambda: symgrad.grad(SCALAR_LOSS, [s, c]), id="symgrad.grad scalar"),
    pytest.param(lambda: symgrad.grad(mixed_loss(), PARAMS), id="symgrad.grad matrix"),
    pytest.param(lambda: matrix_reverse(mixed_loss(), PARAMS), id="matrix.rules.reverse"),
    pytest.param(lambda: autodiff.grad(SCALAR_LOSS, [s, c], SCALAR_VALUES), id="autodiff.grad scalar"),
    pytest.param(lambda: autodiff.grad(mixed_loss(), PARAMS, mixed_values()), id="autodiff.grad matrix"),
    pytest.param(lambda: matrix_autodiff.grad(mixed_loss(), PARAMS, mixed_values()), id="matrix.autodiff.grad"),
    pytest.param(lambda: vjp.hvp(SCALAR_LOSS, [s, c], {s: 0.3, c: 0.5}, [1.0, 0.0]), id="vjp.hvp"),
])
def test_every_reverse_mode_door_runs_the_one_walk(walks, door):
    door()
    assert walks, "this entry point differentiated without sweep.reverse_sweep: a second walker"


def test_the_symbolic_and_numeric_sweeps_share_the_walk_not_the_rules(walks):
    """The walk is shared; the pullbacks are the two derivations (`check` sets them against each other)."""
    assert symbolic.pullback is not vjp.pullback
    symbolic.adjoints(SCALAR_LOSS, [s])
    autodiff.grad(SCALAR_LOSS, [s], SCALAR_VALUES)
    assert len(walks) == 2


def _scalar_chain(steps):
    """h ← σ(a_k·h + c_k·x): about 3 operations per step, built unevaluated (as generated models are)."""
    a, cs = sp.symbols("a0:4", real=True), sp.symbols("k0:4", real=True)
    x = sp.Symbol("x", real=True)
    h = x
    for i in range(steps):
        z = sp.Add(sp.Mul(a[i % 4], h, evaluate=False), sp.Mul(cs[i % 4], x, evaluate=False), evaluate=False)
        h = symgrad.sigmoid(z, evaluate=False)
    return h, [*a, *cs], x


def _values(params, x):
    return {**{p: 0.9 - 0.1 * i for i, p in enumerate(params)}, x: 0.4}


def test_a_scalar_chain_of_100000_operations_goes_through_both_sweeps():
    loss, params, x = _scalar_chain(34_000)
    assert op_count([loss]) >= 100_000 > 50 * sys.getrecursionlimit()
    values = _values(params, x)
    numeric = autodiff.grad(loss, params, values)
    grads = symbolic.grad(loss, params)
    (evaluated,) = [symgrad.numeric.evaluate(grads, values)]
    np.testing.assert_allclose([float(g) for g in evaluated], numeric, rtol=1e-9, atol=1e-14)
    assert any(abs(g) > 1e-6 for g in numeric), "a chain whose gradient vanishes proves nothing"


def test_a_matrix_level_chain_of_100000_operations_goes_through_both_sweeps():
    """The scalar chain with a matrix excursion every 500 steps (h ← Σ tanh(h·A)): a matrix-level
    DAG of 100,000 nested operations, walked by the matrix entry points."""
    A = sp.MatrixSymbol("A", 2, 2)
    a, cs = sp.symbols("a0:4", real=True), sp.symbols("k0:4", real=True)
    x = sp.Symbol("x", real=True)
    tanh = sp.Lambda(t, sp.tanh(t))
    h = x
    for i in range(34_000):
        if i % 500 == 499:  # the last one just before the loss, where the gradient is not yet damped
            h = sp.Mul(sp.Rational(1, 4), SumAll(matrix.Map(tanh, sp.MatMul(h, A, evaluate=False))), evaluate=False)
        z = sp.Add(sp.Mul(a[i % 4], h, evaluate=False), sp.Mul(cs[i % 4], x, evaluate=False), evaluate=False)
        h = symgrad.sigmoid(z, evaluate=False)
    params = [A, *a, *cs]
    assert op_count([h]) >= 100_000
    values = {**_values(params[1:], x), A: np.array([[0.5, -0.3], [0.2, 0.7]])}
    numeric = autodiff.grad(h, params, values)
    exprs = matrix_reverse(h, params)
    bound, sizes = bind(sorted([A, *a, *cs, x], key=str), values, sizes=True)
    symbolic_values = evaluate(exprs, bound, sizes)
    for p, sym, num in zip(params, symbolic_values, numeric, strict=True):
        np.testing.assert_allclose(np.broadcast_to(sym, np.shape(num)), num, rtol=1e-9, atol=1e-14, err_msg=str(p))
    assert np.abs(numeric[0]).max() > 1e-6, "the matrix excursions must carry gradient"
