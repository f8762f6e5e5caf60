"""The agreement table `symgrad.check` fills in at both levels, and its tolerances."""

from dataclasses import dataclass, field

import numpy as np

from .errors import NonFiniteError

RTOL, ATOL = 1e-6, 1e-8
FD_RTOL, FD_ATOL = 1e-5, 1e-6


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
    fd_steps: dict = field(default_factory=dict)  # parameter name -> (smallest, largest) central-difference step

    def __str__(self):
        has_torch = self.torch_max_rel_error is not None
        head = f"{'parameter':<14}{'symbolic':>16}{'autodiff':>16}{'finite diff':>16}" + (f"{'pytorch':>16}" if has_torch else "")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            vals = [r.symbolic, r.autodiff, r.fd] + ([r.torch] if has_torch else [])
            for name, entry in _entries(r.name, vals):
                lines.append(f"{name[:13]:<14}" + "".join(f"{_fmt(v):>16}" for v in entry))
        lines.append("")
        lines.append(f"symbolic vs autodiff: max abs error {self.max_abs_error:.2e}, max rel error {self.max_rel_error:.2e}"
                     f" (tolerance rel {self.tolerances['rtol']:.0e}, abs {self.tolerances['atol']:.0e})")
        lines.append(f"finite differences vs autodiff: max rel error {self.fd_max_rel_error:.2e}"
                     f" (tolerance rel {self.tolerances['fd_rtol']:.0e}, abs {self.tolerances['fd_atol']:.0e})")
        if self.fd_steps:
            lines.append("finite-difference steps: " + _steps_text(self.fd_steps))
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


def _steps_text(steps, listed=4):
    """Each parameter's step (range) for a few parameters, the overall range for many."""
    def span(lo, hi):
        return f"{lo:.1e}" if lo == hi else f"{lo:.1e}..{hi:.1e}"

    if len(steps) <= listed:
        return ", ".join(f"{name} {span(lo, hi)}" for name, (lo, hi) in steps.items())
    lo, hi = min(lo for lo, _ in steps.values()), max(hi for _, hi in steps.values())
    return f"{span(lo, hi)} over {len(steps)} parameters (each in Report.fd_steps)"


ENTRY_ROWS = 12  # an array row with at most this many entries is printed one line per entry


def _entries(name, vals):
    """(name, values) lines of one row: the row itself for numbers, `W1[0,1]` per entry for a
    small array (a matrix's entries, a few samples' data), the row of shapes for a large one."""
    shape = next((np.shape(v) for v in vals if v is not None and np.ndim(v)), None)
    if shape is None or int(np.prod(shape)) > ENTRY_ROWS:
        return [(name, vals)]
    return [(f"{name}[{','.join(map(str, idx))}]", [None if v is None else np.asarray(v)[idx] for v in vals])
            for idx in np.ndindex(shape)]


def _fmt(v):
    return "—" if v is None else (f"{v:.9g}" if np.ndim(v) == 0 else f"array{np.shape(v)}")


def relative_error(a, b, atol):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), atol))) if a.size else 0.0


def reported_value(v):
    return None if v is None else (float(v) if np.ndim(v) == 0 else np.asarray(v))


def torch_gradients(torch, value, leaves):
    """∂Σvalue/∂leaf for each leaf; None where the value does not depend on it (or on any leaf)."""
    value = torch.as_tensor(value, dtype=torch.float64)
    if not value.requires_grad:
        return [None] * len(leaves)
    return torch.autograd.grad(value.sum(), leaves, allow_unused=True)


def require_finite_loss(value, expr):
    """A gradient check needs a point where the loss is defined; our error names where it is not."""
    value = np.asarray(value, dtype=float)
    if np.all(np.isfinite(value)):
        return
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
    where = f"at sample {first[0] if len(first) == 1 else first} of" if first else "at"
    raise NonFiniteError(
        f"the loss {str(expr)[:60]} is {value[first]} {where} the given values, "
        "where the function is undefined (no Piecewise branch holds, log or a power of a negative number, ...); "
        "check the gradient at a point where the loss is finite"
    )
