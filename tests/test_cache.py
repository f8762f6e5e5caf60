"""The kernel cache: content-addressed, atomic, verified; concurrent builders; the CLI."""

import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import cli
from symgrad.cache import ENV_VAR, KernelCache, default_directory

x, y, w, b = sp.symbols("x y w b", real=True)
LOSS = (symgrad.sigmoid(w * x + b) - y) ** 2
VALUES = {x: np.array([0.5, -1.0, 2.0]), y: np.array([1.0, 0.0, 1.0]), w: 0.3, b: 0.1}


def _compile(directory, loss=LOSS, **kw):
    return symgrad.compile(loss, wrt=[w, b], inputs=[x, y], cache=directory, **kw)


def test_second_compile_is_a_hit_with_the_same_results(tmp_path):
    first = _compile(tmp_path)
    second = _compile(tmp_path)
    assert (first.cache_status, second.cache_status) == ("miss", "hit")
    assert second.source == first.source
    assert second.loss_and_grad(VALUES) == first.loss_and_grad(VALUES)
    assert str(second.ir) == str(first.ir)  # the IR is rebuilt on demand
    assert len(KernelCache(tmp_path).entries()) == 1


def test_key_changes_with_everything_the_code_depends_on(tmp_path):
    _compile(tmp_path)
    for kw in ({"dtype": "float32"}, {"name": "other"}, {"rewrites": ()}, {"method": "diff"}):
        assert _compile(tmp_path, **kw).cache_status == "miss", kw
    assert _compile(tmp_path, loss=LOSS + w**2).cache_status == "miss"
    x_pos = sp.Symbol("x", positive=True)  # same name, other assumptions: other expression
    k = symgrad.compile(LOSS.subs(x, x_pos), wrt=[w, b], inputs=[x_pos, y], cache=tmp_path)
    assert k.cache_status == "miss"


def _corrupt(path, how):
    text = path.read_text()
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "edited":
        entry = json.loads(text)
        entry["source"] = entry["source"].replace("loss = ", "loss = 2 * ", 1)
        path.write_text(json.dumps(entry))
    elif how == "injected":
        entry = json.loads(text)
        sentinel = path.parent.parent / "PWNED"
        entry["source"] = f"open({str(sentinel)!r}, 'w').close()\n" + entry["source"]
        path.write_text(json.dumps(entry))


@pytest.mark.parametrize("how", ["truncated", "edited", "injected"])
def test_damaged_entry_is_rebuilt_never_executed(tmp_path, how):
    good = _compile(tmp_path)
    (entry,) = KernelCache(tmp_path).entries()
    _corrupt(entry, how)
    again = _compile(tmp_path)
    assert again.cache_status == "rebuilt"
    assert not (tmp_path / "PWNED").exists()
    assert again.loss_and_grad(VALUES) == good.loss_and_grad(VALUES)
    assert _compile(tmp_path).cache_status == "hit"  # the entry was replaced by a valid one


def _worker(directory, barrier, queue):
    barrier.wait()
    kernel = _compile(directory)
    queue.put((kernel.cache_status, kernel.loss_and_grad(VALUES)))


def test_processes_compiling_the_same_kernel_at_once_all_succeed(tmp_path):
    ctx = mp.get_context("spawn")
    n = 4
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), barrier, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    expected = symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y], cache=False)
    assert all(r[1] == expected.loss_and_grad(VALUES) for r in results)
    store = KernelCache(tmp_path)
    assert len(store.entries()) == 1
    assert not list(tmp_path.glob("??/.*.tmp")), "a temporary file was left behind"
    assert store.load(store.entries()[0].stem)[1] == "hit"


def test_cache_can_be_disabled_and_located(tmp_path, monkeypatch):
    assert symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y], cache=False).cache_status == "off"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert default_directory() == tmp_path / "env"
    assert symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y]).cache_status == "miss"
    assert len(KernelCache(tmp_path / "env").entries()) == 1
    with pytest.raises(symgrad.InvalidArgumentError, match="cache must be"):
        symgrad.compile(LOSS, wrt=[w, b], inputs=[x, y], cache=3)


def test_suite_compiles_into_its_own_cache_directory(kernel_cache_directory):
    assert default_directory() == kernel_cache_directory != Path.home() / ".cache" / "symgrad"
    kernel = symgrad.compile(LOSS + 3 * w, wrt=[w, b], inputs=[x, y])
    assert kernel.cache_status in ("miss", "hit")
    assert KernelCache(kernel_cache_directory).entries(), "the default-cache compile left no entry in the session directory"


def test_unwritable_cache_is_our_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(symgrad.CacheError, match="cannot (read|write) cache entry"):
        _compile(blocker)


def test_cli_info_and_clear(tmp_path, capsys):
    _compile(tmp_path)
    _compile(tmp_path, dtype="float32")
    assert cli.main(["cache", "info", "--dir", str(tmp_path)]) == 0
    assert "entries   2" in capsys.readouterr().out
    assert cli.main(["cache", "clear", "--dir", str(tmp_path)]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert KernelCache(tmp_path).info()["entries"] == 0
    assert _compile(tmp_path).cache_status == "miss"
