"""Graphs, tensors and variables: the nodes `symgrad.tf` programs build.

A `Tensor` is one node of a `Graph`: an op name (its meaning: `symgrad.tf.trace.rule`), its input tensors
and hashable attributes. Nothing is computed when a node is built; `Session.run` (or `.numpy()`
for eager use) turns the fetched subgraph into sympy expressions and a generated kernel. A graph
keeps no list of its nodes (only names and variables), so eager loops do not grow it.
"""

import itertools
from contextlib import contextmanager

import numpy as np

from ..errors import InvalidArgumentError, ShapeError

_uids = itertools.count()


class DType:
    """`tf.float32`, `tf.int64`, `tf.bool` …: the numpy dtype a tensor's values have.

    Kernels compute in float32 or float64; integer and boolean tensors are data (labels, indices,
    the results of comparisons), entering a kernel as floats of its dtype.
    """

    def __init__(self, name):
        self.name = name
        self.as_numpy_dtype = np.dtype(name)
        self.is_floating = self.as_numpy_dtype.kind == "f"
        self.is_integer = self.as_numpy_dtype.kind in "iu"
        self.is_bool = self.as_numpy_dtype.kind == "b"

    def __repr__(self):
        return f"tf.{self.name}"


float32, float64 = DType("float32"), DType("float64")
int8, int16, int32, int64, uint8 = (DType(n) for n in ("int8", "int16", "int32", "int64", "uint8"))
bool_ = DType("bool")
DTYPES = {d.name: d for d in (float32, float64, int8, int16, int32, int64, uint8, bool_)}
ALIASES = {"float": "float32", "double": "float64", "int": "int32", "long": "int64"}  # TensorFlow's spellings


def as_dtype(dtype):
    """`tf.float32`, `np.float32`, "float32", "float" … → our `DType` (float64 when None)."""
    if dtype is None:
        return float64
    if isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    try:
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    name = ALIASES.get(name, name)
    if name not in DTYPES:
        raise InvalidArgumentError(
            f"symgrad.tf has no dtype {dtype!r}; use one of {', '.join(sorted(DTYPES))} (kernels compute in float32 or float64)"
        )
    return DTYPES[name]


class Graph:
    """A TensorFlow-1 graph: owns node names and the variables created in it."""

    def __init__(self):
        self._name_counts = {}
        self.variables = []
        self._eager_session = None

    def unique_name(self, base):
        """`base`, then `base_1`, `base_2` … as TensorFlow names nodes."""
        count = self._name_counts.get(base, 0)
        self._name_counts[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    @contextmanager
    def as_default(self):
        """Make this the default graph (and build in graph mode) inside the `with` block."""
        _GRAPH_STACK.append(self)
        try:
            yield self
        finally:
            _GRAPH_STACK.pop()

    # `eager_session()`, the session that evaluates this graph's tensors on the variables' own
    # values: attached by `symgrad.tf.session`, the layer above this one


_GRAPH_STACK = []
RECORDING = []  # the GradientTapes whose `with` block is running: they record every node built
SESSIONS = []  # the Sessions whose `with` block is running, innermost last
_STATE = {"default": Graph(), "eager": True, "writes": 0}  # writes: eager variable updates so far


def get_default_graph():
    return _GRAPH_STACK[-1] if _GRAPH_STACK else _STATE["default"]


def reset_default_graph():
    """A fresh global default graph (tensors of the old one can no longer be combined with new ones)."""
    _STATE["default"] = Graph()


def note_variable_write():
    """A variable's eager value changed: values pinned before it are stale."""
    _STATE["writes"] += 1


def executing_eagerly():
    """True outside `Graph.as_default()` blocks unless `disable_eager_execution()` was called.

    Eager mode only decides whether `Variable.assign*` and `tf.train` optimizers also apply their
    update right away (to the variables' own values); graphs and sessions work in both modes.
    """
    return _STATE["eager"] and not _GRAPH_STACK


def enable_eager_execution():
    _STATE["eager"] = True


def disable_eager_execution():
    _STATE["eager"] = False


class Tensor:
    """A node of a graph: `op` applied to `inputs` with `attrs`; `shape` as far as it is known."""

    def __init__(self, op, inputs=(), attrs=(), shape=None, dtype=None, name=None, graph=None):
        self.op, self.inputs, self.attrs = op, tuple(inputs), tuple(attrs)
        self.graph = graph or (self.inputs[0].graph if self.inputs else get_default_graph())
        for t in self.inputs:
            if t.graph is not self.graph:
                raise InvalidArgumentError(
                    f"tensor {t.name!r} must be from the same graph as {self.inputs[0].name!r}; "
                    "build every op of a model inside one graph"
                )
        self.shape = shape
        self.dtype = as_dtype(dtype if dtype is not None else (self.inputs[0].dtype if self.inputs else None))
        self.name = self.graph.unique_name(name or op)
        self.uid = next(_uids)
        # what the subgraph holds, known when it is built so that runs need not walk it to ask
        self.reads_placeholder = op == "placeholder" or any(t.reads_placeholder for t in self.inputs)
        self.holds_assign = op == "assign" or any(t.holds_assign for t in self.inputs)
        for tape in RECORDING:
            tape.recorded.add(self.uid)

    def __repr__(self):
        shape = "unknown" if self.shape is None else tuple(self.shape)
        return f"<symgrad.tf.Tensor '{self.name}' shape={shape} dtype={self.dtype.name}>"

    __hash__ = object.__hash__
    _pinned = None  # (eager writes count, value) from `pin`
    __array_priority__ = 100  # numpy defers to our operators: `ndarray * tensor` builds a node, as in TensorFlow

    # `+ - * / ** @`, unary `-` and `.T` build nodes too: `symgrad.tf.ops` attaches them to
    # Tensor (as TensorFlow's math_ops does), being the layer above this one.

    # -- values ---------------------------------------------------------------------------------
    def eval(self, feed_dict=None, session=None):
        return (session or get_default_session() or self.graph.eager_session()).run(self, feed_dict)

    def numpy(self):
        """The value now, from the variables' own (eager) values; needs no placeholders."""
        pinned = self._pinned
        if pinned is not None and pinned[0] == _STATE["writes"]:
            return np.copy(pinned[1]) if isinstance(pinned[1], np.ndarray) else pinned[1]
        return self.graph.eager_session().run(self)

    def pin(self, value):
        """Remember `value` (computed by a run that needed it anyway, e.g. a tape's target) as this
        tensor's value until some variable's eager value changes: reading it then costs no pass."""
        self._pinned = (_STATE["writes"], value)

    def __array__(self, dtype=None, copy=None):
        value = np.asarray(self.numpy())
        return value.astype(dtype) if dtype is not None else value

    def __float__(self):
        return float(self.numpy())

    def __format__(self, spec):
        return format(self.numpy(), spec)

    def get_shape(self):
        return self.shape


class Operation:
    """A node run for its effect (an update, an initializer, a group); fetching it gives None."""

    def __init__(self, effects, tensors=(), name="op", graph=None):
        self.effects = list(effects)  # callables (store, values by tensor) -> None, in order
        self.tensors = list(tensors)  # the tensors the effects read
        self.graph = graph or get_default_graph()
        self.name = self.graph.unique_name(name)

    def __repr__(self):
        return f"<symgrad.tf.Operation '{self.name}'>"


class Variable(Tensor):
    """A trainable value: a leaf of every graph that reads it.

    Its value lives in each `Session` (set by `global_variables_initializer`, TF1) and on the
    variable itself for eager use (set at creation, TF2).
    """

    def __init__(self, initial_value, trainable=True, name=None, dtype=None):
        if isinstance(initial_value, Tensor):
            initial_value = initial_value.numpy()
        if callable(initial_value):
            initial_value = initial_value()
        try:
            value = np.array(initial_value, dtype=as_dtype(dtype if dtype is not None else _value_dtype(initial_value)).as_numpy_dtype)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"Variable initial_value must be numbers, got {initial_value!r}: {exc}") from None
        super().__init__("variable", shape=value.shape, dtype=value.dtype, name=name or "Variable")
        self.initial_value = value
        self.trainable = trainable
        self._value = value.copy()
        self.graph.variables.append(self)
        self.initializer = Operation([_initialize(self)], name=f"{self.name}/Assign", graph=self.graph)

    def __repr__(self):
        return f"<symgrad.tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    # `assign`, `assign_add`, `assign_sub`: attached by `symgrad.tf.ops` (see Tensor's operators)

    def load(self, value, session=None):
        """Set the value in `session` (TF1's `Variable.load`)."""
        session = session or get_default_session()
        if session is None:
            raise InvalidArgumentError(f"{self.name}.load needs a session (pass session= or use `with sess:`)")
        session.store[self] = _checked_value(self, value)

    def numpy(self):
        return self._value.copy()

    def value(self):
        return self

    read_value = value


def _value_dtype(value):
    arr = np.asarray(value)
    return arr.dtype if arr.dtype.kind == "f" else None


def _checked_value(var, value):
    arr = np.asarray(value, dtype=var.dtype.as_numpy_dtype)
    if arr.shape != tuple(var.shape):
        raise ShapeError(f"cannot assign a value of shape {arr.shape} to variable {var.name!r} of shape {var.shape}")
    return arr


def _initialize(var):
    def effect(store, values):
        store[var] = var.initial_value.copy()

    return effect


def get_default_session():
    return SESSIONS[-1] if SESSIONS else None


def walk(roots, stop=()):
    """The nodes `roots` depend on, each once, inputs before the nodes that use them (iterative);
    the inputs of nodes whose op is in `stop` are not visited."""
    order, seen = [], set()

    def inputs(node):
        return iter(() if node.op in stop else node.inputs)

    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, inputs(root))]
        while stack:
            node, it = stack[-1]
            for child in it:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, inputs(child)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order
