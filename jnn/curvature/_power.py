"""Power iteration for the dominant eigenvalue: the teaching baseline (PyHessian's method)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import number_in_range, positive_int
from ._flat import flatten_operator
from ._validate import all_finite, check_operator, raise_if_not_finite


class PowerIteration(NamedTuple):
    """The result of :func:`power_iteration`.

    Attributes:
      eigenvalue: the last Rayleigh quotient :math:`v_t^\\top A v_t`.
      eigenvector: a unit pytree shaped like ``params``.
      num_matvecs: the operator products used (one per iteration).
      converged: whether the stopping rule fired before ``num_iters``.
      finite: ``False`` if nan/inf appeared.
    """

    eigenvalue: jax.Array
    eigenvector: Any
    num_matvecs: jax.Array
    converged: jax.Array
    finite: jax.Array


def power_iteration(
    matvec: Callable,
    params: Any,
    *,
    key: jax.Array,
    num_iters: int = 100,
    tol: float = 1e-3,
) -> PowerIteration:
    r"""The eigenvalue of largest magnitude by power iteration, stopping as PyHessian does.

    .. math::

        \lambda_t = v_t^\top A v_t, \qquad v_{t+1} = \frac{A v_t}{\|A v_t\|},
        \qquad \text{stop when } |\lambda_t - \lambda_{t-1}| < \mathrm{tol}\,
        (|\lambda_{t-1}| + 10^{-6}).

    The error shrinks like :math:`|\lambda_2 / \lambda_1|^t`, so a small gap means many
    products, and the stopping rule can fire long before the true error is ``tol`` (a slow
    change is not a small error). Kept as the baseline that :func:`top_eigenvalues`
    (Lanczos) is measured against; prefer that for real work.

    Args:
      matvec: a symmetric operator ``v -> A v`` on params-shaped pytrees.
      params: fixes the shapes of ``v``.
      key: a ``jax.random`` key for the starting vector.
      num_iters: the most iterations (PyHessian's ``maxIter=100``).
      tol: the relative-change stopping threshold (PyHessian's ``tol=1e-3``).

    Returns:
      :class:`PowerIteration`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import power_iteration
      >>> A = jnp.diag(jnp.array([5.0, 1.0, 0.5]))
      >>> res = power_iteration(lambda v: A @ v, jnp.zeros(3), key=jax.random.key(0), tol=1e-6)
      >>> round(float(res.eigenvalue), 4)
      5.0

    References:
      von Mises & Pollaczek-Geiringer, "Praktische Verfahren der Gleichungsauflösung",
      ZAMM 9, 1929.
      Yao, Gholami, Keutzer, Mahoney, "PyHessian: Neural Networks Through the Lens of the
      Hessian", IEEE BigData 2020. https://arxiv.org/abs/1912.07145
    """
    where = "power_iteration"
    check_operator(where, matvec, params)
    positive_int(where, "num_iters", num_iters)
    number_in_range(where, "tol", tol, 0.0)
    flat_mv, flat, unravel = flatten_operator(matvec, params)
    v = jax.random.normal(key, flat.shape, flat.dtype)
    v = v / jnp.linalg.norm(v)

    def body(state):
        t, v, lam_prev, _ = state
        w = flat_mv(v)
        lam = jnp.vdot(w, v)
        done = (t > 0) & (jnp.abs(lam - lam_prev) < tol * (jnp.abs(lam_prev) + 1e-6))
        return t + 1, w / jnp.linalg.norm(w), lam, done

    def cond(state):
        t, _, _, done = state
        return (t < num_iters) & ~done

    init = (jnp.int32(0), v, jnp.zeros((), flat.dtype), jnp.bool_(False))
    t, v, lam, done = lax.while_loop(cond, body, init)
    finite = all_finite((lam, v))
    raise_if_not_finite(where, "the power iteration result", finite)
    return PowerIteration(lam, unravel(v), t, done, finite)
