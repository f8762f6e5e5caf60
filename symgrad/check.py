"""`symgrad.check`: symbolic, autodiff, finite differences (and PyTorch) side by side."""

import time
from dataclasses import dataclass, field

import numpy as np

from . import autodiff, symbolic
from .dag import free_symbols, op_count, tree_op_count
from .matrix.graph import is_matrix_level
from .numeric import TorchBackend, evaluate
from .rewrite import stabilize
from .values import as_expr, as_symbol_list, bind

RTOL, ATOL = 1e-6, 1e-8
FD_RTOL, FD_ATOL = 1e-5, 1e-6


def batch_total(value, batch, shape):
    """A per-sample gradient value summed over the batch down to its symbol's `shape`."""
    full = np.broadcast_to(value, np.broadcast_shapes(np.shape(value), batch, shape))
    return autodiff.unbroadcast(full, shape)


def finite_difference(expr, wrt, values, step=1e-6):
    """Central differences of Σ_batch expr for each symbol in `wrt` (scalar-valued ones)."""
    bound, _ = bind(sorted(free_symbols([expr]) | set(wrt), key=str), values)
    out = []
    for w in wrt:
        base = np.asarray(bound[w], dtype=float)
        h = step * max(1.0, float(np.max(np.abs(base)))) if base.size else step
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            shifted = dict(bound)
            plus, minus = base.copy(), base.copy()
            plus[idx] += h
            minus[idx] -= h
            shifted[w] = plus
            (fp,) = evaluate([expr], shifted)
            shifted[w] = minus
            (fm,) = evaluate([expr], shifted)
            grad[idx] = (np.sum(fp) - np.sum(fm)) / (2 * h)
        out.append(float(grad) if grad.ndim == 0 else grad)
    return out


def torch_grad(expr, wrt, values):
    """PyTorch autograd's gradient (float64), or None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    bound, _ = bind(sorted(free_symbols([expr]) | set(wrt), key=str), values)
    tensors = {s: torch.tensor(v, dtype=torch.float64, requires_grad=s in set(wrt)) for s, v in bound.items()}
    (value,) = evaluate([expr], tensors, TorchBackend())
    grads = torch.autograd.grad(value.sum(), [tensors[w] for w in wrt], allow_unused=True)
    return [0.0 if g is None else (g.item() if g.ndim == 0 else g.numpy()) for g in grads]


@dataclass
class Row:
    name: str
    symbolic: object
    autodiff: object
    fd: object
    torch: object = None


@dataclass
class Report:
    """The agreement table; `.ok` is True when every path matches within the stated tolerances."""

    rows: list
    max_abs_error: float
    max_rel_error: float
    fd_max_rel_error: float
    torch_max_rel_error: float | None
    ok: bool
    op_counts: dict
    seconds: dict
    fallbacks: list = field(default_factory=list)
    tolerances: dict = field(default_factory=dict)

    def __str__(self):
        has_torch = self.torch_max_rel_error is not None
        head = f"{'parameter':<14}{'symbolic':>16}{'autodiff':>16}{'finite diff':>16}" + (f"{'pytorch':>16}" if has_torch else "")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            vals = [r.symbolic, r.autodiff, r.fd] + ([r.torch] if has_torch else [])
            lines.append(f"{r.name[:13]:<14}" + "".join(f"{_fmt(v):>16}" for v in vals))
        lines.append("")
        lines.append(f"symbolic vs autodiff: max abs error {self.max_abs_error:.2e}, max rel error {self.max_rel_error:.2e}"
                     f" (tolerance rel {self.tolerances['rtol']:.0e}, abs {self.tolerances['atol']:.0e})")
        lines.append(f"finite differences vs autodiff: max rel error {self.fd_max_rel_error:.2e}"
                     f" (tolerance rel {self.tolerances['fd_rtol']:.0e}, abs {self.tolerances['fd_atol']:.0e})")
        if has_torch:
            lines.append(f"pytorch vs autodiff: max rel error {self.torch_max_rel_error:.2e}")
        c = self.op_counts
        tree = "" if c["gradient_tree"] is None else f"gradient naive (tree) {c['gradient_tree']}, "
        lines.append(f"ops: forward {c['forward']}, {tree}gradient after CSE {c['gradient_cse']}")
        lines.append("seconds: " + ", ".join(f"{k} {v:.4f}" for k, v in self.seconds.items()))
        if self.fallbacks:
            lines.append("autodiff used sympy's derivative for: " + ", ".join(self.fallbacks))
        lines.append("PASS" if self.ok else "FAIL")
        return "\n".join(lines)

    def _repr_markdown_(self):
        return "```\n" + str(self) + "\n```"


def _fmt(v):
    return "—" if v is None else (f"{v:.9g}" if np.ndim(v) == 0 else f"array{np.shape(v)}")


def _rel(a, b, atol):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), atol))) if a.size else 0.0


def check(expr, wrt, values, method="reverse", rtol=RTOL, atol=ATOL, fd_rtol=FD_RTOL, fd_atol=FD_ATOL):
    """Compare the symbolic gradient, numeric autodiff, central finite differences and PyTorch.

    Matrix-level expressions (values keyed by MatrixSymbol) go to `symgrad.matrix.check`.
    """
    expr, wrt = as_expr(expr), as_symbol_list(wrt)
    if is_matrix_level(expr, wrt):
        from .matrix.check import check as matrix_check

        return matrix_check(expr, wrt, values, rtol, atol, fd_rtol, fd_atol)
    # every column evaluates the stable forms the kernels use (σ'(40) is 1.3e-17, not 1 − 1 = 0)
    (expr,) = stabilize([expr])
    seconds = {}
    t = time.perf_counter()
    sym_exprs = stabilize(symbolic.grad(expr, wrt, method=method))
    seconds["symbolic derive"] = time.perf_counter() - t
    bound, batch = bind(sorted(free_symbols([expr]) | set(wrt), key=str), values)
    t = time.perf_counter()
    sym_vals = [batch_total(v, batch, np.shape(bound[w])) for v, w in zip(evaluate(sym_exprs, bound), wrt)]
    seconds["symbolic evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    result = autodiff.backward(expr, wrt, values)
    seconds["autodiff"] = time.perf_counter() - t
    t = time.perf_counter()
    fd = finite_difference(expr, wrt, values)
    seconds["finite differences"] = time.perf_counter() - t
    t = time.perf_counter()
    tg = torch_grad(expr, wrt, values)
    seconds["pytorch"] = time.perf_counter() - t if tg is not None else 0.0

    ad = result.grads
    abs_err = max((float(np.max(np.abs(np.asarray(s, float) - np.asarray(a, float)))) for s, a in zip(sym_vals, ad)), default=0.0)
    rel_err = max((_rel(s, a, atol) for s, a in zip(sym_vals, ad)), default=0.0)
    fd_err = max((_rel(f, a, fd_atol) for f, a in zip(fd, ad)), default=0.0)
    torch_err = None if tg is None else max((_rel(g, a, atol) for g, a in zip(tg, ad)), default=0.0)
    ok = all(np.allclose(s, a, rtol=rtol, atol=atol) for s, a in zip(sym_vals, ad))
    ok = ok and all(np.allclose(f, a, rtol=fd_rtol, atol=fd_atol) for f, a in zip(fd, ad))
    if tg is not None:
        ok = ok and all(np.allclose(g, a, rtol=rtol, atol=atol) for g, a in zip(tg, ad))
    rows = [Row(str(w), _scalar(s), _scalar(a), _scalar(f), None if tg is None else _scalar(g))
            for w, s, a, f, g in zip(wrt, sym_vals, ad, fd, tg or [None] * len(wrt))]
    counts = {
        "forward": op_count([expr]),
        "gradient_tree": tree_op_count(symbolic.grad(expr, wrt, method="diff")) if op_count([expr]) < 2000 else None,
        "gradient_cse": op_count(sym_exprs),
    }
    return Report(rows, abs_err, rel_err, fd_err, torch_err, bool(ok), counts, seconds, result.fallbacks,
                  dict(rtol=rtol, atol=atol, fd_rtol=fd_rtol, fd_atol=fd_atol))


def _scalar(v):
    return None if v is None else (float(v) if np.ndim(v) == 0 else np.asarray(v))
