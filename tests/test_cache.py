"""The kernel cache: content-addressed, atomic, authenticated; concurrent builders; the CLI."""

import hashlib
import hmac
import json
import multiprocessing as mp
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symgrad
from symgrad import cli
from symgrad.cache import ENV_VAR, KEY_FILE, KernelCache, default_directory, secret

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


def _planted_source(source, sentinel):
    """A module that writes `sentinel` when imported and returns a gradient of 123 for every parameter."""
    # every gradient entry point (the prepared binding calls the loop and vectorized forms directly)
    wrapped = "".join(
        f"\n_real_{name} = {name}\n"
        f"def {name}(*args, **kwargs):\n"
        f"    value, grads = _real_{name}(*args, **kwargs)\n"
        f"    return value, [g * 0 + 123.0 for g in grads]\n"
        for name in ("loss_and_grad", "loss_and_grad_loop", "loss_and_grad_vectorized") if f"def {name}(" in source
    )
    return f"open({str(sentinel)!r}, 'w').close()\n" + source + wrapped


def _corrupt(path, how):
    """Damage or replace the entry at `path` the way someone with write access could."""
    text = path.read_text()
    entry = json.loads(text)
    sentinel = path.parent.parent / "PWNED"
    planted = _planted_source(entry["source"], sentinel)
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "edited":
        entry["source"] = entry["source"].replace("loss = ", "loss = 2 * ", 1)
        path.write_text(json.dumps(entry))
    elif how == "injected":
        entry["source"] = f"open({str(sentinel)!r}, 'w').close()\n" + entry["source"]
        path.write_text(json.dumps(entry))
    elif how == "planted, sha256 recomputed":  # digests one can compute without the secret key
        digest = hashlib.sha256(planted.encode()).hexdigest()
        path.write_text(json.dumps({**entry, "source": planted, "hmac": digest, "sha256": digest}))
    elif how == "planted, HMAC under a guessed key":
        mac = hmac.new(b"", (entry["key"] + "\0" + planted).encode(), hashlib.sha256).hexdigest()
        path.write_text(json.dumps({**entry, "source": planted, "hmac": mac}))
    elif how == "planted in the old sha256 format":
        path.write_text(json.dumps({"format": 1, "key": entry["key"], "source": planted,
                                    "sha256": hashlib.sha256(planted.encode()).hexdigest()}))
    elif how == "planted, key file removed":  # a fresh key signs nothing that was there before
        (path.parent.parent / KEY_FILE).unlink()
        mac = hmac.new(b"", (entry["key"] + "\0" + planted).encode(), hashlib.sha256).hexdigest()
        path.write_text(json.dumps({**entry, "source": planted, "hmac": mac}))
    elif how == "invalid utf-8":
        path.write_bytes(text.encode()[:40] + b"\xff\xfe\xc3(" + text.encode()[40:])
    elif how == "not a regular file":
        path.unlink()
        os.mkfifo(path)


DAMAGE = ["truncated", "edited", "injected", "planted, sha256 recomputed", "planted, HMAC under a guessed key",
          "planted in the old sha256 format", "planted, key file removed", "invalid utf-8"]


@pytest.mark.parametrize("how", [*DAMAGE, pytest.param("not a regular file", marks=pytest.mark.skipif(
    not hasattr(os, "mkfifo"), reason="no named pipes on this platform"))])
def test_damaged_entry_is_rebuilt_never_executed(tmp_path, how):
    good = _compile(tmp_path)
    (entry,) = KernelCache(tmp_path).entries()
    _corrupt(entry, how)
    assert KernelCache(tmp_path).load(entry.stem) == (None, "corrupt")
    again = _compile(tmp_path)
    assert again.cache_status == "rebuilt"
    assert not (tmp_path / "PWNED").exists()
    assert again.loss_and_grad(VALUES) == good.loss_and_grad(VALUES)
    value, grads = again.loss_and_grad(VALUES)
    assert all(g != 123.0 for g in grads)
    assert _compile(tmp_path).cache_status == "hit"  # the entry was replaced by a valid one


def test_a_planted_entry_signed_with_the_key_would_run(tmp_path):
    """The tests above prove something: the same planted module, signed with the real key, is run."""
    _compile(tmp_path)
    store = KernelCache(tmp_path)
    (entry,) = store.entries()
    planted = _planted_source(json.loads(entry.read_text())["source"], tmp_path / "PWNED")
    store.store(entry.stem, planted)
    assert _compile(tmp_path).loss_and_grad(VALUES)[1] == [123.0, 123.0]
    assert (tmp_path / "PWNED").exists()


def test_secret_key_is_private_and_refused_when_it_is_not(tmp_path):
    _compile(tmp_path)
    key = tmp_path / KEY_FILE
    assert len(key.read_bytes()) == 32
    if os.name != "posix":
        return
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key.chmod(0o644)
    with pytest.raises(symgrad.CacheError, match=r"secret\.key is readable or writable by others .*delete it"):
        _compile(tmp_path)
    key.chmod(0o600)
    key.write_bytes(b"short")
    with pytest.raises(symgrad.CacheError, match="holds 5 bytes, not 32"):
        _compile(tmp_path)
    key.unlink()
    key.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(symgrad.CacheError, match="cannot read cache key"):
        _compile(tmp_path)
    key.unlink()
    assert _compile(tmp_path).cache_status == "rebuilt"  # a new key: the old entry is not trusted


def test_new_cache_directory_is_private(tmp_path):
    directory = tmp_path / "fresh"
    _compile(directory)
    if os.name == "posix":
        assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0


def _key_worker(directory, barrier, queue):
    barrier.wait()
    queue.put(secret(directory))


def test_processes_creating_the_key_at_once_agree_on_one(tmp_path):
    ctx = mp.get_context("spawn")
    n = 6
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_key_worker, args=(str(tmp_path / "new"), barrier, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    keys = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(set(keys)) == 1 and keys[0] == (tmp_path / "new" / KEY_FILE).read_bytes()
    assert sorted(f.name for f in (tmp_path / "new").iterdir()) == [KEY_FILE], "a temporary key file was left behind"


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_an_entry_is_a_miss_or_the_original_text(tmp_path, data):
    """Bytes flipped, cut, inserted anywhere: `load` never raises and never returns other text."""
    directory = tmp_path / data.draw(st.uuids()).hex
    store = KernelCache(directory)
    key, source = "ab" + "0" * 62, "def loss(x):\n    return x  # \u00e9\n"
    path = store.store(key, source)
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip" and at < len(raw):
            raw[at] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del raw[at:at + data.draw(st.integers(1, 40))]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    path.write_bytes(bytes(raw))
    got, status = KernelCache(directory).load(key)
    assert (got, status) in ((source, "hit"), (None, "corrupt"))
