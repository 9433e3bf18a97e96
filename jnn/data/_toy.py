"""Synthetic classification datasets: two-arm spirals, moons, concentric circles, blobs.

Every generator is a pure function of a PRNG key: the same key gives the same points.
Each returns ``(x, y)`` with ``x: (n_samples, 2)`` floats and ``y: (n_samples,)`` int32
labels, rows in random order.
"""

from __future__ import annotations

import numbers
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import number_in_range, positive_int
from ._random import balanced_labels, uniform_and_normal
from ._validate import check_float_dtype, check_key, nonnegative_number, positive_number


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
    n_samples, noise, dtype = _common_checks(where, key, n_samples, 2, noise, dtype)
    turns = positive_number(where, "turns", turns)

    return _spirals(key, noise, turns, n_samples=n_samples, dtype=dtype)


@partial(jax.jit, static_argnames=("n_samples", "dtype"))
def _spirals(key, noise, turns, *, n_samples, dtype):
    u, z = uniform_and_normal(key, n_samples, 2, 2, dtype)
    y = balanced_labels(u[:, 0], 2)
    t = 0.1 + 0.9 * u[:, 1]
    theta = 2 * jnp.pi * turns * t + jnp.pi * y.astype(dtype)
    x = t[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)
    return x + noise * z, y


def moons(
    key: jax.Array,
    n_samples: int = 200,
    *,
    noise: float = 0.1,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""Two interleaving half circles ("moons"), one per class.

    With :math:`\theta \sim \mathcal{U}(0, \pi)` per point and
    :math:`\epsilon \sim \mathcal{N}(0, \mathrm{noise}^2 I_2)`:

    .. math::

        x = (\cos\theta, \sin\theta) + \epsilon \;\; (y = 0), \qquad
        x = (1 - \cos\theta, \tfrac12 - \sin\theta) + \epsilon \;\; (y = 1).

    The same geometry as scikit-learn's ``make_moons``, with the angles drawn at random
    instead of evenly spaced.

    Args:
      key: a PRNG key; the same key gives the same dataset.
      n_samples: total number of points, >= 2.
      noise: standard deviation of the Gaussian noise on each coordinate, >= 0.
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x: (n_samples, 2)``, ``y: (n_samples,)`` int32 in {0, 1}, balanced
      (counts differ by at most one), rows in random order.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.moons(jax.random.key(0), 100)
      >>> x.shape, int(y.sum())
      ((100, 2), 50)
    """
    where = "jnn.data.moons"
    n_samples, noise, dtype = _common_checks(where, key, n_samples, 2, noise, dtype)
    return _moons(key, noise, n_samples=n_samples, dtype=dtype)


@partial(jax.jit, static_argnames=("n_samples", "dtype"))
def _moons(key, noise, *, n_samples, dtype):
    u, z = uniform_and_normal(key, n_samples, 2, 2, dtype)
    y = balanced_labels(u[:, 0], 2)
    theta = jnp.pi * u[:, 1]
    outer = jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)
    inner = jnp.stack([1 - jnp.cos(theta), 0.5 - jnp.sin(theta)], axis=1)
    x = jnp.where(y[:, None] == 0, outer, inner)
    return x + noise * z, y


def circles(
    key: jax.Array,
    n_samples: int = 200,
    *,
    noise: float = 0.05,
    factor: float = 0.5,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""Two concentric circles: the outer one (radius 1) is class 0, the inner one class 1.

    No line separates the classes, but in polar coordinates the radius alone does, which
    is the course's example of a feature transform that makes data linearly separable.
    With :math:`\theta \sim \mathcal{U}(0, 2\pi)` and
    :math:`\epsilon \sim \mathcal{N}(0, \mathrm{noise}^2 I_2)`:

    .. math::

        x = r_y (\cos\theta, \sin\theta) + \epsilon, \qquad r_0 = 1,\; r_1 = \mathrm{factor}.

    Args:
      key: a PRNG key; the same key gives the same dataset.
      n_samples: total number of points, >= 2.
      noise: standard deviation of the Gaussian noise on each coordinate, >= 0.
      factor: radius of the inner circle, in (0, 1).
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x: (n_samples, 2)``, ``y: (n_samples,)`` int32 in {0, 1}, balanced,
      rows in random order.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.circles(jax.random.key(0), 100, noise=0.0, factor=0.3)
      >>> x.shape, int(y.sum())
      ((100, 2), 50)
    """
    where = "jnn.data.circles"
    n_samples, noise, dtype = _common_checks(where, key, n_samples, 2, noise, dtype)
    factor = float(
        number_in_range(
            where, "factor", factor, 0.0, 1.0, low_inclusive=False, high_inclusive=False
        )
    )
    return _circles(key, noise, factor, n_samples=n_samples, dtype=dtype)


@partial(jax.jit, static_argnames=("n_samples", "dtype"))
def _circles(key, noise, factor, *, n_samples, dtype):
    u, z = uniform_and_normal(key, n_samples, 2, 2, dtype)
    y = balanced_labels(u[:, 0], 2)
    theta = 2 * jnp.pi * u[:, 1]
    radius = jnp.where(y == 0, 1.0, factor).astype(dtype)
    x = radius[:, None] * jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)
    return x + noise * z, y


def blobs(
    key: jax.Array,
    n_samples: int = 300,
    *,
    centers: int | Any = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""Isotropic Gaussian blobs, one class per blob.

    Class :math:`k` has centre :math:`\mu_k` and its points are
    :math:`x \sim \mathcal{N}(\mu_k, \sigma^2 I)` with :math:`\sigma` = ``cluster_std``.
    When ``centers`` is an integer K, the centres are drawn uniformly from the box
    ``center_box`` in every coordinate (from the key, so the same key gives the same
    centres).

    Args:
      key: a PRNG key; the same key gives the same dataset.
      n_samples: total number of points, >= the number of classes.
      centers: the number of classes K >= 2, or the centres themselves as an array of
        shape ``(K, n_features)`` (then ``n_features`` is taken from it).
      n_features: dimension of each point when ``centers`` is an integer.
      cluster_std: standard deviation of every blob, >= 0.
      center_box: ``(low, high)`` bounds for random centres.
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x: (n_samples, n_features)``, ``y: (n_samples,)`` int32 in
      ``0..K-1``, balanced (class counts differ by at most one), rows in random order.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.blobs(jax.random.key(0), 90, centers=3)
      >>> x.shape, [int((y == k).sum()) for k in range(3)]
      ((90, 2), [30, 30, 30])
    """
    where = "jnn.data.blobs"
    check_key(where, key)
    dtype = check_float_dtype(where, dtype)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        n_classes = positive_int(where, "centers", centers)
        n_features = positive_int(where, "n_features", n_features)
        low, high = _interval(where, "center_box", center_box)
        given_centers = None
    else:
        given_centers = jnp.asarray(centers, dtype)
        if given_centers.ndim != 2:
            raise ValueError(
                f"{where}: centers must be an int or an array of shape (n_classes, n_features); "
                f"got shape {given_centers.shape}. For one centre in 2-D use [[x, y]] and "
                "at least one more."
            )
        if not bool(jnp.all(jnp.isfinite(given_centers))):
            raise ValueError(f"{where}: centers contains NaN or inf; pass finite centres.")
        n_classes, n_features = given_centers.shape
    if n_classes < 2:
        raise ValueError(
            f"{where}: need at least 2 classes (centers); got {n_classes}. Pass centers=2 or more."
        )
    n_samples = positive_int(where, "n_samples", n_samples)
    if n_samples < n_classes:
        raise ValueError(
            f"{where}: n_samples={n_samples} is smaller than the number of classes "
            f"{n_classes}; ask for at least one point per class."
        )
    cluster_std = nonnegative_number(where, "cluster_std", cluster_std)

    if given_centers is None:
        return _random_blobs(
            key,
            low,
            high,
            cluster_std,
            n_samples=n_samples,
            shape=(n_classes, n_features),
            dtype=dtype,
        )
    return _blobs(key, given_centers, cluster_std, n_samples=n_samples)


@partial(jax.jit, static_argnames=("n_samples", "shape", "dtype"))
def _random_blobs(key, low, high, cluster_std, *, n_samples, shape, dtype):
    k_centers, key = jax.random.split(key)
    centers = low + (high - low) * jax.random.uniform(k_centers, shape, dtype)
    return _blobs(key, centers, cluster_std, n_samples=n_samples)


@partial(jax.jit, static_argnames=("n_samples",))
def _blobs(key, centers, cluster_std, *, n_samples):
    n_classes, n_features = centers.shape
    u, z = uniform_and_normal(key, n_samples, 1, n_features, centers.dtype)
    y = balanced_labels(u[:, 0], n_classes)
    return centers[y] + cluster_std * z, y


def _interval(where: str, name: str, value: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: {name} must be a pair (low, high) of numbers; got {value!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"{where}: {name} must be a pair (low, high) with finite low < high; got {value!r}."
        )
    return low, high


def _common_checks(where, key, n_samples, n_classes, noise, dtype):
    check_key(where, key)
    n_samples = positive_int(where, "n_samples", n_samples)
    if n_samples < n_classes:
        raise ValueError(
            f"{where}: n_samples must be >= {n_classes} (one point per class); got {n_samples}."
        )
    noise = nonnegative_number(where, "noise", noise)
    return n_samples, noise, check_float_dtype(where, dtype)
