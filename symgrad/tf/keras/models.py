"""Keras models: `Sequential`, the functional `Model(inputs, outputs)` and subclasses with `call`.

Every kind trains through one cached graph and session per model: placeholders with a batch
axis for x and y, the loss, its gradient and the optimizer's update, built on first use and run
in a session that reads and writes the variables' own values, so eager calls (`model(x)`,
`GradientTape`) and `fit`/`evaluate`/`predict` see the same weights. Metrics are computed in
numpy from the predictions each step fetches with its loss (`metrics.py`).
"""

import inspect
import math

import numpy as np

from ...errors import FailedPreconditionError, InvalidArgumentError, ShapeError, UnsupportedError
from .. import ops
from ..gradients import gradients
from ..graph import Tensor, get_default_graph
from ..session import EagerStore, Session
from . import losses, optimizers
from . import metrics as keras_metrics
from .history import History, Progress, verbosity
from .layers import Flatten, Layer, snake_case, unique_name
from .summary import summary_lines


def Input(shape, batch_size=None, dtype=None, name=None):  # noqa: N802 - Keras's name
    """A (None, *shape) placeholder to build a functional model on (`keras.Input`)."""
    if batch_size is not None:
        raise UnsupportedError("keras.Input(batch_size=...) is not supported; the batch axis stays None")
    shape = tuple(int(d) for d in shape)
    return ops.placeholder(dtype or "float64", (None, *shape), name=name or "input")


def _refuse(what, **given):
    for key, value in given.items():
        if value is not None:
            raise UnsupportedError(f"{what}({key}=...) is not supported by symgrad.tf.keras; leave it out")


class Model:
    """A Keras model. `Model(inputs, outputs)` is functional; a subclass defines `call(x)`."""

    def __init__(self, inputs=None, outputs=None, name=None):
        self.__dict__["_tracked"] = []
        kind = "functional" if inputs is not None else snake_case(type(self).__name__)
        self.name = name or unique_name(kind)
        self._inputs = self._outputs = None
        if inputs is not None or outputs is not None:
            self._inputs, self._outputs = self._single(inputs, "inputs"), self._single(outputs, "outputs")
        self.graph = None
        self._session = None
        self._predict = self._train = None
        self._input_shape = None
        self._flat_inputs = False  # images fed flattened, for a model whose inputs go to a Flatten first
        self.loss = self.optimizer = None
        self._metric_specs, self._metrics = [], None
        self.output_shape = None
        self.history = None

    # -- structure -------------------------------------------------------------------------------
    def __setattr__(self, name, value):
        """Layers and models assigned to attributes are the model's (as Keras tracks them)."""
        items = value if isinstance(value, (list, tuple)) else [value]
        if items and all(isinstance(v, (Layer, Model)) for v in items):
            tracked = self.__dict__.setdefault("_tracked", [])
            tracked += [v for v in items if v not in tracked]
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        """Only reached for a missing attribute: say so when a subclass skipped Model.__init__."""
        if "_session" not in self.__dict__ and not name.startswith("__"):
            raise FailedPreconditionError(
                f"{type(self).__name__}.__init__ did not call super().__init__(): add that line at its start "
                "(keras.Model subclasses need it, as in Keras)"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @staticmethod
    def _single(t, what):
        if isinstance(t, (list, tuple)):
            if len(t) != 1:
                raise UnsupportedError(f"a functional model with {len(t)} {what} is not supported; use one tensor")
            t = t[0]
        if not isinstance(t, Tensor):
            raise InvalidArgumentError(f"Model {what} must be tensors (keras.Input and layer outputs), got {t!r}")
        return t

    @property
    def layers(self):
        if self._outputs is not None:
            found, seen = [], set()
            for node in self._functional_path():
                layer = node._keras_history[0]
                if id(layer) not in seen:
                    seen.add(id(layer))
                    found.append(layer)
            return found
        return list(self._tracked)

    @property
    def trainable_weights(self):
        out, seen = [], set()
        for layer in self.layers:
            for w in layer.trainable_weights:
                if w not in seen:
                    seen.add(w)
                    out.append(w)
        return out

    trainable_variables = weights = trainable_weights

    def count_params(self):
        return sum(int(np.prod(w.shape)) for w in self.trainable_weights)

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

    def summary(self, line_length=65, print_fn=None):
        if self._predict is None:
            self.build()
        for line in summary_lines(self, line_length):
            (print_fn or print)(line)

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, inputs, training=None):
        inputs = ops.convert_to_tensor(inputs, dtype=self._dtype())
        if "training" in inspect.signature(self.call).parameters:
            out = self.call(inputs, training=training)
        else:
            out = self.call(inputs)
        self.output_shape = out.shape
        out._keras_history = (self, inputs)
        return out

    def call(self, inputs, training=None):
        if self._outputs is None:
            raise FailedPreconditionError(
                f"model {self.name} has no call(): subclass keras.Model and define call(self, inputs), "
                "or build it as Model(inputs, outputs)"
            )
        memo = {self._inputs: inputs}

        def value(t):  # the functional graph again, from `inputs` (layers called in their order)
            if t not in memo:
                layer, arg = t._keras_history
                memo[t] = layer(value(arg), training=training)
            return memo[t]

        self._functional_path()
        return value(self._outputs)

    def _functional_path(self):
        """The layer outputs between `inputs` and `outputs`, inputs first; anything else is refused."""
        order, seen, stack = [], {self._inputs}, [(self._outputs, False)]
        while stack:
            t, expanded = stack.pop()
            if expanded:
                order.append(t)
                continue
            if t in seen:
                continue
            seen.add(t)
            history = getattr(t, "_keras_history", None)
            if history is None:
                raise UnsupportedError(
                    f"functional model {self.name}: tensor {t.name!r} is not a layer's output on the path from its "
                    "keras.Input; build the model from layers only, or subclass keras.Model with a call()"
                )
            stack += [(t, True), (history[1], False)]
        return order

    def _dtype(self):
        if self._inputs is not None:
            return self._inputs.dtype.name
        layers = self.layers
        return getattr(layers[0], "dtype", "float64") if layers else "float64"

    # -- building the graphs -----------------------------------------------------------------------
    def _declared_input_shape(self):
        if self._inputs is not None:
            return tuple(self._inputs.shape[1:])
        layers = self.layers
        return getattr(layers[0], "input_shape", None) if layers else None

    def build(self, input_shape=None):
        """Build for inputs of `input_shape`: the features (an int, or a tuple with or without the
        leading None of the batch axis); by default the first layer's `input_shape`."""
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        elif input_shape is not None:
            input_shape = tuple(input_shape)
            if input_shape and input_shape[0] is None:
                input_shape = input_shape[1:]
        declared = self._declared_input_shape()
        shape = input_shape or declared
        if shape is None:
            raise FailedPreconditionError(
                f"model {self.name} has not been built: give its first layer input_shape=..., call "
                "model.build((None, features)), or fit it on data first"
            )
        if declared is not None and tuple(shape) != tuple(declared):
            what = f"{declared[0]} input features" if len(declared) == 1 else f"inputs of shape {declared}"
            raise ShapeError(f"model {self.name} expects {what}, got {tuple(shape)}")
        if self._input_shape is not None:
            if tuple(shape) != self._input_shape:
                raise ShapeError(f"model {self.name} was built for inputs of shape {self._input_shape}, got {tuple(shape)}")
            return
        weights = self.trainable_weights
        self.graph = self.graph or (self._inputs.graph if self._inputs is not None else
                                    weights[0].graph if weights else get_default_graph())
        self._flat_inputs = len(shape) > 1 and isinstance(self._first_layer(), Flatten)
        features = (int(np.prod(shape)),) if self._flat_inputs else tuple(shape)
        with self.graph.as_default():
            x = ops.placeholder(self._dtype(), (None, *features), name="x")
            self._predict = (x, self(x, training=False))
        self._input_shape = tuple(shape)

    def _first_layer(self):
        if self._outputs is not None:
            return self._functional_path()[0]._keras_history[0]
        return self.layers[0] if self.layers and type(self).call in (Model.call, Sequential.call) else None

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=None, jit_compile=None):
        _refuse("compile", loss_weights=loss_weights, weighted_metrics=weighted_metrics, run_eagerly=run_eagerly,
                steps_per_execution=steps_per_execution, jit_compile=jit_compile)
        self.loss = None if loss is None else losses.get(loss)
        self.optimizer = optimizers.get(optimizer)
        self._metric_specs, self._metrics = keras_metrics.check(metrics), None
        self._train = None

    def _build_train(self, y_width):
        x, pred = self._predict
        per_sample, _ = losses.dense_form(self.loss)
        with self.graph.as_default():
            train_pred = self(x, training=True)
            y = ops.placeholder(self._dtype(), (None, y_width), name="y")

            def batch_loss(p):
                per = per_sample(y, p)
                return ops.reduce_mean(per) if per.shape and None in per.shape else per

            loss = batch_loss(train_pred)
            weights = self.trainable_weights
            grads = gradients(loss, weights)
            missing = [w.name for w, g in zip(weights, grads, strict=True) if g is None]
            if missing:
                raise InvalidArgumentError(f"model {self.name}: the loss does not depend on weights {missing}")
            update = self.optimizer.apply_gradients(zip(grads, weights, strict=True))
            self._train = (x, y, loss, train_pred, update, batch_loss(pred), pred)

    # -- data ---------------------------------------------------------------------------------------
    def _x(self, a):
        arr = np.asarray(a.numpy() if isinstance(a, Tensor) else a)
        if arr.dtype.kind != "f":  # floats are fed as they are (the feed casts them to the model's dtype once)
            arr = arr.astype(float)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim < 2:
            raise ShapeError(f"x must be (samples, features…), got shape {arr.shape}")
        if self._predict is None:
            self.build(arr.shape[1:])
        elif arr.shape[1:] != self._input_shape:
            what = f"{self._input_shape[0]} input features" if len(self._input_shape) == 1 else \
                f"inputs of shape {self._input_shape}"
            raise ShapeError(f"model {self.name} expects {what}, got {arr.shape[1:]}")
        return arr.reshape(len(arr), -1) if self._flat_inputs else arr

    def _prepared(self, x, y, what="fit"):
        """(x, targets fed to the graph, y as given for metrics), checked; the training graph built."""
        if self.loss is None:
            raise FailedPreconditionError(
                f"model {self.name} must be compiled (model.compile(optimizer=..., loss=...)) before {what}"
            )
        if y is None:
            raise UnsupportedError(f"{what} needs targets y as numpy arrays (datasets and generators are not supported)")
        x = self._x(x)
        raw = np.asarray(y.numpy() if isinstance(y, Tensor) else y)
        if len(raw) != len(x):
            raise ShapeError(f"{what} needs as many targets as inputs, got {len(x)} inputs and {len(raw)} targets")
        width = self._predict[1].shape[-1]
        if losses.dense_form(self.loss)[1]:
            fed = losses.one_hot_labels(raw, width, what=f"{what} targets")
        else:
            fed = raw if raw.dtype.kind == "f" else raw.astype(float)
            fed = fed[:, None] if fed.ndim == 1 else fed
            if fed.ndim != 2:
                raise ShapeError(f"{what} targets must be (samples, outputs), got shape {fed.shape}")
        if self._train is None or self._train[1].shape[1] != fed.shape[1]:
            self._build_train(fed.shape[1])
        if self._metrics is None:
            self._metrics = keras_metrics.resolve(self._metric_specs, raw.shape, self._predict[1].shape)
        return x, fed, raw

    # -- training and inference --------------------------------------------------------------------
    def _step(self, x, fed, raw, train):
        """One batch: (loss, {metric: per-sample values}); `train` also applies the update."""
        x_ph, y_ph, loss, train_pred, update, eval_loss, pred = self._train
        want_pred = bool(self._metrics)
        fetches = [loss, train_pred, update] if train else [eval_loss, pred]
        if not want_pred:
            fetches = [loss, update] if train else [eval_loss]
        values = self._sess().run(fetches, {x_ph: x, y_ph: fed})
        per = {m.name: m(raw, values[1]) for m in self._metrics} if want_pred else {}
        return float(values[0]), per

    def _batches(self, n, batch_size, order=None):
        order = np.arange(n) if order is None else order
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]

    def _epoch(self, x, fed, raw, batch_size, train, verbose, order=None):
        """Loss and metrics of one pass, as means over the samples (Keras's running means)."""
        batches = self._batches(len(x), batch_size, order)
        progress = Progress(len(batches), verbose)
        totals, count = {"loss": 0.0}, 0
        for k, idx in enumerate(batches, start=1):
            loss, per = self._step(x[idx], fed[idx], raw[idx], train)
            totals["loss"] += loss * len(idx)
            for name, values in per.items():
                totals[name] = totals.get(name, 0.0) + float(np.sum(values))
            count += len(idx)
            progress.step(k, {key: v / count for key, v in totals.items()})
        logs = {key: v / max(count, 1) for key, v in totals.items()}
        return logs, progress

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on this batch: the loss (and metrics) before the step."""
        x, fed, raw = self._prepared(x, y, "train_on_batch")
        loss, per = self._step(x, fed, raw, train=True)
        return self._result({"loss": loss, **{k: float(np.mean(v)) for k, v in per.items()}}, return_dict)

    def _result(self, logs, return_dict):
        if return_dict:
            return logs
        if not self._metrics:
            return logs["loss"]
        return [logs["loss"], *(logs[m.name] for m in self._metrics)]

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 return_dict=False):
        """The loss (and metrics, as `[loss, *metrics]`) over all of x, in batches of `batch_size` (32)."""
        _refuse("evaluate", sample_weight=sample_weight, steps=steps)
        x, fed, raw = self._prepared(x, y, "evaluate")
        logs, progress = self._epoch(x, fed, raw, _batch_size(batch_size, "evaluate"), False, verbosity(verbose))
        progress.finish(logs)
        return self._result(logs, return_dict)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, seed=0):
        """Keras's fit: epochs of shuffled minibatches (numpy's generator from `seed`); returns `History`."""
        _refuse("fit", callbacks=callbacks or None, class_weight=class_weight, sample_weight=sample_weight,
                steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
        verbose = verbosity(verbose)
        batch_size = _batch_size(batch_size, "fit")
        if not 0.0 <= validation_split < 1.0:
            raise InvalidArgumentError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_data is not None and validation_split:
            raise InvalidArgumentError("pass validation_data or validation_split, not both")
        if validation_split:
            n = len(np.asarray(x))
            split = int(math.floor(n * (1.0 - validation_split)))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        x, fed, raw = self._prepared(x, y, "fit")
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) != 2:
                raise UnsupportedError("validation_data must be a tuple (x_val, y_val)")
            val = self._prepared(*validation_data, "fit validation_data")
        steps = len(self._batches(len(x), batch_size))
        history = History(self, {"verbose": verbose, "epochs": int(epochs), "steps": steps})
        rng = np.random.default_rng(seed)
        for epoch in range(int(initial_epoch), int(epochs)):
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            order = rng.permutation(len(x)) if shuffle else None
            logs, progress = self._epoch(x, fed, raw, batch_size, True, verbose, order)
            if val is not None and (epoch + 1) % int(validation_freq) == 0:
                val_logs, _ = self._epoch(*val, _batch_size(validation_batch_size or batch_size, "fit"), False, 0)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            progress.finish(logs)
            history.append(epoch, {k: logs[k] for k in sorted(logs)})
        self.history = history
        return history

    def predict(self, x, batch_size=None, verbose="auto", steps=None):
        """The model's outputs for x, computed in batches of `batch_size` (32), as Keras does."""
        _refuse("predict", steps=steps)
        x = self._x(x)
        x_ph, out = self._predict
        batches = self._batches(len(x), _batch_size(batch_size, "predict"))
        progress = Progress(len(batches), verbosity(verbose))
        parts = []
        for k, idx in enumerate(batches, start=1):
            parts.append(self._sess().run(out, {x_ph: x[idx]}))
            progress.step(k, {})
        progress.finish({})
        return np.concatenate(parts) if parts else np.zeros((0, *out.shape[1:]))

    def _sess(self):
        if self._session is None:
            self._session = Session(graph=self.graph, store=EagerStore())
        return self._session


def _batch_size(batch_size, what):
    if batch_size is None:
        return 32
    if int(batch_size) < 1:
        raise InvalidArgumentError(f"{what} needs batch_size >= 1, got {batch_size}")
    return int(batch_size)


class Sequential(Model):
    """Layers applied in order."""

    def __init__(self, layers=None, name=None):
        super().__init__(name=name or unique_name("sequential"))
        self._layers = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, (Layer, Model)):
            raise InvalidArgumentError(f"Sequential.add needs a keras layer, got {layer!r}")
        if self._predict is not None:
            raise FailedPreconditionError(f"model {self.name} is built already; add layers before using it")
        self._layers.append(layer)

    @property
    def layers(self):
        return list(self._layers)

    def call(self, inputs, training=None):
        h = inputs
        for layer in self._layers:
            h = layer(h, training=training)
        return h
