"""The logic-gate truth tables AND, OR and XOR (course section 3.1) as tiny datasets.

``x`` holds the four input pairs ``(0,0), (0,1), (1,0), (1,1)`` in that order and ``y``
the gate's output. A single threshold neuron can represent AND and OR; XOR is not
linearly separable (Minsky and Papert, 1969) and needs a hidden layer, e.g.
``XOR = AND(OR(a, b), NOT AND(a, b))``.

With a key and ``noise > 0`` the table is repeated ``n_repeats`` times and Gaussian
noise is added to the inputs, which gives a "noisy XOR" cloud for decision-boundary
plots.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import positive_int
from ._validate import check_float_dtype, check_key, nonnegative_number

_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
_OUTPUTS = {
    "and_gate": np.array([0, 0, 0, 1]),
    "or_gate": np.array([0, 1, 1, 1]),
    "xor": np.array([0, 1, 1, 0]),
}


def _gate(
    name: str, key: Any, n_repeats: int, noise: float, dtype: Any
) -> tuple[jax.Array, jax.Array]:
    where = f"jnn.data.{name}"
    dtype = check_float_dtype(where, dtype)
    n_repeats = positive_int(where, "n_repeats", n_repeats)
    noise = nonnegative_number(where, "noise", noise)
    x = jnp.tile(jnp.asarray(_INPUTS, dtype), (n_repeats, 1))
    y = jnp.tile(jnp.asarray(_OUTPUTS[name], jnp.int32), n_repeats)
    if noise > 0:
        if key is None:
            raise ValueError(
                f"{where}: noise={noise} needs a key for the random jitter; "
                f"call {name}(jax.random.key(0), noise={noise}, ...)."
            )
        check_key(where, key)
        x = x + noise * jax.random.normal(key, x.shape, dtype)
    elif key is not None:
        check_key(where, key)
    return x, y


def and_gate(
    key: jax.Array | None = None,
    *,
    n_repeats: int = 1,
    noise: float = 0.0,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""The AND truth table :math:`y = x_1 \wedge x_2`.

    Args:
      key: a PRNG key; needed only when ``noise > 0`` (the table itself is fixed).
      n_repeats: how many copies of the 4-row table to stack.
      noise: standard deviation of Gaussian noise added to the inputs, >= 0.
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x: (4 * n_repeats, 2)`` inputs in {0, 1} (plus noise),
      ``y: (4 * n_repeats,)`` int32 outputs.

    Example:
      >>> import jnn
      >>> x, y = jnn.data.and_gate()
      >>> y.tolist()
      [0, 0, 0, 1]
    """
    return _gate("and_gate", key, n_repeats, noise, dtype)


def or_gate(
    key: jax.Array | None = None,
    *,
    n_repeats: int = 1,
    noise: float = 0.0,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""The OR truth table :math:`y = x_1 \vee x_2`.

    Args:
      key: a PRNG key; needed only when ``noise > 0`` (the table itself is fixed).
      n_repeats: how many copies of the 4-row table to stack.
      noise: standard deviation of Gaussian noise added to the inputs, >= 0.
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x: (4 * n_repeats, 2)``, ``y: (4 * n_repeats,)`` int32.

    Example:
      >>> import jnn
      >>> x, y = jnn.data.or_gate()
      >>> y.tolist()
      [0, 1, 1, 1]
    """
    return _gate("or_gate", key, n_repeats, noise, dtype)


def xor(
    key: jax.Array | None = None,
    *,
    n_repeats: int = 1,
    noise: float = 0.0,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""The XOR truth table :math:`y = x_1 \oplus x_2 = x_1 + x_2 - 2 x_1 x_2`.

    Not linearly separable: no single neuron :math:`\mathbb{1}[w^\top x + b > 0]` computes
    it, a network with one hidden layer does.

    Args:
      key: a PRNG key; needed only when ``noise > 0`` (the table itself is fixed).
      n_repeats: how many copies of the 4-row table to stack.
      noise: standard deviation of Gaussian noise added to the inputs, >= 0.
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x: (4 * n_repeats, 2)``, ``y: (4 * n_repeats,)`` int32.

    Example:
      >>> import jnn
      >>> x, y = jnn.data.xor()
      >>> x.tolist(), y.tolist()
      ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])

    References:
      Minsky and Papert, "Perceptrons: An Introduction to Computational Geometry",
      MIT Press, 1969.
    """
    return _gate("xor", key, n_repeats, noise, dtype)
