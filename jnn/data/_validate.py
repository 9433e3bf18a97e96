"""Argument checks shared by the ``jnn.data`` modules (on top of ``jnn._checks``)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import is_concrete_number


def check_key(where: str, key: Any) -> None:
    """Refuse anything that is not a JAX PRNG key (typed ``jax.random.key`` or raw ``PRNGKey``)."""
    if isinstance(key, jax.Array) or isinstance(key, jax.core.Tracer):
        dtype = key.dtype
        if jnp.issubdtype(dtype, jax.dtypes.prng_key):
            if key.ndim == 0:
                return
        elif dtype == jnp.uint32 and key.shape == (2,):
            return
    got = f"shape {tuple(np.shape(key))}, dtype {getattr(key, 'dtype', type(key).__name__)}"
    raise TypeError(
        f"{where}: key must be a single JAX PRNG key; got {got}. "
        "Pass e.g. jax.random.key(0) (split it first if you hold a batch of keys)."
    )


def check_float_dtype(where: str, dtype: Any) -> jnp.dtype:
    """``dtype`` as a ``jnp.dtype`` if it is a floating dtype, else ``TypeError``."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"{where}: dtype must be a floating dtype; got {dtype!r}. Use e.g. dtype=jnp.float32."
        )
    return dt


def nonnegative_number(where: str, name: str, value: Any, *, fix: str = "") -> float:
    """``value`` as a ``float`` if it is a finite number >= 0."""
    tail = f" {fix}" if fix else ""
    if not is_concrete_number(value) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a number; got {value!r}.{tail}")
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{where}: {name} must be a finite number >= 0; got {value!r}.{tail}")
    return v


def positive_number(where: str, name: str, value: Any, *, fix: str = "") -> float:
    """``value`` as a ``float`` if it is a finite number > 0."""
    v = nonnegative_number(where, name, value, fix=fix)
    if v == 0:
        tail = f" {fix}" if fix else ""
        raise ValueError(f"{where}: {name} must be > 0; got {value!r}.{tail}")
    return v
