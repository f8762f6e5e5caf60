"""Templates live beside the package that renders them (README "Layout", "A target"): a `templates/`
folder inside a package, never a top-level folder the wheel would not carry, and every template a
module names exists in its own folder."""

import ast
from pathlib import Path

from symgrad.targets.templates import render, templates_beside

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symgrad"


def test_every_template_sits_in_a_packages_templates_folder():
    templates = sorted(PACKAGE.rglob("*.j2"))
    assert templates
    misplaced = [str(t.relative_to(ROOT)) for t in templates
                 if t.parent.name != "templates" or not (t.parent.parent / "__init__.py").is_file()]
    assert misplaced == []
    assert not (ROOT / "templates").exists(), "templates/ at the repository root: move them beside their package"


def _rendered_names(module):
    """The template names `module` passes to render(TEMPLATES, "name", ...)."""
    for node in ast.walk(ast.parse(module.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "render"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            yield node.args[1].value


def test_every_rendered_template_exists_beside_its_module():
    calls = {module: list(_rendered_names(module)) for module in PACKAGE.rglob("*.py")}
    calls = {m: names for m, names in calls.items() if names}
    assert len(calls) >= 5  # numpy and CUDA renderers (scalar, matrix), derivation, emulation
    missing = [f"{m.relative_to(ROOT)}: {n}" for m, names in calls.items() for n in names
               if not (templates_beside(m) / n).is_file()]
    assert missing == []


def test_render_reads_the_folder_it_is_given(tmp_path):
    (tmp_path / "x.txt.j2").write_text("{{ a }}+{{ b }}\n")
    assert render(tmp_path, "x.txt.j2", a=1, b=2) == "1+2\n"
