"""Synthetic classification datasets: two-arm spirals, moons, concentric circles, blobs.

Every generator is a pure function of a PRNG key: the same key gives the same points.
Each returns ``(x, y)`` with ``x: (n_samples, 2)`` floats and ``y: (n_samples,)`` int32
labels, rows in random order.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .._checks import positive_int
from ._validate import check_float_dtype, check_key, nonnegative_number, positive_number


def _balanced_labels(key: jax.Array, n_samples: int, n_classes: int) -> jax.Array:
    """Labels 0..n_classes-1 whose counts differ by at most one, in random order."""
    labels = jnp.arange(n_samples, dtype=jnp.int32) % n_classes
    return jax.random.permutation(key, labels)


def spirals(
    key: jax.Array,
    n_samples: int = 400,
    *,
    noise: float = 0.05,
    turns: float = 1.5,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""Two interleaved Archimedean spirals, one per class (the course's two-class spirals).

    Each point draws a position :math:`t \sim \mathcal{U}(t_0, 1)` along its arm
    (:math:`t_0 = 0.1` keeps the arms apart at the centre) and lies at

    .. math::

        \theta = 2\pi \cdot \mathrm{turns} \cdot t + \pi y, \qquad
        x = t\,(\cos\theta, \sin\theta) + \epsilon, \qquad
        \epsilon \sim \mathcal{N}(0, \mathrm{noise}^2 I_2),

    so the radius grows linearly with the angle and the two arms (labels 0 and 1) are
    rotated by half a turn against each other; between neighbouring windings of the two arms
    the radial gap is :math:`1 / (2\,\mathrm{turns})`. Points lie roughly in
    :math:`[-1, 1]^2`. The classes are balanced (counts differ by at most one when
    ``n_samples`` is odd).

    Args:
      key: a PRNG key; the same key gives the same dataset.
      n_samples: total number of points, >= 2.
      noise: standard deviation of the Gaussian noise added to each coordinate, >= 0.
      turns: how many full turns each arm makes, > 0.
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x`` of shape ``(n_samples, 2)`` and ``dtype``, ``y`` of shape
      ``(n_samples,)`` int32 with values 0 and 1, rows in random order.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.spirals(jax.random.key(0), 200, noise=0.1)
      >>> x.shape, y.shape, int(y.sum())
      ((200, 2), (200,), 100)

    References:
      Lang and Witbrock, "Learning to tell two spirals apart", Proceedings of the 1988
      Connectionist Models Summer School, 1988.
    """
    where = "jnn.data.spirals"
    check_key(where, key)
    n_samples = positive_int(where, "n_samples", n_samples)
    if n_samples < 2:
        raise ValueError(f"{where}: n_samples must be >= 2 (one point per arm); got {n_samples}.")
    noise = nonnegative_number(where, "noise", noise)
    turns = positive_number(where, "turns", turns)
    dtype = check_float_dtype(where, dtype)

    k_label, k_t, k_noise = jax.random.split(key, 3)
    y = _balanced_labels(k_label, n_samples, 2)
    t = jax.random.uniform(k_t, (n_samples,), dtype, minval=0.1, maxval=1.0)
    theta = 2 * jnp.pi * turns * t + jnp.pi * y.astype(dtype)
    x = t[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)
    x = x + noise * jax.random.normal(k_noise, x.shape, dtype)
    return x, y
