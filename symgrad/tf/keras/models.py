"""`Sequential`: layers applied in order; training through one cached graph and session.

`train_on_batch`, `fit`, `evaluate` and `predict` build their graph once per model (placeholders
with a batch axis for x and y, the loss, its gradient, the optimizer's update) and run it in a
session that reads and writes the variables' own values, so eager calls (`model(x)`,
`GradientTape`) and these methods see the same weights.
"""

import numpy as np

from ...errors import FailedPreconditionError, InvalidArgumentError, ShapeError
from .. import ops
from ..gradients import gradients
from ..graph import get_default_graph
from ..session import EagerStore, Session
from . import losses, optimizers


class History:
    """What `fit` returns: `history["loss"]` has one mean training loss per epoch."""

    def __init__(self):
        self.history = {"loss": []}


class Sequential:
    def __init__(self, layers=None, name="sequential"):
        self.layers = list(layers or [])
        self.name = name
        self.graph = None
        self._session = None
        self._train = self._predict = None
        self.loss = self.optimizer = None

    def add(self, layer):
        self.layers.append(layer)

    def __call__(self, x, training=None):
        h = x
        for layer in self.layers:
            h = layer(h, training=training) if getattr(layer, "takes_training", False) else layer(h)
        return h

    def build(self, input_dim):
        first = self.layers[0].input_dim if self.layers else None
        if first is not None and input_dim != first:
            raise ShapeError(f"model {self.name} expects {first} input features, got {input_dim}")
        built = [w.graph for w in self.trainable_weights]
        self.graph = self.graph or (built[0] if built else get_default_graph())
        with self.graph.as_default():
            self._predict = (ops.placeholder(self.layers[0].dtype, (None, input_dim), name="x"),)
            self._predict += (self(self._predict[0]),)

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    trainable_variables = weights = trainable_weights

    def get_weights(self):
        return [w.numpy() for w in self.trainable_weights]

    def set_weights(self, values):
        weights = self.trainable_weights
        if len(values) != len(weights):
            raise InvalidArgumentError(f"set_weights needs {len(weights)} arrays, got {len(values)}")
        store = EagerStore()
        for w, v in zip(weights, values, strict=True):
            if np.shape(v) != tuple(w.shape):
                raise ShapeError(f"weight {w.name} has shape {w.shape}, got a value of shape {np.shape(v)}")
            store[w] = v

    def compile(self, loss="mse", optimizer="sgd", metrics=None):
        self.loss = losses.get(loss)
        self.optimizer = optimizers.get(optimizer)
        self._train = None

    # -- training and inference ------------------------------------------------------------------
    def train_on_batch(self, x, y):
        """One optimizer step on this batch; returns the batch loss before the step."""
        x, y = self._data(x), self._data(y, "y")
        loss, _ = self._run_train(x, y, step=True)
        return loss

    def evaluate(self, x, y, verbose=0):
        x, y = self._data(x), self._data(y, "y")
        return self._run_train(x, y, step=False)[0]

    def fit(self, x, y, epochs=1, batch_size=32, shuffle=True, verbose=0, seed=0):
        x, y = self._data(x), self._data(y, "y")
        if len(x) != len(y):
            raise ShapeError(f"fit needs as many targets as inputs, got {len(x)} and {len(y)}")
        batch_size = len(x) if batch_size is None else int(batch_size)
        rng = np.random.default_rng(seed)
        history = History()
        for epoch in range(int(epochs)):
            order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
            total = 0.0
            for i in range(0, len(x), batch_size):
                idx = order[i : i + batch_size]
                total += self.train_on_batch(x[idx], y[idx]) * len(idx)
            history.history["loss"].append(total / len(x))
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.6g}")
        return history

    def predict(self, x, batch_size=None, verbose=0):
        x = self._data(x)
        if self._predict is None:
            self.build(x.shape[1])
        x_ph, out = self._predict
        return self._sess().run(out, {x_ph: x})

    def _run_train(self, x, y, step):
        if self.loss is None:
            raise FailedPreconditionError(f"model {self.name} must be compiled (model.compile(loss=..., optimizer=...)) first")
        if self._train is None:
            self._build_train(x.shape[1], y.shape[1])
        x_ph, y_ph, loss, update = self._train
        fetches = [loss, update] if step else [loss]
        return self._sess().run(fetches, {x_ph: x, y_ph: y})[0], None

    def _build_train(self, input_dim, output_dim):
        self.build(input_dim)
        with self.graph.as_default():
            x_ph = self._predict[0]
            pred = self(x_ph, training=True)
            y_ph = ops.placeholder(self.layers[-1].dtype, (None, output_dim), name="y")
            per = self.loss(y_ph, pred)
            loss = ops.reduce_mean(per) if per.shape and None in per.shape else per
            grads = gradients(loss, self.trainable_weights)
            update = self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self._train = (x_ph, y_ph, loss, update)

    def _sess(self):
        if self._session is None:
            self._session = Session(graph=self.graph, store=EagerStore())
        return self._session

    def _data(self, a, what="x"):
        arr = np.asarray(a, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ShapeError(f"{what} must be (samples, features), got shape {arr.shape}")
        return arr
