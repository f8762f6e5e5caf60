"""The primitive record: everything symgrad knows about one operation, written in one place.

Every path reads the record of a node's class (nearest base class first): the symbolic sweep its
`partials`, numeric autodiff its `vjp` (written from the calculus independently of `partials`, so
`check` sets two derivations against each other), evaluation its `evaluate` (numpy, torch, and dual
numbers through numpy), the printers its spellings, the high-precision reference its `mpmath`,
`symgrad.tf` its op names, `nn`/Keras its activation name. A path the record cannot serve is a
declared `gaps` entry, which that path turns into our error naming what is missing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

PRINTER = "printer"  # spelling of an operator the target's printer writes itself (+, *, **, Piecewise, <)
# every path a record serves; `symgrad.coverage` exercises each one for every record
PATHS = ("symbolic", "vjp", "hessian", "numpy_eval", "torch_eval", "mpmath", "numpy", "loop", "cuda", "compile", "tf")
DOMAIN = (-2.0, 2.0)  # where a record's arguments are sampled unless it says otherwise


def tf_missing(*names):
    """The `tf` gap of a record whose TF op names symgrad.tf does not provide (yet)."""
    return {"tf": f"symgrad.tf has no {', '.join(names)}"}


@dataclass(frozen=True)
class Helper:
    """A function printed as a call of a helper defined once at the top of a generated module.

    `numpy`/`loop` are the helper's Python definitions (vectorized; one sample at a time, named
    `scalar_<name>`); `cuda(f, lit)` returns its `__device__` definition for a precision, `f`
    being the math-function suffix (`expf`) and `lit` the literal suffix (`1.0F`).
    """

    name: str
    numpy: str | None = None
    loop: str | None = None
    cuda: Callable[..., str] | None = None
    variadic: bool = False  # one CUDA helper per arity: sg_<name><arity>, cuda(f, lit, arity)

    def cuda_name(self, arity):
        return f"sg_{self.name}{arity}" if self.variadic else f"sg_{self.name}"

    def cuda_text(self, f, lit, arity):
        return self.cuda(f, lit, arity) if self.variadic else self.cuda(f, lit)


@dataclass(frozen=True)
class Primitive:
    """One operation (a sympy class) and its rule on every path; None where it has no rule.

    partials(node) -> [∂node/∂arg_i] as sympy expressions, reusing the node (σ' = σ(1 − σ));
    vjp(g, ans, *xs) -> one adjoint contribution per argument (None: none), numpy operations only so
    the same rule runs on dual numbers (Hessian-vector products);
    evaluate(backend, *xs) -> the value, in its stable form, on `backend` (numpy or torch);
    torch(backend, *xs) -> the value on torch where the numpy form does not carry over;
    numpy / loop / cuda -> the spelling per target: a function name (`"exp"` prints `np.exp(x)`,
    `math.exp(x)`, `exp(x)`/`expf(x)`) or a `Helper`;
    mpmath(*xs) -> the value at high precision (the reference gradient);
    tf -> the `symgrad.tf` op names that build it (entrywise: `tf.<name>`, `tf.math.<name>`, and
    `tf.nn.<name>` for an activation); tf_params -> the keyword parameters those ops take after
    their tensor inputs, with TensorFlow's defaults, filling the function's remaining arguments in
    order (`{"alpha": 0.2}` for leaky_relu); tf_inputs -> the names of their tensor inputs where
    TensorFlow's are not x, y, ... (`("y", "x")` for atan2, so `tf.atan2(y=a, x=b)` means atan2(a, b));
    activation -> the name `nn.mlp(activation=)`,
    `matrix_mlp` and Keras accept; rewrites -> the stable rewrites (symgrad.rewrite) that produce it;
    latex -> the operator's LaTeX (classes that print themselves need none);
    gaps -> path -> why that path has no rule (see PATHS);
    domain -> the open interval (lo, hi) the arguments are sampled from when the paths are checked,
    one for all arguments or a tuple of one per argument;
    sample(*symbols) -> the expression the paths are checked on, for a node that is not a function of
    its arguments alone (a Piecewise, a condition); by default the function applied to the symbols.
    """

    function: type
    partials: Callable | None = None
    vjp: Callable | None = None
    evaluate: Callable | None = None
    torch: Callable | None = None
    numpy: str | Helper | None = None
    loop: str | Helper | None = None
    cuda: str | Helper | None = None
    mpmath: Callable | None = None
    tf: tuple = ()
    tf_params: dict = field(default_factory=dict)
    tf_inputs: tuple = ()
    activation: str | None = None
    rewrites: tuple = ()
    latex: str | None = None
    gaps: dict = field(default_factory=dict)
    domain: tuple = DOMAIN
    sample: Callable | None = None

    @property
    def name(self):
        return self.function.__name__

    def spelling(self, target):
        """The spelling for `target` ("numpy", "loop", "cuda"), or None."""
        return getattr(self, target)
