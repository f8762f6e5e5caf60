"""Imports point down the pipeline only: no module imports another that (directly or not) imports it.

The same check as `lint-imports` (the contracts in pyproject.toml), run by `pytest` so a new circle
fails the suite: the import graph is grimp's (import-linter's own), which reads every import
statement, those inside functions included.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import symgrad
from symgrad import symbolic

grimp = pytest.importorskip("grimp", reason="the import-graph checks need grimp (installed with import-linter)")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FACES = {"symgrad", "symgrad.matrix"}  # __init__ modules that re-export every layer


def import_graph(package="symgrad"):
    return grimp.build_graph(package, include_external_packages=False, cache_dir=None)


def import_circles(graph):
    """The strongly connected components of more than one module (Tarjan's, iterative), sorted."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index, low, on, stack, out = {}, {}, set(), [], []
    for start in sorted(edges):
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        work = [(start, iter(edges[start]))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(edges[child])))
                    break
                if child in on:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return sorted(out)


def _layers():
    """The layers of the pyproject.toml contract, top first, each a set of module names."""
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [{name.strip() for name in layer.replace("|", ":").split(":")} for layer in layers]


def _layer_modules():
    return [name for layer in _layers() for name in sorted(layer)]


def test_symgrad_has_no_import_circles():
    circles = import_circles(import_graph())
    assert not circles, "import circles (move the shared piece down a layer, see README 'Layout'):\n" + "\n".join(
        " <-> ".join(c) for c in circles
    )


def test_every_source_file_is_in_the_import_graph():
    """A folder without __init__.py is a namespace package, which grimp (and so the checks) skip."""
    graph = import_graph()
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
             for p in (ROOT / "symgrad").rglob("*.py")}
    assert files - graph.modules == set()


def test_every_module_sits_in_a_layer():
    """A new module has to be placed in the pipeline (pyproject.toml, [tool.importlinter])."""
    layers = _layer_modules()
    unplaced = {m for m in import_graph().modules - PACKAGE_FACES
                if not any(m == layer or m.startswith(layer + ".") for layer in layers)}
    assert unplaced == set(), f"add these to a layer of the contract in pyproject.toml: {sorted(unplaced)}"


def test_no_module_imports_a_package_face():
    """`symgrad` and `symgrad.matrix` re-export every layer; a module importing them imports upwards."""
    graph = import_graph()
    importers = {face: graph.find_modules_that_directly_import(face) for face in PACKAGE_FACES}
    assert importers == {face: set() for face in PACKAGE_FACES}


def test_import_contracts_are_kept():
    pytest.importorskip("importlinter", reason="lint-imports needs import-linter")
    run = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_circle_finder_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The check can fail: a two-module circle closed by a function-level import is found."""
    pkg = tmp_path / "circular_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def late():\n    from . import high\n\n    return high\n")
    (pkg / "high.py").write_text("from . import low\n")
    (pkg / "alone.py").write_text("import os\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_circles(import_graph("circular_pkg")) == [["circular_pkg.high", "circular_pkg.low"]]


def test_the_scalar_engine_refuses_matrix_models_and_the_public_grad_takes_both():
    """symgrad.grad picks the engine; symgrad.symbolic (below the matrix package) no longer does."""
    W = sp.MatrixSymbol("W", 2, 2)
    loss = symgrad.matrix.SumAll(sp.HadamardPower(W, 2))
    with pytest.raises(symgrad.InvalidArgumentError, match="symgrad.grad"):
        symbolic.grad(loss, [W])
    (g,) = symgrad.grad(loss, [W])
    assert sp.Matrix(g.subs({W: sp.Matrix([[1, 2], [3, 4]])}).doit()) == sp.Matrix([[2, 4], [6, 8]])


def test_readme_layout_table_lists_the_contract_layers_in_order():
    """README's Layout table names the same layers as the contract, bottom row (and group) first."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| layer | modules"):].split("\n\n")[0].splitlines()[2:]
    groups = []
    for row in table:
        for group in row.split("|")[2].split(";"):
            names = re.findall(r"`([\w/]+(?:\.py|/))`", group)
            groups.append({"symgrad." + n.removesuffix(".py").removesuffix("/").replace("/", ".") for n in names})
    assert groups == list(reversed(_layers()))
