"""Compiling matrix-level models: symbolic gradient → `KernelIR` → numpy module → `Kernel` (level MATRIX).

Every option of `symgrad.compile` means here what it means for a scalar expression: `method`
names the differentiation (the matrix rules are reverse mode; "diff" is refused by name),
`rewrites` the stable rewrites applied to the loss before differentiating and to every lowered
expression (entrywise bodies and scalar parts alike: the rules match sympy's scalar nodes),
`max_ops` bounds the operations of the matrix DAG, and the cache is `symgrad.cache.load_or_build`,
the one path scalar kernels take too.
"""

from .. import cache as kernel_cache
from ..diagnostics import check_size
from ..errors import InvalidArgumentError, UnsupportedError
from ..load import cached_kernel
from ..lowering import lower
from ..lowering.matrix import canonical
from ..rewrite import select, stabilize
from ..symbolic import METHODS
from ..targets.numpy.matrix import render_numpy_matrix
from ..values import as_symbol_list
from .rules import as_scalar_loss, reverse
from .runtime import MATRIX


def check_method(method):
    """`method` as the scalar level reads it; "diff" (sympy.diff per entry) has no matrix form."""
    if method not in METHODS:
        raise InvalidArgumentError(f"method must be one of {METHODS}, got {method!r}")
    if method != "reverse":
        raise UnsupportedError(
            f"method={method!r} does not apply to a matrix-level model (sympy.diff cannot differentiate "
            "matrix nodes such as Map or SumAll); use method='reverse', the matrix rules' reverse mode")


def build_matrix_ir(expr, wrt, inputs, outputs=(), name="kernel", dtype="float64", adjoints=None,
                    rewrites=None, max_ops=None):
    """Lower a matrix-level loss (a matrix means the sum of its entries) and its gradients.

    `adjoints`, a dict, receives every node's adjoint expression (derivation documents cite them).
    `rewrites` and `max_ops` as for `symgrad.compiler.build_ir`.
    """
    rules = select(rewrites)
    expr = as_scalar_loss(expr)
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    check_size("loss", [expr, *outputs], max_ops)
    expr, *outputs = stabilize([expr, *outputs], rules)
    adjoints = {} if adjoints is None else adjoints
    grads = reverse(expr, wrt, adjoints)
    check_size("loss with its gradient", [expr, *grads, *outputs], max_ops)
    rewritten = {}
    expr, *roots = stabilize([expr, *grads, *outputs], rules, mapping=rewritten)
    grads, outputs = roots[:len(grads)], roots[len(grads):]
    adjoints.update({rewritten.get(k, k): rewritten.get(v, v) for k, v in adjoints.items()})
    return lower(name, expr, grads, list(outputs), inputs, wrt, dtype=dtype, rewrites=(), adjoints=adjoints,
                 level="matrix")  # rewritten above


def compile_matrix(expr, wrt, inputs, outputs=(), name="kernel", dtype="float64", target="numpy", store=None,
                   method="reverse", rewrites=None, max_ops=None):
    """A loaded kernel; numpy modules go through the kernel cache `store` (a KernelCache or None)."""
    check_method(method)
    select(rewrites)  # an unknown rule name is an error even on a cache hit
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    loss = as_scalar_loss(expr)
    check_size("loss", [loss, *outputs], max_ops)

    def build():
        return build_matrix_ir(expr, wrt, inputs, outputs, name, dtype, rewrites=rewrites, max_ops=max_ops)

    if target == "cuda":
        from ..cuda_runtime import cuda_kernel
        from ..targets.cuda.matrix import render_cuda_matrix

        ir = build()
        return cuda_kernel(ir, render_cuda_matrix(ir), level=MATRIX)
    key = None
    if store is not None:
        loss_key, *outs = canonical([loss, *outputs])
        key = kernel_cache.kernel_key(loss_key, wrt, inputs, outs, name, target, dtype, method, rewrites)

    return cached_kernel(store, key, build, render_numpy_matrix, name, wrt, inputs, dtype, MATRIX)
