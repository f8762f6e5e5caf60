"""Compiling second derivatives: gradient, closed-form Hessian and H·V → `MatrixKernelIR` → numpy.

The same lowering and renderer as the gradient kernels (`lower`, `targets.numpy.matrix`): the
Hessian of logistic regression becomes `hessian = X.T @ (X * (d * (1 - d)))`-style lines, one
BLAS product, no n×n temporaries besides the result.
"""

import numpy as np
import sympy as sp

from ..errors import InvalidArgumentError
from ..runtime import all_finite, check_finite, load_module
from ..targets.numpy.matrix import render_numpy_hessian
from ..values import as_symbol_list, bind
from .forward import jvp
from .graph import matrix_symbols
from .hessian import direction_for
from .linear import coefficient
from .lower import lower
from .rules import as_scalar_loss, reverse
from .runtime import MATRIX, as_argument


def _fresh_directions(expr, wrt, inputs):
    """`v_<name>` per parameter, renamed where the model already uses that name."""
    taken = {str(s) for s in matrix_symbols([expr]) | set(wrt) | set(inputs)}
    out = []
    for w in wrt:
        v = direction_for(w)
        while v.name in taken:
            v = v.func(f"{v.name}_", *v.args[1:]) if isinstance(v, sp.MatrixSymbol) else sp.Symbol(f"{v.name}_", real=True)
        taken.add(v.name)
        out.append(v)
    return out


def has_hessian(wrt):
    """A closed-form Hessian matrix exists for a single n×1 parameter (else H·V only)."""
    return len(wrt) == 1 and isinstance(wrt[0], sp.MatrixSymbol) and wrt[0].shape[1] == 1


def build_hessian_ir(expr, wrt, inputs, name="hessian_kernel", dtype="float64"):
    """(IR, direction symbols): loss, gradient, Hessian (n×1 parameter) and H·V lowered together."""
    expr = as_scalar_loss(expr)
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    adjoints = {}
    grads = reverse(expr, wrt, adjoints)
    directions = _fresh_directions(expr, wrt, inputs)
    products = jvp(grads, dict(zip(wrt, directions, strict=True)))
    extras = [("hessian", coefficient(products[0], directions[0]))] if has_hessian(wrt) else []
    extras += [("hvp" if len(wrt) == 1 else f"hvp_{k}", p) for k, p in enumerate(products, start=1)]
    ir = lower(name, expr, grads, [], [*inputs, *directions], wrt, dtype=dtype, adjoints=adjoints, extras=extras)
    return ir, directions


def compile_hessian(expr, wrt, inputs=(), name="hessian_kernel", dtype="float64"):
    """A loaded `HessianKernel` for the matrix-level loss `expr` in the parameters `wrt`."""
    ir, directions = build_hessian_ir(expr, wrt, inputs, name, dtype)
    idents = [v.ident for v in ir.data if v.symbol in set(directions)]
    source = render_numpy_hessian(ir, idents)
    return HessianKernel(ir, source, load_module(source, ir.name), directions)


class HessianKernel:
    """Generated second derivatives: `.hessian(values)` (n×n, for one n×1 parameter),
    `.hvp(values, directions)` (H·V per parameter, any shapes), `.loss_and_grad(values)`.
    Values are keyed by MatrixSymbol, directions are arrays in `wrt` order."""

    def __init__(self, ir, source, module, directions):
        self.ir, self.source, self.module = ir, source, module
        self.name, self.directions = ir.name, list(directions)
        self.wrt = [v.symbol for v in ir.params]
        self.inputs = [v.symbol for v in ir.data if v.symbol not in set(self.directions)]
        self.dtype = np.dtype(ir.dtype)

    def __repr__(self):
        return f"<symgrad HessianKernel {self.ir.name!r} params={len(self.wrt)} {self.dtype}>"

    def arguments(self, values, nonfinite="raise"):
        """Data then parameters, bound as every matrix-level kernel binds them (`MATRIX`)."""
        return MATRIX.arguments(self, values, nonfinite)

    def loss_and_grad(self, values, nonfinite="raise"):
        return MATRIX.gradients(self, self.module.loss_and_grad(*self.arguments(values, nonfinite)), nonfinite)

    def hessian(self, values, nonfinite="raise"):
        if not hasattr(self.module, "hessian"):
            raise InvalidArgumentError(
                f"a Hessian matrix needs one n×1 parameter (this kernel has {', '.join(map(str, self.wrt))}); use .hvp"
            )
        out = np.asarray(self.module.hessian(*self.arguments(values, nonfinite)), dtype=self.dtype)
        check_finite(self.ir.name, nonfinite, {"the Hessian": out})
        return out

    def hvp(self, values, directions, nonfinite="raise"):
        """[H·V for each parameter], `directions` one array per parameter (its shape)."""
        directions = [directions] if isinstance(directions, np.ndarray) else list(directions)
        if len(directions) != len(self.wrt):
            raise InvalidArgumentError(f"hvp needs {len(self.wrt)} directions (one per parameter), got {len(directions)}")
        bound_dirs, _ = bind(self.directions, {**values, **dict(zip(self.directions, directions, strict=True))},
                             dtype=self.dtype, nonfinite=nonfinite)
        for d, w in zip(self.directions, self.wrt, strict=True):
            want = np.shape(values[w]) if w in values else None
            if want is not None and np.shape(bound_dirs[d]) != want:
                raise InvalidArgumentError(f"the direction for {w} has shape {np.shape(bound_dirs[d])}, not {want}")
        args = self.arguments(values, nonfinite) + [as_argument(bound_dirs[d]) for d in self.directions]
        out = [np.asarray(np.broadcast_to(p, np.shape(bound_dirs[d])), dtype=self.dtype)
               for p, d in zip(self.module.hvp(*args), self.directions, strict=True)]
        if nonfinite == "raise" and not all_finite(out):
            check_finite(self.ir.name, nonfinite, {f"H·v for {w}": p for w, p in zip(self.wrt, out, strict=True)})
        return out
