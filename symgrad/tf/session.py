"""`Session.run`: the fetched subgraph → sympy expressions → one generated kernel, cached.

A run walks the subgraph of the fetches once. Its structure (ops, attributes, which variables,
the shapes of fed values with the batch length left out) is the cache key; on a miss the graph is
traced into sympy expressions (`trace.RULES`, `symgrad.grad` for gradient nodes) and compiled with
`symgrad.compile`, every fetched element becoming one output of the generated module. Later runs
with the same structure only bind the new values and call the kernel. Effects (assignments,
optimizer updates, initializers) are applied after the values are computed, so every fetch of a
run sees the variables as they were when it started.
"""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .. import symbolic
from ..compiler import compile as compile_kernel
from ..dag import free_symbols
from ..errors import (
    DTypeError,
    FailedPreconditionError,
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    UnboundSymbolError,
)
from .graph import Operation, Tensor, Variable, get_default_graph
from .trace import BATCH_SIZE, RULES, Value, obj

CACHE_SIZE = 128
_SESSIONS = []


def get_default_session():
    return _SESSIONS[-1] if _SESSIONS else None


def walk(roots):
    """The nodes `roots` depend on, each once, inputs before the nodes that use them (iterative)."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            for child in it:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


class EagerStore:
    """Variable values kept on the variables themselves (TF2 eager use and Keras models)."""

    def __init__(self):
        self.slots = {}

    def __getitem__(self, key):
        return key._value if isinstance(key, Variable) else self.slots[key]

    def __setitem__(self, key, value):
        if isinstance(key, Variable):
            key._value = np.asarray(value, dtype=key.dtype.as_numpy_dtype).reshape(key.shape)
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
    batch_axis: int | None


@dataclass
class _Compiled:
    kernel: object
    symbols: list  # per leaf: object array of its symbols
    layouts: list  # per requested tensor: (batch axis, shape, element entries, batch-sum entries)
    uses_loss: bool  # some entry reads the kernel's loss or gradients
    uses_outputs: bool  # some entry reads its outputs (`predict`)


class Session:
    """A TensorFlow-1 session: variable values for one graph, and the kernels its runs compiled.

    `target` is passed to `symgrad.compile` ("numpy"; "cuda" where that target is installed).
    `last_kernel` is the kernel of the latest run (`.source` is the generated module).
    """

    def __init__(self, target="numpy", graph=None, store=None):
        self.graph = graph or get_default_graph()
        self.target = target
        self.store = {} if store is None else store
        self._cache = OrderedDict()
        self.last_kernel = None
        self._closed = False

    def __enter__(self):
        _SESSIONS.append(self)
        return self

    def __exit__(self, *exc):
        _SESSIONS.remove(self)
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
        assigns = [n for n in walk(tensors) if n.op == "assign"]
        values = self._evaluate(list(dict.fromkeys(tensors + assigns)), feeds)
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
            if not np.all(np.isfinite(arr)):
                raise NonFiniteError(f"value fed to {key.name!r} contains NaN or Inf; feed finite numbers")
            if key.shape is not None and not _fits(arr.shape, key.shape):
                raise ShapeError(
                    f"Cannot feed value of shape {arr.shape} for Tensor {key.name!r}, which has shape "
                    f"{_shape_text(key.shape)}"
                )
            feeds[key] = arr
        return feeds

    # -- planning, compiling, running -------------------------------------------------------------
    def _evaluate(self, tensors, feeds):
        order = walk(tensors)
        index = {node: i for i, node in enumerate(order)}
        key, leaves, batch = [], [], set()
        for node in order:
            leaf = self._leaf(node, feeds)
            if leaf is None:
                key.append((node.op, node.attrs, tuple(index[t] for t in node.inputs)))
                continue
            leaves.append(leaf)
            layout = list(leaf.value.shape)
            if leaf.batch_axis is not None:
                batch.add(layout[leaf.batch_axis])
                layout[leaf.batch_axis] = None
            key.append((node.op, node.uid if node.op != "const" else None, tuple(layout), leaf.batch_axis, node.dtype.name))
        if len(batch) > 1:
            listing = ", ".join(f"{lf.node.name}: {lf.value.shape}" for lf in leaves if lf.batch_axis is not None)
            raise ShapeError(f"fed values disagree on the number of samples ({listing}); feed equal batch lengths")
        cache_key = (tuple(key), tuple(index[t] for t in tensors))
        entry = self._cache.get(cache_key)
        if entry is None:
            entry = self._compile(order, leaves, tensors)
            self._cache[cache_key] = entry
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(cache_key)
        self.last_kernel = entry.kernel
        n = batch.pop() if batch else 1
        results = _Results(n)
        kernel = entry.kernel
        if kernel is not None:
            # the feeds are checked already; the generated functions take arrays and floats in order
            values = {BATCH_SIZE: float(n)}
            for leaf, symbols in zip(leaves, entry.symbols, strict=True):
                values.update(_bind(leaf, symbols))
            if kernel.target == "numpy":
                self._call_numpy(kernel, entry, values, n, results)
            else:
                if entry.uses_loss:
                    results.loss, results.grads = kernel.loss_and_grad(values)
                if entry.uses_outputs:
                    results.outputs = kernel.predict(values)
        dtype = kernel.dtype if kernel is not None else np.float64
        out = {}
        for t, layout in zip(tensors, entry.layouts, strict=True):
            out[t] = results.assemble(layout, dtype)
            if not np.all(np.isfinite(out[t])):
                raise NonFiniteError(
                    f"{t.name} came out NaN or Inf (the model left its domain or overflowed at these values); "
                    "check the fed data and the learning rate"
                )
        return out

    @staticmethod
    def _call_numpy(kernel, entry, values, n, results):
        """The generated numpy functions called directly: the feeds are checked already, and
        `Kernel`'s own checks cost more than the kernel for small models."""
        args = [np.ascontiguousarray(np.broadcast_to(np.asarray(values[s], kernel.dtype), (n,))) for s in kernel.inputs]
        scalar = float if kernel.dtype == np.float64 else kernel.dtype.type
        args += [scalar(values[s]) for s in kernel.wrt]
        if entry.uses_loss:
            results.loss, results.grads = kernel.module.loss_and_grad(*args)
        if entry.uses_outputs:
            results.outputs = kernel.module.predict(*args)

    def _leaf(self, node, feeds):
        if node.op == "placeholder":
            if node not in feeds:
                raise UnboundSymbolError(
                    f"You must feed a value for placeholder tensor {node.name!r} with dtype {node.dtype.name} and "
                    f"shape {_shape_text(node.shape)}: add it to feed_dict"
                )
            axis = None if node.shape is None or None not in node.shape else node.shape.index(None)
            return _Leaf(node, feeds[node], axis)
        if node.op == "variable":
            if node in feeds:
                return _Leaf(node, feeds[node], None)
            if node not in self.store:
                raise FailedPreconditionError(
                    f"Attempting to use uninitialized value {node.name}: add the line "
                    "`sess.run(tf.global_variables_initializer())` (sess being this session) after creating the "
                    "session and before this run; TensorFlow 1 sessions start with no variable values"
                )
            return _Leaf(node, np.asarray(self.store[node]), None)
        if node.op == "const" and node.attrs == ("array",):
            return _Leaf(node, node.value, None)
        return None

    def _compile(self, order, leaves, tensors):
        names, symbols, memo = {BATCH_SIZE.name}, [], {}
        for leaf in leaves:
            shape = tuple(d for i, d in enumerate(leaf.value.shape) if i != leaf.batch_axis)
            syms = _leaf_symbols(leaf.node, shape, names)
            symbols.append(syms)
            memo[leaf.node] = Value(syms, leaf.batch_axis)
        _trace(order, memo)
        loss, loss_ys, wrt = _kernel_loss(tensors, memo)
        grad_index = {w: k for k, w in enumerate(wrt)}
        outputs, slots = [], {}

        def slot(e):
            if e.is_number:
                return float(e)
            if e not in slots:
                slots[e] = len(outputs)
                outputs.append(e)
            return slots[e]

        layouts = []
        for t in tensors:
            v = memo[t]
            summed = None
            x_syms = list(memo[t.inputs[-1]].elems.flat) if t.op == "gradient" else []
            if t.op == "gradient" and t.inputs[:-1] == loss_ys and v.batch_axis is None and all(
                x in grad_index for x in x_syms
            ):  # this gradient comes out of the kernel's own backward pass
                summed = [("grad", grad_index[x]) for x in x_syms]
            elif loss_ys == (t,) and v.shape == () and v.summed is not None and v.summed[()] == loss:
                summed = [("loss",)]
            elif v.summed is not None:
                summed = [slot(e) for e in v.summed.flat]
            layouts.append((v.batch_axis, v.elems.shape, [slot(e) for e in v.elems.flat], summed))
        used = {e[0] for layout in layouts for e in layout[3] or () if isinstance(e, tuple)}
        if not used:
            loss, wrt = sp.S.Zero, []
        kernel = None
        if outputs or used:
            data = [s for syms in symbols for s in syms.flat if s not in grad_index or not used]
            dtypes = {leaf.node.dtype.name for leaf in leaves}
            dtype = "float32" if dtypes == {"float32"} else "float64"
            if BATCH_SIZE in free_symbols([loss, *outputs]):
                data.append(BATCH_SIZE)
            kernel = compile_kernel(loss, wrt=wrt, inputs=data, outputs=outputs,
                                    name="tf_session", dtype=dtype, target=self.target)
        return _Compiled(kernel, symbols, layouts, bool(used), bool(outputs))


def _kernel_loss(tensors, memo):
    """The generated kernel's loss, as (per-sample expression, the ys it sums, wrt symbols).

    The first fetched gradient supplies it: its ys' per-sample part becomes the kernel's loss and
    the symbols of every fetched gradient of the same ys (variables, unbatched placeholders) its
    parameters, so the gradients come out of the kernel's own backward pass. Without gradients, a
    fetched scalar that is a sum over the batch is the loss (wrt empty).
    """
    for t in tensors:
        if t.op == "gradient":
            ys = t.inputs[:-1]
            wrt = []
            for g in tensors:
                x = g.inputs[-1] if g.op == "gradient" and g.inputs[:-1] == ys else None
                if x is not None and _is_leaf(x) and memo[x].batch_axis is None:
                    wrt += [s for s in memo[x].elems.flat if s not in wrt]
            if wrt:
                return _batch_part([memo[y] for y in ys]), ys, wrt
    for t in tensors:
        v = memo[t]
        if v.shape == () and v.summed is not None and not v.summed[()].is_number:
            return v.summed[()], (t,), []
    return sp.S.Zero, None, []


def _is_leaf(node):
    return node.op in ("variable", "placeholder") or (node.op == "const" and node.attrs == ("array",))


def _batch_part(values):
    """Σ of the per-sample parts of `values` (what the kernel sums over the batch)."""
    return sp.Add(*[e for v in values for e in (v.elems.flat if v.batch_axis is not None else
                                                (v.summed.flat if v.summed is not None else ()))])


def _trace(order, memo):
    """Fill `memo` with the `Value` of every node of `order` (leaves are already there)."""
    for node in order:
        if node in memo:
            continue
        args = [memo[t] for t in node.inputs]
        if node.op == "gradient":
            memo[node] = _gradient(node, args, memo)
        elif node.op == "const":
            value = node.attrs[0]
            memo[node] = Value(obj(sp.Integer(int(value)) if value.is_integer() else sp.Float(value)))
        else:
            memo[node] = RULES[node.op](node, *args)


def _gradient(node, args, memo):
    """d(Σ of every element of ys)/dx, as TensorFlow's `gradients` defines it."""
    *ys, x = node.inputs
    y_values, x_value = args[:-1], args[-1]
    if _is_leaf(x):
        syms, back = x_value.elems, None
    else:  # an intermediate tensor: trace ys again with x replaced by fresh symbols
        if x_value.summed is not None:
            raise InvalidArgumentError(f"gradients with respect to {x.name!r}, a sum over the batch, are not supported")
        syms = obj([sp.Dummy(f"d_{i}", real=True) for i in range(x_value.elems.size)]).reshape(x_value.elems.shape)
        local = {t: v for t, v in memo.items() if t.op in ("variable", "placeholder", "const")}
        local[x] = Value(syms, x_value.batch_axis)
        _trace(walk(ys), local)
        y_values = [local[y] for y in ys]
        back = dict(zip(syms.flat, x_value.elems.flat, strict=True))
    once = sp.Add(*[e for y in y_values if y.batch_axis is None for e in y.elems.flat])
    per = _batch_part(y_values)
    flat = list(syms.flat)

    def grad(expr):
        out = obj(symbolic.grad(expr, flat) if flat else []).reshape(syms.shape)
        return out if back is None else np.vectorize(lambda e: e.xreplace(back), otypes=[object])(out)

    if x_value.batch_axis is not None:
        return Value(grad(per), x_value.batch_axis)
    return Value(grad(once), None, grad(per))


def _leaf_symbols(node, shape, names):
    """Real symbols named after the node (`W_h_0_2`), unique within one kernel."""
    from ..names import identifier

    base, k = identifier(node.name.split(":")[0]), 1
    stem = base
    while any(n == stem or n.startswith(stem + "_") for n in names):
        stem, k = f"{base}_{k}", k + 1
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        name = "_".join([stem, *map(str, idx)])
        names.add(name)
        out[idx] = sp.Symbol(name, real=True)
    names.add(stem)
    return out


def _bind(leaf, symbols):
    value = leaf.value
    if leaf.batch_axis is not None:
        columns = np.moveaxis(value, leaf.batch_axis, 0).reshape(value.shape[leaf.batch_axis], -1)
        return {s: columns[:, j] for j, s in enumerate(symbols.flat)}
    return {s: v for s, v in zip(symbols.flat, value.reshape(-1).tolist(), strict=True)}


class _Results:
    """What one kernel call returned, and the assembly of each fetched tensor from it.

    An entry is a number, an output index (per-sample values), ("grad", k) or ("loss",).
    """

    def __init__(self, n):
        self.n, self.outputs, self.loss, self.grads = n, [], None, None

    def per_sample(self, e):
        return e if isinstance(e, float) else self.outputs[e]

    def once(self, e):
        return e if isinstance(e, float) else self.outputs[e][0]

    def batch_sum(self, e):
        if isinstance(e, tuple):
            return self.loss if e[0] == "loss" else self.grads[e[1]]
        return e * self.n if isinstance(e, float) else self.outputs[e].sum()

    def assemble(self, layout, dtype):
        axis, shape, entries, summed = layout
        if axis is not None:
            out = np.empty((self.n, len(entries)), dtype=dtype)
            for k, e in enumerate(entries):
                out[:, k] = self.per_sample(e)
            return np.moveaxis(out.reshape((self.n, *shape)), 0, axis)
        out = np.array([self.once(e) for e in entries], dtype=dtype)
        if summed is not None:
            out += np.array([self.batch_sum(e) for e in summed], dtype=dtype)
        return out.reshape(shape) if shape else out.reshape(())[()]


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
