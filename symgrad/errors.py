"""The exceptions symgrad raises: one base class, one subclass per kind of mistake.

Every message names the offending expression, symbol or shape and says what to do, so a user
never has to read a traceback from inside sympy.
"""


class SymgradError(Exception):
    """Base class of every error symgrad raises on purpose."""


class InvalidArgumentError(SymgradError, ValueError):
    """An argument has the wrong kind (e.g. a `wrt` entry that is not a symbol)."""


class UnboundSymbolError(SymgradError, KeyError):
    """A free symbol of the expression has no value (or is neither an input nor a parameter)."""

    def __str__(self):  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ShapeError(SymgradError, ValueError):
    """Data and model disagree on a shape (e.g. arrays of different batch lengths)."""


class NonFiniteError(SymgradError, FloatingPointError):
    """Data holds NaN or Inf where finite numbers are required."""


class DTypeError(SymgradError, TypeError):
    """Data has a dtype symgrad cannot use (complex, object, strings)."""


class UnsupportedError(SymgradError, NotImplementedError):
    """A node type or function has no rule for the requested path or target."""


class SizeLimitError(SymgradError):
    """An expression exceeds a stated size limit."""


class CacheError(SymgradError):
    """A kernel cache entry could not be read or written."""


class FailedPreconditionError(SymgradError, RuntimeError):
    """An operation ran before what it needs (an uninitialized variable, a closed session)."""


class SymgradWarning(UserWarning):
    """Base class of the warnings symgrad issues: something runs, but probably not as meant."""


class ConstantLossWarning(SymgradWarning):
    """The loss cannot change with the parameters (identically zero, or free of every parameter)."""


class WorkerError(SymgradError, RuntimeError):
    """A Dask worker could not load or run a kernel shipped to it (see `symgrad.remote`)."""
