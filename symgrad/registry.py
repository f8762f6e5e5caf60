"""Rule tables keyed by sympy node class: the one lookup every table in symgrad uses."""


def lookup(table, node):
    """The rule registered for `node`'s class or its nearest base class, or None."""
    for cls in type(node).__mro__:
        if cls in table:
            return table[cls]
    return None


OWN_PACKAGES = ("sympy", "symgrad")  # whose classes printers may know by name


def is_foreign(node):
    """True for an operation whose class neither sympy nor symgrad defines (a user's Function).

    sympy's printers dispatch on class *names*, so such a class spelled like a known function
    (`relu`, `exp`) would print as that function; kernels refuse it instead."""
    module = type(node).__module__ or ""
    return bool(getattr(node, "args", ())) and module.split(".")[0] not in OWN_PACKAGES


def foreign_error(node, what):
    """Our error for a user's class in a kernel; `what` says which part refuses it."""
    from .errors import UnsupportedError

    call = f"{type(node).__name__}({', '.join(map(str, node.args))})"  # str(node) dispatches on the name too
    return UnsupportedError(
        f"{type(node).__name__} (in {call[:60]}) is a class defined outside sympy and symgrad; "
        f"{what} evaluates only their functions, whatever a class is named. "
        "Write it with supported functions (Piecewise, Max, exp, symgrad.relu ...) or teach symgrad it with "
        "symgrad.register(...) before compiling"
    )
