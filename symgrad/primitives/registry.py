"""The registry of primitive records, and `register`, the public door for a user's own function."""

import keyword

import sympy as sp

from ..errors import InvalidArgumentError
from ..registry import is_foreign
from .record import DOMAIN, Helper, Primitive

RECORDS = {}  # sympy class -> its Primitive record
RESERVED_HELPERS = {"np", "math", "sg_real", "step"}  # names a generated module already binds


def add_record(record):
    """Enter a record (symgrad's own, at import)."""
    RECORDS[record.function] = record
    return record


def record_for(node):
    """The record of `node`'s class (or of a class itself), nearest base class first; None if none."""
    cls = node if isinstance(node, type) else type(node)
    for base in cls.__mro__:
        found = RECORDS.get(base)
        if found is not None:
            return found
    return None


def kernel_record(node):
    """The record a kernel computes `node` from: a user's class must be registered itself (a class
    spelled like one of ours must not compute as ours); sympy's and symgrad's are found by base class."""
    return RECORDS.get(type(node)) if is_foreign(node) else record_for(node)


def rule(node, path):
    """The rule `path` (a Primitive field) of `node`'s record, or None."""
    found = record_for(node)
    return None if found is None else getattr(found, path)


def activations():
    """Activation name -> sympy function, for every record that names one (sorted by name)."""
    table = {r.activation: r.function for r in RECORDS.values() if r.activation}
    return dict(sorted(table.items()))


def activation(name_or_fn):
    """An activation given by name (a record's `activation`, or "identity") or as a callable."""
    if callable(name_or_fn):
        return name_or_fn
    table = {**activations(), "identity": _identity}
    try:
        return table[name_or_fn]
    except (KeyError, TypeError):
        raise InvalidArgumentError(
            f"unknown activation {name_or_fn!r}; choose one of {sorted(table)} or pass a callable"
        ) from None


def _identity(x):
    return x


def by_tf_name():
    """`symgrad.tf` op name -> the sympy function it applies entrywise."""
    return {name: r.function for r in RECORDS.values() for name in r.tf}


def tf_record(name):
    """The record whose `tf` names include `name`, or None: an index over `by_tf_name`, checked
    against RECORDS on every hit (a record replaced or removed) and rebuilt on a miss."""
    found = _TF_INDEX.get(name)
    if found is not None and RECORDS.get(found.function) is found:
        return found
    _TF_INDEX.clear()
    _TF_INDEX.update({t: r for r in RECORDS.values() for t in r.tf})
    return _TF_INDEX.get(name)


_TF_INDEX = {}  # tf op name -> record (symgrad.tf looks one up per op it builds)


def _helper(function, given, target):
    """A spelling given to `register`: a function name, a helper's definition text, or a Helper."""
    name = function.__name__
    if given is None or isinstance(given, Helper):
        return given
    if callable(given) and target == "cuda":
        return Helper(name, cuda=given)
    if not isinstance(given, str):
        raise InvalidArgumentError(f"symgrad.register({name}): {target}= takes a function name or a definition's text")
    text = given.strip()
    if target == "cuda" and "{" in text:
        expected = f"sg_{name}("
        if expected not in text:
            raise InvalidArgumentError(f"symgrad.register({name}): the cuda= definition must define {expected}...)")
        return Helper(name, cuda=lambda f, lit, text=text: text)
    if text.startswith("def "):
        expected = f"def {'scalar_' if target == 'loop' else ''}{name}("
        if not text.startswith(expected):
            raise InvalidArgumentError(f"symgrad.register({name}): the {target}= definition must start with {expected!r}")
        return Helper(name, **{target: text})
    if not text.isidentifier():
        raise InvalidArgumentError(
            f"symgrad.register({name}): {target}={given!r} is neither a function name nor a definition"
        )
    return text


def register(function, *, partials=None, vjp=None, evaluate=None, torch=None, numpy=None, loop=None, cuda=None,
             mpmath=None, tf=(), tf_params=None, tf_inputs=(), activation=None, latex=None, domain=DOMAIN):
    """Teach symgrad a sympy `Function` subclass: from then on grad, autodiff, check, compile (numpy,
    CUDA), hessian/hvp, matrix entrywise maps, symgrad.tf (given `tf` op names) and derivations use it.

    partials(node) -> [∂node/∂arg_i] (sympy); vjp(g, ans, *xs) -> [g·∂/∂x_i] (numpy, written
    independently, so `check` compares two derivations); evaluate(backend, *xs) -> value, with
    `backend.xp` numpy or torch; numpy/loop: a numpy (math) function name or the text of
    `def <name>(x): ...` (`def scalar_<name>(x): ...` for the per-sample loop); cuda: the text of
    `__device__ sg_real sg_<name>(sg_real x) {...}` (sg_real is the kernel's float type);
    mpmath(*xs) -> high-precision value; tf: op names (`tf.<name>`, `tf.math.<name>`, and `tf.nn.<name>`
    with an activation; the class needs a fixed `nargs`), tf_params: their keyword parameters after the
    tensor inputs with defaults ({"alpha": 0.2}), tf_inputs: the tensor inputs' names where TensorFlow's
    are not x, y, ...; activation: the name `nn.mlp` accepts;
    domain: the interval (lo, hi) inside which `symgrad.coverage` samples the arguments.
    A path given nothing is refused by that path with our error naming what is missing.
    """
    if not (isinstance(function, type) and issubclass(function, sp.Function)):
        raise InvalidArgumentError(
            f"symgrad.register takes a sympy Function subclass (class f(sympy.Function): ...), got {function!r}"
        )
    name = function.__name__
    if not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED_HELPERS or name.startswith("sg_"):
        raise InvalidArgumentError(f"symgrad.register: {name!r} cannot name a generated helper; rename the class")
    taken = {r.name: r for r in RECORDS.values() if r.function is not function}
    if name in taken:
        raise InvalidArgumentError(
            f"symgrad.register: {name} is already the name of {taken[name].function.__module__}.{name}; "
            "generated code calls functions by name, so rename the class"
        )
    tf_taken = by_tf_name()
    clash = [t for t in tf if tf_taken.get(t, function) is not function]
    if clash or (activation and activations().get(activation, function) is not function):
        raise InvalidArgumentError(f"symgrad.register({name}): op/activation name {clash or activation} is taken")
    if tf and not isinstance(getattr(function, "nargs", None), sp.FiniteSet):
        raise InvalidArgumentError(
            f"symgrad.register({name}): a tf op applies {name} entry by entry, so {name} needs a fixed number of "
            "arguments: give the class `nargs = 1` (or the count it takes)"
        )
    record = Primitive(
        function, partials=partials, vjp=vjp, evaluate=evaluate, torch=torch,
        numpy=_helper(function, numpy, "numpy"), loop=_helper(function, loop, "loop"),
        cuda=_helper(function, cuda, "cuda"), mpmath=mpmath, tf=tuple(tf),
        tf_params=dict(tf_params or {}), tf_inputs=tuple(tf_inputs), activation=activation, latex=latex,
        domain=tuple(domain),
        gaps={p: "not given to symgrad.register" for p, v in
              (("symbolic", partials), ("vjp", vjp), ("numpy_eval", evaluate), ("numpy", numpy), ("loop", loop),
               ("cuda", cuda), ("mpmath", mpmath), ("tf", tf)) if not v},
    )
    if latex and "_latex" not in function.__dict__:
        function._latex = lambda self, printer, op=latex: op + r"\left(%s\right)" % ", ".join(
            printer._print(a) for a in self.args)
    return add_record(record)
