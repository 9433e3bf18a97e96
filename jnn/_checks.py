"""Argument checks shared across jnn.

Every public function checks its arguments early and raises with a message that names
the function, the argument, what arrived, what was expected and the fix. These helpers
keep the wording uniform. They run in Python on static values (hyperparameters, shapes,
dtypes, tree structures), so they cost nothing inside a compiled step.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _fix(fix: str | None) -> str:
    return f" {fix}" if fix else ""


def is_concrete_number(value: Any) -> bool:
    """True for a Python/numpy number or a concrete 0-d array (not a tracer)."""
    if isinstance(value, jax.core.Tracer):
        return False
    if isinstance(value, numbers.Number):
        return True
    return isinstance(value, (np.ndarray, np.generic, jax.Array)) and np.ndim(value) == 0


def positive_int(where: str, name: str, value: Any, *, fix: str | None = None) -> int:
    """``value`` as an ``int`` if it is an integer >= 1, else ``ValueError``/``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{where}: {name} must be a positive integer; got {value!r} "
            f"(type {type(value).__name__}).{_fix(fix)}"
        )
    if value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer; got {value!r}.{_fix(fix)}")
    return int(value)


def number_in_range(
    where: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    fix: str | None = None,
) -> Any:
    """Check that a concrete number lies in the interval; tracers and schedules pass through.

    Values that are not concrete numbers (a tracer under ``inject_hyperparams``, or a
    callable schedule) are returned unchanged: they cannot be checked in Python.
    """
    if callable(value) or not is_concrete_number(value):
        return value
    v = float(value)
    lo_ok = low is None or (v >= low if low_inclusive else v > low)
    hi_ok = high is None or (v <= high if high_inclusive else v < high)
    if lo_ok and hi_ok and not np.isnan(v):
        return value
    left = "-inf" if low is None else f"{low}"
    right = "inf" if high is None else f"{high}"
    interval = (
        ("[" if low_inclusive and low is not None else "(")
        + f"{left}, {right}"
        + ("]" if high_inclusive and high is not None else ")")
    )
    raise ValueError(f"{where}: {name} must be in {interval}; got {value!r}.{_fix(fix)}")


def floating_input(where: str, name: str, x: Any, *, fix: str | None = None) -> None:
    """Refuse integer/bool inputs where floats are needed."""
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise TypeError(
            f"{where}: {name} has dtype {dtype} but a floating dtype is needed."
            + _fix(fix or f"Cast it first, e.g. {name}.astype(jnp.float32).")
        )


def rank_at_least(where: str, name: str, x: Any, rank: int, meaning: str) -> None:
    """Refuse inputs of too low rank, naming the expected layout (e.g. '(batch, features)')."""
    ndim = np.ndim(x) if not hasattr(x, "ndim") else x.ndim
    if ndim < rank:
        raise ValueError(
            f"{where}: {name} must have at least {rank} dimensions {meaning}; got shape "
            f"{tuple(np.shape(x))}. Add a batch axis, e.g. {name}[None] for a single example."
        )


def same_structure(where: str, name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raise ``ValueError`` printing both tree structures when they differ."""
    sa, sb = jax.tree.structure(a), jax.tree.structure(b)
    if sa != sb:
        raise ValueError(
            f"{where}: {name_a} and {name_b} must have the same tree structure.\n"
            f"  {name_a}: {sa}\n  {name_b}: {sb}"
        )
