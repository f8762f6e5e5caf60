"""Safe identifiers for generated code.

A symbol's name never lands in generated text as-is: it becomes an ASCII identifier that is no
keyword of Python or C/CUDA (nor a CUDA built-in or math function), collides with no name the
generated code uses itself (`sg_*` in CUDA kernels, `d_*` adjoints, `grad_*` gradient sums), is unique
after sanitising, and never ends in `_` (the CUDA target names data pointers `x_`). Free text
(comments) is escaped by `comment_text`.
"""

import builtins
import keyword
import re

C_KEYWORDS = set(
    """auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef union
    unsigned void volatile while bool true false class namespace template typename this new delete
    operator private public protected virtual friend using try catch throw nullptr __global__
    __device__ __host__ __shared__ main""".split()
)
# what a CUDA kernel body can see besides our names: built-in variables, math functions, macros
CUDA_NAMES = set(
    """threadIdx blockIdx blockDim gridDim warpSize atomicAdd isfinite isnan isinf signbit
    exp log log1p expm1 sqrt pow fabs fmax fmin tanh sinh cosh asinh acosh atanh sin cos tan asin acos
    atan atan2 floor ceil erf erfc tgamma lgamma cbrt hypot exp2 log2 log10 round trunc fmod copysign
    INFINITY NAN HUGE_VAL""".split()
)
CUDA_NAMES |= {name + "f" for name in CUDA_NAMES if name.islower()}
# names the generated modules define or use themselves
RESERVED = {
    "np", "math", "cp", "n", "i", "self", "loss", "predict", "loss_and_grad", "loss_and_grad_vectorized",
    "loss_and_grad_loop", "per_sample_grad", "DATA", "PARAMS", "LOOP_MAX",
    "sigmoid", "softplus", "logsigmoid", "relu", "step", "logsumexp", "sinc", "dsinc",
} | set(dir(builtins))
_INTERNAL = re.compile(r"^(t\d+|d_\w*|grad_\w*|scalar_\w*|sg_\w*|_\w*)$")
_NOT_VALUE = re.compile(r"^(t\d+|grad_\w*|scalar_\w*|sg_\w*|_\w*)$")  # internal, but no value's name


def identifier(name):
    """An ASCII identifier spelling `name` as closely as possible (not yet de-duplicated)."""
    out = []
    for ch in str(name):
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            out.append(ch)
        elif ch.isascii():
            out.append("_")
        else:
            out.append(f"u{ord(ch):x}")
    ident = "".join(out).strip("_") or "v"
    if ident[0].isdigit():
        ident = "v" + ident
    return ident


def _outside_internal(ident):
    """`ident`, or `v_ident` when it is spelled like a generated name (t0, d_x, sg_*, scalar_*)."""
    return "v_" + ident if _INTERNAL.match(ident) else ident


class Namer:
    """Hands out unique safe identifiers; user names keep their spelling where that is safe."""

    def __init__(self):
        self.used = set()
        self._next = {}  # base -> the first k >= 1 `fresh` has not found taken (names are only ever added)
        self._last = None  # the identifier `_take_value` took last

    def _ok(self, ident):
        return not (
            ident in self.used
            or keyword.iskeyword(ident)
            or ident in C_KEYWORDS
            or ident in CUDA_NAMES
            or ident in RESERVED
            or _INTERNAL.match(ident)
        )

    def user(self, name):
        """A fresh identifier for a user's name. Terminates: the candidates `base`, `base_1`,
        `base_2` ... are distinct and never internal (an internal spelling such as `d_1` gets the
        prefix `v_`), and only finitely many non-internal names are taken or reserved."""
        base, k = _outside_internal(identifier(name)), 0
        ident = base
        while not self._ok(ident):
            k += 1
            ident = _outside_internal(f"{base}_{k}")
        self.used.add(ident)
        return ident

    def fresh(self, base, numbered=False):
        """A fresh identifier for one of the kernel's own values, spelled after `base` (a safe
        identifier: `z1_0`, `d_W1_0_0`, `sum`): `base`, else `base_1`, `base_2` ... (from `base_1`
        when `numbered`). Called after every user name is taken, so it cannot take one. Terminates:
        the candidates are distinct, never spelled like the other generated names (those get the
        prefix `v_`), and only finitely many names are taken or reserved. Each base resumes where its
        last search ended (every earlier candidate is taken for good), so n values named after one
        base cost O(n), not O(n²)."""
        if not numbered and self._take_value(base):
            return self._last
        k = self._next.get(base, 1)
        while not self._take_value(f"{base}_{k}"):
            k += 1
        self._next[base] = k + 1
        return self._last

    def _take_value(self, ident):
        """Take `ident` (prefixed `v_` where it is spelled like a generated name) if it is free."""
        ident = "v_" + ident if _NOT_VALUE.match(ident) else ident
        if ident in self.used or not self._ok_value(ident):
            return False
        self.used.add(ident)
        self._last = ident
        return True

    @staticmethod
    def _ok_value(ident):
        return not (keyword.iskeyword(ident) or ident in C_KEYWORDS or ident in CUDA_NAMES or ident in RESERVED)

    def internal(self, prefix, index):
        """Names for generated temporaries (t0, d_W1 ...); the user namespace never produces them."""
        ident = f"{prefix}{index}"
        self.used.add(ident)
        return ident


def comment_text(text, width=72):
    """`text` made safe for a one-line comment in Python or C: printable ASCII, no comment closers."""
    text = "".join(
        (ch if ch.isprintable() else " ") if ch.isascii() else f"U+{ord(ch):04X}" for ch in str(text)
    )
    # a backslash could splice the next line into a C comment; "*/" would close a block comment
    text = text.replace("\\", "(backslash)").replace("*/", "* /")
    return text if len(text) <= width else text[: width - 3] + "..."
