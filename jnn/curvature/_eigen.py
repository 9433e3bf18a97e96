"""Extreme eigenvalues of a symmetric operator (a Hessian) by Lanczos: top, smallest, condition."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .._checks import number_in_range, positive_int
from ._flat import flatten_operator
from ._lanczos import converged, eigenvalue_estimate, lanczos_tridiagonal, ritz_pairs
from ._validate import all_finite, check_operator, raise_if_not_finite


class Eigenpairs(NamedTuple):
    """Ritz approximations of extreme eigenpairs.

    Attributes:
      eigenvalues: ``(k,)``, descending for :func:`top_eigenvalues`, ascending for
        :func:`smallest_eigenvalues`.
      eigenvectors: a pytree shaped like ``params`` with a leading axis ``k``; unit norm
        over all leaves. ``jax.tree.map(lambda x: x[i], eigenvectors)`` is the ``i``-th.
      error_bounds: ``(k,)`` residual norms :math:`\\|A y_i - \\theta_i y_i\\| =
        |\\beta_m s_{m,i}|`; an eigenvalue of :math:`A` lies within this distance of each
        :math:`\\theta_i`.
      num_matvecs: the number of operator products used (one per Lanczos step).
      converged: whether every wanted pair met ``tol`` (always ``False`` when ``tol=0``).
      finite: ``False`` if nan/inf appeared (reported instead of raised under ``jit``).
      eigenvalue_bounds: ``(k,)`` the sharper error estimate of each eigenvalue that the
        ``tol`` test uses, :math:`\\min(r_i, r_i^2 / \\mathrm{gap}_i)` with :math:`r_i` the
        residual norm above and :math:`\\mathrm{gap}_i` the distance from :math:`\\theta_i`
        to the nearest other Ritz value (Kato-Temple; Parlett 1998, 11.7). It bounds
        :math:`|\\lambda_i - \\theta_i|` once the gap is resolved (the other Ritz values
        have settled near eigenvalues), and is far below ``error_bounds`` near convergence.
    """

    eigenvalues: jax.Array
    eigenvectors: Any
    error_bounds: jax.Array
    num_matvecs: jax.Array
    converged: jax.Array
    finite: jax.Array
    eigenvalue_bounds: jax.Array | None = None


class ConditionNumber(NamedTuple):
    """The spectrum's edges from one Lanczos run and their ratio.

    Attributes:
      condition_number: :math:`\\lambda_{\\max} / \\lambda_{\\min}` when
        :math:`\\lambda_{\\min} > 0`, else ``inf``.
      largest, smallest: the extreme Ritz values.
      error_bounds: ``(2,)`` residual bounds of ``largest`` and ``smallest``.
      positive_definite: ``smallest > 0``.
      num_matvecs, finite: as in :class:`Eigenpairs`.
    """

    condition_number: jax.Array
    largest: jax.Array
    smallest: jax.Array
    error_bounds: jax.Array
    positive_definite: jax.Array
    num_matvecs: jax.Array
    finite: jax.Array


def _default_iters(d: int, k: int) -> int:
    return min(d, 2 * k + 40)


def _check_sizes(where: str, d: int, k: int, num_iters: int | None) -> int:
    positive_int(where, "k", k)
    if k > d:
        raise ValueError(
            f"{where}: k={k} eigenvalues were asked of an operator of dimension d={d}; "
            f"k must be at most d. Use k <= {d}, or jnp.linalg.eigh(hessian(...)[0]) for all."
        )
    if num_iters is None:
        return _default_iters(d, k)
    positive_int(where, "num_iters", num_iters)
    if not k <= num_iters <= d:
        raise ValueError(
            f"{where}: num_iters={num_iters} must be between k={k} and d={d} (Lanczos builds "
            f"at most d orthogonal vectors and needs at least k). Use e.g. "
            f"num_iters={_default_iters(d, k)}."
        )
    return num_iters


@functools.partial(jax.jit, static_argnums=(1, 2))
def _start_vector(key, n, dtype):
    k0, k1 = jax.random.split(key)
    return jax.random.normal(k0, (n,), dtype), k1


# The post-processing is jitted at module level so that eager calls compile it once.
@functools.partial(jax.jit, static_argnames=("k", "which"))
def _extract(tri, tol, *, k, which):
    theta, S, bounds, gaps = ritz_pairs(tri, k, which)
    Y = tri.combine(S)  # (k, d)
    estimate = eigenvalue_estimate(bounds, gaps)
    ok = (tri.num_steps > k) & jnp.all(estimate <= tol * jnp.abs(theta))
    return theta, Y, bounds, ok, all_finite((theta, Y, bounds)), estimate


@jax.jit
def _edges(tri):
    hi, _, r_hi, _ = ritz_pairs(tri, 1, "largest")
    lo, _, r_lo, _ = ritz_pairs(tri, 1, "smallest")
    pd = lo[0] > 0
    kappa = jnp.where(pd, hi[0] / jnp.where(pd, lo[0], 1.0), jnp.inf)
    bounds = jnp.concatenate([r_hi, r_lo])
    return kappa, hi[0], lo[0], bounds, pd, all_finite((hi, lo, bounds))


def _run(where, matvec, params, k, which, num_iters, tol, key, check_every, reorthogonalize):
    if reorthogonalize not in ("full", "partial"):
        raise ValueError(
            f"{where}: reorthogonalize must be 'full' or 'partial'; got {reorthogonalize!r}. "
            "Use 'full' (the default) unless the reorthogonalization dominates the run time."
        )
    check_operator(where, matvec, params)
    flat_mv, flat, unravel = flatten_operator(matvec, params)
    m = _check_sizes(where, flat.size, k, num_iters)
    number_in_range(where, "tol", tol, 0.0)
    positive_int(where, "check_every", check_every)
    v0, k1 = _start_vector(key, flat.size, flat.dtype)
    stop = None
    if not (isinstance(tol, (int, float)) and tol == 0):
        stop = lambda tri: converged(tri, k, which, tol)
    tri = lanczos_tridiagonal(
        flat_mv, v0, m, k1, stop=stop, check_every=check_every, reorthogonalize=reorthogonalize
    )
    return tri, unravel, m


def _eigenpairs(where, matvec, params, k, which, num_iters, tol, key, check_every, reorth):
    tri, unravel, _ = _run(where, matvec, params, k, which, num_iters, tol, key, check_every,
                           reorth)
    theta, Y, bounds, ok, finite, estimate = _extract(tri, tol, k=k, which=which)
    raise_if_not_finite(where, "the Lanczos result", finite)
    return Eigenpairs(theta, jax.vmap(unravel)(Y), bounds, tri.num_steps, ok, finite, estimate)


_EIGEN_DOC_TAIL = """

    Args:
      matvec: a symmetric linear operator ``v -> A v`` on params-shaped pytrees, e.g.
        ``hvp_operator(loss, params, batch)`` or ``ggn_operator(...)``. Built with
        ``mesh=`` (``hvp_operator(loss, params, batch, mesh=jnn.parallel.data_mesh())``),
        every product runs data parallel over the mesh's devices; the small Lanczos
        vectors are replicated.
      params: the pytree that fixes the shapes of ``v`` (the point of the Hessian).
      k: how many eigenpairs, ``1 <= k <= d``.
      key: a ``jax.random`` key for the starting vector (same key, same result).
      num_iters: the most Lanczos steps (operator products), ``k <= num_iters <= d``;
        default ``min(d, 2k + 40)``.
      tol: stop early once every wanted Ritz value has estimated relative error
        ``min(r_i, r_i^2 / gap_i) <= tol |theta_i|`` (``eigenvalue_bounds``); ``0`` always
        runs ``num_iters`` steps.
      check_every: test ``tol`` every this many steps (each test costs an eigen-decomposition
        of the small ``m x m`` tridiagonal matrix; ``1`` stops at the earliest step).
      reorthogonalize: ``"full"`` (default): every step is orthogonalized against the whole
        basis (read in blocks of the rows in use). ``"partial"``: Simon's partial
        reorthogonalization, only when the estimated loss of orthogonality reaches
        :math:`\\sqrt{\\epsilon}` (eigenvalues as accurate, fewer basis reads; Simon, "The
        Lanczos algorithm with partial reorthogonalization", Math. Comp. 42, 1984).

    Returns:
      :class:`Eigenpairs` (eigenvalues, eigenvectors as pytrees, residual error bounds,
      the number of products, convergence and finiteness flags, eigenvalue error bounds).
      Outside ``jit`` a non-finite result raises ``ValueError``; under ``jit`` see
      ``finite``.
    """


def top_eigenvalues(
    matvec: Callable,
    params: Any,
    k: int = 1,
    *,
    key: jax.Array,
    num_iters: int | None = None,
    tol: float = 1e-6,
    check_every: int = 4,
    reorthogonalize: str = "full",
) -> Eigenpairs:
    r"""The ``k`` algebraically largest eigenpairs of a symmetric operator, by Lanczos.

    From a random unit :math:`q_1`, ``num_iters = m`` steps build an orthonormal basis
    :math:`Q_m` of the Krylov space :math:`\mathcal{K}_m(A, q_1)` and the tridiagonal
    :math:`T_m = Q_m^\top A Q_m`:

    .. math::

        \beta_j q_{j+1} = A q_j - \alpha_j q_j - \beta_{j-1} q_{j-1}, \qquad
        \alpha_j = q_j^\top A q_j,

    with every new :math:`q_{j+1}` re-orthogonalized against all earlier ones. The Ritz
    pairs :math:`(\theta_i, Q_m s_i)` from :math:`T_m s_i = \theta_i s_i` approximate the
    extreme eigenpairs, with residual :math:`\|A Q_m s_i - \theta_i Q_m s_i\| =
    |\beta_m s_{m,i}|`. For a relative gap :math:`g` between the top eigenvalues, Lanczos
    needs on the order of :math:`1/\sqrt{g}` products where power iteration needs
    :math:`1/g` (Kuczyński & Woźniakowski 1992); the whole run is one ``lax.while_loop``.
    """
    return _eigenpairs(
        "top_eigenvalues", matvec, params, k, "largest", num_iters, tol, key, check_every,
        reorthogonalize,
    )


def smallest_eigenvalues(
    matvec: Callable,
    params: Any,
    k: int = 1,
    *,
    key: jax.Array,
    num_iters: int | None = None,
    tol: float = 1e-6,
    check_every: int = 4,
    reorthogonalize: str = "full",
) -> Eigenpairs:
    r"""The ``k`` algebraically smallest eigenpairs (most negative first), by Lanczos.

    The same Lanczos process as :func:`top_eigenvalues`, reading the other end of the
    spectrum of :math:`T_m`. A clearly negative smallest eigenvalue at a point where the
    gradient vanishes marks a saddle point, and its eigenvector is a direction of descent.
    Eigenvalues near zero (the bulk of a network's Hessian) converge slowly: compare
    ``eigenvalues`` with ``error_bounds`` before concluding.
    """
    return _eigenpairs(
        "smallest_eigenvalues", matvec, params, k, "smallest", num_iters, tol, key, check_every,
        reorthogonalize,
    )


_EXAMPLE_TOP = """
    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import hvp_operator, top_eigenvalues
      >>> loss = lambda p, b: 0.5 * jnp.sum(b * p**2)          # H = diag(b)
      >>> p, b = jnp.zeros(50), jnp.arange(50.0)
      >>> res = top_eigenvalues(hvp_operator(loss, p, b), p, k=2, key=jax.random.key(0))
      >>> [round(float(x), 3) for x in res.eigenvalues], bool(res.converged)
      ([49.0, 48.0], True)

    References:
      Lanczos, "An Iteration Method for the Solution of the Eigenvalue Problem of Linear
      Differential and Integral Operators", J. Res. Nat. Bur. Standards 45, 1950.
      Parlett, "The Symmetric Eigenvalue Problem", SIAM, 1998 (error bounds, ch. 11).
      Ghorbani, Krishnan, Xiao, "An Investigation into Neural Net Optimization via Hessian
      Eigenvalue Density", ICML 2019. https://arxiv.org/abs/1901.10159
    """

_EXAMPLE_SMALLEST = """
    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import hvp_operator, smallest_eigenvalues
      >>> saddle = lambda p, b: p[0] ** 2 - p[1] ** 2 + 0.5 * jnp.sum(p[2:] ** 2)
      >>> p = jnp.zeros(6)
      >>> res = smallest_eigenvalues(hvp_operator(saddle, p), p, key=jax.random.key(0))
      >>> round(float(res.eigenvalues[0]), 3)                 # negative: a saddle
      -2.0

    References:
      Lanczos 1950; Dauphin et al., "Identifying and attacking the saddle point problem in
      high-dimensional non-convex optimization", NeurIPS 2014.
      https://arxiv.org/abs/1406.2572
    """

top_eigenvalues.__doc__ = top_eigenvalues.__doc__.rstrip() + _EIGEN_DOC_TAIL + _EXAMPLE_TOP
smallest_eigenvalues.__doc__ = (
    smallest_eigenvalues.__doc__.rstrip() + _EIGEN_DOC_TAIL + _EXAMPLE_SMALLEST
)


def condition_number(
    matvec: Callable,
    params: Any,
    *,
    key: jax.Array,
    num_iters: int | None = None,
    tol: float = 1e-6,
    check_every: int = 4,
) -> ConditionNumber:
    r"""The condition number :math:`\kappa = \lambda_{\max} / \lambda_{\min}` from one Lanczos run.

    Both ends of the spectrum come from the same tridiagonal :math:`T_m` (Lanczos finds the
    extremes first). For an indefinite or singular operator (most network Hessians away from
    a minimum) :math:`\kappa` is reported as ``inf`` with ``positive_definite=False``; the
    Gauss-Newton matrix (:func:`ggn_operator`) of a convex loss is the usual positive
    semi-definite alternative. The run stops once both ends meet ``tol``.

    Args:
      matvec: a symmetric operator ``v -> A v`` on params-shaped pytrees.
      params: fixes the shapes of ``v``.
      key: a ``jax.random`` key for the starting vector.
      num_iters: the most Lanczos steps (default ``min(d, 42)``).
      tol: relative accuracy target for both ends (``0`` runs all ``num_iters`` steps).
      check_every: test ``tol`` every this many steps.

    Returns:
      :class:`ConditionNumber`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jnn.curvature import condition_number
      >>> A = jnp.diag(jnp.linspace(1.0, 100.0, 30))
      >>> res = condition_number(lambda v: A @ v, jnp.zeros(30), key=jax.random.key(0))
      >>> float(res.condition_number.round(2))
      100.0
    """
    where = "condition_number"
    stop = lambda tri: converged(tri, 1, "largest", tol) & converged(tri, 1, "smallest", tol)
    check_operator(where, matvec, params)
    flat_mv, flat, _ = flatten_operator(matvec, params)
    m = _check_sizes(where, flat.size, 1, num_iters)
    number_in_range(where, "tol", tol, 0.0)
    positive_int(where, "check_every", check_every)
    v0, k1 = _start_vector(key, flat.size, flat.dtype)
    no_stop = isinstance(tol, (int, float)) and tol == 0
    stop = None if no_stop else stop
    tri = lanczos_tridiagonal(flat_mv, v0, m, k1, stop=stop, check_every=check_every)
    kappa, hi, lo, bounds, pd, finite = _edges(tri)
    raise_if_not_finite(where, "the Lanczos result", finite)
    return ConditionNumber(kappa, hi, lo, bounds, pd, tri.num_steps, finite)
