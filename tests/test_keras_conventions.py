"""Keras's conventions against Keras itself (tensorflow-cpu): fit's History and metrics, evaluate,
the loss and layer classes, summary's parameter counts, initializers' configurations."""

import os
import re

import numpy as np
import pytest

import symgrad.tf as tf
from symgrad.errors import FailedPreconditionError, InvalidArgumentError, UnsupportedError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = tf.keras
RNG = np.random.default_rng(5)
LR = 2.0**-5  # exact in float32: Keras keeps its learning rate in a float32 variable


@pytest.fixture
def real():
    """TensorFlow with Keras computing in float64 (it would cast numpy inputs to float32)."""
    oracle = pytest.importorskip("tensorflow", reason="tensorflow-cpu is not installed (the oracle for Keras's semantics)")
    before = oracle.keras.backend.floatx()
    oracle.keras.backend.set_floatx("float64")
    yield oracle
    oracle.keras.backend.set_floatx(before)


# (loss, output activation, output units, targets) — the cases Keras's "accuracy" rule tells apart
CASES = {
    "categorical": ("categorical_crossentropy", "softmax", 3, lambda n: np.eye(3)[RNG.integers(0, 3, n)]),
    "sparse": ("sparse_categorical_crossentropy", "softmax", 3, lambda n: RNG.integers(0, 3, n)),
    "sparse_column": ("sparse_categorical_crossentropy", "softmax", 3, lambda n: RNG.integers(0, 3, (n, 1))),
    "from_logits": ("logits", None, 3, lambda n: RNG.integers(0, 3, n)),
    "binary": ("binary_crossentropy", "sigmoid", 1, lambda n: RNG.integers(0, 2, (n, 1)).astype(float)),
    "mse": ("mse", "tanh", 2, lambda n: RNG.normal(size=(n, 2))),
}


def _loss(lib, name):
    return lib.keras.losses.SparseCategoricalCrossentropy(from_logits=True) if name == "logits" else name


def _pair(real, case, metrics, optimizer):
    """The same 4-6-k network in symgrad.tf.keras and in Keras (float64, equal weights)."""
    loss, activation, units, _ = CASES[case]
    weights = [RNG.normal(size=(4, 6)) * 0.5, RNG.normal(size=6) * 0.1, RNG.normal(size=(6, units)) * 0.5,
               RNG.normal(size=units) * 0.1]
    ours = keras.Sequential([keras.layers.Dense(6, activation="tanh", input_shape=(4,)),
                             keras.layers.Dense(units, activation=activation)])
    theirs = real.keras.Sequential([real.keras.Input((4,), dtype="float64"),
                                    real.keras.layers.Dense(6, activation="tanh", dtype="float64"),
                                    real.keras.layers.Dense(units, activation=activation, dtype="float64")])
    ours.build((None, 4))
    ours.set_weights(weights)
    theirs.set_weights(weights)
    ours.compile(optimizer=getattr(keras.optimizers, optimizer)(learning_rate=LR), loss=_loss(tf, loss), metrics=metrics)
    theirs.compile(optimizer=getattr(real.keras.optimizers, optimizer)(learning_rate=LR), loss=_loss(real, loss),
                   metrics=metrics)
    return ours, theirs


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_history_follows_keras(real, case):
    """Per-epoch loss, metrics and their val_ forms, key for key and value for value, and the
    weights after training (RMSprop's trajectory)."""
    metrics = ["accuracy"] if case != "mse" else []
    ours, theirs = _pair(real, case, metrics, "RMSprop")
    make_y = CASES[case][3]
    x, y, x_val, y_val = RNG.normal(size=(45, 4)), make_y(45), RNG.normal(size=(13, 4)), make_y(13)
    kwargs = {"epochs": 4, "batch_size": 8, "shuffle": False, "validation_data": (x_val, y_val), "verbose": 0}
    got, want = ours.fit(x, y, **kwargs), theirs.fit(x, y, **kwargs)
    assert list(got.history) == list(want.history)
    for key in want.history:
        np.testing.assert_allclose(got.history[key], want.history[key], rtol=1e-9, err_msg=key)
    assert got.epoch == want.epoch and got.params == want.params
    for mine, theirs_w in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs_w, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("metrics", [["acc"], ["categorical_accuracy"], ["accuracy", "categorical_accuracy"]])
def test_evaluate_returns_loss_then_metrics_as_keras(real, metrics):
    ours, theirs = _pair(real, "categorical", metrics, "SGD")
    x, y = RNG.normal(size=(30, 4)), CASES["categorical"][3](30)
    for batch_size in (7, None, 64):
        got = ours.evaluate(x, y, batch_size=batch_size, verbose=0)
        want = theirs.evaluate(x, y, batch_size=batch_size, verbose=0)
        assert len(got) == len(want) == 1 + len(metrics)
        np.testing.assert_allclose(got, want, rtol=1e-9)
    assert ours.evaluate(x, y, verbose=0, return_dict=True).keys() == theirs.evaluate(
        x, y, verbose=0, return_dict=True).keys()


def test_metric_functions_match_keras(real):
    pred, one_hot = RNG.uniform(size=(50, 4)), np.eye(4)[RNG.integers(0, 4, 50)]
    labels, prob = np.argmax(one_hot, axis=1), RNG.uniform(size=(50, 1))
    binary = RNG.integers(0, 2, (50, 1)).astype(float)
    for ours, theirs, args in [
        (keras.metrics.categorical_accuracy, real.keras.metrics.categorical_accuracy, (one_hot, pred)),
        (keras.metrics.sparse_categorical_accuracy, real.keras.metrics.sparse_categorical_accuracy, (labels, pred)),
        (keras.metrics.sparse_categorical_accuracy, real.keras.metrics.sparse_categorical_accuracy,
         (labels[:, None], pred)),
        (keras.metrics.binary_accuracy, real.keras.metrics.binary_accuracy, (binary, prob)),
    ]:
        np.testing.assert_array_equal(np.ravel(ours(*args)), np.ravel(np.asarray(theirs(*args))))


def test_loss_classes_match_keras(real):
    logits, labels = RNG.normal(size=(9, 5)) * 3, RNG.integers(0, 5, 9)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for ours, theirs, pred in [
        (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
         real.keras.losses.SparseCategoricalCrossentropy(from_logits=True), logits),
        (keras.losses.SparseCategoricalCrossentropy(), real.keras.losses.SparseCategoricalCrossentropy(), probs),
    ]:
        want = float(theirs(labels, real.constant(pred)))
        assert float(ours(labels, tf.constant(pred))) == pytest.approx(want, rel=1e-9)
    want = float(real.keras.losses.CategoricalCrossentropy(from_logits=True)(np.eye(5)[labels], logits))
    assert float(keras.losses.CategoricalCrossentropy(from_logits=True)(np.eye(5)[labels], tf.constant(logits))) == \
        pytest.approx(want, rel=1e-9)


def test_layers_compute_what_keras_layers_compute(real):
    x = RNG.normal(size=(6, 3, 4))
    flat = x.reshape(6, 12)
    np.testing.assert_array_equal(keras.layers.Flatten()(x).numpy(), np.asarray(real.keras.layers.Flatten()(x)))
    for ours, theirs in [(keras.layers.Softmax(), real.keras.layers.Softmax()),
                         (keras.layers.Activation("relu"), real.keras.layers.Activation("relu")),
                         (keras.layers.Activation("tanh"), real.keras.layers.Activation("tanh")),
                         (keras.layers.Activation("sigmoid"), real.keras.layers.Activation("sigmoid"))]:
        np.testing.assert_allclose(ours(flat).numpy(), np.asarray(theirs(flat)), rtol=1e-12, err_msg=type(ours).__name__)


def test_summary_counts_and_shapes_match_keras(real, capsys):

    def layers(lib):
        return [lib.keras.layers.Flatten(), lib.keras.layers.Dense(512, activation="relu"),
                lib.keras.layers.Dense(512), lib.keras.layers.Activation("relu"), lib.keras.layers.Dense(10),
                lib.keras.layers.Softmax()]

    ours = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), *layers(tf)[1:]])
    theirs = real.keras.Sequential([real.keras.Input((28, 28)), *layers(real)])
    ours.summary()
    text = capsys.readouterr().out
    assert ours.count_params() == theirs.count_params() == 669_706
    for mine, their in zip(ours.layers, theirs.layers, strict=True):
        assert mine.count_params() == their.count_params()
        assert tuple(mine.output_shape) == tuple(their.output.shape)
        assert re.search(rf"{mine.name} \({type(mine).__name__}\)\s+\({'None, ' + ', '.join(map(str, mine.output_shape[1:]))}\)\s+"
                         rf"{mine.count_params():,}\n", text)
    assert f"Total params: {theirs.count_params():,} " in text and "Trainable params: 669,706" in text


def test_functional_and_subclassed_models_train_as_sequential():
    weights = [RNG.normal(size=(8, 5)), RNG.normal(size=5), RNG.normal(size=(5, 3)), RNG.normal(size=3)]
    images, labels = RNG.normal(size=(20, 4, 2)), RNG.integers(0, 3, 20)

    sequential = keras.Sequential([keras.layers.Flatten(input_shape=(4, 2)), keras.layers.Dense(5, activation="tanh"),
                                   keras.layers.Dense(3, activation="softmax")])
    inputs = keras.Input(shape=(4, 2))
    hidden = keras.layers.Dense(5, activation="tanh")(keras.layers.Flatten()(inputs))
    functional = keras.Model(inputs=inputs, outputs=keras.layers.Dense(3, activation="softmax")(hidden))

    class Subclassed(keras.Model):
        """Traced tensors are matrices: a subclass's call gets (samples, features) inputs."""

        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(5, activation="tanh")
            self.out = keras.layers.Dense(3)

        def call(self, x):
            return keras.layers.Softmax()(self.out(self.hidden(x)))

    subclassed = Subclassed()
    runs = []
    for model, xs in ((sequential, images), (functional, images), (subclassed, images.reshape(20, 8))):
        model.build((None, *xs.shape[1:]))
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        runs.append([model.train_on_batch(xs, labels) for _ in range(4)] + model.get_weights())
        np.testing.assert_allclose(model(xs).numpy(), model.predict(xs, verbose=0), rtol=1e-12)
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(InvalidArgumentError, match="flatten the features first"):
        Subclassed().predict(images, verbose=0)
    assert [type(layer).__name__ for layer in functional.layers] == ["Flatten", "Dense", "Dense"]
    assert subclassed.name == "subclassed" and functional.name.startswith("functional")


def _lines(text):
    return text.replace("\r", "\n").splitlines()


def test_fit_prints_keras_progress_lines(capsys):
    model = keras.Sequential([keras.layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = RNG.normal(size=(40, 4)), RNG.integers(0, 3, 40)
    number, timing = r"\d\.\d{4}(e[-+]\d+)?", r"\d+(s|ms|us)/step"
    model.fit(x, y, epochs=2, verbose=2, validation_data=(x, y))
    lines = _lines(capsys.readouterr().out)
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    for line in lines[1::2]:
        assert re.fullmatch(rf"2/2 - \d+s - {timing} - accuracy: {number} - loss: {number} - "
                            rf"val_accuracy: {number} - val_loss: {number}", line), line
    model.fit(x, y, epochs=1, batch_size=16)  # verbose="auto" is 1: a bar rewritten after each step
    out = capsys.readouterr().out
    assert out.count("\r") == 3 and out.endswith("\n")
    last = out.split("\r")[-1].rstrip()
    assert re.fullmatch(rf"3/3 ━{{20}} \d+s {timing} - accuracy: {number} - loss: {number}", last), last
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""


def test_history_is_returned_and_kept_on_the_model():
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.normal(size=(12, 2))
    history = model.fit(x, x @ [1.0, -2.0], epochs=3, verbose=0, validation_split=0.25)
    assert isinstance(history, keras.History) and model.history is history
    assert list(history.history) == ["loss", "val_loss"] and history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 1}


def test_unimplemented_metrics_and_arguments_are_refused():
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    with pytest.raises(UnsupportedError, match="metric 'AUC' is not implemented.*accuracy"):
        model.compile(loss="mse", metrics=["AUC"])
    with pytest.raises(UnsupportedError, match="metric"):
        model.compile(loss="mse", metrics=[object()])
    with pytest.raises(UnsupportedError, match="loss_weights"):
        model.compile(loss="mse", loss_weights=[1.0])
    model.compile(loss="mse")
    x, y = np.ones((4, 3)), np.ones((4, 2))
    for kwargs in ({"callbacks": [object()]}, {"sample_weight": np.ones(4)}, {"class_weight": {0: 1.0}},
                   {"steps_per_epoch": 2}):
        with pytest.raises(UnsupportedError, match=f"fit\\({next(iter(kwargs))}=...\\) is not supported"):
            model.fit(x, y, verbose=0, **kwargs)
    with pytest.raises(InvalidArgumentError, match="verbose"):
        model.fit(x, y, verbose=3)
    with pytest.raises(InvalidArgumentError, match="class labels must lie in"):
        keras.losses.SparseCategoricalCrossentropy()(np.array([0, 7]), tf.constant(np.ones((2, 3)) / 3))
    with pytest.raises(FailedPreconditionError, match="has not been built"):
        keras.Sequential([keras.layers.Dense(2)]).summary()


def test_subclass_that_skips_super_init_is_told_so():
    class Forgetful(keras.Model):
        def __init__(self):
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(FailedPreconditionError, match=r"Forgetful.__init__ did not call super\(\).__init__\(\)"):
        Forgetful().summary()
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        keras.Sequential().nothing  # noqa: B018 - the attribute access is the test


def test_functional_model_refuses_ops_outside_layers():
    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Dense(2)(tf.square(inputs))
    with pytest.raises(UnsupportedError, match="not a layer's output"):
        keras.Model(inputs, outputs).summary()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "imdb"])
def test_dataset_loaders_say_how_to_pass_arrays(name):
    with pytest.raises(UnsupportedError, match=f"keras.datasets.{name}.load_data.*no network.*load_digits"):
        getattr(keras.datasets, name).load_data()


def test_initializers_have_keras_defaults_and_distributions(real):
    for name in ["RandomNormal", "RandomUniform", "TruncatedNormal", "GlorotUniform", "GlorotNormal", "HeNormal",
                 "VarianceScaling", "Zeros", "Ones", "Constant"]:
        ours, theirs = getattr(tf.initializers, name)().get_config(), getattr(real.initializers, name)().get_config()
        assert ours == {k: theirs[k] for k in ours}, name
    draws = tf.initializers.RandomNormal(mean=1.0, stddev=0.5)(shape=[400, 500])
    assert draws.shape == (400, 500) and abs(draws.mean() - 1.0) < 0.005 and abs(draws.std() - 0.5) < 0.005
    cut = tf.keras.initializers.TruncatedNormal(stddev=2.0)((200_000,))
    assert np.abs(cut).max() <= 4.0 and abs(cut.std() - 2.0 * 0.8796) < 0.01
    glorot = tf.keras.initializers.GlorotUniform()((300, 100))
    limit = np.sqrt(6 / 400)
    assert np.abs(glorot).max() <= limit and np.abs(glorot).max() > 0.99 * limit
    he = tf.keras.initializers.HeNormal()((2000, 300))
    assert abs(he.std() - np.sqrt(2 / 2000)) < 0.002
    seeded = tf.keras.initializers.RandomUniform(seed=3)
    np.testing.assert_array_equal(seeded((4, 4)), seeded((4, 4)))
    layer = keras.layers.Dense(3, kernel_initializer=tf.initializers.RandomNormal(stddev=1e-3))
    layer.build(2)
    assert np.abs(layer.kernel.numpy()).max() < 0.01


def test_tf1_layers_dense_makes_and_applies_a_layer():
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(5, 3))
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float64, (None, 3))
        h = tf.layers.dense(x, 4, activation=tf.nn.relu)
        out = tf.layers.dense(h, 2, kernel_initializer=tf.initializers.RandomNormal(stddev=1.0))
        assert [v.shape for v in graph.variables] == [(3, 4), (4,), (4, 2), (2,)]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            k1, b1, k2, b2 = sess.run(graph.variables)
            np.testing.assert_allclose(sess.run(out, {x: xs}), np.maximum(xs @ k1 + b1, 0) @ k2 + b2, rtol=1e-12)


def test_version_names_the_tensorflow_api_followed():
    assert tf.__version__.startswith("2.") and "symgrad" in tf.__version__


def test_tf1_error_names_the_initializer_line_and_that_line_fixes_the_program():
    """TensorFlow 1 keeps its rule (TensorSlow code runs without initializing; TF1 code may not)."""
    with tf.Graph().as_default():
        w = tf.Variable(np.array([1.0, 2.0]), name="w")
        loss = tf.reduce_sum(w * w)
        sess = tf.Session()
        with pytest.raises(FailedPreconditionError, match="uninitialized value w") as caught:
            sess.run(loss)
        line = re.search(r"`([^`]+)`", str(caught.value)).group(1)
        assert line == "sess.run(tf.global_variables_initializer())"
        exec(line, {"sess": sess, "tf": tf})  # noqa: S102 - the line the message names, as a user would add it
        assert sess.run(loss) == 5.0
