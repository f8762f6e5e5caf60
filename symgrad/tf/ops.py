"""TensorFlow-1 op constructors: each builds one graph node (its meaning is in `trace.RULES`).

Static shapes are inferred where they are known (`None` marks the batch axis or an unknown size),
so a mismatch is reported when the op is built, as TensorFlow does.
"""

import numbers

import numpy as np

from ..errors import InvalidArgumentError, ShapeError
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
    node = Tensor("const", attrs=("array",), shape=arr.shape, dtype=dt, name=name or "Const", graph=graph)
    node.value = arr
    return node


def zeros(shape, dtype=None, name=None):
    return constant(np.zeros(shape), dtype=dtype, name=name or "zeros")


def ones(shape, dtype=None, name=None):
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


def _binary(op, x, y, name=None):
    graph = _graph_of(x, y)
    x, y = convert_to_tensor(x, graph=graph), convert_to_tensor(y, graph=graph)
    shape = _broadcast(f"{op} of {x.name} and {y.name}", x.shape, y.shape)
    return Tensor(op, [x, y], shape=shape, name=name or op.capitalize())


def _unary(op, x, name=None):
    x = convert_to_tensor(x)
    return Tensor(op, [x], shape=x.shape, name=name or op.capitalize())


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


def exp(x, name=None):
    return _unary("exp", x, name)


def log(x, name=None):
    return _unary("log", x, name)


def abs(x, name=None):  # noqa: A001 - TensorFlow's name
    return _unary("abs", x, name)


def sigmoid(x, name=None):
    return _unary("sigmoid", x, name)


def tanh(x, name=None):
    return _unary("tanh", x, name)


def relu(x, name=None):
    return _unary("relu", x, name)


def softplus(x, name=None):
    return _unary("softplus", x, name)


def identity(x, name=None):
    return _unary("identity", x, name)


def softmax(logits, axis=-1, name=None):
    logits = convert_to_tensor(logits)
    return Tensor("softmax", [logits], attrs=(axis,), shape=logits.shape, name=name or "Softmax")


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


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_sum", input_tensor, axis, keepdims, name)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_mean", input_tensor, axis, keepdims, name)


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
    from .session import walk

    return any(t.op == "placeholder" for t in walk([t for t in tensors if t is not None]))
