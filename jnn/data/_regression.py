"""Synthetic regression datasets: the course's noisy cubic, a noisy sine, a linear model.

Each is a pure function of a key and returns ``(x, y)`` with ``x: (n_samples, d)`` and
``y: (n_samples, 1)``: targets keep a feature axis so they match the output of a
``Dense(1)`` model exactly (jnn refuses to broadcast ``(n, 1)`` against ``(n,)``).
Inputs are drawn i.i.d. (uniformly in ``x_range`` for the 1-D sets), rows in random
order; sort by ``x[:, 0]`` to plot a curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import is_concrete_number, positive_int
from ._random import uniform_and_normal
from ._toy import _interval
from ._validate import check_float_dtype, check_key, nonnegative_number

_COURSE_CUBIC = (5.0, 2.0, 10.0, -2.0)


def _setup(where, key, n_samples, noise, dtype):
    check_key(where, key)
    n_samples = positive_int(where, "n_samples", n_samples)
    noise = nonnegative_number(where, "noise", noise)
    return n_samples, noise, check_float_dtype(where, dtype)


def _finite_vector(where: str, name: str, value: Any, dtype) -> jax.Array:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{where}: {name} must be a non-empty 1-D sequence of numbers; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {name} contains NaN or inf; got {value!r}.")
    return jnp.asarray(arr, dtype)


def _finite_scalar(where: str, name: str, value: Any) -> float:
    if not is_concrete_number(value) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"{where}: {name} must be a finite number; got {value!r}.")
    return float(value)


def polynomial_regression(
    key: jax.Array,
    n_samples: int = 100,
    *,
    coefficients: Sequence[float] = _COURSE_CUBIC,
    x_range: tuple[float, float] = (-2.0, 5.0),
    noise: float = 5.0,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""Noisy samples of a polynomial; by default the course's cubic.

    .. math::

        y = \sum_{j=0}^{p} c_j x^j + \epsilon, \qquad
        x \sim \mathcal{U}(a, b), \quad \epsilon \sim \mathcal{N}(0, \mathrm{noise}^2),

    with the default :math:`c = (5, 2, 10, -2)`, i.e.
    :math:`y = 5 + 2x + 10x^2 - 2x^3 + \epsilon`. On the default range
    :math:`[-2, 5]` the cubic has both turning points (near :math:`x = -0.1` and
    :math:`x = 3.4`), so low-degree fits underfit and high-degree fits on few points
    overfit, the course's model-selection example.

    Args:
      key: a PRNG key; the same key gives the same dataset.
      n_samples: number of points.
      coefficients: :math:`(c_0, c_1, \dots, c_p)`, constant term first.
      x_range: ``(a, b)`` with ``a < b``.
      noise: standard deviation of :math:`\epsilon`, >= 0.
      dtype: floating dtype.

    Returns:
      ``(x, y)``, both of shape ``(n_samples, 1)``.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.polynomial_regression(jax.random.key(0), 50, noise=0.0)
      >>> bool(abs(y[0, 0] - (5 + 2*x[0, 0] + 10*x[0, 0]**2 - 2*x[0, 0]**3)) < 1e-3)
      True
    """
    where = "jnn.data.polynomial_regression"
    n_samples, noise, dtype = _setup(where, key, n_samples, noise, dtype)
    coef = _finite_vector(where, "coefficients", coefficients, dtype)
    low, high = _interval(where, "x_range", x_range)
    return _polynomial(key, coef, low, high, noise, n_samples=n_samples)


@partial(jax.jit, static_argnames=("n_samples",))
def _polynomial(key, coef, low, high, noise, *, n_samples):
    u, z = uniform_and_normal(key, n_samples, 1, 1, coef.dtype)
    x = low + (high - low) * u
    return x, jnp.polyval(coef[::-1], x) + noise * z


def sine_regression(
    key: jax.Array,
    n_samples: int = 100,
    *,
    x_range: tuple[float, float] = (0.0, 1.0),
    frequency: float = 1.0,
    amplitude: float = 1.0,
    noise: float = 0.3,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""Noisy samples of a sine wave, Bishop's curve-fitting example by default.

    .. math::

        y = A \sin(2\pi f x) + \epsilon, \qquad
        x \sim \mathcal{U}(a, b), \quad \epsilon \sim \mathcal{N}(0, \mathrm{noise}^2).

    Args:
      key: a PRNG key; the same key gives the same dataset.
      n_samples: number of points (Bishop uses 10 to show overfitting).
      x_range: ``(a, b)`` with ``a < b``.
      frequency: :math:`f`, cycles per unit of ``x``.
      amplitude: :math:`A`.
      noise: standard deviation of :math:`\epsilon`, >= 0.
      dtype: floating dtype.

    Returns:
      ``(x, y)``, both of shape ``(n_samples, 1)``.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.sine_regression(jax.random.key(0), 10)
      >>> x.shape, y.shape
      ((10, 1), (10, 1))

    References:
      Bishop, "Pattern Recognition and Machine Learning", Springer, 2006, section 1.1.
    """
    where = "jnn.data.sine_regression"
    n_samples, noise, dtype = _setup(where, key, n_samples, noise, dtype)
    low, high = _interval(where, "x_range", x_range)
    frequency = _finite_scalar(where, "frequency", frequency)
    amplitude = _finite_scalar(where, "amplitude", amplitude)
    return _sine(key, low, high, frequency, amplitude, noise, n_samples=n_samples, dtype=dtype)


@partial(jax.jit, static_argnames=("n_samples", "dtype"))
def _sine(key, low, high, frequency, amplitude, noise, *, n_samples, dtype):
    u, z = uniform_and_normal(key, n_samples, 1, 1, dtype)
    x = low + (high - low) * u
    return x, amplitude * jnp.sin(2 * jnp.pi * frequency * x) + noise * z


def linear_regression(
    key: jax.Array,
    n_samples: int = 100,
    *,
    weights: Sequence[float] = (3.0, -2.0),
    bias: float = 0.0,
    noise: float = 0.5,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""A noisy linear model, by default :math:`y = 3x_1 - 2x_2 + \epsilon`.

    .. math::

        y = w^\top x + b + \epsilon, \qquad
        x \sim \mathcal{N}(0, I_d), \quad \epsilon \sim \mathcal{N}(0, \mathrm{noise}^2).

    Least squares recovers :math:`(w, b)` with standard error about
    :math:`\mathrm{noise} / \sqrt{n}` per coefficient.

    Args:
      key: a PRNG key; the same key gives the same dataset.
      n_samples: number of points.
      weights: :math:`w`, one entry per input feature (``d = len(weights)``).
      bias: :math:`b`.
      noise: standard deviation of :math:`\epsilon`, >= 0.
      dtype: floating dtype.

    Returns:
      ``(x, y)``: ``x: (n_samples, d)``, ``y: (n_samples, 1)``.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.linear_regression(jax.random.key(0), 20)
      >>> x.shape, y.shape
      ((20, 2), (20, 1))
    """
    where = "jnn.data.linear_regression"
    n_samples, noise, dtype = _setup(where, key, n_samples, noise, dtype)
    w = _finite_vector(where, "weights", weights, dtype)
    b = _finite_scalar(where, "bias", bias)
    return _linear(key, w, b, noise, n_samples=n_samples)


@partial(jax.jit, static_argnames=("n_samples",))
def _linear(key, w, b, noise, *, n_samples):
    _, z = uniform_and_normal(key, n_samples, 0, w.shape[0] + 1, w.dtype)
    x = z[:, :-1]
    return x, x @ w[:, None] + b + noise * z[:, -1:]
