"""Hostile symbol names: keywords, non-identifiers, unicode, collisions, injection attempts.

Whatever a name says, the generated code must run what the model says and nothing else: the
sentinel file an injected command would create never appears, and every kernel still agrees with
numeric autodiff (which never turns names into code).
"""

import ast
import io
import tokenize

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import autodiff

SENTINEL = "PWNED"


def hostile_names(sentinel_path):
    touch = f"__import__('os').system('touch {sentinel_path}')"
    return [
        # keywords and builtins of Python, keywords of C/CUDA, names the generated code uses itself
        "lambda", "class", "None", "print", "int", "float", "return", "__global__", "np", "math", "n", "loss",
        "t0", "d_x", "scalar_sigmoid", "sigmoid", "DATA", "LOOP_MAX", "self", "i",
        # not identifiers
        "x y", "x-y", "1x", "x.y", "", "_", "__", "x\ny", "x\\", "*/", "/*", "x#y", "x'y", 'x"y', "{{ 7*7 }}", "{% raw %}",
        # unicode, and spellings that collide once sanitised
        "α", "β_1", "ß", "x\u200by", "a b", "a-b", "a_b", "a.b", "a\tb",
        # injection attempts
        f"); {touch}", f"x\n{touch}", f"'''\n{touch}\n'''", f'"""; {touch}; """', f"# */ {touch}",
        f"x); {touch}; (", f"{{{{ {touch} }}}}",
    ]


def _model(names):
    """A loss over one data symbol and one parameter per hostile name (both namespaces collide)."""
    data = [sp.Symbol(nm, real=True) for nm in names]
    params = [sp.Symbol(nm, positive=True) for nm in names]  # same spelling, other symbol
    terms = [symgrad.softplus(p * d) + (p - d) ** 2 / (i + 1) for i, (p, d) in enumerate(zip(data, params, strict=True))]
    return sp.Add(*terms), params, data


def _values(params, data, n, rng):
    vals = {d: rng.normal(size=n) for d in data}
    vals.update({p: float(rng.uniform(0.5, 1.5)) for p in params})
    return vals


def _assert_safe_and_correct(tmp_path, names, cache):
    loss, params, data = _model(names)
    rng = np.random.default_rng(0)
    for n in (3, 40):  # the per-sample loop and the vectorized path
        kernel = symgrad.compile(loss, wrt=params, inputs=data, outputs=[loss], cache=cache)
        values = _values(params, data, n, rng)
        value, grads = kernel.loss_and_grad(values)
        expected = autodiff.backward(loss, params, values)
        assert value == pytest.approx(float(np.sum(expected.value)), rel=1e-12)
        np.testing.assert_allclose(grads, expected.grads, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(kernel.per_sample_grad(values).sum(axis=0), expected.grads, rtol=1e-10, atol=1e-12)
        (pred,) = kernel.predict(values)
        np.testing.assert_allclose(pred, expected.value, rtol=1e-12)
        compile(kernel.source, "<check>", "exec")  # valid Python
    assert not (tmp_path / SENTINEL).exists(), "a name was executed"


def test_hostile_names_run_nothing_and_stay_correct(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = hostile_names(tmp_path / SENTINEL)
    _assert_safe_and_correct(tmp_path, names, cache=False)
    _assert_safe_and_correct(tmp_path, names, cache=tmp_path / "cache")  # fresh entry, then a hit


def test_generated_text_holds_names_only_as_safe_identifiers_or_literals(tmp_path):
    """Tokenized, the module names nothing an injection needs; names appear only inside literals
    (DATA/PARAMS, via repr) and comments, or as sanitised identifiers."""
    names = hostile_names(tmp_path / SENTINEL)
    loss, params, data = _model(names)
    source = symgrad.compile(loss, wrt=params, inputs=data, cache=False).source
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    identifiers = {t.string for t in tokens if t.type == tokenize.NAME}
    assert not identifiers & {"__import__", "os", "system", "eval", "exec", "open"}
    assert all(t.string.isascii() for t in tokens if t.type == tokenize.NAME)
    strings = [t.string for t in tokens if t.type == tokenize.STRING]
    assert all(ast.literal_eval(s) is not None for s in strings)  # plain literals, nothing more


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=4, unique=True))
def test_random_text_names_compile_to_correct_code(tmp_path, names):
    _assert_safe_and_correct(tmp_path, names, cache=False)
