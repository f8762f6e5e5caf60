"""Keras initializers (also `tf.initializers`): callables `init(shape, dtype=None)` → a numpy array.

Defaults and `get_config()` are Keras's; values come from numpy's generator, so they follow the
same distribution as TensorFlow's, not the same numbers. Without `seed` an initializer draws from
the generator `symgrad.tf.random` owns, which `tf.random.set_seed` reseeds.
"""

import numpy as np

from ...errors import InvalidArgumentError
from ..random import _RNG  # one generator for tf.random.* and the initializers
from ..random import set_seed as set_seed  # tf.random.set_seed reseeds both


def _shape(shape):
    try:
        return tuple(int(d) for d in np.atleast_1d(shape)) if np.ndim(shape) else (int(shape),)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"an initializer needs a shape of whole numbers, got {shape!r}") from None


class Initializer:
    """Base class: `__call__(shape, dtype=None)` and `get_config()` (the constructor's arguments)."""

    _config = {}

    def __call__(self, shape, dtype=None):
        seed = self._config.get("seed")
        if seed is None:
            rng = _RNG["rng"]
        else:  # a seeded initializer gives the same values at every call, as Keras 3's does
            rng = np.random.default_rng(seed)
        value = self.sample(_shape(shape), rng)
        return np.asarray(value, dtype=np.dtype(getattr(dtype, "as_numpy_dtype", dtype) or np.float64))

    def get_config(self):
        return dict(self._config)


class Zeros(Initializer):
    def sample(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self._config = {"value": value}

    def sample(self, shape, rng):
        return np.full(shape, self._config["value"], dtype=float)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self._config = {"seed": seed, "mean": mean, "stddev": stddev}

    def sample(self, shape, rng):
        return rng.normal(self._config["mean"], self._config["stddev"], size=shape)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self._config = {"seed": seed, "minval": minval, "maxval": maxval}

    def sample(self, shape, rng):
        return rng.uniform(self._config["minval"], self._config["maxval"], size=shape)


def _truncated_normal(rng, shape, mean, stddev):
    """Normal draws, those beyond two standard deviations drawn again (as TensorFlow's)."""
    out = np.empty(shape)
    flat, todo = out.reshape(-1), np.arange(int(np.prod(shape)))
    while todo.size:
        z = rng.standard_normal(todo.size)
        keep = np.abs(z) <= 2.0
        flat[todo[keep]] = z[keep]
        todo = todo[~keep]
    return mean + stddev * out


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self._config = {"seed": seed, "mean": mean, "stddev": stddev}

    def sample(self, shape, rng):
        return _truncated_normal(rng, shape, self._config["mean"], self._config["stddev"])


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(Initializer):
    """Variance scale/fan; a truncated normal is widened by 1/0.8796… (a unit normal cut at ±2 has that std)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise InvalidArgumentError(f"VarianceScaling mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise InvalidArgumentError(
                f"VarianceScaling distribution must be truncated_normal, untruncated_normal or uniform, got {distribution!r}"
            )
        self._config = {"seed": seed, "scale": scale, "mode": mode, "distribution": distribution}

    def sample(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        mode, dist = self._config["mode"], self._config["distribution"]
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        variance = self._config["scale"] / max(1.0, fan)
        if dist == "uniform":
            limit = np.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if dist == "untruncated_normal":
            return rng.normal(0.0, np.sqrt(variance), size=shape)
        return _truncated_normal(rng, shape, 0.0, np.sqrt(variance) / 0.87962566103423978)


def _scaling(name, scale, mode, distribution):
    """A named VarianceScaling (GlorotUniform …): Keras's config for these holds only the seed."""

    def __init__(self, seed=None):  # noqa: N807 - the class's constructor
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self._config["seed"]}

    doc = f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})."
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")

INITIALIZERS = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
    "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
}
# TensorFlow's snake-case spellings name the classes too (tf.keras.initializers.random_normal)
zeros, ones, constant, random_normal, random_uniform, truncated_normal = (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal)
glorot_uniform, glorot_normal, he_normal, he_uniform = GlorotUniform, GlorotNormal, HeNormal, HeUniform


def get(identifier):
    """An initializer from a Keras name, a class or instance, or any callable `f(shape)`."""
    if isinstance(identifier, str) and identifier in INITIALIZERS:
        return INITIALIZERS[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier) and not isinstance(identifier, str):
        return identifier
    raise InvalidArgumentError(f"unknown initializer {identifier!r}; choose one of {sorted(INITIALIZERS)} or pass a callable")
