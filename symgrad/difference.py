"""Central differences, the oracle `check` compares gradients with, with a step fitted to each value.

A fixed step fails at extreme scales: h = 1e-6 is larger than a parameter of 1e-8 (the quotient
measures the wrong neighbourhood), and for 1e8 it is below what the value's last digit resolves.
So the step starts relative to the value's magnitude, h = STEP·|x| (STEP where x = 0), and grows
(up to STEP·max(|x|, 1)) while f(x + h) − f(x − h) is lost in rounding, i.e. smaller than
RESOLVE·ε·(|f(x + h)| + |f(x − h)|) (or exactly zero), as for a tiny parameter of a function that
varies on a scale of one. The step does not look at the gradient being checked. `check` reports the steps it used.
"""

import numpy as np

STEP = 1e-6
RESOLVE = 1e6  # a difference this many roundings above the noise has about 6 digits
GROWTH = 100.0
AGREE, AGREE_ABS = 1e-7, 1e-10  # quotients at h and 10h this close: rounding inside f did not decide them
_EPS = np.finfo(float).eps


def initial_step(magnitude):
    """The first step tried for a value of this magnitude, and the largest one allowed."""
    magnitude = float(abs(magnitude)) if np.isfinite(magnitude) else 1.0
    h = STEP * magnitude
    return (h if h > 0 else STEP), STEP * max(magnitude, 1.0)  # STEP for 0 (and subnormals)


def central(f, magnitude):
    """(slope, step): Σ(f(h) − f(−h)) / 2h for f(δ) = the loss (one number, or one per sample the
    value can move) with the value moved by δ.

    A step is taken when its quotient is resolved (above the rounding noise of f's values) *and*
    agrees with the quotient of a step ten times larger: rounding inside f (a cancellation such as
    1 − 2σ(x), whose result is small while its terms are not) is invisible in f's values, but it
    makes the quotient change with the step, where truncation error at these steps does not.
    """
    h, cap = initial_step(magnitude)
    while True:
        slope, resolved = _quotient(f, h)
        if not np.isfinite(slope) or h >= cap:
            return slope, h
        if resolved:
            wider, _ = _quotient(f, 10 * h)
            if abs(slope - wider) <= AGREE * max(abs(slope), abs(wider)) + AGREE_ABS:
                return slope, h
        h = min(h * GROWTH, cap)  # h > 0, so the cap is reached in at most ~20 rounds


def _quotient(f, h):
    """The central quotient at step h, and whether its difference stands above f's rounding noise."""
    plus, minus = np.asarray(f(h), dtype=float), np.asarray(f(-h), dtype=float)
    slope = float(np.sum(plus - minus)) / (2 * h)
    noise = _EPS * float(np.sum(np.abs(plus) + np.abs(minus)))
    return slope, bool(np.any(plus != minus) and abs(slope) * 2 * h >= RESOLVE * noise)


def step_range(steps):
    """(smallest, largest) step of one parameter's entries, for the report."""
    steps = np.asarray(steps, dtype=float)
    return (float(steps.min()), float(steps.max())) if steps.size else (STEP, STEP)
