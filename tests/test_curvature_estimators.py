"""Trace (Hutchinson, Hutch++), diagonal and spectral-density estimators on known spectra."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _curvature_problems import (
    known_spectrum,
    matrix_operator,
    mlp_loss,
    mlp_reference,
    spectrum_operator,
)

from jnn.curvature import diag_hutchinson, hvp_operator, spectral_density, trace

REPS = 400  # independent repetitions for the statistical checks


@pytest.fixture(scope="module")
def decaying():
    """d = 100, eigenvalues 1/i^2 (a fast-decaying spectrum, like a network Hessian's)."""
    return known_spectrum(1.0 / np.arange(1, 101) ** 2, seed=11)[0]


def repeated(estimator, A, **kwargs):
    """REPS independent estimates, vmapped over keys and compiled once."""
    op = matrix_operator(A)
    one = lambda k: estimator(op, jnp.zeros(A.shape[0]), key=k, **kwargs)
    return jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(7), REPS))


def test_hutchinson_is_unbiased_with_the_stated_variance(x64, decaying):
    A, n = decaying, 10
    res = repeated(trace, A, num_matvecs=n, method="hutchinson")
    var = 2 * (np.sum(A**2) - np.sum(np.diag(A) ** 2)) / n  # Rademacher variance
    est = np.asarray(res.estimate)
    # mean within 5 standard errors of the truth; sample variance within [0.6, 1.5] x theory
    assert abs(est.mean() - np.trace(A)) < 5 * np.sqrt(var / REPS)
    assert 0.6 < est.var(ddof=1) / var < 1.5
    assert 0.6 < np.mean(np.asarray(res.std_error) ** 2) / var < 1.5
    assert np.all(np.asarray(res.num_matvecs) == n)


def test_hutch_plus_plus_is_unbiased_and_beats_hutchinson(x64, decaying):
    A, n = decaying, 30
    pp = np.asarray(repeated(trace, A, num_matvecs=n).estimate)
    hu = np.asarray(repeated(trace, A, num_matvecs=n, method="hutchinson").estimate)
    truth = np.trace(A)
    assert abs(pp.mean() - truth) < 5 * pp.std(ddof=1) / np.sqrt(REPS)
    rms = lambda e: np.sqrt(np.mean((e - truth) ** 2))
    assert rms(pp) < rms(hu) / 3, (rms(pp), rms(hu))


def test_hutch_plus_plus_is_exact_below_its_sketch_rank(x64):
    lam = np.zeros(60)
    lam[:4] = [5.0, -2.0, 1.0, 0.5]
    A, _ = known_spectrum(lam, seed=12)
    res = trace(matrix_operator(A), jnp.zeros(60), key=jax.random.key(0), num_matvecs=12)
    np.testing.assert_allclose(res.estimate, 4.5, rtol=1e-10)
    np.testing.assert_allclose(res.std_error, 0.0, atol=1e-10)


def test_trace_of_mlp_hessian(x64, key):
    params, batch, H, _, _ = mlp_reference()
    d = H.shape[0]
    # with 3 d products the sketch spans everything: the estimate is exact
    est = jax.jit(
        lambda p, b: (
            trace(
                hvp_operator(mlp_loss, p, b), p, key=key, num_matvecs=3 * d, chunk_size=d
            ).estimate
        )
    )
    np.testing.assert_allclose(est(params, batch), np.trace(H), rtol=1e-9)


def test_diag_hutchinson_is_unbiased(x64, decaying):
    A, n = decaying, 4
    op = matrix_operator(A)
    est = jax.jit(jax.vmap(lambda k: diag_hutchinson(op, jnp.zeros(100), key=k, num_samples=n)))(
        jax.random.split(jax.random.key(3), REPS)
    )
    var = (np.sum(A**2, axis=1) - np.diag(A) ** 2) / n
    z = (np.asarray(est).mean(axis=0) - np.diag(A)) / np.sqrt(var / REPS)
    assert np.max(np.abs(z)) < 5.0  # 100 coordinates, each within 5 standard errors
    assert 0.5 < np.mean(z**2) < 1.6


def test_diag_hutchinson_matches_exact_diag_of_mlp(x64, key):
    params, batch, H, _, unravel = mlp_reference()
    est = diag_hutchinson(
        hvp_operator(mlp_loss, params, batch), params, key=key, num_samples=2000, chunk_size=500
    )
    flat = np.concatenate([np.ravel(x) for x in jax.tree.leaves(est)])
    ref = np.concatenate([np.ravel(x) for x in jax.tree.leaves(unravel(jnp.diag(H)))])
    sd = np.sqrt((np.sum(np.asarray(H) ** 2, axis=1) - np.diag(H) ** 2) / 2000)
    sd = np.concatenate([np.ravel(x) for x in jax.tree.leaves(unravel(jnp.asarray(sd)))])
    assert np.all(np.abs(flat - ref) <= 5 * sd + 1e-12)
    assert jax.tree.structure(est) == jax.tree.structure(params)


# ------------------------------------------------------------ spectral density


def test_spectral_density_integrates_to_one_and_matches_eigenvalue_histogram(x64):
    rng = np.random.default_rng(13)
    lam = np.sort(
        np.concatenate([rng.uniform(0, 1, 300), rng.uniform(3, 4, 150), rng.uniform(8, 10, 50)])
    )
    op, _ = spectrum_operator(lam, seed=13)
    res = jax.jit(
        lambda p: spectral_density(
            op, p, key=jax.random.key(0), num_probes=16, num_iters=48, chunk_size=4
        )
    )(jnp.zeros(lam.size))
    np.testing.assert_allclose(np.trapezoid(res.density, res.grid), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(res.weights).sum(axis=1), 1.0, atol=1e-10)
    # mass per histogram bin against the fraction of exact eigenvalues in it (0.6, 0.3, 0.1)
    grid, dens = np.asarray(res.grid), np.asarray(res.density)
    edges = [grid[0], 2.0, 6.0, grid[-1]]
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (grid >= lo) & (grid <= hi)
        mass = np.trapezoid(dens[sel], grid[sel])
        frac = np.mean((lam >= lo) & (lam < hi))
        assert abs(mass - frac) < 0.04, (lo, hi, mass, frac)
    # the whole curve against the exact density smoothed with the same sigma
    s = float(res.sigma)
    exact = np.exp(-0.5 * ((grid[:, None] - lam[None]) / s) ** 2).sum(axis=1) / (
        lam.size * s * np.sqrt(2 * np.pi)
    )
    assert np.trapezoid(np.abs(dens - exact), grid) < 0.15


def test_spectral_density_explicit_grid_and_sigma(x64):
    op, _ = spectrum_operator(np.linspace(-1.0, 1.0, 64), seed=14)
    grid = jnp.linspace(-2.0, 2.0, 401)
    res = spectral_density(
        op, jnp.zeros(64), key=jax.random.key(1), sigma=0.2, grid=grid, num_iters=20
    )
    assert res.density.shape == (401,) and float(res.sigma) == 0.2
    np.testing.assert_allclose(np.trapezoid(res.density, res.grid), 1.0, atol=1e-4)
    assert res.nodes.shape == (8, 20)


# ---------------------------------------------------------------- bad input


def test_estimator_bad_input():
    op, p = (lambda v: 2.0 * v), jnp.zeros(4)
    k = jax.random.key(0)
    with pytest.raises(
        ValueError, match=r'trace: method must be "hutch\+\+" or "hutchinson"; got \'exact\''
    ):
        trace(op, p, key=k, method="exact")
    with pytest.raises(
        ValueError, match=r"trace: Hutch\+\+ needs 3 <= num_matvecs <= 3 d = 12; got num_matvecs=2"
    ):
        trace(op, p, key=k, num_matvecs=2)
    with pytest.raises(ValueError, match=r"spectral_density: num_iters=5 exceeds d=4"):
        spectral_density(op, p, key=k, num_iters=5)
    with pytest.raises(
        ValueError, match=r"spectral_density: sigma must be in \(0.0, inf\); got 0.0"
    ):
        spectral_density(op, p, key=k, sigma=0.0)
    with pytest.raises(
        ValueError, match=r"diag_hutchinson: num_samples must be a positive integer; got 0"
    ):
        diag_hutchinson(op, p, key=k, num_samples=0)
    with pytest.raises(
        ValueError,
        match=r"(?s)trace: v and params must have the same tree structure|trace: matvec\(v\) must return",
    ):
        trace(lambda v: [v], p, key=k)


def test_estimators_flag_non_finite_under_jit():
    op, p = (lambda v: jnp.log(v - 10.0) * v), jnp.zeros(6)
    k = jax.random.key(0)
    with pytest.raises(ValueError, match=r"trace: the trace estimate contains nan or inf"):
        trace(op, p, key=k, num_matvecs=3)
    assert not bool(jax.jit(lambda p: trace(op, p, key=k, num_matvecs=3).finite)(p))
    with pytest.raises(
        ValueError, match=r"spectral_density: the spectral density contains nan or inf"
    ):
        spectral_density(op, p, key=k, num_iters=3)
