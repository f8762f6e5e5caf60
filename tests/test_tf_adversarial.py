"""Random symgrad.tf programs against PyTorch: Hypothesis builds graphs from the op vocabulary
(entrywise functions, broadcasting arithmetic between batch matrices, rows, columns and scalars,
reductions over any axis with or without keepdims, matmul, transpose, softmax) and every traced
matrix-level kernel must give torch's value and gradients (variables and the fed batch)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad.tf as tf

torch = pytest.importorskip("torch", reason="PyTorch is not installed")

N = 5  # batch rows fed to the (None, 3) placeholder
UNARY = {
    "tanh": (tf.tanh, torch.tanh),
    "sigmoid": (tf.sigmoid, torch.sigmoid),
    "sin": (tf.sin, torch.sin),
    "softplus": (tf.nn.softplus, torch.nn.functional.softplus),
    "square": (tf.square, torch.square),
    "relu": (tf.nn.relu, torch.relu),
}
BINARY = {
    "add": (tf.add, torch.add),
    "subtract": (tf.subtract, torch.sub),
    "multiply": (tf.multiply, torch.mul),
    "divide_by_1_plus_square": (lambda a, b: a / (1.0 + tf.square(b)), lambda a, b: a / (1.0 + b * b)),
}


def _pairs(a, b):
    rank = max(len(a), len(b))
    return zip((1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b, strict=True)


def _broadcastable(a, b):
    """numpy's rule on TF shapes, None (the batch) meeting only itself or 1."""
    return all(x == y or 1 in (x, y) for x, y in _pairs(a, b))


def _broadcast(a, b):
    return tuple(x if y == 1 else y for x, y in _pairs(a, b))


@st.composite
def programs(draw):
    """A list of steps; each step names an op and the indices of earlier values it reads (every
    value enters the loss, so no step is dead code)."""
    shapes = [(None, 3), (3, 3), (3,), (), (1, 3)]  # X, W, v, s, r: the leaves
    steps = []
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "matmul", "transpose", "softmax"]))
        i = draw(st.integers(0, len(shapes) - 1))
        a = shapes[i]
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY))), i))
            shapes.append(a)
        elif kind == "binary":
            j = draw(st.sampled_from([j for j, b in enumerate(shapes) if _broadcastable(a, b)]))
            steps.append(("binary", draw(st.sampled_from(sorted(BINARY))), i, j))
            shapes.append(_broadcast(a, shapes[j]))
        elif kind == "reduce" and a:
            axis = draw(st.sampled_from([None, *range(len(a)), -1]))
            keep = draw(st.booleans())
            mean = draw(st.booleans())
            steps.append(("reduce", mean, axis, keep, i))
            axes = range(len(a)) if axis is None else [axis % len(a)]
            shapes.append(tuple(1 if k in axes else d for k, d in enumerate(a)) if keep else
                          tuple(d for k, d in enumerate(a) if k not in axes))
        elif kind == "matmul" and len(a) == 2:
            options = [j for j, b in enumerate(shapes) if len(b) == 2 and b[0] == a[1] and b[0] is not None]
            if options:
                j = draw(st.sampled_from(options))
                steps.append(("matmul", i, j))
                shapes.append((a[0], shapes[j][1]))
        elif kind == "transpose" and len(a) == 2:
            steps.append(("transpose", i))
            shapes.append(a[::-1])
        elif kind == "softmax" and a:
            steps.append(("softmax", i))
            shapes.append(a)
    return steps


def _build(lib, leaves, steps):
    values = list(leaves)
    for step in steps:
        kind = step[0]
        if kind == "unary":
            ours, theirs = UNARY[step[1]]
            values.append((ours if lib == "tf" else theirs)(values[step[2]]))
        elif kind == "binary":
            ours, theirs = BINARY[step[1]]
            values.append((ours if lib == "tf" else theirs)(values[step[2]], values[step[3]]))
        elif kind == "reduce":
            _, mean, axis, keep, i = step
            x = values[i]
            if lib == "tf":
                values.append((tf.reduce_mean if mean else tf.reduce_sum)(x, axis=axis, keepdims=keep))
            else:
                dims = list(range(x.dim())) if axis is None else [axis]
                values.append((torch.mean if mean else torch.sum)(x, dim=dims, keepdim=keep))
        elif kind == "matmul":
            values.append((tf.matmul if lib == "tf" else torch.matmul)(values[step[1]], values[step[2]]))
        elif kind == "transpose":
            values.append(tf.transpose(values[step[1]]) if lib == "tf" else values[step[1]].T)
        elif kind == "softmax":
            values.append(tf.nn.softmax(values[step[1]]) if lib == "tf" else torch.softmax(values[step[1]], dim=-1))
    return values[len(leaves):]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**31 - 1))
def test_random_programs_match_torch_in_value_and_gradients(steps, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=(N, 3)), rng.normal(size=(3, 3)) / 2, rng.normal(size=3), np.array(rng.normal()),
              rng.normal(size=(1, 3))]
    with tf.Graph().as_default():
        X = tf.placeholder(tf.float64, (None, 3))
        params = [tf.Variable(a) for a in arrays[1:]]
        outs = _build("tf", [X, *params], steps)
        weights = [rng.normal(size=[N if d is None else d for d in out.shape]) for out in outs]
        loss = tf.add(tf.reduce_sum(tf.square(X)), 0.0)  # every step's value enters the loss, weighted
        for out, w in zip(outs, weights, strict=True):
            loss = loss + tf.reduce_sum(out * w)
        grads = tf.gradients(loss, [X, *params], unconnected_gradients="zero")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got, *got_grads = sess.run([loss, *grads], {X: arrays[0]})
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    want = (leaves[0] ** 2).sum()
    for out, w in zip(_build("torch", leaves, steps), weights, strict=True):
        want = want + (out * torch.tensor(w)).sum()
    want.backward()
    assert got == pytest.approx(want.item(), rel=1e-9, abs=1e-12)
    for g, leaf in zip(got_grads, leaves, strict=True):
        expected = leaf.grad.numpy() if leaf.grad is not None else np.zeros(leaf.shape)
        np.testing.assert_allclose(np.reshape(g, expected.shape), expected, rtol=1e-8, atol=1e-10)
