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


def leading_length(where: str, **trees: Any) -> int:
    """The common leading-axis length of all leaves of the named trees, else ``ValueError``."""
    lengths = []
    for name, tree in trees.items():
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            shape = np.shape(leaf)
            label = name + jax.tree_util.keystr(path)
            if len(shape) == 0:
                raise ValueError(
                    f"{where}: {label} is a scalar; every array needs a leading axis of "
                    "examples, e.g. shape (n, features)."
                )
            lengths.append((label, shape[0]))
    names = " and ".join(trees)
    if not lengths:
        raise ValueError(f"{where}: {names} hold no arrays; pass the data, e.g. shape (n, d).")
    if len({length for _, length in lengths}) > 1:
        listing = ", ".join(f"{label}: {length}" for label, length in lengths)
        raise ValueError(
            f"{where}: all arrays in {names} must have the same number of examples (leading "
            f"axis); got {listing}. Check that inputs and targets belong together."
        )
    return lengths[0][1]


def check_finite(where: str, name: str, tree: Any) -> None:
    """Refuse NaN/inf in the concrete floating leaves of ``tree`` (tracers pass through)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if isinstance(leaf, jax.core.Tracer):
            continue
        dtype = leaf.dtype if hasattr(leaf, "dtype") else np.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            continue
        finite = np.isfinite(np.asarray(leaf))
        if not finite.all():
            raise ValueError(
                f"{where}: {name}{jax.tree_util.keystr(path)} contains {int((~finite).sum())} "
                "NaN or inf value(s); clean or impute the data first (e.g. drop those rows)."
            )
