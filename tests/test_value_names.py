"""The scalar kernel's values have names a person can follow: `z1_0`, `h1_0` forward, `d_z1_0`,
`d_W1_0_0` backward (each the adjoint its name says, checked against numeric autodiff), `grad_*` the
sums. Names are deterministic and distinct whatever the user's symbols are called."""

import keyword
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hostile_names import hostile_names
from test_name_collisions import PIECES, deadline

import symgrad
from symgrad import autodiff, models
from symgrad.compiler import build_ir
from symgrad.ir import Phase
from symgrad.names import C_KEYWORDS, CUDA_NAMES, RESERVED, Namer, identifier

ROOT = Path(__file__).resolve().parents[1]
_ASSIGN = re.compile(r"^    ([A-Za-z_]\w*) = ")
# user names spelled like the values the lowering names itself
LOOKALIKES = ["z1_0", "h1_0", "d_z1_0", "d_W1_0_0", "grad_W1_0_0", "sample_loss", "error2_0", "sum_1", "neg_1",
              "output", "v_sum_1", "z1_0_1", "d", "grad"]


def _function_lines(source, name):
    lines = source.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"def {name}(")))
    end = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("def ")), len(lines))
    return lines[start:end]


def test_the_generated_seed_modules_backward_lines_are_named_adjoints():
    source = (ROOT / "generated" / "numpy" / "seed.py").read_text()
    targets = [m[1] for line in _function_lines(source, "loss_and_grad_vectorized") if (m := _ASSIGN.match(line))]
    backward = targets[targets.index("sample_loss") + 1 : targets.index("loss")]
    assert backward and all(t.startswith("d_") for t in backward), backward
    assert {"d_z2_0", "d_z1_0", "d_z1_2", "d_W1_0_0", "d_W2_2_0"} <= set(backward)
    forward = targets[targets.index("z1_0") : targets.index("sample_loss")]
    assert forward == ["z1_0", "h1_0", "z1_1", "h1_1", "z1_2", "h1_2", "z2_0", "h2_0", "error2_0"]
    assert not [t for t in targets if re.fullmatch(r"t\d+", t)], "an anonymous temporary is left"


def _line_values(kernel, values):
    """Every value `loss_and_grad_vectorized` assigns, by name (its locals at the return)."""
    lines = _function_lines(kernel.source, "loss_and_grad_vectorized")
    body = "\n".join([line for line in lines if not line.startswith("    return ")] + ["    return dict(locals())"])
    scope = {}
    exec(compile(kernel.source + "\n\n" + body.replace("def loss_and_grad_vectorized(", "def _all_values(", 1),
                 "<values>", "exec"), scope)
    return scope["_all_values"](*kernel.arguments(values))


@pytest.mark.parametrize("build", [models.seed, models.perceptron, lambda: symgrad.nn.mlp([3, 4, 2], "tanh", name="m342")])
def test_each_adjoint_line_is_the_adjoint_its_name_says(build):
    """d_<param> per sample is that parameter's per-sample gradient; d_z<unit> is the bias b<unit>'s
    (∂z/∂b = 1): both compared with numeric autodiff, which never reads names."""
    model = build()
    kernel = symgrad.compile(model.loss, wrt=list(model.params), inputs=list(model.data), cache=False)
    rng = np.random.default_rng(3)
    values = {p: float(rng.normal()) for p in model.params}
    values |= {d: rng.normal(size=40) for d in model.data}
    got = _line_values(kernel, values)
    idents = {v.ident: v.symbol for v in kernel.ir.params}
    per_sample = {}
    for k in range(40):
        sample = {s: (v[k] if isinstance(v, np.ndarray) else v) for s, v in values.items()}
        for p, g in zip(model.params, autodiff.backward(model.loss, list(model.params), sample).grads, strict=True):
            per_sample.setdefault(p, []).append(float(np.squeeze(g)))
    checked = 0
    for name, value in got.items():
        if not name.startswith("d_"):
            continue
        rest = name[2:]
        symbol = idents.get(rest) or (idents.get("b" + rest[1:]) if rest.startswith("z") else None)
        assert symbol is not None, f"{name} is the adjoint of nothing the test can name"
        np.testing.assert_allclose(np.broadcast_to(value, (40,)), per_sample[symbol], rtol=1e-10, atol=1e-12, err_msg=name)
        checked += 1
    assert checked >= len(model.params) // 2


def _hostile_model(tmp_path):
    names = hostile_names(tmp_path / "PWNED") + LOOKALIKES
    seed = models.seed()
    data = [sp.Symbol(nm, real=True) for nm in names]
    params = [sp.Symbol(nm, positive=True) for nm in names]
    loss = seed.loss + sp.Add(*[symgrad.softplus(p * d) + (p - d) ** 2 for p, d in zip(params, data, strict=True)])
    return loss, [*seed.params, *params], [*seed.data, *data]


def _safe(ident):
    return (ident.isidentifier() and ident.isascii() and not keyword.iskeyword(ident) and ident not in C_KEYWORDS
            and ident not in CUDA_NAMES and ident not in RESERVED and not ident.endswith("_"))


def test_names_stay_distinct_safe_and_correct_when_user_symbols_look_like_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loss, params, data = _hostile_model(tmp_path)
    with deadline(120):
        ir = build_ir(loss, params, data, name="hostile")
    names = [v.ident for v in ir.args] + [t for st in ir.statements for t in st.targets]
    assert len(set(names)) == len(names)
    assert all(_safe(n) for n in names if n != "loss"), [n for n in names if not _safe(n)]  # `loss`: reserved for it
    user = {v.ident for v in ir.args}
    assert not [st.target for st in ir.statements if st.phase is Phase.BACKWARD and not st.target.startswith("d_")
                and st.target in user]
    kernel = symgrad.compile(loss, wrt=params, inputs=data, cache=False)
    rng = np.random.default_rng(0)
    values = {p: float(rng.uniform(0.5, 1.5)) for p in params} | {d: rng.normal(size=20) for d in data}
    value, grads = kernel.loss_and_grad(values)
    expected = autodiff.backward(loss, params, values)
    np.testing.assert_allclose(grads, expected.grads, rtol=1e-10, atol=1e-12)
    assert not (tmp_path / "PWNED").exists()


_LISTING = """
import sys, sympy as sp
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_value_names import _hostile_model
from symgrad.compiler import build_ir
loss, params, data = _hostile_model(Path({tmp!r}))
print(build_ir(loss, params, data, name="hostile"))
"""


def test_naming_is_deterministic_across_processes_and_hash_seeds(tmp_path):
    script = _LISTING.format(tests=str(ROOT / "tests"), tmp=str(tmp_path))
    listings = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        listings.append(run.stdout)
    assert listings[0] == listings[1]
    assert re.search(r"\] d_z1_0\w*: float64\[N\] = ", listings[0])  # suffixed: the user took z1_0 and z1_0_1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES + ["z1", "grad", "_1", "d_z"]), max_size=4).map("".join), max_size=10),
       st.lists(st.sampled_from(["z1_0", "d_z1_0", "sum", "neg", "sigmoid", "grad_x", "sg_v", "t0", "v", "lambda"]), max_size=12),
       st.booleans())
def test_fresh_names_always_end_distinct_and_safe(users, bases, numbered):
    namer = Namer()
    taken = [namer.user(u) for u in users]
    with deadline(5):
        fresh = [namer.fresh(identifier(b), numbered) for b in bases]
    assert len(set(taken + fresh)) == len(taken) + len(fresh)
    assert all(_safe(f) and not re.match(r"^(t\d+|grad_\w*|scalar_\w*|sg_\w*|_\w*)$", f) for f in fresh), fresh
