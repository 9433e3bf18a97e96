"""The spectral density of a symmetric operator by stochastic Lanczos quadrature (SLQ)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import number_in_range, positive_int
from ._flat import flatten_operator
from ._lanczos import lanczos_tridiagonal, padded_eigh
from ._validate import all_finite, check_operator, raise_if_not_finite


class SpectralDensity(NamedTuple):
    """The result of :func:`spectral_density`, ready for ``plt.plot(res.grid, res.density)``.

    Attributes:
      grid: ``(num_points,)`` evaluation points :math:`t`.
      density: ``(num_points,)`` the smoothed density :math:`\\phi_\\sigma(t)`; it integrates
        to one (``jnp.trapezoid(density, grid) ≈ 1`` on the default grid).
      nodes: ``(num_probes, num_iters)`` Gauss quadrature nodes (Ritz values).
      weights: ``(num_probes, num_iters)`` their weights; each row sums to one.
      sigma: the Gaussian broadening width used.
      finite: ``False`` if nan/inf appeared.
    """

    grid: jax.Array
    density: jax.Array
    nodes: jax.Array
    weights: jax.Array
    sigma: jax.Array
    finite: jax.Array


def _quadrature(flat_mv, m):
    def one_probe(args):
        z, key = args
        tri = lanczos_tridiagonal(flat_mv, z, m, key)
        evals, S = padded_eigh(tri.alpha, tri.beta, tri.num_steps)
        return evals, S[0] ** 2

    return one_probe


def spectral_density(
    matvec: Callable,
    params: Any,
    *,
    key: jax.Array,
    num_probes: int = 8,
    num_iters: int | None = None,
    sigma: float | None = None,
    grid: jax.Array | None = None,
    num_points: int = 1000,
    chunk_size: int = 1,
) -> SpectralDensity:
    r"""The eigenvalue density of a symmetric operator by stochastic Lanczos quadrature.

    The density :math:`\phi(t) = \frac{1}{d}\sum_{i=1}^{d}\delta(t - \lambda_i)` smoothed
    by a Gaussian :math:`g_\sigma`, is estimated from ``num_probes`` unit Rademacher vectors
    :math:`v_l`: ``num_iters = m`` Lanczos steps from :math:`v_l` give
    :math:`T_m^{(l)} = S^{(l)} \mathrm{diag}(\theta^{(l)}) S^{(l)\top}`, the Gauss quadrature
    nodes :math:`\theta_k^{(l)}` and weights :math:`\tau_k^{(l)} = (e_1^\top s_k^{(l)})^2`
    of :math:`v_l^\top f(A) v_l`, and

    .. math::

        \phi_\sigma(t) \approx \frac{1}{n_v} \sum_{l=1}^{n_v} \sum_{k=1}^{m}
            \tau_k^{(l)}\, g_\sigma\big(t - \theta_k^{(l)}\big), \qquad
        g_\sigma(x) = \frac{1}{\sigma\sqrt{2\pi}} e^{-x^2 / (2\sigma^2)}.

    Each probe's weights sum to one, so the estimate is itself a probability density. The
    probes run one after another (``chunk_size`` at once), each a full-reorthogonalization
    Lanczos loop; only ``m`` vectors of size ``d`` are held per probe.

    Args:
      matvec: a symmetric operator ``v -> A v`` on params-shaped pytrees (e.g.
        ``hvp_operator(loss, params, batch, mesh=mesh)`` for data-parallel products).
      params: fixes the shapes of ``v``.
      key: a ``jax.random`` key for the probes.
      num_probes: random starting vectors :math:`n_v` (variance falls like :math:`1/(n_v d)`).
      num_iters: Lanczos steps per probe, at most ``d``; default ``min(d, 64)``.
      sigma: the broadening width; default 1% of the spread of the nodes.
      grid: points where to evaluate the density; default ``num_points`` points from the
        smallest node minus :math:`5\sigma` to the largest plus :math:`5\sigma`.
      num_points: the size of the default grid.
      chunk_size: probes run at once (``vmap``); each holds ``m x d`` numbers.

    Returns:
      :class:`SpectralDensity`. Outside ``jit`` a non-finite result raises ``ValueError``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import spectral_density
      >>> A = jnp.diag(jnp.linspace(0.0, 1.0, 200))
      >>> res = spectral_density(lambda v: A @ v, jnp.zeros(200), key=jax.random.key(0))
      >>> round(float(jnp.trapezoid(res.density, res.grid)), 4)
      1.0

    References:
      Golub & Meurant, "Matrices, Moments and Quadrature with Applications", Princeton, 2010.
      Ubaru, Chen, Saad, "Fast Estimation of tr(f(A)) via Stochastic Lanczos Quadrature",
      SIAM J. Matrix Anal. Appl. 38(4), 2017. https://doi.org/10.1137/16M1104974
      Ghorbani, Krishnan, Xiao, "An Investigation into Neural Net Optimization via Hessian
      Eigenvalue Density", ICML 2019. https://arxiv.org/abs/1901.10159
    """
    where = "spectral_density"
    check_operator(where, matvec, params)
    flat_mv, flat, _ = flatten_operator(matvec, params)
    d, dtype = flat.size, flat.dtype
    n_v = positive_int(where, "num_probes", num_probes)
    m = min(d, 64) if num_iters is None else positive_int(where, "num_iters", num_iters)
    if m > d:
        raise ValueError(
            f"{where}: num_iters={m} exceeds d={d}; Lanczos builds at most d orthogonal "
            f"vectors. Use num_iters <= {d}."
        )
    chunk = positive_int(where, "chunk_size", chunk_size)
    positive_int(where, "num_points", num_points)
    if sigma is not None:
        number_in_range(where, "sigma", sigma, 0.0, low_inclusive=False)

    k_probe, k_restart = jax.random.split(key)
    Z = jax.random.rademacher(k_probe, (n_v, d), dtype)
    keys = jax.random.split(k_restart, n_v)
    batch_size = None if min(chunk, n_v) == 1 else min(chunk, n_v)
    nodes, weights = lax.map(_quadrature(flat_mv, m), (Z, keys), batch_size=batch_size)

    grid, density, sigma, finite = _broaden(nodes, weights, sigma, grid, num_points=num_points)
    raise_if_not_finite(where, "the spectral density", finite)
    return SpectralDensity(grid, density, nodes, weights, sigma, finite)


@functools.partial(jax.jit, static_argnames="num_points")
def _broaden(nodes, weights, sigma, grid, *, num_points):
    """Gaussian-broadened quadrature: the density on ``grid`` (``None``: an automatic grid)."""
    dtype = nodes.dtype
    lo, hi = jnp.min(nodes), jnp.max(nodes)
    if sigma is None:
        spread = hi - lo
        sigma = 0.01 * jnp.where(spread > 0, spread, jnp.maximum(jnp.abs(hi), 1.0))
    sigma = jnp.asarray(sigma, dtype)
    if grid is None:
        grid = jnp.linspace(lo - 5 * sigma, hi + 5 * sigma, num_points, dtype=dtype)
    grid = jnp.asarray(grid, dtype)
    x = (grid[:, None, None] - nodes[None]) / sigma
    kernel = jnp.exp(-0.5 * x**2) / (sigma * jnp.sqrt(2 * jnp.pi))
    density = jnp.einsum("gpk,pk->g", kernel, weights) / nodes.shape[0]
    return grid, density, sigma, all_finite((nodes, weights, density))
