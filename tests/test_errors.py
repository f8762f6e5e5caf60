"""The bad-input table (tests/bad_input_cases.py): each case raises our documented error, the
subgradient convention holds on every path, and docs/errors.md is what the cases produce."""

import difflib
import warnings

import pytest
from bad_input_cases import (
    CASES,
    CLI_CASES,
    DOC,
    KINKS,
    WARNING_CASES,
    cli_message,
    kink_values,
    render,
    warning_message,
)

import symgrad


@pytest.mark.parametrize("case,trigger,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_our_named_error(case, trigger, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's log(0) warning before our error
        with pytest.raises(expected) as info:
            trigger()
    assert isinstance(info.value, symgrad.SymgradError)
    assert "Traceback" not in str(info.value) and len(str(info.value)) > 20


@pytest.mark.parametrize("case,trigger,expected", WARNING_CASES, ids=[c[0] for c in WARNING_CASES])
def test_model_that_cannot_learn_warns_once(case, trigger, expected):
    assert issubclass(expected, symgrad.SymgradWarning)
    assert len(warning_message(trigger, expected)) > 40


@pytest.mark.parametrize("argv", CLI_CASES, ids=[" ".join(a) for a in CLI_CASES])
def test_bad_command_line_is_a_usage_error_before_any_work(argv):
    status, message = cli_message(argv)
    assert status == 2
    assert message.startswith(f"symgrad {argv[0]}: error: argument ") and "Traceback" not in message


@pytest.mark.parametrize("label,expr,point,why", KINKS, ids=[k[0] for k in KINKS])
def test_subgradient_convention_is_the_same_on_every_path(label, expr, point, why):
    values = kink_values(expr, point)
    assert len(set(values.values())) == 1, values


def test_errors_doc_is_current():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        text = render()
    current = DOC.read_text() if DOC.exists() else ""
    diff = "".join(difflib.unified_diff(current.splitlines(True), text.splitlines(True), "docs/errors.md", "generated"))
    assert not diff, f"docs/errors.md is stale; regenerate with `PYTHONPATH=. python tests/bad_input_cases.py`\n{diff}"


@pytest.mark.parametrize("n", [3, 40], ids=["per-sample loop", "vectorized"])
def test_nonfinite_propagate_gives_the_ieee_result_on_both_paths(n):
    import numpy as np
    import sympy as sp

    x, w = sp.symbols("x w", real=True)
    loss = symgrad.relu(w * x) + sp.log(x**2) + sp.exp(w * x)
    k = symgrad.compile(loss, wrt=[w], inputs=[x], cache=False)
    with np.errstate(all="ignore"):
        for bad, expected in ((np.nan, np.nan), (0.0, -np.inf), (1000.0, np.inf)):
            data = np.full(n, 2.0)
            data[1] = bad
            value, (g,) = k.loss_and_grad({x: data, w: 1.0}, nonfinite="propagate")
            assert np.isnan(value) if np.isnan(expected) else value == expected, (bad, value)
            assert np.isfinite(g) == (bad == 0.0)  # d/dw has no log(x) term: finite at x = 0
            with pytest.raises(symgrad.NonFiniteError):
                k.loss_and_grad({x: data, w: 1.0})
