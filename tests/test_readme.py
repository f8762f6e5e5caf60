"""Every Python snippet in README.md runs as written (in a fresh namespace, from a temporary folder)."""

import re
from pathlib import Path

import pytest

from symgrad.primitives import RECORDS

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_snippets():
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}:{s.splitlines()[0][:40]}" for i, s in enumerate(SNIPPETS)])
def test_readme_snippet_runs(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    registered = dict(RECORDS)  # a snippet's symgrad.register stays inside the snippet
    try:
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    finally:
        RECORDS.clear()
        RECORDS.update(registered)


def test_readme_hessian_comments_are_what_symgrad_prints():
    (code,) = [s for s in SNIPPETS if "symgrad.hessian(" in s]
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102
    for line in code.splitlines():
        call, _, comment = line.partition("#")
        if call.startswith("symgrad.hessian(") and comment.strip():
            assert str(eval(call, namespace)) == comment.strip(), line  # noqa: S307
