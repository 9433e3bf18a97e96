"""Randomized estimators from operator products: trace (Hutchinson, Hutch++), diagonal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import positive_int
from ._flat import flatten_operator
from ._validate import all_finite, check_operator, raise_if_not_finite

DEFAULT_PROBE_CHUNK = 8


class TraceEstimate(NamedTuple):
    """The result of :func:`trace`.

    Attributes:
      estimate: the trace estimate (unbiased).
      std_error: the estimated standard deviation of ``estimate``, from the spread of the
        random probes (``inf`` with a single probe).
      num_matvecs: the operator products used.
      finite: ``False`` if nan/inf appeared.
    """

    estimate: jax.Array
    std_error: jax.Array
    num_matvecs: jax.Array
    finite: jax.Array


def _products(flat_mv, X, chunk_size):
    """``A x`` for every row ``x`` of ``X``, ``chunk_size`` rows at a time."""
    return lax.map(flat_mv, X, batch_size=min(chunk_size, X.shape[0]))


def _mean_and_error(samples):
    n = samples.shape[0]
    if n == 1:
        return samples[0], jnp.asarray(jnp.inf, samples.dtype)
    return jnp.mean(samples), jnp.std(samples, ddof=1) / jnp.sqrt(n)


def trace(
    matvec: Callable,
    params: Any,
    *,
    key: jax.Array,
    num_matvecs: int = 30,
    method: str = "hutch++",
    chunk_size: int = DEFAULT_PROBE_CHUNK,
) -> TraceEstimate:
    r"""An unbiased estimate of :math:`\mathrm{tr}(A)` from ``num_matvecs`` operator products.

    **Hutchinson** (``method="hutchinson"``), with Rademacher probes :math:`z_i \in \{\pm1\}^d`:

    .. math::

        \widehat{\mathrm{tr}}(A) = \frac{1}{n}\sum_{i=1}^{n} z_i^\top A z_i, \qquad
        \mathrm{Var} = \frac{2}{n}\Big(\|A\|_F^2 - \sum_i A_{ii}^2\Big).

    **Hutch++** (``method="hutch++"``, the default) splits the budget in three: sketch
    :math:`Q = \mathrm{orth}(A S)` with :math:`n/3` probes :math:`S`, take the top part
    exactly and apply Hutchinson only to the deflated rest with probes :math:`G`:

    .. math::

        \widehat{\mathrm{tr}}(A) = \mathrm{tr}(Q^\top A Q)
            + \frac{1}{|G|}\sum_{g \in G} g^\top (I - QQ^\top) A (I - QQ^\top) g.

    For the fast-decaying spectra of network Hessians the error falls like :math:`1/n`
    instead of :math:`1/\sqrt{n}`; it is exact when :math:`A` has rank at most :math:`n/3`.

    Args:
      matvec: a symmetric operator ``v -> A v`` on params-shaped pytrees (e.g.
        ``hvp_operator(loss, params, batch)``; with ``mesh=`` the products run data
        parallel over the mesh's devices).
      params: fixes the shapes of ``v``.
      key: a ``jax.random`` key for the probes.
      num_matvecs: the product budget ``n`` (at least 3 for Hutch++, at most ``3 d``).
      method: ``"hutch++"`` or ``"hutchinson"``.
      chunk_size: products evaluated at once (``vmap``); lower it to save memory.

    Returns:
      :class:`TraceEstimate`. Outside ``jit`` a non-finite estimate raises ``ValueError``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import trace
      >>> A = jnp.diag(jnp.array([3.0, 2.0, 1.0, 0.0, 0.0, 0.0]))    # rank 3, trace 6
      >>> res = trace(lambda v: A @ v, jnp.zeros(6), key=jax.random.key(0), num_matvecs=9)
      >>> round(float(res.estimate), 4)                        # exact: rank <= n/3
      6.0

    References:
      Hutchinson, "A Stochastic Estimator of the Trace of the Influence Matrix for Laplacian
      Smoothing Splines", Communications in Statistics 18(3), 1989.
      Meyer, Musco, Musco, Woodruff, "Hutch++: Optimal Stochastic Trace Estimation",
      SOSA 2021. https://arxiv.org/abs/2010.09649
    """
    where = "trace"
    check_operator(where, matvec, params)
    n = positive_int(where, "num_matvecs", num_matvecs)
    chunk = positive_int(where, "chunk_size", chunk_size)
    flat_mv, flat, _ = flatten_operator(matvec, params)
    d, dtype = flat.size, flat.dtype
    if method == "hutchinson":
        Z = jax.random.rademacher(key, (n, d), dtype)
        estimate, error = _mean_and_error(jnp.sum(Z * _products(flat_mv, Z, chunk), axis=1))
    elif method == "hutch++":
        if not 3 <= n <= 3 * d:
            raise ValueError(
                f"{where}: Hutch++ needs 3 <= num_matvecs <= 3 d = {3 * d}; got num_matvecs={n}. "
                'Use a budget in that range, or method="hutchinson".'
            )
        n_sketch = n // 3
        ks, kg = jax.random.split(key)
        S = jax.random.rademacher(ks, (n_sketch, d), dtype)
        G = jax.random.rademacher(kg, (n - 2 * n_sketch, d), dtype)
        Q, _ = jnp.linalg.qr(_products(flat_mv, S, chunk).T)  # (d, n_sketch)
        top = jnp.sum(Q.T * _products(flat_mv, Q.T, chunk))
        G = G - (G @ Q) @ Q.T
        rest, error = _mean_and_error(jnp.sum(G * _products(flat_mv, G, chunk), axis=1))
        estimate = top + rest
    else:
        raise ValueError(f'{where}: method must be "hutch++" or "hutchinson"; got {method!r}.')
    finite = all_finite(estimate)
    raise_if_not_finite(where, "the trace estimate", finite)
    return TraceEstimate(estimate, error, jnp.int32(n), finite)


def diag_hutchinson(
    matvec: Callable,
    params: Any,
    *,
    key: jax.Array,
    num_samples: int = 1,
    chunk_size: int = DEFAULT_PROBE_CHUNK,
) -> Any:
    r"""Hutchinson's unbiased estimate of :math:`\mathrm{diag}(A)`, as a params-shaped pytree.

    .. math::

        \widehat{\mathrm{diag}}(A) = \frac{1}{n}\sum_{i=1}^{n} z_i \odot A z_i,
        \qquad z_i \in \{\pm 1\}^d, \qquad
        \mathrm{Var}_j = \frac{1}{n}\sum_{k \ne j} A_{jk}^2.

    One product per sample, whatever ``d``: this is the curvature estimate behind
    AdaHessian and Sophia. For the exact diagonal (``d`` products) use :func:`hessian_diag`.

    Args:
      matvec: a symmetric operator ``v -> A v`` on params-shaped pytrees.
      params: fixes the shapes of ``v`` and of the result.
      key: a ``jax.random`` key for the Rademacher probes.
      num_samples: the number of probes ``n``.
      chunk_size: products evaluated at once (``vmap``).

    Returns:
      A pytree shaped like ``params``. Outside ``jit`` non-finite values raise ``ValueError``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import diag_hutchinson
      >>> A = jnp.diag(jnp.array([1.0, 2.0, 3.0]))             # diagonal: exact
      >>> diag_hutchinson(lambda v: A @ v, jnp.zeros(3), key=jax.random.key(0))
      Array([1., 2., 3.], dtype=float32)

    References:
      Bekas, Kokiopoulou, Saad, "An estimator for the diagonal of a matrix", Applied
      Numerical Mathematics 57, 2007.
      Yao et al., "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning",
      AAAI 2021. https://arxiv.org/abs/2006.00719
    """
    where = "diag_hutchinson"
    check_operator(where, matvec, params)
    n = positive_int(where, "num_samples", num_samples)
    chunk = positive_int(where, "chunk_size", chunk_size)
    flat_mv, flat, unravel = flatten_operator(matvec, params)
    Z = jax.random.rademacher(key, (n, flat.size), flat.dtype)
    diag = jnp.mean(Z * _products(flat_mv, Z, chunk), axis=0)
    raise_if_not_finite(where, "the diagonal estimate", all_finite(diag))
    return unravel(diag)
