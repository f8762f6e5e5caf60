"""numpy helpers of the matrix target: reductions as BLAS products and column loops, the stable
sigmoid in two buffers.

numpy reduces along a short axis slowly. Measured single-threaded on 4096×10 float32:
`a.sum(axis=1)` takes ~8x as long as the BLAS product `a @ ones`, `a.max(axis=1)` ~5x as long as
`np.maximum` down its 10 columns, and on 4096×64 `a.sum(axis=0)` ~4x as long as `ones @ a`. The
sigmoid is the shared helper's form (the sigmoid record's `Helper`, `primitives/activations.py`), the same numbers bit for bit, with its
temporaries written in place: a 1 MB array that numpy allocates afresh costs more page faults than
the `exp` costs work.
"""

MATRIX_HELPERS = {
    "row_sums": (
        "def row_sums(a):\n"
        "    \"\"\"a.sum(axis=1, keepdims=True) as a BLAS product with a column of ones.\"\"\"\n"
        "    return a @ np.ones((a.shape[1], 1), dtype=a.dtype)"
    ),
    "column_sums": (
        "def column_sums(a):\n"
        "    \"\"\"a.sum(axis=0, keepdims=True) as a BLAS product with a row of ones.\"\"\"\n"
        "    return np.ones((1, a.shape[0]), dtype=a.dtype) @ a"
    ),
    "row_max": (
        "def row_max(a):\n"
        "    \"\"\"a.max(axis=1, keepdims=True); for a few columns np.maximum down them (NaN propagates alike).\"\"\"\n"
        "    if not 0 < a.shape[1] <= (16 if a.shape[0] >= 1024 else 10):\n"
        "        return a.max(axis=1, keepdims=True)\n"
        "    m = a[:, :1].copy()\n"
        "    for j in range(1, a.shape[1]):\n"
        "        np.maximum(m, a[:, j:j + 1], out=m)\n"
        "    return m"
    ),
    "sigmoid": (
        "def sigmoid(x, out=None):\n"
        "    positive = x >= 0.0\n"
        "    e = np.abs(x, out=out)  # out may be x itself\n"
        "    if not isinstance(e, np.ndarray):  # a scalar: nothing to write in place\n"
        "        e = np.exp(-e)\n"
        "        return np.maximum(e, positive) / (1.0 + e)\n"
        "    np.exp(np.negative(e, out=e), out=e)  # e^-|x| never overflows\n"
        "    numerator = np.maximum(e, positive)  # 1 for x >= 0, e below\n"
        "    return np.divide(numerator, np.add(1.0, e, out=e), out=e)"
    ),
}
