"""How derivation scales: symgrad's symbolic reverse mode next to sympy.diff + cse and symengine.

For scalar sigmoid MLPs with squared-error loss (4-3-1, 4-16-1, 4-16-16-1, 8-32-32-1, then larger
until the time budget is spent) it prints, measured in this run:

- operation counts: the forward pass, the naive per-parameter `sympy.diff` gradient written out as
  trees, that gradient after `sympy.cse`, and symgrad's reverse-mode gradient (a DAG sharing the
  forward pass; its ratio to the forward count is the issue's ≤ 3× target);
- seconds for each of symgrad's stages (derive, lower, render, import; their total is the ≤ 2 s
  target for 8-32-32-1), and for `sympy.diff`, `sympy.cse` and symengine's `diff` + `cse`.

The sympy and symengine baselines run in a subprocess with a timeout (`--timeout`), so a baseline
that swells does not stop the table: it prints "> Ns".

    python bench/derive_scale.py [--timeout 60] [--budget 600] [--repeats 3]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sympy as sp  # noqa: E402

from symgrad import functions as F  # noqa: E402
from symgrad import nn, symbolic  # noqa: E402
from symgrad.dag import op_count, tree_op_count  # noqa: E402
from symgrad.lowering import lower  # noqa: E402
from symgrad.runtime import load_module  # noqa: E402
from symgrad.targets.numpy.scalar import render_numpy  # noqa: E402

SIZES = [[4, 3, 1], [4, 16, 1], [4, 16, 16, 1], [8, 32, 32, 1], [8, 64, 64, 1], [16, 128, 128, 1], [32, 256, 256, 1]]
STAGES = ("derive", "lower", "render", "import")


def label(sizes):
    return "-".join(map(str, sizes))


def symgrad_once(sizes):
    """Seconds per stage of symgrad's pipeline and the operation counts, for one fresh model."""
    sp.core.cache.clear_cache()  # no stage may profit from a previous repeat's cached nodes
    model = nn.mlp(sizes)
    seconds = {}
    t = time.perf_counter()
    grads = symbolic.grad(model.loss, list(model.params))
    seconds["derive"] = time.perf_counter() - t
    t = time.perf_counter()
    ir = lower(model.name, model.loss, grads, list(model.outputs), list(model.data), list(model.params))
    seconds["lower"] = time.perf_counter() - t
    t = time.perf_counter()
    source = render_numpy(ir)
    seconds["render"] = time.perf_counter() - t
    t = time.perf_counter()
    load_module(source, model.name)
    seconds["import"] = time.perf_counter() - t
    counts = {"forward": op_count([model.loss]), "reverse": op_count(grads), "params": len(model.params)}
    return seconds, counts


def symgrad_median(sizes, repeats):
    runs = [symgrad_once(sizes) for _ in range(repeats)]
    seconds = {s: statistics.median(r[0][s] for r in runs) for s in STAGES}
    seconds["total"] = statistics.median(sum(r[0].values()) for r in runs)
    return seconds, runs[0][1]


def sympy_baseline(sizes):
    """sympy.diff per parameter, then sympy.cse (run in a child process)."""
    model = nn.mlp(sizes)
    out = {}
    t = time.perf_counter()
    grads = [sp.diff(model.loss, p) for p in model.params]
    out["diff_s"] = time.perf_counter() - t
    out["tree_ops"] = tree_op_count(grads)
    print(json.dumps(out), flush=True)  # reported even when cse then times out
    t = time.perf_counter()
    replacements, reduced = sp.cse(grads)
    out["cse_s"] = time.perf_counter() - t
    out["cse_ops"] = op_count([rhs for _, rhs in replacements] + list(reduced))
    print(json.dumps(out), flush=True)


def symengine_baseline(sizes):
    """symengine's diff per parameter and its cse, on the same loss with σ written as 1/(1 + e^(−z))."""
    import symengine as se

    model = nn.mlp(sizes)
    loss = model.loss.replace(F.sigmoid, lambda z: 1 / (1 + sp.exp(-z)))
    t = time.perf_counter()
    expr = se.sympify(loss)
    params = [se.Symbol(p.name) for p in model.params]
    grads = [expr.diff(p) for p in params]
    out = {"diff_s": time.perf_counter() - t}
    print(json.dumps(out), flush=True)
    t = time.perf_counter()
    se.cse(grads)
    out["cse_s"] = time.perf_counter() - t
    print(json.dumps(out), flush=True)


BASELINES = {"sympy": sympy_baseline, "symengine": symengine_baseline}


def run_baseline(kind, sizes, timeout):
    """The baseline's last report from a child process ({} fields missing where it timed out)."""
    cmd = [sys.executable, __file__, "--baseline", kind, "--sizes", label(sizes)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        text = done.stdout
    except subprocess.TimeoutExpired as exc:
        text = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def have_symengine():
    try:
        import symengine  # noqa: F401
    except ImportError:
        return False
    return True


def fmt_s(value, timeout):
    return f"> {timeout:.0f}s" if value is None else f"{value:.3f}"


def fmt_n(value):
    return "-" if value is None else f"{value:,}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per baseline run (sympy, symengine)")
    parser.add_argument("--budget", type=float, default=600.0, help="stop adding larger sizes after this many seconds")
    parser.add_argument("--repeats", type=int, default=3, help="symgrad pipeline runs per size (median)")
    parser.add_argument("--baseline", choices=sorted(BASELINES), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        BASELINES[args.baseline]([int(s) for s in args.sizes.split("-")])
        return

    started = time.perf_counter()
    symengine_ok = have_symengine()
    rows = []
    for sizes in SIZES:
        if rows and time.perf_counter() - started > args.budget and sizes not in SIZES[:4]:
            break
        seconds, counts = symgrad_median(sizes, args.repeats)
        naive = run_baseline("sympy", sizes, args.timeout)
        engine = run_baseline("symengine", sizes, args.timeout) if symengine_ok else None
        rows.append((sizes, seconds, counts, naive, engine))
        print(f"done {label(sizes)} after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    t = args.timeout
    print("operation counts (DAG: each distinct operation once; tree: written out without sharing)")
    print(f"{'model':<14}{'params':>8}{'forward':>10}{'diff (tree)':>16}{'diff+cse':>12}{'reverse':>10}{'reverse/fwd':>13}")
    for sizes, _, c, naive, _ in rows:
        print(f"{label(sizes):<14}{c['params']:>8,}{c['forward']:>10,}{fmt_n(naive.get('tree_ops')):>16}"
              f"{fmt_n(naive.get('cse_ops')):>12}{c['reverse']:>10,}{c['reverse'] / c['forward']:>12.2f}x")
    print()
    print(f"seconds (symgrad: median of {args.repeats}; baselines: one run each, timeout {t:.0f} s)")
    head = f"{'model':<14}" + "".join(f"{s:>9}" for s in STAGES) + f"{'total':>9}"
    head += f"{'sympy diff':>12}{'sympy cse':>11}"
    head += f"{'se diff':>10}{'se cse':>9}" if symengine_ok else ""
    print(head)
    for sizes, s, _, naive, engine in rows:
        line = f"{label(sizes):<14}" + "".join(f"{s[k]:>9.3f}" for k in STAGES) + f"{s['total']:>9.3f}"
        line += f"{fmt_s(naive.get('diff_s'), t):>12}{fmt_s(naive.get('cse_s'), t):>11}"
        if engine is not None:
            line += f"{fmt_s(engine.get('diff_s'), t):>10}{fmt_s(engine.get('cse_s'), t):>9}"
        print(line)
    if not symengine_ok:
        print("symengine is not installed (pip install symengine): its columns are left out")
    target = next((r for r in rows if r[0] == [8, 32, 32, 1]), None)
    if target:
        _, s, c, _, _ = target
        print(f"\n8-32-32-1 targets: derive+lower+render+import {s['total']:.2f} s (<= 2 s), "
              f"gradient ops {c['reverse'] / c['forward']:.2f}x forward (<= 3x)")


if __name__ == "__main__":
    main()
