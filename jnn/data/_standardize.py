"""Input standardization with statistics fitted on the training set only."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import floating_input
from ._validate import check_finite


def _leading_axes(where: str, axis: Any, ndim: int) -> int:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not axes or sorted(int(a) for a in axes) != list(range(len(axes))) or len(axes) > ndim:
        raise ValueError(
            f"{where}: axis must be 0 or the leading axes (0, 1, ..., m-1) with m <= x.ndim = "
            f"{ndim}; got {axis!r}. Use axis=0 for (n, features) and axis=(0, 1, 2) for "
            "per-channel statistics of NHWC images."
        )
    return len(axes)


class Standardizer(NamedTuple):
    r"""Per-feature mean and standard deviation, fitted on training data.

    .. math::

        \mu = \frac1n \sum_i x_i, \qquad
        \sigma = \sqrt{\tfrac1n \textstyle\sum_i (x_i - \mu)^2}, \qquad
        z = \frac{x - \mu}{\sigma}.

    Features whose :math:`\sigma` is below ``eps`` (constant pixels, say) get
    :math:`\sigma = 1`, so they are centred but not blown up. A ``Standardizer`` is a
    pytree (a ``NamedTuple`` of two arrays): pass it into jitted functions, save it with
    the model. Fit it on the training set only and apply the same statistics to the
    validation and test sets; statistics from all data leak test information into
    training.

    Attributes:
      mean: :math:`\mu`, shape ``x.shape[m:]`` for statistics over the ``m`` leading axes.
      std: :math:`\sigma`, the same shape.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.data import Standardizer
      >>> s = Standardizer.fit(jnp.array([[0.0, 10.0], [2.0, 30.0]]))
      >>> s.mean.tolist(), s.std.tolist()
      ([1.0, 20.0], [1.0, 10.0])
      >>> s.apply(jnp.array([[3.0, 40.0]])).tolist()
      [[2.0, 2.0]]
    """

    mean: jax.Array
    std: jax.Array

    @classmethod
    def fit(cls, x: Any, *, axis: Any = 0, eps: float = 1e-8) -> Standardizer:
        """Mean and standard deviation of ``x`` over its leading ``axis`` (training data).

        Args:
          x: training inputs ``(n, ...)``, a floating array.
          axis: ``0`` (per feature), or leading axes such as ``(0, 1, 2)`` for per-channel
            statistics of NHWC images.
          eps: standard deviations below this count as zero and are replaced by 1.

        Returns:
          a ``Standardizer`` holding ``mean`` and ``std``.
        """
        where = "jnn.data.Standardizer.fit"
        floating_input(where, "x", x)
        m = _leading_axes(where, axis, jnp.ndim(x))
        check_finite(where, "x", x)
        axes = tuple(range(m))
        mean = jnp.mean(x, axis=axes)
        std = jnp.std(x, axis=axes)
        return cls(mean, jnp.where(std < eps, jnp.ones_like(std), std))

    def _broadcast(self, where: str, x: Any) -> tuple[jax.Array, jax.Array]:
        shape = self.mean.shape
        if jnp.ndim(x) < len(shape) or tuple(jnp.shape(x)[jnp.ndim(x) - len(shape) :]) != shape:
            raise ValueError(
                f"{where}: x has shape {jnp.shape(x)} but the statistics were fitted on "
                f"examples of shape {shape}; x must end with {shape}."
            )
        lead = (1,) * (jnp.ndim(x) - len(shape))
        return self.mean.reshape(lead + shape), self.std.reshape(lead + shape)

    def apply(self, x: Any) -> jax.Array:
        """``(x - mean) / std`` for inputs of the fitted layout (a pure function)."""
        mean, std = self._broadcast("jnn.data.Standardizer.apply", x)
        return (x - mean) / std

    def invert(self, z: Any) -> jax.Array:
        """``z * std + mean``: undoes :meth:`apply` (e.g. for standardized targets)."""
        mean, std = self._broadcast("jnn.data.Standardizer.invert", z)
        return z * std + mean


def standardize(x_train: Any, *others: Any, axis: Any = 0, eps: float = 1e-8) -> tuple[Any, ...]:
    """Standardize ``x_train`` with its own statistics and ``others`` with the same ones.

    Args:
      x_train: training inputs ``(n, ...)``; the only data the statistics see.
      *others: further arrays (validation, test) to transform with those statistics.
      axis: leading axes to reduce over (see :meth:`Standardizer.fit`).
      eps: see :meth:`Standardizer.fit`.

    Returns:
      ``(z_train, *z_others, standardizer)``.

    Example:
      >>> import jax, jnn
      >>> x, y = jnn.data.linear_regression(jax.random.key(0), 100)
      >>> z_train, z_test, scaler = jnn.data.standardize(x[:80], x[80:])
      >>> bool(abs(z_train.mean()) < 1e-6)
      True
    """
    scaler = Standardizer.fit(x_train, axis=axis, eps=eps)
    return (scaler.apply(x_train), *(scaler.apply(o) for o in others), scaler)
