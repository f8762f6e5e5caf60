"""TensorFlow-1 op constructors: each builds one graph node (its meaning is in `trace.rule`).

The entrywise functions (exp, sigmoid, erf, ...) are not written here: each primitive record's
`tf` names make one (`entrywise_op`), so a new record or a `symgrad.register(..., tf=(...))` is an op.

Static shapes are inferred where they are known (`None` marks the batch axis or an unknown size),
so a mismatch is reported when the op is built, as TensorFlow does.
"""

import inspect
import numbers

import numpy as np
import sympy as sp

from ..errors import InvalidArgumentError, ShapeError, UnsupportedError
from ..primitives import by_tf_name, record_for, tf_record
from .graph import Tensor, Variable, as_dtype, executing_eagerly, get_default_graph


def _graph_of(*xs):
    for x in xs:
        if isinstance(x, Tensor):
            return x.graph
    return get_default_graph()


def convert_to_tensor(value, dtype=None, name=None, graph=None):
    """A tensor for `value`: tensors pass through; numbers and arrays become constants."""
    if isinstance(value, Tensor):
        return value
    return constant(value, dtype=dtype, name=name, graph=graph)


def constant(value, dtype=None, shape=None, name=None, graph=None):
    """A constant. A Python number is built into the kernel; an array is passed to it as data, so a
    loop feeding new arrays of the same shape reuses one compiled kernel."""
    if isinstance(value, Tensor):
        raise InvalidArgumentError(f"constant needs numbers, got the tensor {value.name!r}")
    if dtype is None and isinstance(value, np.ndarray) and value.dtype.kind == "f":
        dtype = value.dtype  # as TensorFlow: a float32 array makes a float32 constant
    dt = as_dtype(dtype)
    try:
        arr = np.array(value, dtype=dt.as_numpy_dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"constant needs numbers, got {value!r}: {exc}") from None
    if shape is not None:
        arr = np.broadcast_to(arr, tuple(shape)).copy()
    graph = graph or get_default_graph()
    if arr.ndim == 0 and isinstance(value, numbers.Real):
        return Tensor("const", attrs=(float(arr),), shape=(), dtype=dt, name=name or "Const", graph=graph)
    return held_constant(arr, dt, name or "Const", graph)


def held_constant(value, dtype, name, graph):
    """A constant holding the array `value` itself, not a copy: for a run's fresh results (a tape's
    gradients), which nothing else holds."""
    dt = as_dtype(dtype)
    arr = np.asarray(value, dtype=dt.as_numpy_dtype)
    node = Tensor("const", attrs=("array",), shape=arr.shape, dtype=dt, name=name, graph=graph)
    node.value = arr
    return node


def zeros(shape, dtype="float32", name=None):
    """A constant array of zeros (float32 by default, as in TensorFlow)."""
    return constant(np.zeros(shape), dtype=dtype, name=name or "zeros")


def ones(shape, dtype="float32", name=None):
    """A constant array of ones (float32 by default, as in TensorFlow)."""
    return constant(np.ones(shape), dtype=dtype, name=name or "ones")


def placeholder(dtype=None, shape=None, name=None):
    """Data fed at run time. One `None` in `shape` marks the batch axis (one sample per index);
    `shape=None` accepts any shape, every fed number then being its own input."""
    if shape is not None:
        shape = tuple(None if d is None else int(d) for d in shape)
        if shape.count(None) > 1:
            raise ShapeError(
                f"placeholder shape {shape} has {shape.count(None)} unknown dimensions; symgrad.tf treats one "
                "`None` as the batch axis, give the others their sizes"
            )
    return Tensor("placeholder", shape=shape, dtype=dtype, name=name or "Placeholder")


# -- static shapes -----------------------------------------------------------------------------------
def _broadcast(name, a, b):
    if a is None or b is None:
        return None
    out = []
    for x, y in zip(((1,) * (len(b) - len(a)) + tuple(a)), ((1,) * (len(a) - len(b)) + tuple(b)), strict=True):
        if x is None or y is None:
            out.append(x if y == 1 else y if x == 1 else None)
        elif x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ShapeError(f"{name}: shapes {tuple(a)} and {tuple(b)} cannot be broadcast together")
    return tuple(out)


def _binary(op, x, y, name=None, dtype=None):
    graph = _graph_of(x, y)
    dt = next((v.dtype for v in (x, y) if isinstance(v, Tensor) and v.dtype.is_floating), None)
    x, y = convert_to_tensor(x, dtype=dt, graph=graph), convert_to_tensor(y, dtype=dt, graph=graph)
    shape = _broadcast(f"{op} of {x.name} and {y.name}", x.shape, y.shape)
    return Tensor(op, [x, y], shape=shape, name=name or op.capitalize(), dtype=dtype)


def _unary(op, x, name=None):
    x = convert_to_tensor(x)
    return Tensor(op, [x], shape=x.shape, name=name or op.capitalize())


# -- entrywise functions: one constructor per record's TF name ------------------------------------------
def _fixed_arity(function):
    """The fewest arguments `function` takes, or None when it takes any number (a reduction, `where`)."""
    nargs = getattr(function, "nargs", None)
    return int(min(nargs)) if isinstance(nargs, sp.FiniteSet) else None


def entrywise_names(activations=False):
    """The TF names records give to functions applied entry by entry (of activations only, for tf.nn)."""
    return sorted(
        name for name, function in by_tf_name().items()
        if _fixed_arity(function) is not None and (not activations or record_for(function).activation)
    )


def entrywise_op(op, first="x", activation=False):
    """The constructor of `op`, a record's TF name for a function applied entry by entry (see
    `trace.rule`), or None (None too when `activation` asks for an activation's and it is not one).
    Its tensor inputs come first (`first`, then y, z, ...), then the record's `tf_params` with
    TensorFlow's defaults, then `name`. Made once per record: a re-registration replaces it."""
    record = tf_record(op)
    if record is None:
        return None
    made = _CONSTRUCTORS.get((op, first))
    if made is None or made[0] is not record:
        arity = _fixed_arity(record.function)
        made = _CONSTRUCTORS[op, first] = (record, None if arity is None else _constructor(op, first, record, arity))
    if activation and made[1] is not None and not record.activation:
        return None
    return made[1]


_CONSTRUCTORS = {}  # (op, first input's name) -> (record, its constructor or None)


def _constructor(op, first, record, arity):
    inputs = list(record.tf_inputs) or ([first, *"yzuvw"][:arity] if arity <= 6 else [f"x{i}" for i in range(arity)])
    params, defaults = tuple(record.tf_params), tuple(record.tf_params.values())
    P = inspect.Parameter
    signature = inspect.Signature(
        [P(p, P.POSITIONAL_OR_KEYWORD) for p in inputs]
        + [P(p, P.POSITIONAL_OR_KEYWORD, default=d) for p, d in record.tf_params.items()]
        + [P("name", P.POSITIONAL_OR_KEYWORD, default=None)]
    )

    def constructor(*args, **kwargs):
        if not kwargs and len(args) == arity:  # the usual call, without binding a signature
            values, name = [*args, *defaults], None
        else:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise InvalidArgumentError(f"{op}{signature}: {exc}") from None
            bound.apply_defaults()
            values, name = [bound.arguments[p] for p in (*inputs, *params)], bound.arguments["name"]
        if len(values) == 1:
            x = convert_to_tensor(values[0])
            return Tensor(op, [x], shape=x.shape, name=name or op.capitalize())
        graph = _graph_of(*values)
        dt = next((v.dtype for v in values if isinstance(v, Tensor) and v.dtype.is_floating), None)
        tensors = [convert_to_tensor(v, dtype=dt, graph=graph) for v in values]
        shape = tensors[0].shape
        for t in tensors[1:]:
            shape = _broadcast(f"{op} of {tensors[0].name}", shape, t.shape)
        return Tensor(op, tensors, shape=shape, name=name or op.capitalize())

    constructor.__name__ = constructor.__qualname__ = op
    constructor.__signature__ = signature
    constructor.__doc__ = f"`{record.name}` entry by entry (its primitive record; gradients from the record)."
    return constructor


def __getattr__(name):  # the entrywise functions, including those registered after this import
    found = entrywise_op(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found


def add(x, y, name=None):
    return _binary("add", x, y, name)


def subtract(x, y, name=None):
    return _binary("subtract", x, y, name)


def multiply(x, y, name=None):
    return _binary("multiply", x, y, name)


def divide(x, y, name=None):
    return _binary("divide", x, y, name)


def pow(x, y, name=None):  # noqa: A001 - TensorFlow's name
    return _binary("pow", x, y, name)


def maximum(x, y, name=None):
    """Elementwise max; its gradient goes to x where x ≥ y (to y only where y > x)."""
    return _binary("maximum", x, y, name)


def minimum(x, y, name=None):
    """Elementwise min; its gradient goes to x where x ≤ y (to y only where y < x)."""
    return _binary("minimum", x, y, name)


def negative(x, name=None):
    return _unary("negative", x, name)


def square(x, name=None):
    return _unary("square", x, name)


def sqrt(x, name=None):
    return _unary("sqrt", x, name)










def identity(x, name=None):
    return _unary("identity", x, name)


def softmax(logits, axis=-1, name=None, dim=None):
    logits = convert_to_tensor(logits)
    axis = dim if dim is not None else axis
    return Tensor("softmax", [logits], attrs=(axis,), shape=logits.shape, name=name or "Softmax")


def log_softmax(logits, axis=-1, name=None, dim=None):
    logits = convert_to_tensor(logits)
    axis = dim if dim is not None else axis
    return Tensor("log_softmax", [logits], attrs=(axis,), shape=logits.shape, name=name or "LogSoftmax")


def rsqrt(x, name=None):
    return _unary("rsqrt", x, name)


def reciprocal(x, name=None):
    return _unary("reciprocal", x, name)







def squared_difference(x, y, name=None):
    return _binary("squared_difference", x, y, name)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """min(max(t, low), high) entry by entry; the gradient passes where t lies inside."""
    graph = _graph_of(t, clip_value_min, clip_value_max)
    t, lo, hi = (convert_to_tensor(v, graph=graph) for v in (t, clip_value_min, clip_value_max))
    shape = _broadcast(f"clip_by_value of {t.name}", _broadcast(f"clip_by_value of {t.name}", t.shape, lo.shape), hi.shape)
    return Tensor("clip_by_value", [t, lo, hi], shape=shape, name=name or "clip_by_value")


def matmul(a, b, transpose_a=False, transpose_b=False, name=None):
    graph = _graph_of(a, b)
    a, b = convert_to_tensor(a, graph=graph), convert_to_tensor(b, graph=graph)
    a = transpose(a) if transpose_a else a
    b = transpose(b) if transpose_b else b
    shape = None
    if a.shape is not None and b.shape is not None:
        if len(a.shape) != 2 or len(b.shape) != 2:
            raise ShapeError(f"matmul of {a.name} {a.shape} and {b.name} {b.shape}: both must be matrices (rank 2)")
        if None not in (a.shape[1], b.shape[0]) and a.shape[1] != b.shape[0]:
            raise ShapeError(f"matmul of {a.name} {a.shape} and {b.name} {b.shape}: inner dimensions differ")
        shape = (a.shape[0], b.shape[1])
    return Tensor("matmul", [a, b], shape=shape, name=name or "MatMul")


def _reduce(op, x, axis, keepdims, name):
    x = convert_to_tensor(x)
    if isinstance(axis, (list, tuple)):
        axis = tuple(int(a) for a in axis)
    elif axis is not None:
        axis = int(axis)
    shape = None
    if x.shape is not None:
        rank = len(x.shape)
        axes = range(rank) if axis is None else [a % rank if -rank <= a < rank else None for a in np.atleast_1d(axis)]
        if None in axes:
            raise ShapeError(f"{op} of {x.name}: axis {axis} is out of range for shape {x.shape}")
        if keepdims:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return Tensor(op, [x], attrs=(axis, bool(keepdims)), shape=shape, name=name or op.title().replace("_", ""))


def _axis(axis, reduction_indices):
    if reduction_indices is not None:
        if axis is not None:
            raise InvalidArgumentError("pass axis or its old name reduction_indices, not both")
        return reduction_indices
    return axis


def reduce_sum(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    """Σ over `axis` (all axes when None); `reduction_indices` and `keep_dims` are TF1's names."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    return _reduce("reduce_sum", input_tensor, _axis(axis, reduction_indices), keep, name)


def reduce_mean(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
    """The mean over `axis` (all axes when None); `reduction_indices` and `keep_dims` are TF1's names."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    return _reduce("reduce_mean", input_tensor, _axis(axis, reduction_indices), keep, name)


def transpose(a, perm=None, name=None):
    a = convert_to_tensor(a)
    perm = None if perm is None else tuple(int(p) for p in perm)
    shape = None
    if a.shape is not None:
        order = perm if perm is not None else tuple(range(len(a.shape)))[::-1]
        if sorted(p % max(len(a.shape), 1) for p in order) != list(range(len(a.shape))):
            raise ShapeError(f"transpose of {a.name}: perm {perm} does not fit shape {a.shape}")
        shape = tuple(a.shape[p] for p in order)
    return Tensor("transpose", [a], attrs=(perm,), shape=shape, name=name or "Transpose")


def reshape(tensor, shape, name=None):
    """TensorFlow's reshape (one -1 takes the remaining size). With a batch axis, it stays first:
    `reshape(x, (-1, 784))` for (None, 28, 28) inputs."""
    tensor = convert_to_tensor(tensor)
    target = tuple(-1 if d is None else int(d) for d in shape)
    if target.count(-1) > 1 or any(d < -1 for d in target):
        raise ShapeError(f"reshape of {tensor.name} to {tuple(shape)}: give every size but one (-1)")
    out = None
    if tensor.shape is not None:
        fixed = int(np.prod([d for d in target if d != -1]))
        if None in tensor.shape:
            out = tuple(None if d == -1 else d for d in target)
        else:
            total = int(np.prod(tensor.shape))
            if (-1 in target and (fixed == 0 or total % fixed)) or (-1 not in target and fixed != total):
                raise ShapeError(f"reshape of {tensor.name} {tensor.shape} ({total} values) to {tuple(shape)} does not fit")
            out = tuple(total // fixed if d == -1 else d for d in target)
    if tensor.op == "const" and tensor.attrs == ("array",):  # data: reshaped here, as numpy does
        return constant(tensor.value.reshape(out), dtype=tensor.dtype, name=name or "Reshape", graph=tensor.graph)
    return Tensor("reshape", [tensor], attrs=(target,), shape=out, name=name or "Reshape")


def assign(ref, value, name=None):
    """`ref = value` when run; the tensor's value is the new value. Eagerly it happens at once too."""
    if not isinstance(ref, Variable):
        raise InvalidArgumentError(f"assign needs a Variable to assign to, got {ref!r}")
    value = convert_to_tensor(value, graph=ref.graph)
    shape = _broadcast(f"assign to {ref.name}", ref.shape, value.shape)
    if shape is not None and tuple(shape) != tuple(ref.shape):
        raise ShapeError(f"assign to {ref.name}: value of shape {value.shape} does not fit the variable's {ref.shape}")
    node = Tensor("assign", [ref, value], shape=ref.shape, name=name or "Assign")
    if executing_eagerly() and not needs_feed(node):
        ref.graph.eager_session().run(node)
    return node


def needs_feed(*tensors):
    """True when the subgraph of `tensors` reads a placeholder (so it cannot be evaluated now)."""
    return any(t.reads_placeholder for t in tensors if t is not None)


# -- ops without gradients (numpy between kernels, symgrad.tf.host) --------------------------------------
def equal(x, y, name=None):
    return _binary("equal", x, y, name or "Equal", dtype="bool")


def not_equal(x, y, name=None):
    return _binary("not_equal", x, y, name or "NotEqual", dtype="bool")


def greater(x, y, name=None):
    return _binary("greater", x, y, name or "Greater", dtype="bool")


def greater_equal(x, y, name=None):
    return _binary("greater_equal", x, y, name or "GreaterEqual", dtype="bool")


def less(x, y, name=None):
    return _binary("less", x, y, name or "Less", dtype="bool")


def less_equal(x, y, name=None):
    return _binary("less_equal", x, y, name or "LessEqual", dtype="bool")


def logical_and(x, y, name=None):
    return _binary("logical_and", x, y, name or "LogicalAnd", dtype="bool")


def logical_or(x, y, name=None):
    return _binary("logical_or", x, y, name or "LogicalOr", dtype="bool")


def logical_not(x, name=None):
    x = convert_to_tensor(x)
    return Tensor("logical_not", [x], shape=x.shape, dtype="bool", name=name or "LogicalNot")


def _arg_reduce(op, x, axis, output_type, name):
    x = convert_to_tensor(x)
    axis = 0 if axis is None else int(axis)
    shape = None
    if x.shape is not None:
        rank = len(x.shape)
        if not -rank <= axis < rank:
            raise ShapeError(f"{op} of {x.name}: axis {axis} is out of range for shape {x.shape}")
        axis %= rank
        shape = tuple(d for i, d in enumerate(x.shape) if i != axis)
    return Tensor(op, [x], attrs=(axis,), shape=shape, dtype=output_type, name=name or op.title())


def argmax(input, axis=None, name=None, dimension=None, output_type="int64"):  # noqa: A002 - TensorFlow's name
    """The index of the largest entry along `axis` (TensorFlow's default axis is 0)."""
    return _arg_reduce("argmax", input, axis if axis is not None else dimension, output_type, name or "ArgMax")


def argmin(input, axis=None, name=None, dimension=None, output_type="int64"):  # noqa: A002 - TensorFlow's name
    return _arg_reduce("argmin", input, axis if axis is not None else dimension, output_type, name or "ArgMin")


def cast(x, dtype, name=None):
    """`x` as `dtype`. Between float types it is the identity the gradient passes through (a kernel
    computes in one dtype); to or from integers and booleans it is numpy's cast, without a gradient."""
    x = convert_to_tensor(x)
    dt = as_dtype(dtype)
    op = "cast" if dt.is_floating and x.dtype.is_floating else "host_cast"
    return Tensor(op, [x], shape=x.shape, dtype=dt, name=name or "Cast")


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """Rows with `on_value` at each index and `off_value` elsewhere (an index outside [0, depth) gives
    a row of `off_value`, as in TensorFlow). Only the last axis (`axis=-1`) is supported."""
    if axis not in (None, -1):
        raise UnsupportedError(f"one_hot(axis={axis}) is not supported; the classes go in the last axis (axis=-1)")
    indices = convert_to_tensor(indices, dtype="int64")
    depth = int(depth)
    if depth < 1:
        raise InvalidArgumentError(f"one_hot needs depth >= 1, got {depth}")
    on = 1.0 if on_value is None else float(on_value)
    off = 0.0 if off_value is None else float(off_value)
    shape = None if indices.shape is None else (*indices.shape, depth)
    return Tensor("one_hot", [indices], attrs=(depth, on, off), shape=shape, dtype=dtype or "float32", name=name or "one_hot")


# -- dropout -------------------------------------------------------------------------------------------
def fresh_uniform(like, name=None):
    """Uniform [0, 1) noise of `like`'s shape, drawn again at every run (it enters kernels as data)."""
    if like.shape is None:
        raise ShapeError(f"dropout of {like.name} needs a known rank (shape), got an unknown shape")
    return Tensor("fresh_uniform", shape=like.shape, dtype=like.dtype, name=name or "uniform_noise", graph=like.graph)


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """x·[u < keep]/keep with fresh uniform noise u each run: entries dropped with probability
    1 − keep, the rest scaled so the expectation is x. `keep_prob` (TF1) or `rate` = 1 − keep_prob
    (TF2); either may be a tensor (a fed placeholder)."""
    if (keep_prob is None) == (rate is None):
        raise InvalidArgumentError("dropout needs exactly one of keep_prob (TF1) or rate (TF2)")
    if noise_shape is not None:
        raise UnsupportedError("dropout(noise_shape=...) is not supported; the noise has the shape of x")
    x = convert_to_tensor(x)
    keep = keep_prob if keep_prob is not None else subtract(1.0, rate) if isinstance(rate, Tensor) else 1.0 - float(rate)
    if not isinstance(keep, Tensor) and not 0 < float(keep) <= 1:
        raise InvalidArgumentError(f"dropout keeps a fraction in (0, 1] of the entries, got keep_prob {keep}")
    keep = convert_to_tensor(keep, dtype=x.dtype, graph=x.graph)
    return Tensor("dropout", [x, fresh_uniform(x), keep], shape=x.shape, name=name or "dropout")


def _install_operators():
    """Tensor's operators build these ops (TensorFlow's math_ops attaches them the same way):
    `symgrad.tf.graph`, where Tensor lives, is the layer below this one."""
    binary = {"add": add, "sub": subtract, "mul": multiply, "truediv": divide, "pow": pow, "matmul": matmul}
    for name, op in binary.items():
        setattr(Tensor, f"__{name}__", lambda self, other, op=op: op(self, other))
        setattr(Tensor, f"__r{name}__", lambda self, other, op=op: op(other, self))
    Tensor.__neg__ = lambda self: negative(self)
    Tensor.T = property(lambda self: transpose(self), doc="numpy's name for the transpose")
    Variable.assign = lambda self, value: assign(self, value)
    Variable.assign_add = lambda self, delta: assign(self, self + delta)
    Variable.assign_sub = lambda self, delta: assign(self, self - delta)


_install_operators()
