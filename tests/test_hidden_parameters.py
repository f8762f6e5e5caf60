"""A parameter gets its gradient wherever it sits in a matrix model, or the model is refused.

The matrix paths follow each node's operands; a parameter anywhere else (closed over by an
entrywise function, inside an explicit matrix, in an index) used to be a constant to the
symbolic rules and the compiled kernel, a silent zero. Every path is checked here against the
scalar expansion (sympy's own `as_explicit` + `diff`, evaluated by mpmath): symbolic rules,
matrix autodiff, the generated kernel, and `check` (with finite differences and torch).
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matrix_expansion import scalar_expansion_grad

import symgrad
from symgrad.matrix import Map, SumAll

t = sp.Symbol("t")
a, c, w, m = sp.symbols("a c w m")
X = sp.MatrixSymbol("X", 3, 2)
W = sp.MatrixSymbol("W", 2, 2)
Y = sp.MatrixSymbol("Y", 2, 2)
x = sp.MatrixSymbol("x", 3, 1)
rng = np.random.default_rng(7)
VALUES = {X: rng.normal(size=(3, 2)), W: rng.normal(size=(2, 2)) / 2, Y: rng.normal(size=(2, 2)) / 2,
          x: np.array([[1.0], [2.0], [3.0]]), a: 0.7, c: -0.4, w: 0.5, m: 0.3}


def assert_every_path_matches_the_expansion(loss, wrt, inputs, values=VALUES):
    expected = scalar_expansion_grad(loss, wrt, values)
    report = symgrad.check(loss, wrt, values)
    assert report.ok, report
    kernel = symgrad.compile(loss, wrt=wrt, inputs=inputs, cache=False)
    for k, want in enumerate(expected):
        for got in (report.rows[k].symbolic, report.rows[k].autodiff, kernel.grad(values)[k]):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_the_audit_examples_of_closures_get_their_gradient():
    loss = SumAll(x.applyfunc(sp.Lambda(t, w * t)))
    assert symgrad.compile(loss, wrt=[w], inputs=[x], cache=False).grad(VALUES) == [pytest.approx(6.0)]
    assert_every_path_matches_the_expansion(loss, [w], [x])
    assert_every_path_matches_the_expansion(SumAll((X * W).applyfunc(lambda s: s + a)), [W, a], [X])


def test_the_audit_examples_of_explicit_matrices_get_their_gradient():
    explicit = sp.Trace(sp.Matrix([[m, m**2], [sp.sin(m), sp.exp(m)]]))
    (g,) = symgrad.autodiff.grad(explicit, [m], VALUES)
    assert g == pytest.approx(1 + np.exp(0.3))  # d/dm (m + e^m)
    assert_every_path_matches_the_expansion(explicit + SumAll(X), [m], [X])
    assert_every_path_matches_the_expansion(sp.Trace(Y.as_explicit() * Y), [Y], [])


# scalar bodies over the bound variable t and values closed over (scalars, an element of Y)
LEAVES = [t, a, c, Y[0, 1], sp.Integer(2)]
UNARY = [sp.sin, sp.tanh, symgrad.sigmoid, lambda e: sp.exp(e / 4)]


@st.composite
def scalar_bodies(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(LEAVES))
    kind = draw(st.sampled_from(["add", "mul", "unary"]))
    left = draw(scalar_bodies(depth=depth - 1))
    if kind == "unary":
        return draw(st.sampled_from(UNARY))(left)
    right = draw(scalar_bodies(depth=depth - 1))
    return left + right if kind == "add" else left * right


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=scalar_bodies(), as_map=st.booleans())
def test_values_an_entrywise_function_closes_over_get_their_gradient(body, as_map):
    inner = X * W
    node = Map(sp.Lambda(t, body), inner) if as_map else inner.applyfunc(sp.Lambda(t, body))
    assert_every_path_matches_the_expansion(SumAll(node), [W, a, c, Y], [X])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(scalar_bodies(depth=2), min_size=4, max_size=4), form=st.sampled_from(["trace", "hadamard", "product"]))
def test_parameters_inside_an_explicit_matrix_get_their_gradient(entries, form):
    entries = [e.xreplace({t: w}) for e in entries]
    M = sp.Matrix(2, 2, entries)
    loss = {
        "trace": lambda: sp.Trace(M * W),
        "hadamard": lambda: SumAll(sp.HadamardProduct(M, W * W)),
        "product": lambda: SumAll((X * M * W).applyfunc(sp.tanh)),
    }[form]()
    assert_every_path_matches_the_expansion(loss, [W, a, c, w, Y], [X])


A = sp.MatrixSymbol("A", 2, 2)
i = sp.Symbol("i", integer=True)
SQUARE = {A: np.array([[2.0, 0.5], [0.3, 1.5]]), x: VALUES[x], w: 0.5}
# sympy node kinds the rules do not cover, each reading a parameter
UNKNOWN_KINDS = {
    "kronecker": (lambda: SumAll(sp.KroneckerProduct(A, A)), [A]),
    "block matrix": (lambda: SumAll(sp.BlockMatrix([[A, A]])), [A]),
    "function matrix closing over w": (lambda: SumAll(sp.FunctionMatrix(2, 2, sp.Lambda((sp.Symbol("p"), sp.Symbol("q")), w * sp.Symbol("p"))) * A), [w]),
    "diagonal matrix": (lambda: SumAll(sp.DiagMatrix(sp.MatrixSymbol("v", 2, 1))), [sp.MatrixSymbol("v", 2, 1)]),
    "diagonal of": (lambda: SumAll(sp.DiagonalOf(A)), [A]),
    "adjoint": (lambda: SumAll(sp.Adjoint(A)), [A]),
    "slice": (lambda: SumAll(A[:1, :]), [A]),
    "symbolic index": (lambda: A[i, 0] ** 2, [A]),
    "symbolic matrix power": (lambda: SumAll(sp.MatPow(A, w)), [w]),
    "explicit matrix over the size limit": (lambda: SumAll(sp.Matrix(20, 20, lambda p, q: w * (p + q))), [w]),
}


def test_matrix_inverse_is_differentiated_on_every_path_kernel_included():
    B = sp.MatrixSymbol("B", 2, 2)
    v = sp.MatrixSymbol("v", 2, 1)
    loss = SumAll(sp.Inverse(A) * v * w) + sp.Trace(sp.Inverse(A * B))
    values = {**SQUARE, B: np.array([[1.0, 0.2], [-0.4, 0.9]]), v: np.array([[1.0], [-2.0]])}
    expected = scalar_expansion_grad(loss, [A, B, w], values)
    report = symgrad.check(loss, [A, B, w], values)
    assert report.ok, report
    for row, want in zip(report.rows, expected, strict=True):
        np.testing.assert_allclose(row.symbolic, want, rtol=1e-9)
        np.testing.assert_allclose(row.autodiff, want, rtol=1e-9)
    kernel = symgrad.compile(loss, wrt=[A, B, w], inputs=[v], cache=False)  # Inverse has a kernel lowering now
    _, grads = kernel.loss_and_grad({v: values[v], A: values[A], B: values[B], w: values[w]})
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9)


def test_inverse_of_a_singular_matrix_is_undefined_not_a_traceback():
    loss = SumAll(sp.Inverse(A))
    singular = {A: np.array([[1.0, 2.0], [2.0, 4.0]])}
    assert np.all(np.isnan(symgrad.autodiff.grad(loss, [A], singular)[0]))
    with pytest.raises(symgrad.NonFiniteError, match="undefined"):
        symgrad.check(loss, [A], singular)


@pytest.mark.parametrize("kind", list(UNKNOWN_KINDS))
def test_node_kinds_without_rules_are_refused_on_every_path_never_zero(kind):
    build, wrt = UNKNOWN_KINDS[kind]
    loss = build()
    values = {**SQUARE, sp.MatrixSymbol("v", 2, 1): np.array([[1.0], [2.0]])}
    inputs = [s for s in loss.free_symbols if s not in wrt and isinstance(s, (sp.Symbol, sp.MatrixSymbol)) and s != i]
    paths = {
        "symbolic": lambda: symgrad.grad(loss, wrt),
        "autodiff": lambda: symgrad.autodiff.grad(loss, wrt, values),
        "check": lambda: symgrad.check(loss, wrt, values),
        "kernel": lambda: symgrad.compile(loss, wrt=wrt, inputs=inputs, cache=False),
    }
    for name, path in paths.items():
        with pytest.raises(symgrad.SymgradError) as raised:
            path()
        message = str(raised.value)
        assert type(raised.value) is symgrad.UnsupportedError, (name, message)
        nodes = [n for n in sp.preorder_traversal(loss)
                 if not n.is_Atom and not isinstance(n, (sp.MatrixSymbol, SumAll, sp.Add, sp.Mul, sp.Pow, sp.Tuple, sp.Lambda))]
        names = {type(n).__name__ for n in nodes} | {str(n)[:20] for n in nodes}
        assert any(k in message for k in names) or "explicit" in message, (name, message)  # names the node


def test_lifted_values_never_take_the_name_of_the_functions_own_variable():
    own = sp.Symbol("_c0", real=True)  # the name close_over gives its first lifted value
    node = Map(sp.Lambda(own, own * a + sp.sin(c)), X * W)
    assert len(set(node.function.variables)) == 3
    assert_every_path_matches_the_expansion(SumAll(node), [W, a, c], [X])
