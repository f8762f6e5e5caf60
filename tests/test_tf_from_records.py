"""symgrad.tf's entrywise ops come from the primitive records' `tf` names: every record's op is
`tf.<name>` / `tf.math.<name>` (and `tf.nn.<name>` for an activation), a user's registration is
one at once, and values and gradients match mpmath and finite differences."""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgrad
import symgrad.tf as tf
from symgrad.primitives import RECORDS, by_tf_name, record_for
from symgrad.tf import ops, trace
from symgrad.tf.keras import activations

X = np.array([[0.4, -0.7, 0.15], [-0.3, 0.8, -0.55]])  # inside every domain (asin, acos, log1p)


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def quartic():
    """f(x) = x⁴ − x, registered with a tf name and an activation name."""
    cls = type("tfquartic", (sp.Function,), {"nargs": 1})
    symgrad.register(
        cls, partials=lambda n: [4 * n.args[0] ** 3 - 1], vjp=lambda g, ans, v: [g * (4.0 * v**3 - 1.0)],
        evaluate=lambda b, v: v**4 - v, numpy="def tfquartic(x):\n    return x**4 - x",
        loop="def scalar_tfquartic(x):\n    return x**4 - x", mpmath=lambda v: v**4 - v,
        tf=("tfquartic",), activation="tfquartic",
    )
    yield cls
    RECORDS.pop(cls, None)


def _mp(fn, v, *params):
    return float(fn(mpmath.mpf(float(v)), *[mpmath.mpf(float(p)) for p in params]))


def _tf_parameters(function, record):
    """The arguments a one-input op fills after x: TF's defaults, else the function's own (elu's α = 1)."""
    return list(record.tf_params.values()) or list(function(sp.Symbol("t")).args[1:])


def _inside(record, w):
    """Data whose products with `w` spread over the inside of the record's sampling domain (acosh > 1)."""
    lo, hi = record.domain if not isinstance(record.domain[0], tuple) else record.domain[0]
    spread = (X - X.min()) / (X.max() - X.min())
    return (lo + (hi - lo) * (0.1 + 0.8 * spread)) / w


def _entrywise_with_numpy():
    """The records' entrywise TF ops whose record the numpy target prints."""
    return [n for n in ops.entrywise_names()
            if record_for(by_tf_name()[n]).numpy is not None and 1 in by_tf_name()[n].nargs]


def test_no_hand_written_rule_or_constructor_duplicates_a_record():
    """Fails when someone adds a trace rule or a constructor for an op a record already names."""
    names = set(ops.entrywise_names())
    assert names, "the records name entrywise tf ops"
    assert not names & set(trace.RULES)
    assert not {n for n in names if n in vars(ops) or n in vars(tf.math) or n in vars(tf)}
    assert set(trace.REFINEMENTS) <= names  # a refinement refines a record's op, it adds no op
    for name in names:
        assert trace.rule(name) is trace.REFINEMENTS.get(name, trace.apply_record)
        assert tf.math.__getattr__(name) is getattr(tf, name)  # one constructor per op
    assert set(ops.entrywise_names(activations=True)) == {
        n for n in names if record_for(by_tf_name()[n]).activation}
    assert {"relu", "sigmoid", "tanh", "softplus"} <= set(dir(tf.nn))


@pytest.mark.parametrize("name", _entrywise_with_numpy())
def test_every_record_op_value_and_gradient_against_mpmath(graph, name):
    function = by_tf_name()[name]
    record = record_for(function)
    x = tf.placeholder(tf.float64, (None, 3))
    w0 = np.array([0.9, 1.1, -0.8])
    data = _inside(record, w0)
    w = tf.Variable(w0)
    y = getattr(tf.math, name)(x * w)
    (g,) = tf.gradients(tf.reduce_sum(y), [w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        value, grad = sess.run([y, g], {x: data})
    u = data * w0
    params = _tf_parameters(function, record)
    mp = np.vectorize(lambda v: _mp(record.mpmath, v, *params))
    np.testing.assert_allclose(value, mp(u), rtol=1e-12, atol=1e-14)
    h = 1e-6  # central differences of the mpmath value: Σ_rows x·f'(x w)
    slope = (mp(u + h) - mp(u - h)) / (2 * h)
    np.testing.assert_allclose(grad, (data * slope).sum(axis=0), rtol=1e-6, atol=1e-8)


def test_a_registered_function_is_an_op_in_a_graph_and_on_a_tape(graph, quartic):
    assert "tfquartic" in ops.entrywise_names(activations=True)
    x = tf.placeholder(tf.float64, (None, 3))
    w = tf.Variable(np.array([0.5, -1.2, 2.0]))
    loss = tf.reduce_sum(tf.tfquartic(x * w)) + tf.reduce_sum(tf.nn.tfquartic(w))
    (g,) = tf.gradients(loss, [w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_loss, got = sess.run([loss, g], {x: X})

    # the same loss written with sympy and differentiated by symgrad.grad; and finite differences
    ws = sp.symbols("w0:3")
    expr = sum(quartic(X[i, j] * ws[j]) for i in range(2) for j in range(3)) + sum(quartic(v) for v in ws)
    wv = {s: v for s, v in zip(ws, [0.5, -1.2, 2.0], strict=True)}
    want = [float(d.subs(wv)) for d in symgrad.grad(expr, list(ws))]
    np.testing.assert_allclose(got, want, rtol=1e-12)

    def total(wvec):
        u = X * wvec
        return float(np.sum(u**4 - u) + np.sum(wvec**4 - wvec))

    h, w0 = 1e-6, np.array([0.5, -1.2, 2.0])
    fd = [(total(w0 + h * e) - total(w0 - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(got, fd, rtol=1e-7)
    assert got_loss == pytest.approx(total(w0), rel=1e-12)

    with tf.GradientTape() as tape:  # eager, TF2 style
        v = tf.Variable(np.array([[0.3], [-0.6], [1.4]]))
        out = tf.reduce_sum(tf.math.tfquartic(tf.matmul(X, v)))
    (gv,) = tape.gradient(out, [v])
    u = X @ np.array([[0.3], [-0.6], [1.4]])
    np.testing.assert_allclose(gv.numpy(), X.T @ (4 * u**3 - 1), rtol=1e-12)


def test_a_registered_activation_works_in_keras(quartic):
    assert activations.get("tfquartic") is tf.tfquartic
    layer = tf.keras.layers.Dense(1, activation="tfquartic")
    out = layer(tf.constant(X))
    kernel, bias = (v.numpy() for v in layer.weights)
    z = X @ kernel + bias
    np.testing.assert_allclose(np.asarray(out.numpy()), z**4 - z, rtol=1e-12)


def test_registration_after_import_reaches_every_namespace(quartic):
    for namespace in (tf, tf.math, tf.nn, activations):
        assert callable(namespace.tfquartic)
    RECORDS.pop(quartic)
    for namespace in (tf, tf.math, tf.nn):
        with pytest.raises(AttributeError, match="tfquartic"):
            namespace.tfquartic  # noqa: B018 - the lookup is what is tested


def test_record_ops_refuse_bad_calls_and_non_entrywise_names(graph):
    with pytest.raises(symgrad.InvalidArgumentError, match=r"sigmoid\(x, name=None\)"):
        tf.sigmoid(tf.constant(X), "a name", 3)
    for not_entrywise in ("where", "reduce_logsumexp", "add_n"):  # record names that are no entrywise op
        with pytest.raises(AttributeError):
            getattr(tf.math, not_entrywise)
    with pytest.raises(AttributeError):
        tf.nn.exp  # noqa: B018 - tf.nn holds the activations only


def test_register_with_a_tf_name_needs_a_fixed_arity():
    cls = type("tfvariadic", (sp.Function,), {})
    with pytest.raises(symgrad.InvalidArgumentError, match="nargs = 1"):
        symgrad.register(cls, tf=("tfvariadic",))
    assert cls not in RECORDS


def test_atan2_takes_tensorflows_argument_names(graph):
    """tf.math.atan2(y, x): by position and by keyword the same angle, as TensorFlow's."""
    a, b = np.array([[0.3, -1.2]]), np.array([[-0.8, 0.5]])
    with tf.Session() as sess:
        by_position = sess.run(tf.math.atan2(tf.constant(a), tf.constant(b)))
        by_keyword = sess.run(tf.math.atan2(x=tf.constant(b), y=tf.constant(a)))
    np.testing.assert_allclose(by_position, np.arctan2(a, b), rtol=1e-15)
    np.testing.assert_allclose(by_keyword, np.arctan2(a, b), rtol=1e-15)
