"""Lanczos (top/smallest eigenpairs, condition number) and power iteration against numpy.eigh."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _curvature_problems import (
    known_spectrum,
    mlp_loss,
    mlp_problem,
    spectrum_operator,
)
from jax.flatten_util import ravel_pytree

from jnn.curvature import (
    condition_number,
    hessian,
    hvp_operator,
    power_iteration,
    smallest_eigenvalues,
    spectral_density,
    top_eigenvalues,
)


@pytest.fixture(scope="module")
def mlp_hessian_d1000():
    """A tanh MLP 10-45-10 (d = 955) with cross-entropy; its Hessian and numpy's eigh."""
    with jax.enable_x64(True):
        params, batch = mlp_problem(jax.random.key(3), n=64, d_in=10, width=45, classes=10)
        H = np.asarray(
            jax.jit(lambda p, b: hessian(mlp_loss, p, b, chunk_size=128)[0])(params, batch)
        )
    H = 0.5 * (H + H.T)
    lam, U = np.linalg.eigh(H)
    return params, batch, H, lam, U


def test_lanczos_matches_eigh_on_mlp_hessian_d1000(x64, mlp_hessian_d1000):
    params, batch, H, lam, U = mlp_hessian_d1000
    assert H.shape == (955, 955)
    k = 4

    @jax.jit
    def run(p, b, key):
        return top_eigenvalues(hvp_operator(mlp_loss, p, b), p, k, key=key, num_iters=120, tol=0)

    res = run(params, batch, jax.random.key(0))
    np.testing.assert_allclose(res.eigenvalues, lam[::-1][:k], rtol=1e-10)
    Y = jax.vmap(lambda t: ravel_pytree(t)[0])(res.eigenvectors)
    for i in range(k):
        u = U[:, -1 - i]
        np.testing.assert_allclose(abs(float(Y[i] @ u)), 1.0, atol=1e-8)
        # the reported bound is the true residual ||H y - theta y||
        resid = np.linalg.norm(H @ Y[i] - res.eigenvalues[i] * Y[i])
        assert float(res.error_bounds[i]) < 1e-9 * lam[-1] and resid < 1e-9 * lam[-1]
    assert int(res.num_matvecs) == 120 and bool(res.finite)


def test_gap_bound_holds_and_stops_near_the_true_step(x64, mlp_hessian_d1000):
    # The tol test uses min(r, r^2 / gap): it must bound the true error (numpy's eigh) and
    # stop within a few steps of the first step that truly reaches tol, well before the
    # residual alone (r <= tol |theta|) would.
    from jnn.curvature._eigen import _start_vector
    from jnn.curvature._lanczos import lanczos_tridiagonal

    _, _, H, lam, _ = mlp_hessian_d1000
    A, d, k, tol, key, m = jnp.asarray(H), H.shape[0], 2, 1e-8, jax.random.key(0), 32
    res = top_eigenvalues(lambda v: A @ v, jnp.zeros(d), k, key=key, num_iters=m, tol=tol,
                          check_every=1)
    n, theta = int(res.num_matvecs), np.asarray(res.eigenvalues)
    bound, resid = np.asarray(res.eigenvalue_bounds), np.asarray(res.error_bounds)
    assert bool(res.converged) and n < m
    assert np.all(np.abs(theta - lam[::-1][:k]) <= bound) and np.all(bound <= tol * theta)
    assert np.all(bound <= resid)
    # step by step from the same start vector: leading blocks of one tridiagonal matrix
    v0, k1 = _start_vector(key, d, A.dtype)
    tri = jax.jit(lambda A: lanczos_tridiagonal(lambda v: A @ v, v0, m, k1))(A)
    a, b = np.asarray(tri.alpha), np.asarray(tri.beta)
    true_step = residual_step = None
    for j in range(k + 1, m + 1):
        ritz, S = np.linalg.eigh(np.diag(a[:j]) + np.diag(b[: j - 1], 1) + np.diag(b[: j - 1], -1))
        top, r = ritz[::-1][:k], np.abs(b[j - 1] * S[-1, ::-1][:k])
        if true_step is None and np.all(np.abs(top - lam[::-1][:k]) <= tol * top):
            true_step = j
        if residual_step is None and np.all(r <= tol * top):
            residual_step = j
    assert true_step <= n <= true_step + 4, (true_step, n)
    assert residual_step is None or n < residual_step, (n, residual_step)


def test_partial_reorthogonalization_matches_eigh(x64, mlp_hessian_d1000):
    # Simon's partial reorthogonalization (opt-in): the basis stays semi-orthogonal
    # (|v_i^T v_j| <= sqrt(eps)), few steps reorthogonalize, and the eigenpairs equal eigh's
    # with no spurious copy of the top eigenvalue.
    from jnn.curvature._lanczos import lanczos_tridiagonal

    _, _, H, lam, U = mlp_hessian_d1000
    A, d, m, k = jnp.asarray(H), H.shape[0], 60, 4
    tri = jax.jit(
        lambda A: lanczos_tridiagonal(
            lambda v: A @ v, jnp.ones(d, A.dtype), m, jax.random.key(0), reorthogonalize="partial"
        )
    )(A)
    V, a, b = np.asarray(tri.basis), np.asarray(tri.alpha), np.asarray(tri.beta)
    assert np.max(np.abs(V @ V.T - np.eye(m))) <= np.sqrt(np.finfo(np.float64).eps)
    assert int(tri.reorthogonalizations) <= m // 3, int(tri.reorthogonalizations)
    ritz = np.linalg.eigvalsh(np.diag(a) + np.diag(b[:-1], 1) + np.diag(b[:-1], -1))[::-1]
    np.testing.assert_allclose(ritz[:k], lam[::-1][:k], rtol=1e-10)
    assert np.sum(np.abs(ritz - lam[-1]) < 1e-6 * lam[-1]) == 1
    res = top_eigenvalues(lambda v: A @ v, jnp.zeros(d), k, key=jax.random.key(1), num_iters=m,
                          tol=0, reorthogonalize="partial")
    np.testing.assert_allclose(res.eigenvalues, lam[::-1][:k], rtol=1e-10)
    Y = np.asarray(res.eigenvectors)
    np.testing.assert_allclose(np.abs(np.sum(Y * U[:, ::-1][:, :k].T, axis=1)), 1.0, atol=1e-6)
    with pytest.raises(
        ValueError, match=r"top_eigenvalues: reorthogonalize must be 'full' or 'partial'; got 'x'"
    ):
        top_eigenvalues(lambda v: A @ v, jnp.zeros(d), key=jax.random.key(0), reorthogonalize="x")


def test_spectral_density_of_mlp_hessian_matches_exact_eigenvalues(x64, mlp_hessian_d1000):
    params, batch, H, lam, U = mlp_hessian_d1000

    @jax.jit
    def density(p, b):
        op = hvp_operator(mlp_loss, p, b)
        return spectral_density(
            op, p, key=jax.random.key(0), num_probes=8, num_iters=60, chunk_size=8
        )

    res = density(params, batch)
    grid, dens, s = np.asarray(res.grid), np.asarray(res.density), float(res.sigma)
    np.testing.assert_allclose(np.trapezoid(dens, grid), 1.0, atol=1e-6)
    # the exact eigenvalues, smoothed with the same Gaussian, as the reference curve
    exact = np.exp(-0.5 * ((grid[:, None] - lam[None]) / s) ** 2).sum(1) / (
        lam.size * s * np.sqrt(2 * np.pi)
    )
    assert np.trapezoid(np.abs(dens - exact), grid) < 0.1
    # mass near zero (the bulk) and in the outliers, against counts of exact eigenvalues
    for lo, hi in [(-10 * s, 10 * s), (10 * s, np.inf)]:
        sel = (grid >= lo) & (grid <= hi)
        frac = np.mean((lam >= lo) & (lam < hi))
        assert abs(np.trapezoid(dens[sel], grid[sel]) - frac) < 0.05, (lo, hi, frac)


def test_lanczos_tolerance_stops_early_and_bounds_are_residuals(x64):
    lam = np.concatenate([[10.0, 9.0, 8.5], np.linspace(0.0, 5.0, 997)])
    op, eigenvector = spectrum_operator(lam, seed=1)
    p = jnp.zeros(1000)
    res = top_eigenvalues(op, p, 3, key=jax.random.key(1), num_iters=40, tol=1e-10)
    assert bool(res.converged) and int(res.num_matvecs) < 40
    np.testing.assert_allclose(res.eigenvalues, [10.0, 9.0, 8.5], rtol=1e-9)
    np.testing.assert_allclose(abs(float(res.eigenvectors[1] @ eigenvector(1))), 1.0, atol=1e-6)
    # a short run: bounds equal the true residual norms and contain an eigenvalue
    short = top_eigenvalues(op, p, 3, key=jax.random.key(1), num_iters=8, tol=0)
    Y = np.asarray(short.eigenvectors)
    resid = np.linalg.norm(jax.vmap(op)(Y) - short.eigenvalues[:, None] * Y, axis=1)
    np.testing.assert_allclose(short.error_bounds, resid, rtol=1e-6)
    for theta, bound in zip(np.asarray(short.eigenvalues), np.asarray(short.error_bounds)):
        assert np.min(np.abs(lam - theta)) <= bound * (1 + 1e-9)


D = 200  # the dense known-spectrum tests share one size, so each function compiles once


@jax.jit
def extremes(A, key):
    """Top 5 and smallest 5 Ritz pairs of a dense (D, D) matrix, 60 Lanczos steps each."""
    op, p = (lambda v: A @ v), jnp.zeros(A.shape[0], A.dtype)
    top = top_eigenvalues(op, p, 5, key=key, num_iters=60, tol=0)
    low = smallest_eigenvalues(op, p, 5, key=key, num_iters=60, tol=0)
    return top, low


def test_smallest_eigenvalues_find_the_saddle_direction(x64):
    lam = np.concatenate([[-3.0, -1.0], np.linspace(0.5, 4.0, D - 2)])
    A, Q = known_spectrum(lam, seed=2)
    top, low = extremes(A, jax.random.key(0))
    np.testing.assert_allclose(low.eigenvalues[:2], [-3.0, -1.0], rtol=1e-10)
    np.testing.assert_allclose(
        abs(float(np.asarray(low.eigenvectors)[0] @ Q[:, 0])), 1.0, atol=1e-8
    )
    # the top end of a uniform spectrum has no gap: it converges more slowly
    np.testing.assert_allclose(top.eigenvalues[0], 4.0, rtol=1e-7)
    assert np.all(np.asarray(low.error_bounds[:2]) < 1e-8)


def test_repeated_eigenvalues_survive_lanczos_breakdown(x64):
    # three distinct eigenvalues: the Krylov space is invariant after 3 steps and restarts
    lam = np.array([3.0] * 4 + [1.0] * 20 + [0.0] * (D - 24))
    A, _ = known_spectrum(lam, seed=3)
    top, low = extremes(A, jax.random.key(0))
    np.testing.assert_allclose(top.eigenvalues, [3, 3, 3, 3, 1], atol=1e-10)
    Y = np.asarray(top.eigenvectors)
    np.testing.assert_allclose(Y @ Y.T, np.eye(5), atol=1e-10)
    np.testing.assert_allclose(low.eigenvalues, np.zeros(5), atol=1e-10)
    assert bool(top.finite)


def test_eigenvectors_are_pytrees_like_params(key):
    params, batch = mlp_problem(key, dtype=jnp.float32)
    run = lambda p, b: top_eigenvalues(hvp_operator(mlp_loss, p, b), p, 2, key=key, num_iters=10)
    res = jax.jit(run)(params, batch)
    assert jax.tree.structure(res.eigenvectors) == jax.tree.structure(params)
    for y, p in zip(jax.tree.leaves(res.eigenvectors), jax.tree.leaves(params)):
        assert y.shape == (2, *p.shape) and y.dtype == jnp.float32
    assert res.eigenvalues.dtype == jnp.float32


def test_condition_number_of_known_spectrum(x64):
    kappa = jax.jit(
        lambda A: condition_number(
            lambda v: A @ v, jnp.zeros(D, A.dtype), key=jax.random.key(0), num_iters=60, tol=0
        )
    )
    A, _ = known_spectrum(np.concatenate([[0.1], np.linspace(1.0, 50.0, D - 1)]), seed=4)
    res = kappa(A)
    np.testing.assert_allclose([res.largest, res.smallest], [50.0, 0.1], rtol=1e-9)
    np.testing.assert_allclose(res.condition_number, 500.0, rtol=1e-8)
    assert bool(res.positive_definite) and int(res.num_matvecs) == 60
    A2, _ = known_spectrum(np.linspace(-1.0, 2.0, D), seed=5)
    res2 = kappa(A2)
    assert not bool(res2.positive_definite) and np.isinf(res2.condition_number)
    # the edges of a uniform spectrum (no gap) converge more slowly
    np.testing.assert_allclose([res2.largest, res2.smallest], [2.0, -1.0], rtol=1e-5)


def test_power_iteration_pyhessian_rule_and_count(x64):
    lam = np.concatenate([[10.0, 8.0], np.linspace(0.0, 5.0, 98)])
    A, Q = known_spectrum(lam, seed=6)
    power = jax.jit(
        lambda A, n: power_iteration(
            lambda v: A @ v, jnp.zeros(100, A.dtype), key=jax.random.key(0), num_iters=n, tol=1e-8
        ),
        static_argnums=1,
    )
    res = power(A, 500)
    assert bool(res.converged) and int(res.num_matvecs) < 500
    np.testing.assert_allclose(res.eigenvalue, 10.0, rtol=1e-7)
    np.testing.assert_allclose(abs(float(np.asarray(res.eigenvector) @ Q[:, 0])), 1.0, atol=1e-3)
    # the count follows the linear rate (8/10)^(2t) of the Rayleigh quotient
    t = int(res.num_matvecs)
    assert 30 <= t <= 60, t
    short = power(A, 3)
    assert int(short.num_matvecs) == 3 and not bool(short.converged)


def test_lanczos_needs_fewer_products_than_power_iteration(x64):
    lam = np.concatenate([[10.0, 9.5], np.linspace(0.0, 9.0, 398)])
    op, _ = spectrum_operator(lam, seed=7)
    p = jnp.zeros(400)
    pw = power_iteration(op, p, key=jax.random.key(0), num_iters=1000, tol=1e-6)
    lz = top_eigenvalues(op, p, key=jax.random.key(0), num_iters=60, tol=1e-6, check_every=1)
    assert abs(float(lz.eigenvalues[0]) - 10.0) < 1e-5 * 10
    assert 3 * int(lz.num_matvecs) <= int(pw.num_matvecs), (lz.num_matvecs, pw.num_matvecs)


# ---------------------------------------------------------------- bad input


def test_k_larger_than_d_and_num_iters_range():
    op, p = (lambda v: 2.0 * v), jnp.zeros(5)
    with pytest.raises(
        ValueError,
        match=r"top_eigenvalues: k=6 eigenvalues were asked of an operator of dimension d=5",
    ):
        top_eigenvalues(op, p, 6, key=jax.random.key(0))
    with pytest.raises(
        ValueError, match=r"smallest_eigenvalues: num_iters=9 must be between k=2 and d=5"
    ):
        smallest_eigenvalues(op, p, 2, key=jax.random.key(0), num_iters=9)
    with pytest.raises(TypeError, match=r"top_eigenvalues: k must be a positive integer; got 1.5"):
        top_eigenvalues(op, p, 1.5, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"power_iteration: tol must be in \[0.0, inf\); got -1"):
        power_iteration(op, p, key=jax.random.key(0), tol=-1)


def test_operator_output_must_match_params():
    with pytest.raises(
        ValueError,
        match=r"(?s)top_eigenvalues: matvec\(v\) must return a tree shaped like params.*matvec\(v\): .*params: ",
    ):
        top_eigenvalues(lambda v: v[:3], jnp.zeros(5), key=jax.random.key(0))
    with pytest.raises(TypeError, match=r"power_iteration: matvec must be a function v -> A v"):
        power_iteration(jnp.eye(3), jnp.zeros(3), key=jax.random.key(0))


def test_non_finite_is_a_flag_under_jit_and_an_error_outside():
    op = lambda v: jnp.log(v - 10.0) * v
    p = jnp.zeros(8)
    with pytest.raises(
        ValueError, match=r"top_eigenvalues: the Lanczos result contains nan or inf"
    ):
        top_eigenvalues(op, p, key=jax.random.key(0), num_iters=4)
    res = jax.jit(lambda p: top_eigenvalues(op, p, key=jax.random.key(0), num_iters=4))(p)
    assert not bool(res.finite)
    pw = jax.jit(lambda p: power_iteration(op, p, key=jax.random.key(0), num_iters=4))(p)
    assert not bool(pw.finite)


def test_blocked_basis_is_orthonormal_and_tridiagonalizes(x64):
    # 21 steps span three row blocks (8 + 8 + 5): V V^T = I and V A V^T = T across blocks,
    # also after breakdowns (three distinct eigenvalues: restarts at steps 3, 6, ...).
    from jnn.curvature._lanczos import BLOCK_ROWS, lanczos_tridiagonal

    m = 2 * BLOCK_ROWS + 5
    run = jax.jit(
        lambda A: lanczos_tridiagonal(lambda v: A @ v, jnp.ones(D, A.dtype), m, jax.random.key(0))
    )
    for lam in (np.linspace(1.0, 2.0, D), np.array([3.0] * 4 + [1.0] * 20 + [0.0] * (D - 24))):
        A, _ = known_spectrum(lam, seed=8)
        tri = run(A)
        V, a, b = np.asarray(tri.basis), np.asarray(tri.alpha), np.asarray(tri.beta)
        assert V.shape == (m, D) and int(tri.num_steps) == m
        T = np.diag(a) + np.diag(b[:-1], 1) + np.diag(b[:-1], -1)
        np.testing.assert_allclose(V @ V.T, np.eye(m), atol=1e-13)
        np.testing.assert_allclose(V @ np.asarray(A) @ V.T, T, atol=1e-12)
