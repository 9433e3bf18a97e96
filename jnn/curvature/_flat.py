"""Flat-vector views of pytree operators, and dense matrices built column by column in chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from .._checks import positive_int
from ._validate import MATRIX_FREE_HINT

DEFAULT_CHUNK_SIZE = 64
DEFAULT_MAX_BYTES = 2**30


def flatten_operator(matvec: Callable, params: Any):
    """``(flat_matvec, flat_params, unravel)`` for a pytree operator ``v -> A v``."""
    flat, unravel = ravel_pytree(params)
    return (lambda x: ravel_pytree(matvec(unravel(x)))[0]), flat, unravel


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def check_dense_fits(where: str, d: int, dtype: Any, max_bytes: int | None) -> None:
    """Refuse a d x d matrix larger than ``max_bytes``, naming the matrix-free alternatives."""
    if max_bytes is None:
        return
    positive_int(where, "max_bytes", max_bytes)
    needed = d * d * jnp.dtype(dtype).itemsize
    if needed > max_bytes:
        raise ValueError(
            f"{where}: the dense d x d matrix for d={d} parameters needs {needed} bytes "
            f"({_human(needed)}) of {jnp.dtype(dtype).name}, more than max_bytes={max_bytes} "
            f"({_human(max_bytes)}). {MATRIX_FREE_HINT}; or pass a larger max_bytes "
            "(max_bytes=None disables this check)."
        )


def chunk_size_for(where: str, chunk_size: int | None, n: int) -> int:
    if chunk_size is None:
        return min(n, DEFAULT_CHUNK_SIZE)
    return min(n, positive_int(where, "chunk_size", chunk_size))


def dense_from_linear(flat_linear: Callable, d: int, dtype: Any, chunk_size: int) -> jax.Array:
    """Stack ``flat_linear(e_i)`` for i < d, evaluating ``chunk_size`` basis vectors at once.

    Row ``i`` is ``A e_i`` (column ``i`` of ``A``); for a symmetric ``A`` this is ``A`` itself.
    Only a ``(chunk_size, d)`` block of basis vectors exists at any time.
    """
    column = lambda i: flat_linear(jax.nn.one_hot(i, d, dtype=dtype))
    return lax.map(column, jnp.arange(d), batch_size=chunk_size)


def diag_from_linear(flat_linear: Callable, d: int, dtype: Any, chunk_size: int) -> jax.Array:
    """``[e_i^T A e_i for i < d]`` in chunks of ``chunk_size`` products."""
    entry = lambda i: flat_linear(jax.nn.one_hot(i, d, dtype=dtype))[i]
    return lax.map(entry, jnp.arange(d), batch_size=chunk_size)
