"""Synthetic datasets in jnn.data: shapes, balance, geometry, determinism, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.data as jd

# One sample size per generator keeps compilations (the cost of these tests) few.
N = 4000


def test_spirals_shapes_balance_and_determinism(key):
    x, y = jd.spirals(key, N, noise=0.1)
    assert x.shape == (N, 2) and x.dtype == jnp.float32
    assert y.shape == (N,) and y.dtype == jnp.int32
    assert np.bincount(np.asarray(y)).tolist() == [N // 2, N // 2]
    x2, y2 = jd.spirals(key, N, noise=0.1)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = jd.spirals(jax.random.key(1), N, noise=0.1)
    assert not np.allclose(x, x3)
    # Labels come in random order: about half of neighbouring rows differ (binomial bound).
    changes = np.abs(np.diff(np.asarray(y))).sum()
    assert abs(changes - (N - 1) / 2) < 5 * np.sqrt(N / 4)


@pytest.mark.parametrize("turns", [0.75, 2.0])
def test_spirals_geometry_without_noise(key, turns):
    """With noise 0 each point sits exactly on its arm: radius grows linearly with angle."""
    x, y = map(np.asarray, jd.spirals(key, N, noise=0.0, turns=turns))
    r = np.hypot(x[:, 0], x[:, 1])
    assert r.min() >= 0.1 - 1e-6 and r.max() <= 1.0 + 1e-6
    theta = 2 * np.pi * turns * r + np.pi * y
    np.testing.assert_allclose(x[:, 0], r * np.cos(theta), atol=2e-5)
    np.testing.assert_allclose(x[:, 1], r * np.sin(theta), atol=2e-5)
    # Arm 1 is arm 0 rotated by half a turn: the mirrored class-1 points lie on arm 0.
    x1 = -x[y == 1]
    r1 = np.hypot(x1[:, 0], x1[:, 1])
    np.testing.assert_allclose(np.arctan2(x1[:, 1], x1[:, 0]) % (2 * np.pi),
                               (2 * np.pi * turns * r1) % (2 * np.pi), atol=1e-4)


def test_spirals_noise_level(key):
    """The residual around the noiseless arm has the requested standard deviation."""
    k_clean = key
    x0, y0 = jd.spirals(k_clean, N, noise=0.0)
    x1, y1 = jd.spirals(k_clean, N, noise=0.03)
    np.testing.assert_array_equal(y0, y1)
    resid = np.asarray(x1 - x0)
    # 8000 draws: the sample std has relative standard error 1/sqrt(16000) < 1%; allow 4%.
    assert abs(resid.std() - 0.03) < 0.03 * 0.04
    assert abs(resid.mean()) < 0.001


def test_spirals_float64(key, x64):
    x, y = map(np.asarray, jd.spirals(key, N, noise=0.0, dtype=jnp.float64))
    assert x.dtype == np.float64
    r = np.hypot(x[:, 0], x[:, 1])
    theta = 2 * np.pi * 1.5 * r + np.pi * y
    np.testing.assert_allclose(x, r[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1),
                               atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(n_samples=1), ValueError, r"spirals: n_samples must be >= 2 \(one point per class\)"),
        (dict(n_samples=2.5), TypeError, r"spirals: n_samples must be a positive integer"),
        (dict(noise=-0.1), ValueError, r"spirals: noise must be a finite number >= 0"),
        (dict(turns=0), ValueError, r"spirals: turns must be > 0"),
        (dict(dtype=jnp.int32), TypeError, r"spirals: dtype must be a floating dtype"),
    ],
)
def test_spirals_bad_input(key, kwargs, err, match):
    with pytest.raises(err, match=match):
        jd.spirals(key, **kwargs)


def test_bad_key():
    with pytest.raises(TypeError, match=r"spirals: key must be a single JAX PRNG key.*jax.random.key\(0\)"):
        jd.spirals(0)
    with pytest.raises(TypeError, match=r"key must be a single JAX PRNG key"):
        jd.spirals(jax.random.split(jax.random.key(0), 3))


def test_moons_geometry(key):
    x, y = map(np.asarray, jd.moons(key, N, noise=0.0))
    assert x.shape == (N, 2) and np.bincount(y).tolist() == [N // 2, N // 2]
    upper, lower = x[y == 0], x[y == 1] - np.array([1.0, 0.5])
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.hypot(*lower.T), 1.0, atol=1e-5)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 1e-6
    xn, yn = jd.moons(key, N, noise=0.1)
    np.testing.assert_array_equal(yn, y)
    assert abs(float(jnp.std(xn - x)) - 0.1) < 0.004


def test_circles_geometry(key):
    x, y = map(np.asarray, jd.circles(key, N, noise=0.0, factor=0.3))
    r = np.hypot(*x.T)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-5)
    assert np.bincount(y).tolist() == [N // 2, N // 2]
    # Angles cover the circle: every quadrant holds points of both classes.
    quadrant = (x[:, 0] > 0) * 2 + (x[:, 1] > 0)
    for c in (0, 1):
        assert set(quadrant[y == c].tolist()) == {0, 1, 2, 3}


def test_blobs_given_centers_statistics(key):
    centers = np.array([[0.0, 0.0, 0.0], [5.0, -5.0, 1.0]])
    x, y = map(np.asarray, jd.blobs(key, N, centers=centers, cluster_std=2.0))
    assert x.shape == (N, 3) and np.bincount(y).tolist() == [N // 2, N // 2]
    for k in range(2):
        xk = x[y == k]
        # Standard error of each mean is 2 / sqrt(2000) = 0.045; allow 5 of them.
        np.testing.assert_allclose(xk.mean(0), centers[k], atol=0.23)
        # Relative standard error of each std is 1 / sqrt(4000) = 1.6%; allow 5 of them.
        np.testing.assert_allclose(xk.std(0), 2.0, rtol=0.08)


def test_blobs_random_centers(key):
    x, y = map(np.asarray, jd.blobs(key, 31, centers=4, n_features=5, cluster_std=0.0,
                                     center_box=(-1.0, 2.0)))
    assert x.shape == (31, 5) and sorted(np.bincount(y).tolist()) == [7, 8, 8, 8]
    for k in range(4):
        xk = x[y == k]
        np.testing.assert_allclose(xk, np.broadcast_to(xk[0], xk.shape))  # std 0: all at centre
        assert np.all((xk[0] >= -1.0) & (xk[0] <= 2.0))
    x2, _ = jd.blobs(key, 31, centers=4, n_features=5, cluster_std=0.0, center_box=(-1.0, 2.0))
    np.testing.assert_array_equal(x, x2)


@pytest.mark.parametrize(
    "fn, kwargs, err, match",
    [
        (jd.moons, dict(noise=float("nan")), ValueError, r"moons: noise must be a finite number"),
        (jd.circles, dict(factor=1.0), ValueError, r"circles: factor must be in \(0.0, 1.0\)"),
        (jd.blobs, dict(centers=1), ValueError, r"blobs: need at least 2 classes"),
        (jd.blobs, dict(n_samples=2, centers=3), ValueError,
         r"blobs: n_samples=2 is smaller than the number of classes 3"),
        (jd.blobs, dict(centers=[1.0, 2.0]), ValueError,
         r"blobs: centers must be an int or an array of shape \(n_classes, n_features\)"),
        (jd.blobs, dict(centers=[[0.0, np.nan], [1.0, 1.0]]), ValueError,
         r"blobs: centers contains NaN"),
        (jd.blobs, dict(center_box=(1.0, 1.0)), ValueError,
         r"blobs: center_box must be a pair \(low, high\) with finite low < high"),
        (jd.blobs, dict(cluster_std=-1.0), ValueError, r"blobs: cluster_std must be"),
    ],
)
def test_classification_sets_bad_input(key, fn, kwargs, err, match):
    with pytest.raises(err, match=match):
        fn(key, **kwargs)


# ---------------------------------------------------------------- logic gates


@pytest.mark.parametrize(
    "fn, formula",
    [
        (jd.and_gate, lambda a, b: a * b),
        (jd.or_gate, lambda a, b: a + b - a * b),
        (jd.xor, lambda a, b: a + b - 2 * a * b),
    ],
)
def test_gates_truth_tables(fn, formula):
    x, y = fn()
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert x.dtype == jnp.float32 and y.dtype == jnp.int32
    np.testing.assert_array_equal(y, formula(x[:, 0], x[:, 1]).astype(int))


def test_gates_noisy_copies(key):
    x, y = map(np.asarray, jd.xor(key, n_repeats=N // 4, noise=0.1))
    clean, labels = map(np.asarray, jd.xor(n_repeats=N // 4))
    assert x.shape == (N, 2)
    np.testing.assert_array_equal(y, labels)
    assert abs((x - clean).std() - 0.1) < 0.004
    with pytest.raises(ValueError, match=r"xor: noise=0.1 needs a key.*xor\(jax.random.key\(0\)"):
        jd.xor(noise=0.1)
    with pytest.raises(ValueError, match=r"and_gate: n_repeats must be a positive integer"):
        jd.and_gate(n_repeats=0)


# ---------------------------------------------------------------- regression


def test_polynomial_regression_course_cubic(key):
    x, y = map(np.asarray, jd.polynomial_regression(key, N, noise=0.0))
    assert x.shape == y.shape == (N, 1)
    assert x.min() >= -2.0 and x.max() <= 5.0 and x.max() - x.min() > 6.5
    t = x[:, 0].astype(np.float64)
    np.testing.assert_allclose(y[:, 0], 5 + 2 * t + 10 * t**2 - 2 * t**3, rtol=1e-5, atol=1e-4)
    _, y_noisy = jd.polynomial_regression(key, N, noise=5.0)
    assert abs(float(np.std(y_noisy - y)) - 5.0) < 5.0 * 0.06


def test_polynomial_regression_custom(key):
    x, y = map(np.asarray, jd.polynomial_regression(key, N, coefficients=[1.0, 0.0, -3.0],
                                                    x_range=(0.5, 1.5), noise=0.0))
    assert x.min() >= 0.5 and x.max() <= 1.5
    np.testing.assert_allclose(y, 1 - 3 * x**2, rtol=1e-5, atol=1e-6)


def test_sine_regression(key):
    x, y = map(np.asarray, jd.sine_regression(key, N, frequency=2.0, amplitude=3.0, noise=0.0))
    assert x.shape == y.shape == (N, 1) and 0 <= x.min() and x.max() <= 1
    np.testing.assert_allclose(y, 3 * np.sin(4 * np.pi * x), atol=1e-5)
    _, y_noisy = jd.sine_regression(key, N, frequency=2.0, amplitude=3.0, noise=0.3)
    assert abs(float(np.std(y_noisy - y)) - 0.3) < 0.3 * 0.06


def test_linear_regression_recovered_by_least_squares(key):
    x, y = map(np.asarray, jd.linear_regression(key, N, bias=1.5, noise=0.5))
    assert x.shape == (N, 2) and y.shape == (N, 1)
    design = np.concatenate([x, np.ones((N, 1))], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, y[:, 0].astype(np.float64), rcond=None)
    # Standard error is about 0.5 / sqrt(4000) = 0.008 per coefficient; allow 5 of them.
    np.testing.assert_allclose(coef, [3.0, -2.0, 1.5], atol=0.04)
    resid = y[:, 0] - design @ coef
    assert abs(resid.std() - 0.5) < 0.5 * 0.06
    np.testing.assert_allclose(np.std(x, axis=0), 1.0, atol=0.05)


@pytest.mark.parametrize(
    "fn, kwargs, err, match",
    [
        (jd.polynomial_regression, dict(coefficients=[]), ValueError,
         r"polynomial_regression: coefficients must be a non-empty 1-D sequence"),
        (jd.polynomial_regression, dict(coefficients=[1.0, np.inf]), ValueError,
         r"polynomial_regression: coefficients contains NaN or inf"),
        (jd.polynomial_regression, dict(x_range=(3.0, 1.0)), ValueError,
         r"polynomial_regression: x_range must be a pair \(low, high\) with finite low < high"),
        (jd.polynomial_regression, dict(x_range=3.0), TypeError,
         r"polynomial_regression: x_range must be a pair \(low, high\) of numbers"),
        (jd.sine_regression, dict(frequency=np.nan), ValueError,
         r"sine_regression: frequency must be a finite number"),
        (jd.linear_regression, dict(n_samples=0), ValueError,
         r"linear_regression: n_samples must be a positive integer"),
        (jd.linear_regression, dict(noise=-1.0), ValueError,
         r"linear_regression: noise must be a finite number >= 0"),
    ],
)
def test_regression_bad_input(key, fn, kwargs, err, match):
    with pytest.raises(err, match=match):
        fn(key, **kwargs)
