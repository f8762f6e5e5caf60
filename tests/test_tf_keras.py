"""The Keras-like API: training steps against PyTorch's optimizers, fit/predict behaviour, errors."""

import numpy as np
import pytest

import symgrad.tf as tf
from symgrad.errors import FailedPreconditionError, InvalidArgumentError, ShapeError

RNG = np.random.default_rng(7)


def _model(kernel_1, bias_1, kernel_2, bias_2):
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(kernel_1.shape[1], activation="tanh", input_shape=(kernel_1.shape[0],)),
        tf.keras.layers.Dense(kernel_2.shape[1], activation="sigmoid"),
    ])
    model.build(kernel_1.shape[0])
    model.set_weights([kernel_1, bias_1, kernel_2, bias_2])
    return model


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_train_on_batch_follows_torch(name):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    weights = [RNG.normal(size=(3, 4)), RNG.normal(size=4), RNG.normal(size=(4, 2)), RNG.normal(size=2)]
    x, y = RNG.normal(size=(6, 3)), RNG.uniform(size=(6, 2))
    model = _model(*weights)
    if name == "sgd":
        model.compile(loss="mse", optimizer=tf.keras.optimizers.SGD(learning_rate=0.5, momentum=0.9))
    else:  # with ε = 0 TensorFlow's and PyTorch's placement of ε agree
        model.compile(loss="mse", optimizer=tf.keras.optimizers.Adam(learning_rate=0.05, epsilon=0.0))
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    opt = (torch.optim.SGD(params, lr=0.5, momentum=0.9) if name == "sgd"
           else torch.optim.Adam(params, lr=0.05, eps=0.0))
    for _ in range(5):
        got = model.train_on_batch(x, y)
        opt.zero_grad()
        h = torch.tanh(torch.tensor(x) @ params[0] + params[1])
        loss = ((torch.sigmoid(h @ params[2] + params[3]) - torch.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        assert got == pytest.approx(loss.item(), rel=1e-10)
    for mine, theirs in zip(model.get_weights(), params, strict=True):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_fit_learns_xor_and_predict_agrees_with_an_eager_call():
    tf.keras.layers.set_seed(3)
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 8) + 0.05 * RNG.normal(size=(32, 2))
    y = np.array([[0.0], [1.0], [1.0], [0.0]] * 8)
    model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="tanh"), tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=tf.keras.optimizers.Adam(learning_rate=0.05))
    history = model.fit(x, y, epochs=150, batch_size=8)
    losses = history.history["loss"]
    assert len(losses) == 150 and losses[-1] < 0.1 * losses[0]
    pred = model.predict(x)
    assert pred.shape == (32, 1)
    assert np.all((pred > 0.5) == (y > 0.5))
    np.testing.assert_allclose(model(x[:3]).numpy(), pred[:3], rtol=1e-12)
    assert model.evaluate(x, y) == pytest.approx(
        -np.mean(y * np.log(pred) + (1 - y) * np.log(1 - pred)), rel=1e-9)


def test_keras_mistakes_are_explained():
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    with pytest.raises(FailedPreconditionError, match="must be compiled"):
        model.train_on_batch(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(InvalidArgumentError, match="unknown loss"):
        model.compile(loss="hinge-ish")
    with pytest.raises(InvalidArgumentError, match="unknown activation"):
        tf.keras.layers.Dense(2, activation="swishy")
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ShapeError, match="expects 3 input features"):
        model.train_on_batch(np.ones((2, 5)), np.ones((2, 2)))
