"""The Lanczos process with full (or, opt-in, partial) reorthogonalization, in one compiled
loop, on flat vectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

# Rows per block of the stored basis. Each step reads only the blocks in use, so early
# steps are cheap; a block is a separate buffer, because a slice of one large (m, d) array
# is copied before every product on XLA:CPU.
BLOCK_ROWS = 8
_EXACT = jax.lax.Precision.HIGHEST  # orthogonality needs full float32 products on TPU too


class Tridiagonal(NamedTuple):
    """The output of :func:`lanczos_tridiagonal`.

    ``A V^T ≈ V^T T`` with orthonormal rows ``V[:num_steps]`` and ``T`` the symmetric
    tridiagonal matrix with diagonal ``alpha`` and off-diagonal ``beta[:-1]``; ``beta[n - 1]``
    (``n = num_steps``) is the norm of the last residual, the :math:`\\beta_m` of the error
    bounds. Rows and entries past ``num_steps`` are zero. ``V`` is stored as consecutive
    row blocks (``blocks``); ``basis`` joins them into one ``(m, d)`` array. With partial
    reorthogonalization the rows are semi-orthogonal (``|v_i^T v_j| <= sqrt(eps)``).
    """

    blocks: tuple  # row blocks of V, each (rows, d), BLOCK_ROWS rows but the last
    alpha: jax.Array  # (m,)
    beta: jax.Array  # (m,)
    num_steps: jax.Array  # () int32
    reorthogonalizations: jax.Array | None = None  # () int32: steps that reorthogonalized

    @property
    def basis(self) -> jax.Array:
        return jnp.concatenate(self.blocks, axis=0)

    def combine(self, S: jax.Array) -> jax.Array:
        """``S.T @ V`` for ``S`` of shape ``(m, k)``, block by block (no joined copy of V)."""
        out, start = 0.0, 0
        for block in self.blocks:
            rows = block.shape[0]
            out = out + jnp.matmul(S[start : start + rows].T, block, precision=_EXACT)
            start += rows
        return out


def _empty_blocks(m: int, d: int, dtype) -> tuple:
    return tuple(
        jnp.zeros((min(BLOCK_ROWS, m - s), d), dtype) for s in range(0, m, BLOCK_ROWS)
    )


def _insert(blocks: tuple, j, v) -> tuple:
    """Set row ``j`` of the blocked basis to ``v`` (in place: one conditional per block)."""
    p, r = j // BLOCK_ROWS, j % BLOCK_ROWS
    set_row = lambda b: lax.dynamic_update_slice(b, v[None].astype(b.dtype), (r, jnp.zeros_like(r)))
    return tuple(lax.cond(p == i, set_row, lambda b: b, b) for i, b in enumerate(blocks))


def _project_out(blocks: tuple, num_blocks, w):
    """One Gram-Schmidt pass of ``w`` against the first ``num_blocks`` blocks of the basis.

    Block by block, ``w <- w - B_i^T (B_i w)`` (block modified Gram-Schmidt; classical
    within a block). Every block sits behind its own ``lax.cond``, so blocks not yet in
    use are never read, and each product runs on a whole, unsliced buffer.
    """

    def remove(b):
        return lambda w: w - jnp.matmul(jnp.matmul(b, w, precision=_EXACT), b, precision=_EXACT)

    for i, b in enumerate(blocks):
        w = lax.cond(i < num_blocks, remove(b), lambda w: w, w)
    return w


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


def eigenvalue_estimate(r, gaps):
    """``min(r, r^2 / gap)``: the error bound of a Ritz value from its residual and gap.

    An eigenvalue lies within the residual norm ``r`` of the Ritz value; when the nearest
    other eigenvalue is ``gap`` away the error shrinks to ``r^2 / gap`` (Kato-Temple;
    Parlett, The Symmetric Eigenvalue Problem, 1998, 11.7), with the gap measured to the
    nearest other Ritz value. The minimum falls back to ``r`` while the gap is unresolved.
    """
    return jnp.minimum(r, r**2 / gaps)


def converged(tri: Tridiagonal, k: int, which: str, tol) -> jax.Array:
    """All ``k`` wanted Ritz values within ``tol`` relative error by :func:`eigenvalue_estimate`."""
    theta, _, r, gaps = ritz_pairs(tri, k, which)
    estimate = eigenvalue_estimate(r, gaps)
    return (tri.num_steps > k) & jnp.all(estimate <= tol * jnp.abs(theta))


def _omega_update(omega, omega_prev, alpha, beta, a, b, j, scale, eps):
    """Simon's recurrence for ``omega_next[k] ~ v_{j+1}^T v_k`` (k <= j) from the tridiagonal.

    With ``beta_j v_{j+1} = A v_j - alpha_j v_j - beta_{j-1} v_{j-1}`` and the same relation
    for ``v_k``, the inner products obey (Simon 1984, eq. 2.6)

        beta_j w_{j+1,k} = beta_k w_{j,k+1} + (alpha_k - alpha_j) w_{j,k}
                           + beta_{k-1} w_{j,k-1} - beta_{j-1} w_{j-1,k},

    to which a rounding term of size ``eps ||A||`` is added with the sign that makes the
    estimate grow (an overestimate is safe: it only reorthogonalizes sooner).
    """
    m = omega.shape[0]
    k = jnp.arange(m)
    up = jnp.concatenate([omega[1:], jnp.zeros(1, omega.dtype)])  # w_{j,k+1}
    down = jnp.concatenate([jnp.zeros(1, omega.dtype), omega[:-1]])  # w_{j,k-1}
    beta_down = jnp.concatenate([jnp.zeros(1, beta.dtype), beta[:-1]])  # beta_{k-1}
    beta_prev = jnp.where(j > 0, beta[jnp.maximum(j - 1, 0)], 0.0)
    term = beta * up + (alpha - a) * omega + beta_down * down - beta_prev * omega_prev
    term = term + jnp.where(term >= 0, 1.0, -1.0) * scale
    safe_b = jnp.where(b > 0, b, 1.0)
    nxt = jnp.where(k < j, term / safe_b, 0.0)
    nxt = jnp.where(k == j, eps * scale / safe_b + eps, nxt)  # v_{j+1} vs v_j: local
    nxt = jnp.where(k == j + 1, 1.0, nxt)
    worst = jnp.max(jnp.where(k < j, jnp.abs(nxt), 0.0))
    return nxt, worst


def lanczos_tridiagonal(
    flat_matvec: Callable,
    v0: jax.Array,
    num_iters: int,
    key: jax.Array,
    *,
    stop: Callable[[Tridiagonal], jax.Array] | None = None,
    check_every: int = 1,
    reorthogonalize: str = "full",
) -> Tridiagonal:
    """Run up to ``num_iters`` Lanczos steps from ``v0`` inside one ``lax.while_loop``.

    With ``reorthogonalize="full"`` (the default) each step orthogonalizes the new vector
    against all previous ones, so the basis stays orthonormal to working precision and no
    spurious copies of converged eigenvalues appear. With ``"partial"`` (Simon 1984) a
    step does so only when the estimated loss of orthogonality
    :math:`\\max_k |v_{j+1}^\\top v_k|` (:func:`_omega_update`) passes
    :math:`\\sqrt{\\epsilon}`, and then also at the next step: the basis stays
    semi-orthogonal, which keeps the Ritz values accurate to working precision while most
    steps skip the reorthogonalization. On breakdown (the Krylov space is invariant:
    ``beta`` below ``64 eps ||A||``) the process restarts from a random vector orthogonal to
    the basis and records ``beta = 0``, so ``T`` becomes block diagonal and repeated
    eigenvalues are still found. ``stop(tri)``, when given, is checked after every
    ``check_every`` steps (it costs an ``m x m`` eigen-decomposition) and ends the loop
    early when it returns ``True``.
    """
    if reorthogonalize not in ("full", "partial"):
        raise ValueError(
            f"lanczos: reorthogonalize must be 'full' or 'partial'; got {reorthogonalize!r}."
        )
    partial = reorthogonalize == "partial"
    m = num_iters
    d = v0.shape[0]
    dtype = v0.dtype
    eps = jnp.finfo(dtype).eps
    # Restarts are rare: rotations of one random vector drawn up front keep the loop free of
    # random-number generation.
    fresh = jax.random.normal(key, (d,), dtype)

    def orthogonalize(blocks, j, w, anorm):
        # Classical Gram-Schmidt against the rows in use, repeated once when the first pass
        # removed more than 1 - 1/sqrt(2) of the norm (Daniel, Gragg, Kaufman & Stewart
        # 1976; "twice is enough", Giraud et al. 2005): usually one pass, so a step reads
        # the rows in use twice. On breakdown the second pass orthogonalizes the restart
        # vector instead (one pass suffices for a random vector).
        project = lambda x: _project_out(blocks, j // BLOCK_ROWS + 1, x)
        w1 = project(w)
        n1 = jnp.linalg.norm(w1)
        breakdown = n1 <= 64 * eps * anorm
        restart = breakdown & (j + 1 < m)
        again = n1 < jnp.sqrt(0.5) * jnp.linalg.norm(w)
        x = jnp.where(restart, jnp.roll(fresh, j), w1)
        x = lax.cond(again | restart, project, lambda x: x, x)
        return x, breakdown

    def body(state):
        j, blocks, alpha, beta, v, v_prev, anorm, omega, omega_prev, forced, count, _ = state
        blocks = _insert(blocks, j, v)
        w = flat_matvec(v)
        anorm = jnp.maximum(anorm, jnp.linalg.norm(w))
        a = jnp.vdot(v, w)
        w = w - a * v - jnp.where(j > 0, beta[j - 1], 0.0) * v_prev
        if partial:
            nw = jnp.linalg.norm(w)
            omega_next, worst = _omega_update(
                omega, omega_prev, alpha, beta, a, nw, j, eps * anorm, eps
            )
            by_omega = worst > jnp.sqrt(eps)
            need = by_omega | forced | (nw <= 64 * eps * anorm)
            x, breakdown = lax.cond(
                need,
                lambda w: orthogonalize(blocks, j, w, anorm),
                lambda w: (w, jnp.bool_(False)),
                w,
            )
            k = jnp.arange(m)
            omega_next = jnp.where(need & (k <= j), eps, omega_next)
            forced = by_omega & ~forced
            count = count + need.astype(count.dtype)
        else:
            x, breakdown = orthogonalize(blocks, j, w, anorm)
            omega_next = omega
            count = count + 1
        nx = jnp.linalg.norm(x)
        b = jnp.where(breakdown, 0.0, nx)
        v_next = x / jnp.where(nx > 0, nx, 1.0)
        alpha, beta = alpha.at[j].set(a), beta.at[j].set(b)
        tri = Tridiagonal(blocks, alpha, beta, j + 1)
        if stop is None:
            done = jnp.bool_(False)
        else:
            check = ((j + 1) % check_every == 0) | (j + 1 == m)
            done = lax.cond(check, lambda: stop(tri), lambda: jnp.bool_(False))
        return (
            j + 1, blocks, alpha, beta, v_next, v, anorm, omega_next, omega, forced, count, done
        )

    def cond(state):
        j, *_, done = state
        return (j < m) & ~done

    v = v0 / jnp.linalg.norm(v0)
    zero = jnp.zeros((), dtype)
    omega0 = jnp.zeros(m, dtype).at[0].set(1.0)
    init = (
        jnp.int32(0),
        _empty_blocks(m, d, dtype),
        jnp.zeros(m, dtype),
        jnp.zeros(m, dtype),
        v,
        jnp.zeros_like(v),
        zero,
        omega0,
        jnp.zeros(m, dtype),
        jnp.bool_(False),
        jnp.int32(0),
        jnp.bool_(False),
    )
    j, blocks, alpha, beta, *_, count, _ = lax.while_loop(cond, body, init)
    return Tridiagonal(blocks, alpha, beta, j, count)
