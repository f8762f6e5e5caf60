"""Rule tables keyed by sympy node class: the one lookup every table in symgrad uses."""


def lookup(table, node):
    """The rule registered for `node`'s class or its nearest base class, or None."""
    for cls in type(node).__mro__:
        if cls in table:
            return table[cls]
    return None
