"""Compiling matrix-level models: symbolic gradient → `MatrixKernelIR` → numpy module → `MatrixKernel`."""

from .. import cache as kernel_cache
from ..runtime import load_module
from ..targets.numpy.matrix import render_numpy_matrix
from ..values import as_symbol_list
from .lower import canonical, lower
from .rules import as_scalar_loss, reverse
from .runtime import MatrixKernel

METHOD = "matrix-reverse"  # the cache key's differentiation method for matrix kernels


def build_matrix_ir(expr, wrt, inputs, outputs=(), name="kernel", dtype="float64", adjoints=None):
    """Lower a matrix-level loss (a matrix means the sum of its entries) and its gradients.

    `adjoints`, a dict, receives every node's adjoint expression (derivation documents cite them).
    """
    expr = as_scalar_loss(expr)
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    adjoints = {} if adjoints is None else adjoints
    grads = reverse(expr, wrt, adjoints)
    return lower(name, expr, grads, list(outputs), inputs, wrt, dtype=dtype, adjoints=adjoints)


def compile_matrix(expr, wrt, inputs, outputs=(), name="kernel", dtype="float64", target="numpy", store=None):
    """A loaded kernel; numpy modules go through the kernel cache `store` (a KernelCache or None)."""

    def build():
        return build_matrix_ir(expr, wrt, inputs, outputs, name, dtype)

    if target == "cuda":
        from ..cuda_runtime import CudaMatrixKernel
        from ..targets.cuda.matrix import render_cuda_matrix

        ir = build()
        return CudaMatrixKernel(ir, render_cuda_matrix(ir))
    if store is None:
        ir = build()
        source = render_numpy_matrix(ir)
        return MatrixKernel(ir, source, load_module(source, ir.name))
    loss, *outs = canonical([as_scalar_loss(expr), *outputs])
    wrt, inputs = as_symbol_list(wrt), as_symbol_list(inputs or [], "inputs")
    key = kernel_cache.kernel_key(loss, wrt, inputs, outs, name, target, dtype, METHOD, None)
    source, status = store.load(key)
    if source is not None:
        kernel = MatrixKernel.from_cache(source, load_module(source, name), name, wrt, inputs, dtype, build, status)
        kernel.cache_key = key
        return kernel
    ir = build()
    source = render_numpy_matrix(ir)
    store.store(key, source)
    kernel = MatrixKernel(ir, source, load_module(source, ir.name))
    kernel.cache_status, kernel.cache_key = ("rebuilt" if status == "corrupt" else "miss"), key
    return kernel
