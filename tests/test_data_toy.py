"""Synthetic datasets in jnn.data: shapes, balance, geometry, determinism, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.data as jd


def test_spirals_shapes_balance_and_determinism(key):
    x, y = jd.spirals(key, 301, noise=0.1)
    assert x.shape == (301, 2) and x.dtype == jnp.float32
    assert y.shape == (301,) and y.dtype == jnp.int32
    assert sorted(np.bincount(np.asarray(y)).tolist()) == [150, 151]
    x2, y2 = jd.spirals(key, 301, noise=0.1)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = jd.spirals(jax.random.key(1), 301, noise=0.1)
    assert not np.allclose(x, x3)
    # Labels come in random order, not sorted by class.
    assert 0 < np.abs(np.diff(np.asarray(y))).sum() < 300


@pytest.mark.parametrize("turns", [0.75, 2.0])
def test_spirals_geometry_without_noise(key, turns):
    """With noise 0 each point sits exactly on its arm: radius grows linearly with angle."""
    x, y = map(np.asarray, jd.spirals(key, 400, noise=0.0, turns=turns))
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
    x0, y0 = jd.spirals(k_clean, 20000, noise=0.0)
    x1, y1 = jd.spirals(k_clean, 20000, noise=0.03)
    np.testing.assert_array_equal(y0, y1)
    resid = np.asarray(x1 - x0)
    # 40000 draws: the sample std is within ~1% of the truth with overwhelming probability.
    assert abs(resid.std() - 0.03) < 0.03 * 0.03
    assert abs(resid.mean()) < 0.001


def test_spirals_dtype_and_jit(key, x64):
    x, _ = jd.spirals(key, 10, dtype=jnp.float64)
    assert x.dtype == jnp.float64
    f = jax.jit(lambda k: jd.spirals(k, 10))
    np.testing.assert_allclose(f(key)[0], jd.spirals(key, 10)[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(n_samples=1), ValueError, r"spirals: n_samples must be >= 2"),
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
