"""gelu, silu, elu, leaky_relu, softsign and mish, one primitive record each: values against
torch.nn.functional and mpmath (written here), every gradient path against the others, compiled
numpy (both batch paths) and CUDA (host emulation) kernels, Hessians, and training in nn.mlp,
nn.matrix_mlp and Keras against PyTorch on the same weights."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from cuda_cases import needs_cxx

import symgrad
import symgrad.tf as tf
from symgrad import functions as F
from symgrad import models, nn
from symgrad.numeric import evaluate
from symgrad.primitives import TorchBackend, activation_functions, record_for

torch = pytest.importorskip("torch", reason="torch is not installed")
tF = torch.nn.functional

HALF, FIFTH = sp.Rational(1, 2), sp.Rational(1, 5)


def _mp_gelu(x):
    return x * (1 + mpmath.erf(x / mpmath.sqrt(2))) / 2


# name -> (symgrad expression of x, torch.nn.functional form, mpmath reference written from the definition)
CASES = {
    "gelu": (F.gelu, tF.gelu, _mp_gelu),
    "silu": (F.silu, tF.silu, lambda x: x / (1 + mpmath.exp(-x))),
    "elu": (F.elu, tF.elu, lambda x: x if x > 0 else mpmath.exp(x) - 1),
    "elu_alpha_half": (lambda x: F.elu(x, HALF), lambda t: tF.elu(t, alpha=0.5),
                       lambda x: x if x > 0 else (mpmath.exp(x) - 1) / 2),
    "leaky_relu": (F.leaky_relu, tF.leaky_relu, lambda x: x if x > 0 else x / 100),
    "leaky_relu_slope_fifth": (lambda x: F.leaky_relu(x, FIFTH), lambda t: tF.leaky_relu(t, 0.2),
                               lambda x: x if x > 0 else x / 5),
    "softsign": (F.softsign, tF.softsign, lambda x: x / (1 + abs(x))),
    "mish": (F.mish, tF.mish, lambda x: x * mpmath.tanh(mpmath.log(1 + mpmath.exp(x)))),
}
NAMES = ["gelu", "silu", "elu", "leaky_relu", "softsign", "mish"]
POINTS = np.array([-40.0, -12.0, -3.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 2.0, 12.0, 40.0])
x, w, c = sp.symbols("x w c", real=True)
DATA = np.array([-2.5, -0.7, -0.2, 0.3, 1.1, 2.9])  # no point at a kink (elu, leaky_relu at 0)


def _mp_values(fn, points):
    with mpmath.workdps(80):  # 1 + erf(x/√2) cancels 33 digits at x = −12
        return np.array([float(fn(mpmath.mpf(float(p)))) for p in points])


def _numpy_gap(name):
    return record_for(getattr(F, name)).gaps.get("numpy")


def test_each_is_one_record_exported_and_an_activation():
    for name in NAMES:
        fn = getattr(symgrad, name)
        assert fn is getattr(F, name) and record_for(fn).function is fn
        assert activation_functions()[name] is fn
    assert F.elu(x) == F.elu(x, 1) and F.leaky_relu(x) == F.leaky_relu(x, sp.Rational(1, 100))  # torch's defaults


@pytest.mark.parametrize("case", CASES)
def test_values_against_torch_and_mpmath(case):
    expr_of, torch_fn, mp_fn = CASES[case]
    (ours,) = evaluate([expr_of(x)], {x: POINTS})
    want = _mp_values(mp_fn, POINTS)
    # stable: gelu(−12) = −2.1e-32, not 0 (to the conditioning of erfc there: x/√2 rounded moves it by 2e-14)
    np.testing.assert_allclose(ours, want, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(ours, torch_fn(torch.tensor(POINTS)).numpy(), rtol=1e-14, atol=1e-15)
    record = record_for(expr_of(x))
    node = expr_of(x)
    np.testing.assert_allclose(_mp_values(lambda v: record.mpmath(v, *node.args[1:]), POINTS), want, rtol=1e-14)
    (on_torch,) = evaluate([node], {x: torch.tensor(POINTS)}, TorchBackend())
    np.testing.assert_allclose(on_torch.numpy(), want, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("case", CASES)
def test_gradient_paths_agree(case):
    """Symbolic, VJP, finite differences, torch (through the record) and torch.nn.functional itself."""
    expr_of, torch_fn, mp_fn = CASES[case]
    loss = expr_of(w * x + c)
    values = {x: DATA, w: 0.8, c: 0.1}
    report = symgrad.check(loss, [w, c], values)
    assert report.ok and report.torch_max_rel_error is not None, report
    got = symgrad.autodiff.grad(loss, [w, c], values)
    (symbolic_w, symbolic_c) = evaluate(symgrad.grad(loss, [w, c]), values)
    wt, ct = torch.tensor(0.8, dtype=torch.float64, requires_grad=True), torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    torch_fn(wt * torch.tensor(DATA) + ct).sum().backward()
    np.testing.assert_allclose(got, [wt.grad.item(), ct.grad.item()], rtol=1e-12)
    np.testing.assert_allclose([np.sum(symbolic_w), np.sum(symbolic_c)], got, rtol=1e-12)
    with mpmath.workdps(40):
        slope = np.array([float(mpmath.diff(mp_fn, mpmath.mpf(float(u)))) for u in 0.8 * DATA + 0.1])
    np.testing.assert_allclose(got, [np.sum(slope * DATA), np.sum(slope)], rtol=1e-12)


@pytest.mark.parametrize("name, torch_fn", [("elu", lambda t, a: torch.where(t > 0, t, a * torch.expm1(t))),
                                            ("leaky_relu", lambda t, a: torch.where(t > 0, t, a * t))])
def test_the_parameter_is_differentiable(name, torch_fn):
    a = sp.Symbol("a", real=True)
    loss = getattr(F, name)(w * x, a)
    values = {x: DATA, w: 0.8, a: 0.3}
    assert symgrad.check(loss, [w, a], values).ok
    wt, at = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.8, 0.3))
    torch_fn(wt * torch.tensor(DATA), at).sum().backward()
    np.testing.assert_allclose(symgrad.autodiff.grad(loss, [w, a], values), [wt.grad.item(), at.grad.item()], rtol=1e-12)


@pytest.mark.parametrize("batch", [3, 40])  # the per-sample loop and the vectorized path
@pytest.mark.parametrize("case", CASES)
def test_compiled_numpy_kernel(case, batch):
    expr_of, torch_fn, _ = CASES[case]
    name = record_for(expr_of(x)).name
    data = np.linspace(-3.0, 2.5, batch)
    if _numpy_gap(name):  # a declared gap is refused by name, never a wrong number
        with pytest.raises(symgrad.UnsupportedError, match=f"cannot print {name}.*no numpy spelling"):
            symgrad.compile(expr_of(w * x + c), wrt=[w, c], inputs=[x])
        return
    kernel = symgrad.compile(expr_of(w * x + c), wrt=[w, c], inputs=[x])
    assert f"def {name}(" in kernel.source
    wt, ct = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.8, 0.1))
    total = torch_fn(wt * torch.tensor(data) + ct).sum()
    total.backward()
    values = {x: data, w: 0.8, c: 0.1}
    assert kernel.loss(values) == pytest.approx(total.item(), rel=1e-12)
    np.testing.assert_allclose(kernel.grad(values), [wt.grad.item(), ct.grad.item()], rtol=1e-12)


@needs_cxx
@pytest.mark.parametrize("case", CASES)
def test_cuda_kernel_through_the_host_emulation(case):
    from symgrad.cuda_emu import Backend

    expr_of, torch_fn, _ = CASES[case]
    kernel = symgrad.compile(expr_of(w * x + c), wrt=[w, c], inputs=[x], target="cuda")
    assert f"sg_{record_for(expr_of(x)).name}" in kernel.source
    wt, ct = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.8, 0.1))
    torch_fn(wt * torch.tensor(DATA) + ct).sum().backward()
    np.testing.assert_allclose(kernel.on(Backend()).grad({x: DATA, w: 0.8, c: 0.1}),
                               [wt.grad.item(), ct.grad.item()], rtol=1e-11)


@pytest.mark.parametrize("case", CASES)
def test_hessian_against_torch(case):
    expr_of, torch_fn, _ = CASES[case]
    loss = expr_of(w * x + c)
    values = {x: DATA, w: 0.8, c: 0.1}
    want = torch.autograd.functional.hessian(
        lambda p: torch_fn(p[0] * torch.tensor(DATA) + p[1]).sum(), torch.tensor([0.8, 0.1], dtype=torch.float64))
    np.testing.assert_allclose(symgrad.autodiff.hessian(loss, [w, c], values), want.numpy(), rtol=1e-10, atol=1e-12)
    symbolic = np.array([[np.sum(v) for v in evaluate(row, values)] for row in symgrad.hessian(loss, [w, c])])
    np.testing.assert_allclose(symbolic, want.numpy(), rtol=1e-10, atol=1e-12)


TORCH_ACTIVATION = {"gelu": tF.gelu, "silu": tF.silu, "elu": tF.elu, "leaky_relu": tF.leaky_relu,
                    "softsign": tF.softsign, "mish": tF.mish}


def _torch_sgd(weights, forward, steps, lr):
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in weights]
    opt = torch.optim.SGD(params, lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = forward(*params)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return [p.detach().numpy() for p in params], losses


@pytest.mark.parametrize("name", NAMES)
def test_nn_mlp_trains_like_torch(name):
    model = nn.mlp([3, 4, 1], activation=name, output_activation="identity")
    if _numpy_gap(name):
        with pytest.raises(symgrad.UnsupportedError, match=name):
            symgrad.compile(model)
        return
    kernel = symgrad.compile(model)
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 1))
    params = model.initial_values()
    (hidden, out) = model.structure.layers
    to_matrix = [lambda layer: np.array([[params[s] for s in row] for row in layer.weights]),
                 lambda layer: np.array([params[s] for s in layer.biases])]
    weights = [f(layer) for layer in (hidden, out) for f in to_matrix]
    act = TORCH_ACTIVATION[name]
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    want, want_losses = _torch_sgd(weights, lambda W1, b1, W2, b2: ((act(Xt @ W1 + b1) @ W2 + b2 - Yt) ** 2).sum(), 4, 0.01)
    values = {**models.data_values(model, X, Y), **params}
    for step in range(4):
        assert kernel.loss(values) == pytest.approx(want_losses[step], rel=1e-11)
        grads = dict(zip(kernel.wrt, kernel.grad(values), strict=True))
        values.update({s: values[s] - 0.01 * grads[s] for s in kernel.wrt})
    got = [f(layer) for layer in (hidden, out) for f in
           [lambda layer: np.array([[values[s] for s in row] for row in layer.weights]),
            lambda layer: np.array([values[s] for s in layer.biases])]]
    for mine, theirs in zip(got, want, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_matrix_mlp_trains_like_torch(name):
    model = nn.matrix_mlp([3, 5, 2], activation=name)
    if _numpy_gap(name):
        with pytest.raises(symgrad.UnsupportedError, match=name):
            symgrad.compile(model)
        return
    kernel = symgrad.compile(model)
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(10, 3)), np.eye(2)[rng.integers(0, 2, size=10)]
    values = {**models.data_values(model, X, Y), **model.initial_values()}
    weights = [values[p] for p in model.params]  # W1, b1, W2, b2
    act = TORCH_ACTIVATION[name]
    Xt, Yt = torch.tensor(X), torch.tensor(Y)

    def forward(W1, b1, W2, b2):
        return -(Yt * torch.log_softmax(act(Xt @ W1 + b1) @ W2 + b2, dim=1)).sum(dim=1).mean()

    want, want_losses = _torch_sgd(weights, forward, 4, 0.5)
    for step in range(4):
        assert kernel.loss(values) == pytest.approx(want_losses[step], rel=1e-11)
        grads = dict(zip(kernel.wrt, kernel.grad(values), strict=True))
        values.update({p: values[p] - 0.5 * grads[p] for p in kernel.wrt})
    for p, theirs in zip(model.params, want, strict=True):
        np.testing.assert_allclose(values[p], theirs, rtol=1e-10, atol=1e-13)


KERAS_TORCH = {**TORCH_ACTIVATION, "leaky_relu": lambda t: tF.leaky_relu(t, 0.2), "swish": tF.silu}


@pytest.mark.parametrize("name", [*NAMES, "swish"])
def test_keras_dense_activation_trains_like_torch(name):
    """Keras's defaults: leaky_relu's slope is 0.2 there (TensorFlow's), 0.01 in nn.mlp (torch's)."""
    rng = np.random.default_rng(11)
    weights = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=2)]
    x_, y_ = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2))
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation=name, input_shape=(3,)),
                                 tf.keras.layers.Dense(2, activation="sigmoid")])
    model.build(3)
    model.set_weights(weights)
    model.compile(loss="mse", optimizer=tf.keras.optimizers.SGD(learning_rate=0.5))
    record = record_for(activation_functions()[{"swish": "silu"}.get(name, name)])
    if _numpy_gap(record.name):
        with pytest.raises(symgrad.UnsupportedError, match=record.name):
            model.train_on_batch(x_, y_)
        return
    act = KERAS_TORCH[name]
    xt, yt = torch.tensor(x_), torch.tensor(y_)
    want, want_losses = _torch_sgd(
        weights, lambda W1, b1, W2, b2: ((torch.sigmoid(act(xt @ W1 + b1) @ W2 + b2) - yt) ** 2).mean(), 3, 0.5)
    for step in range(3):
        assert model.train_on_batch(x_, y_) == pytest.approx(want_losses[step], rel=1e-10)
    for mine, theirs in zip(model.get_weights(), want, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)


def test_tf_names_and_tensorflow_defaults():
    data = np.array([[-2.0, -0.5, 0.0, 0.7, 3.0]])
    got = {
        "leaky_relu": tf.nn.leaky_relu(data).numpy(),  # TensorFlow's default alpha = 0.2
        "leaky_relu_alpha": tf.nn.leaky_relu(data, alpha=0.05).numpy(),
        "silu": tf.nn.silu(data).numpy(), "swish": tf.nn.swish(data).numpy(),
        "elu": tf.nn.elu(data).numpy(), "softsign": tf.nn.softsign(data).numpy(),
        "mish": tf.keras.activations.mish(data).numpy(),
    }
    t = torch.tensor(data)
    want = {"leaky_relu": tF.leaky_relu(t, 0.2), "leaky_relu_alpha": tF.leaky_relu(t, 0.05), "silu": tF.silu(t),
            "swish": tF.silu(t), "elu": tF.elu(t), "softsign": tF.softsign(t), "mish": tF.mish(t)}
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value.numpy(), rtol=1e-13, err_msg=key)
    assert callable(tf.nn.gelu) and callable(tf.keras.activations.gelu)


def test_latex():
    assert sp.latex(F.gelu(x)) == r"\operatorname{GELU}\left(x\right)"
    assert sp.latex(F.leaky_relu(x)) == r"\operatorname{LeakyReLU}\left(x, \frac{1}{100}\right)"
    for name in NAMES:
        assert "operatorname" in sp.latex(getattr(F, name)(x))
