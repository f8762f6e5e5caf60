"""`Session.run`: the fetched subgraph → matrix expressions → one generated kernel, cached.

A run walks the subgraph of the fetches once. Its structure (ops, attributes, which variables,
the shapes of fed values with the batch length left out) is the cache key; on a miss the graph is
traced into matrix-level sympy expressions (`trace.rule`; gradient nodes by `symgrad.matrix`'s
reverse mode) and compiled by `symgrad.matrix.kernel`: the first fetched gradient's ys are the
kernel's loss and its variables the kernel's parameters, so the gradients come out of the kernel's
own backward pass; other fetches are its outputs. The batch length stays a size symbol in the
kernel, so later runs with any batch length only pass the new arrays. Ops without gradients
(`host.HOST`: comparisons, argmax, one-hot) run in numpy between kernels. Effects (assignments,
optimizer updates, initializers) are applied after the values are computed, so every fetch of a
run sees the variables as they were when it started.
"""

import warnings
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .. import cache as kernel_cache
from ..errors import (
    ConstantLossWarning,
    DTypeError,
    FailedPreconditionError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    UnboundSymbolError,
    UnsupportedError,
)
from ..matrix.graph import matrix_symbols
from ..matrix.kernel import compile_matrix
from ..matrix.rules import as_scalar_loss, reverse
from .graph import SESSIONS, Graph, Operation, Tensor, Variable, get_default_graph, note_variable_write, walk
from .host import HOST
from .trace import BATCH_SIZE, BatchLengthError, Traced, leaf, matrix_shape, rule

CACHE_SIZE = 128
WALKS_KEPT = 8  # the walks of the latest lists of fetches (`Session._walked`)
LEAF_OPS = ("placeholder", "variable", "fresh_uniform")
_FIXED_LENGTH = object()  # cache marker: this structure traces only with the batch length fixed


class EagerStore:
    """Variable values kept on the variables themselves (TF2 eager use and Keras models)."""

    def __init__(self):
        self.slots = {}

    def __getitem__(self, key):
        return key._value if isinstance(key, Variable) else self.slots[key]

    def __setitem__(self, key, value):
        if isinstance(key, Variable):
            value = np.asarray(value, dtype=key.dtype.as_numpy_dtype)
            key._value = value if value.shape == key.shape else value.reshape(key.shape)
            note_variable_write()
        else:
            self.slots[key] = value

    def __contains__(self, key):
        return isinstance(key, Variable) or key in self.slots

    def get(self, key, default=None):
        return self[key] if key in self else default


@dataclass
class _Leaf:
    node: Tensor
    value: np.ndarray
    shape: tuple  # the value's shape, BATCH_SIZE at the batch axis


@dataclass
class _Compiled:
    kernel: object  # a matrix-level Kernel, or None when every fetch is a leaf or a number
    arguments: list  # per kernel argument (inputs, then wrt): the index of its leaf
    plans: list  # per requested tensor: ("loss",), ("grad", k), ("output", k), ("leaf", i) or ("number", x)
    shapes: list  # per requested tensor: its shape, BATCH_SIZE at the batch axis
    uses_loss: bool  # some plan reads the kernel's loss or gradients
    uses_outputs: bool  # some plan reads its outputs (`predict`)


def compile_kernel(loss, wrt, inputs, outputs, name, dtype, target):
    """The matrix kernel of a traced run (the kernel cache keeps its numpy module across processes)."""
    if target not in ("numpy", "cuda"):
        raise UnsupportedError(f"unknown target {target!r}; available targets: numpy, cuda")
    return compile_matrix(loss, wrt, inputs, outputs, name, dtype, target, kernel_cache.resolve(True))


class Session:
    """A TensorFlow-1 session: variable values for one graph, and the kernels its runs compiled.

    `target` is "numpy" or "cuda" (where that target is installed). `last_kernel` is the kernel of
    the latest run that needed one (`.source` is the generated module).
    """

    def __init__(self, target="numpy", graph=None, store=None):
        self.graph = graph or get_default_graph()
        self.target = target
        self.store = {} if store is None else store
        self._cache = OrderedDict()
        self._walks = {}
        self.last_kernel = None
        self._closed = False

    def __enter__(self):
        SESSIONS.append(self)
        return self

    def __exit__(self, *exc):
        SESSIONS.remove(self)
        self.close()

    def close(self):
        self._closed = True

    def run(self, fetches, feed_dict=None):
        """Values of `fetches` (a tensor or op, or a list/tuple/dict of them); ops give None."""
        if self._closed:
            raise FailedPreconditionError("Attempted to use a closed Session; open a new one")
        flat, rebuild = _flatten(fetches)
        feeds = self._feeds(feed_dict or {})
        tensors, effects = [], []
        for f in flat:
            self._own(f)
            if isinstance(f, Operation):
                tensors += f.tensors
                effects += f.effects
            else:
                tensors.append(f)
        assigns = [n for n in walk(tensors) if n.op == "assign"] if any(t.holds_assign for t in tensors) else []
        values = self._evaluate(list(dict.fromkeys(tensors + assigns)), feeds, {})
        for effect in effects:
            effect(self.store, values)
        for node in assigns:
            self.store[node.inputs[0]] = values[node]
        return rebuild([values[f] if isinstance(f, Tensor) else None for f in flat])

    # -- checking what the user passed ------------------------------------------------------------
    def _own(self, node):
        if not isinstance(node, (Tensor, Operation)):
            raise InvalidArgumentError(
                f"fetch argument {node!r} has invalid type {type(node).__name__}; fetch tensors, ops, or lists/dicts of them"
            )
        if node.graph is not self.graph:
            raise InvalidArgumentError(
                f"fetch {node.name!r} is not an element of this session's graph; run it in a session of its own graph"
            )

    def _feeds(self, feed_dict):
        if not hasattr(feed_dict, "items"):
            raise InvalidArgumentError(f"feed_dict must be a dict from tensors to values, got {type(feed_dict).__name__}")
        feeds = {}
        for key, value in feed_dict.items():
            if not isinstance(key, Tensor):
                raise InvalidArgumentError(f"feed_dict key {key!r} is not a tensor; use the placeholder objects as keys")
            self._own(key)
            if key.op not in ("placeholder", "variable"):
                raise InvalidArgumentError(
                    f"cannot feed {key.name!r} (a {key.op} op); symgrad.tf feeds placeholders and variables"
                )
            arr = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
            if arr.dtype.kind not in "biuf":
                raise DTypeError(f"value fed to {key.name!r} has dtype {arr.dtype}; feed real numbers")
            arr = arr.astype(key.dtype.as_numpy_dtype, copy=False)
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise NonFiniteError(f"value fed to {key.name!r} contains NaN or Inf; feed finite numbers")
            if key.shape is not None and not _fits(arr.shape, key.shape):
                raise ShapeError(
                    f"Cannot feed value of shape {arr.shape} for Tensor {key.name!r}, which has shape "
                    f"{_shape_text(key.shape)}"
                )
            feeds[key] = arr
        return feeds

    # -- planning, compiling, running -------------------------------------------------------------
    def _evaluate(self, tensors, feeds, host_values):
        """Values of `tensors`; `host_values` collects the values of the run's numpy-only ops."""
        order, structure, leaf_nodes = self._walked(tensors)
        key, leaves, lengths = [], [], {}
        for node in leaf_nodes:
            leaf_ = self._leaf(node, feeds, host_values)
            leaves.append(leaf_)
            layout = tuple(None if d is BATCH_SIZE else d for d in leaf_.shape)
            for axis, d in enumerate(leaf_.shape):
                if d is BATCH_SIZE and leaf_.value is not None:
                    lengths.setdefault(leaf_.value.shape[axis], leaf_)
            uid = node.uid if node.op in ("variable", "placeholder") else None
            key.append((uid, layout, node.dtype.name))
        if len(lengths) > 1:
            listing = ", ".join(f"{lf.node.name}: {lf.value.shape}" for lf in lengths.values())
            raise ShapeError(f"fed values disagree on the number of samples ({listing}); feed equal batch lengths")
        n = next(iter(lengths)) if lengths else None
        _draw_noise(leaves, n)
        cache_key = (structure, tuple(key))
        entry = self._cached(cache_key, lambda: self._compile(order, leaves, tensors), n)
        if entry is _FIXED_LENGTH:  # the batch meets a fixed length: a kernel for this batch length
            leaves = [_Leaf(lf.node, lf.value, tuple(n if d is BATCH_SIZE else d for d in lf.shape)) for lf in leaves]
            entry = self._cached((cache_key, n), lambda: self._compile(order, leaves, tensors), None)
        kernel = entry.kernel
        loss = grads = outputs = None
        dtype = np.dtype(_kernel_dtype(leaves))
        if kernel is not None:
            self.last_kernel = kernel
            dtype = kernel.dtype
            args = [_argument(leaves[i], dtype) for i in entry.arguments]
            if kernel.target == "numpy":  # the feeds are checked already; the module takes the arrays in order
                if entry.uses_loss and entry.uses_outputs:  # one forward pass for both (a step with metrics)
                    loss, grads, outputs = kernel.module.loss_grad_and_outputs(*args)
                elif entry.uses_loss:
                    loss, grads = kernel.module.loss_and_grad(*args)
                elif entry.uses_outputs:
                    outputs = kernel.module.predict(*args)
            else:
                values = dict(zip(kernel.inputs + kernel.wrt, args, strict=True))
                if entry.uses_loss:
                    loss, grads = kernel.loss_and_grad(values)
                if entry.uses_outputs:
                    outputs = kernel.predict(values)
        out = {}
        held = {id(_owner(lf.value)) for lf in leaves}  # arrays the caller or the store keeps
        for t, plan, shape in zip(tensors, entry.plans, entry.shapes, strict=True):
            kind = plan[0]
            raw = (loss if kind == "loss" else grads[plan[1]] if kind == "grad" else outputs[plan[1]] if kind == "output"
                   else leaves[plan[1]].value if kind == "leaf" else plan[1])
            value = _shaped(raw, shape, n, dtype if kind != "leaf" else leaves[plan[1]].value.dtype)
            if t.op == "assign":
                value = np.broadcast_to(value, t.inputs[0].shape).astype(t.inputs[0].dtype.as_numpy_dtype)
            elif id(_owner(value)) in held:  # a view of a leaf (a variable, updated in place later): a copy
                value = value.copy()
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise NonFiniteError(
                    f"{t.name} came out NaN or Inf (the model left its domain or overflowed at these values); "
                    "check the fed data and the learning rate"
                )
            out[t] = value
        return out

    def _walked(self, tensors):
        """(the subgraph of `tensors` in order, its structure, its leaf nodes), walked once per list of
        tensors: nodes never change, so a graph run again (TF1, Keras) reuses the walk; an eager step
        builds new nodes and walks them (a few steps are kept, not every step's constants).

        The structure is each node's op, attributes and inputs (as positions in the order), a leaf's
        op only; the run's key adds each leaf's variable or placeholder, layout and dtype."""
        plan = self._walks.get(tuple(tensors))
        if plan is not None:
            return plan
        order = walk(tensors, stop=HOST)
        index = {node: i for i, node in enumerate(order)}
        structure, leaf_nodes = [], []
        for node in order:
            if _is_leaf(node):
                leaf_nodes.append(node)
                structure.append(node.op)
            else:
                structure.append((node.op, node.attrs, tuple(index[t] for t in node.inputs)))
        plan = order, (tuple(structure), tuple(index[t] for t in tensors)), leaf_nodes
        self._walks[tuple(tensors)] = plan
        if len(self._walks) > WALKS_KEPT:
            self._walks.pop(next(iter(self._walks)))
        return plan

    def _cached(self, key, compile_entry, n):
        """The cache entry for `key`, compiled on a miss (`_FIXED_LENGTH` when the batch axis must be fixed)."""
        entry = self._cache.get(key)
        if entry is not None:
            self._cache.move_to_end(key)
            return entry
        try:
            entry = compile_entry()
        except BatchLengthError:
            if n is None:
                raise
            entry = _FIXED_LENGTH
        self._cache[key] = entry
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    def _leaf(self, node, feeds, host_values):
        """The value of a leaf node (`_is_leaf`) in this run, checked."""
        if node.op in HOST:
            if node not in host_values:
                values = self._evaluate(list(dict.fromkeys(node.inputs)), feeds, host_values)
                host_values[node] = np.asarray(HOST[node.op](node, *[values[t] for t in node.inputs]))
            value = host_values[node]
            declared = node.shape if node.shape is not None and len(node.shape) == value.ndim else ()
            return _Leaf(node, value, _batch_shape(value.shape, declared))
        if node.op == "placeholder":
            if node not in feeds:
                raise UnboundSymbolError(
                    f"You must feed a value for placeholder tensor {node.name!r} with dtype {node.dtype.name} and "
                    f"shape {_shape_text(node.shape)}: add it to feed_dict"
                )
            return _Leaf(node, feeds[node], _batch_shape(feeds[node].shape, node.shape or ()))
        if node.op == "variable":
            if node in feeds:
                return _Leaf(node, feeds[node], feeds[node].shape)
            if node not in self.store:
                raise FailedPreconditionError(
                    f"Attempting to use uninitialized value {node.name}: add the line "
                    "`sess.run(tf.global_variables_initializer())` (sess being this session) after creating the "
                    "session and before this run; TensorFlow 1 sessions start with no variable values"
                )
            value = np.asarray(self.store[node])
            return _Leaf(node, value, value.shape)
        if node.op == "const":
            return _Leaf(node, node.value, node.value.shape)
        # fresh_uniform: drawn once the batch length is known (`_draw_noise`)
        return _Leaf(node, None, tuple(BATCH_SIZE if d is None else d for d in node.shape))

    def _compile(self, order, leaves, tensors):
        names, memo, leaf_of = set(), {}, {}
        for i, lf in enumerate(leaves):
            symbol = leaf(_unique(lf.node.name, names), lf.shape)
            memo[lf.node] = Traced(symbol, lf.shape)
            leaf_of[symbol] = i
        _trace(order, memo)
        loss, loss_ys, wrt = _kernel_loss(tensors, memo, leaf_of)
        grad_index = {w: k for k, w in enumerate(wrt)}
        outputs, slots, plans = [], {}, []
        for t in tensors:
            e = memo[t].expr
            x = t.inputs[-1].uid if t.op == "gradient" else None
            if x is not None and t.inputs[:-1] == loss_ys and memo[t.inputs[-1]].expr in grad_index:
                plans.append(("grad", grad_index[memo[t.inputs[-1]].expr]))  # the kernel's own backward pass
            elif loss_ys == (t,) and e == loss:
                plans.append(("loss",))
            elif not e.is_Matrix and e.is_number:
                plans.append(("number", float(e)))
            elif e in leaf_of:
                plans.append(("leaf", leaf_of[e]))
            else:
                if e not in slots:
                    slots[e] = len(outputs)
                    outputs.append(e)
                plans.append(("output", slots[e]))
        uses_loss = any(p[0] in ("loss", "grad") for p in plans)
        if not uses_loss:
            loss, wrt = sp.S.Zero, []
        if not (outputs or uses_loss):
            return _Compiled(None, [], plans, [memo[t].shape for t in tensors], False, False)
        read = matrix_symbols([loss, *outputs]) | set(wrt)
        inputs = [s for s in leaf_of if s in read and s not in grad_index]
        dtype = _kernel_dtype(leaves)
        with warnings.catch_warnings():  # a loss of variables only has a per-sample part 0: TF's business
            warnings.simplefilter("ignore", ConstantLossWarning)
            kernel = compile_kernel(loss, wrt=wrt, inputs=inputs, outputs=outputs, name="tf_session", dtype=dtype,
                                    target=self.target)
        arguments = [leaf_of[s] for s in inputs + wrt]
        return _Compiled(kernel, arguments, plans, [memo[t].shape for t in tensors], uses_loss, bool(outputs))


def _is_leaf(node):
    """Whether a run takes the node's value as data: fed, a variable, an array constant, noise, or
    an op computed in numpy (`host.HOST`); other nodes are traced into the kernel."""
    return node.op in LEAF_OPS or node.op in HOST or (node.op == "const" and node.attrs == ("array",))


def _kernel_loss(tensors, memo, leaf_of):
    """The generated kernel's loss, as (scalar expression, the ys it sums, wrt symbols).

    The first fetched gradient supplies it: Σ of its ys becomes the kernel's loss, and the leaves
    of every fetched gradient of the same ys (variables, placeholders, constants) its parameters,
    so those gradients come out of the kernel's own backward pass.
    """
    for t in tensors:
        if t.op == "gradient":
            ys = t.inputs[:-1]
            wrt = {}
            for g in tensors:
                if g.op == "gradient" and g.inputs[:-1] == ys and memo[g.inputs[-1]].expr in leaf_of:
                    wrt[memo[g.inputs[-1]].expr] = None
            if wrt:
                return _sum_of(memo[y] for y in ys), ys, list(wrt)
    return sp.S.Zero, None, []


def _sum_of(traced):
    return sp.Add(*[as_scalar_loss(v.expr) for v in traced])


def _trace(order, memo):
    """Fill `memo` with the `Traced` value of every node of `order` (leaves are already there)."""
    for node in order:
        if node in memo:
            continue
        args = [memo[t] for t in node.inputs]
        if node.op == "gradient":
            memo[node] = _gradient(node, args, memo)
        elif node.op == "const":
            value = node.attrs[0]
            memo[node] = Traced(sp.Integer(int(value)) if value.is_integer() else sp.Float(value), ())
        else:
            memo[node] = rule(node.op)(node, *args)


def _gradient(node, args, memo):
    """d(Σ of every element of ys)/dx, as TensorFlow's `gradients` defines it."""
    *ys, x = node.inputs
    x_value = args[-1]
    wrt = x_value.expr
    if isinstance(wrt, (sp.Symbol, sp.MatrixSymbol)):
        loss, back = _sum_of(args[:-1]), None
    else:  # an intermediate tensor: trace ys again with x replaced by a fresh symbol
        fresh = leaf(f"_wrt_{x.uid}", x_value.shape)
        local = {t: v for t, v in memo.items() if isinstance(v.expr, (sp.Symbol, sp.MatrixSymbol)) or v.expr.is_number}
        local[x] = Traced(fresh, x_value.shape)
        _trace(walk(ys, stop=HOST), local)
        loss, back, wrt = _sum_of(local[y] for y in ys), {fresh: wrt}, fresh
    (g,) = reverse(loss, [wrt])
    return Traced(g if back is None else g.xreplace(back), x_value.shape)


def _draw_noise(leaves, n):
    """Fresh uniform noise (dropout's) for this run, `n` long along the batch axis."""
    from .random import _RNG

    for lf in leaves:
        if lf.value is None:
            if n is None and BATCH_SIZE in lf.shape:
                raise UnboundSymbolError(f"{lf.node.name} has a batch axis but no fed value gives its length; feed the batch")
            dims = tuple(n if d is BATCH_SIZE else d for d in lf.shape)
            dtype = lf.node.dtype.as_numpy_dtype
            rng = _RNG["rng"]  # float32 noise drawn as float32 (half the bits and no cast)
            lf.value = rng.random(dims, dtype=dtype) if dtype.kind == "f" else rng.random(dims).astype(dtype)


def _unique(name, names):
    """An identifier named after the node (`W_h`, `Placeholder_1`), unique within one kernel."""
    from ..names import identifier

    base = stem = identifier(name.split(":")[0])
    k = 1
    while stem in names:
        stem, k = f"{base}_{k}", k + 1
    names.add(stem)
    return stem


def _batch_shape(shape, declared):
    """`shape` with BATCH_SIZE where `declared` has None."""
    if len(declared) != len(shape):
        return tuple(shape)
    return tuple(BATCH_SIZE if d is None else g for g, d in zip(shape, declared, strict=True))


def _kernel_dtype(leaves):
    dtypes = {lf.node.dtype.name for lf in leaves if lf.value.dtype.kind == "f"}
    return "float32" if dtypes == {"float32"} else "float64"


def _argument(lf, dtype):
    """A leaf's value as the kernel takes it: its matrix (vectors as 1×k rows), or a number."""
    value = lf.value
    dims = matrix_shape(value.shape, lf.node.name)
    if dims is None:
        return float(value) if dtype == np.float64 else dtype.type(value)
    return np.ascontiguousarray(value, dtype=dtype).reshape(dims)


def _owner(value):
    """The array that owns `value`'s memory (itself unless it is a view)."""
    base = getattr(value, "base", None)
    return value if base is None else base


def _shaped(raw, shape, n, dtype):
    """A kernel result (or leaf value) in the tensor's shape, the batch axis `n` long."""
    dims = tuple(n if d is BATCH_SIZE else d for d in shape)
    if not dims:
        return np.asarray(raw, dtype=dtype).reshape(())[()]
    return np.asarray(raw, dtype=dtype).reshape(dims)


def _fits(got, declared):
    return len(got) == len(declared) and all(d is None or d == g for g, d in zip(got, declared, strict=True))


def _shape_text(shape):
    return "unknown" if shape is None else "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _flatten(fetches):
    """The leaves of a nested list/tuple/dict of fetches, and a function rebuilding the structure."""
    if isinstance(fetches, dict):
        keys = list(fetches)
        parts = [_flatten(fetches[k]) for k in keys]
        return _join(parts, lambda vals: dict(zip(keys, vals, strict=True)))
    if isinstance(fetches, (list, tuple)):
        parts = [_flatten(f) for f in fetches]
        build = (lambda vals: type(fetches)(*vals)) if hasattr(fetches, "_fields") else type(fetches)
        return _join(parts, build)
    return [fetches], lambda vals: vals[0]


def _join(parts, build):
    flat, sizes = [], []
    for leaves, _ in parts:
        flat += leaves
        sizes.append(len(leaves))

    def rebuild(values):
        out, i = [], 0
        for (_, sub), size in zip(parts, sizes, strict=True):
            out.append(sub(values[i : i + size]))
            i += size
        return build(out)

    return flat, rebuild


def _eager_session(graph):
    """The session that evaluates `graph`'s tensors eagerly, on the variables' own values."""
    if graph._eager_session is None:
        graph._eager_session = Session(graph=graph, store=EagerStore())
    return graph._eager_session


Graph.eager_session = _eager_session  # graphs sit below sessions, so the session layer attaches it
