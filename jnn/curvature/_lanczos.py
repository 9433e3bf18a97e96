"""The Lanczos process with full reorthogonalization, in one compiled loop, on flat vectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax


class Tridiagonal(NamedTuple):
    """The output of :func:`lanczos_tridiagonal`.

    ``A V^T ≈ V^T T`` with orthonormal rows ``V[:num_steps]`` and ``T`` the symmetric
    tridiagonal matrix with diagonal ``alpha`` and off-diagonal ``beta[:-1]``; ``beta[n - 1]``
    (``n = num_steps``) is the norm of the last residual, the :math:`\\beta_m` of the error
    bounds. Rows and entries past ``num_steps`` are zero.
    """

    basis: jax.Array  # (m, d)
    alpha: jax.Array  # (m,)
    beta: jax.Array  # (m,)
    num_steps: jax.Array  # () int32


def _orthogonalize(V, w):
    """``w`` minus its projection on the rows of ``V`` (rows not yet in use are zero).

    Classical Gram-Schmidt, repeated once when the first pass removed more than
    ``1 - 1/sqrt(2)`` of the norm (Daniel, Gragg, Kaufman & Stewart 1976; "twice is enough",
    Giraud et al. 2005). Usually one pass suffices, so a step reads ``V`` twice.
    """
    once = lambda w: w - V.T @ (V @ w)
    w1 = once(w)
    again = jnp.linalg.norm(w1) < jnp.sqrt(0.5) * jnp.linalg.norm(w)
    return lax.cond(again, once, lambda w: w, w1)


def padded_eigh(alpha, beta, n):
    """Eigen-decomposition of the leading ``n x n`` block of the Lanczos tridiagonal matrix.

    The matrix keeps its static size ``m``: entries past ``n`` are decoupled and given one
    value below the whole spectrum (Gershgorin bound), so the eigenvalues come out ascending
    as ``m - n`` sentinels followed by the ``n`` Ritz values.
    """
    m = alpha.shape[0]
    idx = jnp.arange(m)
    used = idx < n
    off = jnp.where(idx[:-1] < n - 1, beta[:-1], 0.0)
    radius = jnp.concatenate([jnp.zeros(1, off.dtype), jnp.abs(off)]) + jnp.concatenate(
        [jnp.abs(off), jnp.zeros(1, off.dtype)]
    )
    lo = jnp.min(jnp.where(used, alpha - radius, jnp.inf))
    hi = jnp.max(jnp.where(used, alpha + radius, -jnp.inf))
    span = (hi - lo) + jnp.abs(hi) + jnp.abs(lo) + jnp.finfo(alpha.dtype).tiny
    diag = jnp.where(used, alpha, lo - span)
    T = jnp.diag(diag) + jnp.diag(off, 1) + jnp.diag(off, -1)
    return jnp.linalg.eigh(T)


def ritz_pairs(tri: Tridiagonal, k: int, which: str):
    """The ``k`` largest (descending) or smallest (ascending) Ritz values of ``tri``.

    Returns ``(theta (k,), S (m, k) eigenvectors of T, bounds (k,), gaps (k,))`` with
    ``bounds = |beta_n s_{n,i}|`` the residual norms and ``gaps`` the distance to the nearest
    other Ritz value (``inf`` when there is none).
    """
    m = tri.alpha.shape[0]
    n = tri.num_steps
    evals, S = padded_eigh(tri.alpha, tri.beta, n)
    start = m - n  # first real Ritz value in ascending order
    ascending_pos = jnp.arange(m) - start  # position among real Ritz values, < 0 for sentinels
    if which == "largest":
        order = jnp.arange(m - 1, m - 1 - k, -1)
    else:
        order = start + jnp.arange(k)
    theta = evals[order]
    vecs = S[:, order]
    last = vecs[jnp.clip(n - 1, 0, m - 1)]
    bounds = jnp.abs(tri.beta[jnp.clip(n - 1, 0, m - 1)] * last)
    pos = ascending_pos[order]
    below = jnp.where(pos - 1 >= 0, evals[jnp.clip(order - 1, 0, m - 1)], -jnp.inf)
    above = jnp.where(pos + 1 < n, evals[jnp.clip(order + 1, 0, m - 1)], jnp.inf)
    gaps = jnp.minimum(theta - below, above - theta)
    return theta, vecs, bounds, gaps


def converged(tri: Tridiagonal, k: int, which: str, tol) -> jax.Array:
    """All ``k`` wanted Ritz values within ``tol`` relative error by the residual/gap estimate.

    The estimate is ``min(r, r^2 / gap)`` (Parlett, The Symmetric Eigenvalue Problem, 11.7),
    with ``r = |beta_n s_{n,i}|`` and the gap measured to the other Ritz values.
    """
    theta, _, r, gaps = ritz_pairs(tri, k, which)
    estimate = jnp.minimum(r, r**2 / gaps)
    return (tri.num_steps > k) & jnp.all(estimate <= tol * jnp.abs(theta))


def lanczos_tridiagonal(
    flat_matvec: Callable,
    v0: jax.Array,
    num_iters: int,
    key: jax.Array,
    *,
    stop: Callable[[Tridiagonal], jax.Array] | None = None,
    check_every: int = 1,
) -> Tridiagonal:
    """Run up to ``num_iters`` Lanczos steps from ``v0`` inside one ``lax.while_loop``.

    Each step orthogonalizes the new vector against all previous ones, so the basis
    stays orthonormal to working precision and no spurious copies of converged eigenvalues
    appear. On breakdown (the Krylov space is invariant: ``beta`` below ``64 eps ||A||``)
    the process restarts from a random vector orthogonal to the basis and records
    ``beta = 0``, so ``T`` becomes block diagonal and repeated eigenvalues are still found.
    ``stop(tri)``, when given, is checked after every ``check_every`` steps (it costs an
    ``m x m`` eigen-decomposition) and ends the loop early when it returns ``True``.
    """
    m = num_iters
    d = v0.shape[0]
    dtype = v0.dtype
    eps = jnp.finfo(dtype).eps
    # Restarts are rare: rotations of one random vector drawn up front keep the loop free of
    # random-number generation, and two full Gram-Schmidt passes keep the branch small.
    fresh = jax.random.normal(key, (d,), dtype)

    def restart(V, j):
        r = jnp.roll(fresh, j)
        r = r - V.T @ (V @ r)
        r = r - V.T @ (V @ r)
        return r / jnp.linalg.norm(r)

    def body(state):
        j, V, alpha, beta, v, anorm, _ = state
        V = V.at[j].set(v)
        w = flat_matvec(v)
        anorm = jnp.maximum(anorm, jnp.linalg.norm(w))
        a = jnp.vdot(v, w)
        w = w - a * v - jnp.where(j > 0, beta[j - 1], 0.0) * V[jnp.maximum(j - 1, 0)]
        w = _orthogonalize(V, w)
        b = jnp.linalg.norm(w)
        breakdown = b <= 64 * eps * anorm
        b = jnp.where(breakdown, 0.0, b)
        v_next = lax.cond(
            breakdown & (j + 1 < m),
            lambda: restart(V, j),
            lambda: w / jnp.where(b > 0, b, 1.0),
        )
        alpha, beta = alpha.at[j].set(a), beta.at[j].set(b)
        tri = Tridiagonal(V, alpha, beta, j + 1)
        if stop is None:
            done = jnp.bool_(False)
        else:
            check = ((j + 1) % check_every == 0) | (j + 1 == m)
            done = lax.cond(check, lambda: stop(tri), lambda: jnp.bool_(False))
        return j + 1, V, alpha, beta, v_next, anorm, done

    def cond(state):
        j, *_, done = state
        return (j < m) & ~done

    v = v0 / jnp.linalg.norm(v0)
    zero = jnp.zeros((), dtype)
    init = (
        jnp.int32(0),
        jnp.zeros((m, d), dtype),
        jnp.zeros(m, dtype),
        jnp.zeros(m, dtype),
        v,
        zero,
        jnp.bool_(False),
    )
    j, V, alpha, beta, *_ = lax.while_loop(cond, body, init)
    return Tridiagonal(V, alpha, beta, j)
