"""Checks of the forensic functions' parameters, with one message shape for all of them.

Why
---
Every method validates its options once, at the boundary, and refuses bad ones with an
:class:`~pollwatch.errors.InputError` that names the parameter and the function, as
scikit-learn does: ``The 'resamples' parameter of shpilkin must be a positive integer;
got 0 instead``. Written once here, the methods cannot drift apart in what they accept
(a ``bool`` is never a number, a NumPy integer is an integer, NaN is in no interval) or
in how they say it, and a bad seed is refused by us instead of surfacing as NumPy's
``ValueError``.

Each check returns the value as a plain Python ``int``, ``float``, ``bool`` or ``str``.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from pollwatch.errors import InputError

__all__ = ["check_choice", "check_flag", "check_int", "check_number", "check_seed", "invalid"]


def invalid(owner: str, name: str, what: str, value: object) -> InputError:
    """The error for parameter ``name`` of function ``owner``, which must be ``what``.

    >>> str(invalid("shpilkin", "resamples", "a positive integer", 0))
    "The 'resamples' parameter of shpilkin must be a positive integer; got 0 instead"
    """
    return InputError(f"The {name!r} parameter of {owner} must be {what}; got {value!r} instead")


def _as_int(value: object) -> int | None:
    """``value`` as a Python int when it is an integer (a bool is not), else ``None``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return None


def check_int(
    owner: str, name: str, value: object, *, low: int = 1, high: int | None = None
) -> int:
    """An integer (not a bool) in ``[low, high]``; ``high=None`` leaves it unbounded.

    >>> check_int("digits", "second_digit_min", 5, low=10)
    Traceback (most recent call last):
    ...
    pollwatch.errors.InputError: The 'second_digit_min' parameter of digits must be an integer ≥ 10; got 5 instead
    """  # noqa: E501
    if high is not None:
        what = f"an integer between {low} and {high}"
    elif low == 1:
        what = "a positive integer"
    elif low == 0:
        what = "a non-negative integer"
    else:
        what = f"an integer ≥ {low}"
    n = _as_int(value)
    if n is None or n < low or (high is not None and n > high):
        raise invalid(owner, name, what, value)
    return n


def check_number(
    owner: str,
    name: str,
    value: object,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
) -> float:
    """A real number (not a bool, not NaN) within the bounds given.

    ``above``/``below`` are open bounds, ``at_least``/``at_most`` closed ones.

    >>> check_number("relations", "alpha", 0.05, above=0, below=1)
    0.05
    >>> check_number("spikes", "bw", 0.5, above=0, below=0.5)
    Traceback (most recent call last):
    ...
    pollwatch.errors.InputError: The 'bw' parameter of spikes must be a number in (0, 0.5); got 0.5 instead
    """  # noqa: E501
    what = _interval(above, at_least, below, at_most)
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise invalid(owner, name, what, value)
    x = float(value)
    inside = (
        (above is None or x > above)
        and (at_least is None or x >= at_least)
        and (below is None or x < below)
        and (at_most is None or x <= at_most)
    )
    if np.isnan(x) or not inside:
        raise invalid(owner, name, what, value)
    return x


def _interval(
    above: float | None, at_least: float | None, below: float | None, at_most: float | None
) -> str:
    low = f"({above:g}" if above is not None else f"[{at_least:g}" if at_least is not None else ""
    high = f"{below:g})" if below is not None else f"{at_most:g}]" if at_most is not None else ""
    if low and high:
        return f"a number in {low}, {high}"
    if above == 0 and not high:
        return "a positive number"
    if low:
        return f"a number {'>' if low[0] == '(' else '≥'} {low[1:]}"
    if high:
        return f"a number {'<' if high[-1] == ')' else '≤'} {high[:-1]}"
    return "a number"


def check_seed(owner: str, value: object) -> int | None:
    """A seed NumPy accepts: a non-negative integer, or ``None`` for fresh entropy."""
    if value is None:
        return None
    n = _as_int(value)
    if n is None or n < 0:
        raise invalid(owner, "seed", "a non-negative integer or None", value)
    return n


def check_flag(owner: str, name: str, value: object) -> bool:
    """``True`` or ``False`` (NumPy's booleans too), never a truthy string or number."""
    if not isinstance(value, (bool, np.bool_)):
        raise invalid(owner, name, "True or False", value)
    return bool(value)


def check_choice(owner: str, name: str, value: object, choices: Collection[str]) -> str:
    """One of ``choices``.

    >>> check_choice("spikes", "variable", "votes", ("share", "turnout"))
    Traceback (most recent call last):
    ...
    pollwatch.errors.InputError: The 'variable' parameter of spikes must be 'share' or 'turnout'; got 'votes' instead
    """  # noqa: E501
    if not isinstance(value, str) or value not in choices:
        quoted = [repr(c) for c in choices]
        what = " or ".join(quoted) if len(quoted) == 2 else f"one of {', '.join(quoted)}"
        raise invalid(owner, name, what, value)
    return str(value)
