"""Every primitive record × every path works, or the record declares the gap (symgrad.coverage).

One walk of the registry (every path of every record, the CUDA samples in one emulated module)
feeds one test per (record, path); the walk also runs on throwaway records that break a path, to
show it finds each kind of failure; README's table is the command's output.
"""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import coverage
from symgrad.cli import main
from symgrad.cuda_emu import compiler
from symgrad.primitives import PATHS, RECORDS, MatrixPrimitive, Primitive
from symgrad.primitives.registry import add_record

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- coverage:begin -->\n(.*?)<!-- coverage:end -->", re.S)
RECORD_NAMES = [r.name for r in coverage.scalar_records()]


@pytest.fixture(scope="module")
def walk():
    results = coverage.run(oracle=coverage.tensorflow())
    return {(r.record, r.path): r for r in results}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", RECORD_NAMES)
def test_every_path_works_or_is_declared(walk, name, path):
    result = walk[name, path]
    if result.status == "skip":
        pytest.skip(result.detail)
    assert result.status in ("ok", "gap"), f"{name} × {path}: {result.detail}"


def test_the_walk_covers_every_scalar_record_and_path(walk):
    assert {(n, p) for n in RECORD_NAMES for p in PATHS} == set(walk)
    assert {"sigmoid", "Add", "Piecewise", "StrictGreaterThan", "logsumexp", "expm1"} <= set(RECORD_NAMES)


# -- the walk finds each kind of failure in a new record ---------------------------------------------------
def _cube(name):
    return type(name, (sp.Function,), {"nargs": 1})


FULL = dict(
    partials=lambda n: [3 * n.args[0] ** 2], vjp=lambda g, ans, v: [g * 3.0 * v * v], evaluate=lambda b, v: v * v * v,
    mpmath=lambda v: v**3,
)


def _spellings(name, cuda_body="x*x*x"):
    return dict(numpy=f"def {name}(x):\n    return x*x*x", loop=f"def scalar_{name}(x):\n    return x*x*x",
                cuda=f"__device__ inline sg_real sg_{name}(sg_real x) {{ return {cuda_body}; }}")


@pytest.fixture
def throwaway():
    """Records added by a test, removed from the registry afterwards."""
    added = []

    def add(record):
        added.append(record.function)
        return record

    yield add
    for cls in added:
        RECORDS.pop(cls, None)


def _walk(record, cuda=False):
    """The walk of one record (the CUDA path only where a test reads it: each builds a module)."""
    paths = PATHS if cuda else tuple(p for p in PATHS if p != "cuda")
    return {r.path: r for r in coverage.run([record], paths=paths)}


def test_a_registered_function_is_walked_and_passes_where_given(throwaway):
    cls = _cube("cov_cube")
    record = throwaway(symgrad.register(cls, **FULL, **_spellings("cov_cube")))
    assert "cov_cube" in [r.name for r in coverage.scalar_records()]
    found = _walk(record, cuda=True)
    if found["cuda"].status == "skip":
        found.pop("cuda")
    assert {p: r.status for p, r in found.items() if r.status != "ok"} == {"tf": "gap"}, found
    assert found["tf"].detail == "not given to symgrad.register"


def test_an_undeclared_missing_path_fails(throwaway):
    cls = _cube("cov_nocuda")
    spelled = _spellings("cov_nocuda")
    del spelled["cuda"]
    registered = throwaway(symgrad.register(cls, **FULL, **spelled))
    record = add_record(dataclasses.replace(registered, gaps={}))  # as if nobody had declared what is missing
    found = _walk(record, cuda=True)
    assert found["tf"].status == "FAIL" and "undeclared gap" in found["tf"].detail
    if compiler():
        assert found["cuda"].status == "FAIL" and "cuda spelling" in found["cuda"].detail
    assert found["numpy"].status == found["symbolic"].status == "ok"


def test_a_wrong_vjp_fails_against_differences_and_the_partials(throwaway):
    cls = _cube("cov_badvjp")
    record = throwaway(symgrad.register(cls, **{**FULL, "vjp": lambda g, ans, v: [g * 3.0 * v]},
                                        **_spellings("cov_badvjp")))
    found = _walk(record)
    assert found["vjp"].status == "FAIL" and "central differences" in found["vjp"].detail
    assert found["symbolic"].status == "ok"


def test_a_vjp_that_drops_dual_tangents_fails_the_hessian(throwaway):
    cls = _cube("cov_flatvjp")  # right first derivatives; its tangent (the second derivative) is lost
    vjp = lambda g, ans, v: [g * 3.0 * np.square(getattr(v, "value", v))]  # noqa: E731
    found = _walk(throwaway(symgrad.register(cls, **{**FULL, "vjp": vjp}, **_spellings("cov_flatvjp"))))
    assert found["vjp"].status == "ok"
    assert found["hessian"].status == "FAIL" and "against" in found["hessian"].detail


def test_a_wrong_partial_fails(throwaway):
    cls = _cube("cov_badpartial")
    record = throwaway(symgrad.register(cls, **{**FULL, "partials": lambda n: [2 * n.args[0] ** 2]},
                                        **_spellings("cov_badpartial")))
    found = _walk(record)
    assert found["symbolic"].status == found["hessian"].status == "FAIL"
    assert found["vjp"].status == "FAIL" and "symbolic partial" in found["vjp"].detail  # VJP ≠ partials


def test_wrong_spellings_fail_on_their_own_paths(throwaway):
    cls = _cube("cov_badprint")
    spelled = _spellings("cov_badprint", cuda_body="x*x")
    spelled["loop"] = "def scalar_cov_badprint(x):\n    return x*x*x + 1e-9"
    record = throwaway(symgrad.register(cls, **FULL, **spelled))
    found = _walk(record, cuda=True)
    assert found["loop"].status == "FAIL" and "loop printer" in found["loop"].detail
    assert found["numpy"].status == "ok"
    assert found["compile"].status == "FAIL"  # the per-sample loop's loss is off too
    if compiler():  # x*x compiles: only running the emulated kernel finds it wrong
        assert found["cuda"].status == "FAIL" and "host emulation" in found["cuda"].detail


def test_wrong_evaluation_and_mpmath_fail(throwaway):
    cls = _cube("cov_badeval")
    record = throwaway(symgrad.register(cls, **{**FULL, "evaluate": lambda b, v: v * v * v + 1e-6,
                                                "mpmath": lambda v: v**3 * (1 + 1e-9)}, **_spellings("cov_badeval")))
    found = _walk(record)
    assert found["numpy_eval"].status == "FAIL" and "numpy evaluation" in found["numpy_eval"].detail
    assert found["mpmath"].status == "FAIL"


def test_a_stale_gap_fails(throwaway):
    cls = _cube("cov_stale")
    record = throwaway(symgrad.register(cls, **FULL, **_spellings("cov_stale")))
    stale = add_record(dataclasses.replace(record, gaps={**record.gaps, "numpy": "said to be missing"}))
    found = _walk(stale)
    assert found["numpy"].status == "FAIL" and "remove it" in found["numpy"].detail


def test_a_gap_carries_to_the_paths_that_need_it(throwaway):
    cls = _cube("cov_noloop")
    spelled = _spellings("cov_noloop")
    del spelled["loop"]
    found = _walk(throwaway(symgrad.register(cls, **FULL, **spelled)))
    assert found["loop"].status == "gap" and found["compile"].status == "gap"
    assert found["compile"].detail == "needs loop: not given to symgrad.register"


def test_a_record_whose_sample_cannot_be_built_fails_every_path(throwaway):
    cls = _cube("cov_nodomain")
    found = _walk(throwaway(symgrad.register(cls, **FULL, **_spellings("cov_nodomain"), domain=("a", "b"))))
    assert {r.status for r in found.values()} == {"FAIL"}
    assert "cannot build its sample" in found["symbolic"].detail


def test_matrix_level_records_are_left_out_of_the_scalar_table(throwaway):
    class Fake(sp.MatrixExpr):
        pass

    class FakeDeterminant(sp.Determinant):
        pass

    throwaway(add_record(Primitive(Fake)))
    throwaway(add_record(Primitive(FakeDeterminant)))  # a scalar of a matrix argument
    assert not {"Fake", "FakeDeterminant"} & {r.name for r in coverage.scalar_records()}
    assert {"Fake", "FakeDeterminant"} <= set(coverage.other_records())
    assert "Matrix-level records, checked by their own tests" in coverage.table([], ["Fake"])
    assert "Fake" not in coverage.report()[0]  # a user's matrix records are not in README's table either



def test_every_matrix_record_serves_each_matrix_path_or_declares_why():
    undeclared = [(r.name, p) for r in coverage.matrix_records() for p in coverage.MATRIX_COLUMNS
                  if coverage.matrix_status(r, p)[0] == "missing"]
    assert undeclared == []
    names = {r.name for r in coverage.matrix_records(own=True)}
    assert {"Inverse", "Determinant", "LogDet", "MatMul", "RowSoftmax", "SumAll"} <= names


def test_a_matrix_record_without_a_rule_or_a_reason_fails_the_report(throwaway):
    class Bare(sp.MatrixExpr):
        pass

    record = MatrixPrimitive(Bare, adjoint=lambda node, G: [G], gaps={"linear": "not linear"})
    throwaway(add_record(record))
    assert coverage.matrix_status(record, "adjoint") == ("ok", "")
    assert coverage.matrix_status(record, "linear") == ("gap", "not linear")
    assert coverage.matrix_status(record, "forward")[0] == "missing"
    assert coverage.matrix_status(record, "cuda")[0] == "missing"  # nothing to print without a lower rule
    assert "**missing**" in coverage.matrix_table([record])
    assert "Bare" not in coverage.report()[0]  # a user's records are not in README's tables
    symgrad_own = [r for r in coverage.matrix_records(own=True)]
    assert all(coverage.matrix_status(r, p)[0] != "missing" for r in symgrad_own for p in coverage.MATRIX_COLUMNS)


# -- the table, the command, README --------------------------------------------------------------------
def test_readme_table_is_fresh(throwaway):
    throwaway(symgrad.register(_cube("cov_user")))  # a user's records are not symgrad's table
    block = BLOCK.search(README.read_text())
    assert block, "README.md has no <!-- coverage:begin --> ... <!-- coverage:end --> block"
    assert block.group(1) == coverage.report()[0], "README's coverage table is stale; paste `symgrad coverage` into it"


def test_the_command_prints_the_table(capsys):
    assert main(["coverage"]) == 0
    assert capsys.readouterr().out == coverage.report()[0]


def test_the_table_marks_gaps_with_their_reasons():
    text = coverage.table([coverage.Result("f", "cuda", "gap", "no C | spelling"), coverage.Result("f", "numpy", "ok"),
                           coverage.Result("g", "cuda", "FAIL", "wrong")])
    assert "| `f` |" in text and "gap [1]" in text and "1. no C | spelling" in text and "**FAIL**: wrong" in text
    assert "no C \\| spelling" not in text.splitlines()[-1]


# -- a fix the walk found: symgrad.tf's expm1 and log1p are the records, accurate near 0 ----------------------
def test_tf_expm1_and_log1p_keep_their_digits_near_zero():
    import symgrad.tf as tf

    x = tf.placeholder(tf.float64, shape=(None, 1))
    w = tf.Variable(np.array([[1.0]]))
    z = tf.matmul(x, w)
    loss = tf.reduce_sum(tf.expm1(z) + 2.0 * tf.log1p(z))
    (g,) = tf.gradients(loss, [w])
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        X = np.array([[1e-12], [3e-10]])
        got, grad = s.run([loss, g], feed_dict={x: X})
    want = float(np.sum(np.expm1(X) + 2.0 * np.log1p(X)))
    assert got == pytest.approx(want, rel=1e-14)  # exp(z) − 1 and log(1 + z) were off by ~1e-4 here
    np.testing.assert_allclose(grad, X.T @ (np.exp(X) + 2.0 / (1.0 + X)), rtol=1e-14)
