"""numpy helpers of the matrix target: reductions as BLAS products and transposed copies, the stable
sigmoid in two buffers.

numpy reduces along a short axis slowly. Measured single-threaded on 4096×10 float32:
`a.sum(axis=1)` takes ~8x as long as the BLAS product `a @ ones`, `a.max(axis=1)` ~10x as long as
copying the transpose and reducing down its columns (3x at 256×10, where a loop of `np.maximum` over
the columns was no faster than `max`; 2x at 4096×32; from about 64 columns `max` itself is faster),
and on 4096×64 `a.sum(axis=0)` ~4x as long as `ones @ a`. The
sigmoid is the shared helper's form (the sigmoid record's `Helper`, `primitives/activations.py`), the same numbers bit for bit, with its
temporaries written in place: a 1 MB array that numpy allocates afresh costs more page faults than
the `exp` costs work. Where no entry is below the dtype's overflow limit of e^-x (every activation
of a trained network, in practice) that is 1/(1 + e^-x) in four passes and one minimum, otherwise
the seven passes of the form with e^-|x| that stays exact down to subnormal results.
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
        "    \"\"\"a.max(axis=1, keepdims=True); up to 64 columns as the column maxima of the transposed copy.\"\"\"\n"
        "    if not 0 < a.shape[1] <= 64:\n"
        "        return a.max(axis=1, keepdims=True)\n"
        "    return np.ascontiguousarray(a.T).max(axis=0)[:, None]"
    ),
    "sigmoid": (
        "def sigmoid(x, out=None):\n"
        "    if not isinstance(x, np.ndarray):  # a scalar: through a 0-d array, and a scalar again\n"
        "        return sigmoid(np.asarray(x, dtype=np.result_type(x, 1.0)))[()]\n"
        "    out = np.empty_like(x) if out is None else out  # out may be x itself\n"
        "    limit = {'f': -87.0, 'd': -708.0}.get(x.dtype.char)  # NaN anywhere: the second form\n"
        "    if limit is not None and np.minimum.reduce(x, None, initial=limit) >= limit:  # (x.min() adds a Python layer)\n"
        "        e = np.exp(np.negative(x, out=out), out=out)  # e^-x cannot overflow: 1/(1 + e^-x)\n"
        "        return np.divide(1.0, np.add(1.0, e, out=e), out=e)\n"
        "    positive = x >= 0.0\n"
        "    e = np.abs(x, out=out)\n"
        "    np.exp(np.negative(e, out=e), out=e)  # e^-|x| never overflows\n"
        "    numerator = np.maximum(e, positive)  # 1 for x >= 0, e below\n"
        "    return np.divide(numerator, np.add(1.0, e, out=e), out=e)"
    ),
}
