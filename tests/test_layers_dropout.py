"""Dropout and SpatialDropout: large-sample statistics, determinism, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.layers import Dense, Dropout, Sequential, SpatialDropout


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_statistics(key, rate):
    """Drop fraction = rate and mean preserved, each within 5 standard errors."""
    n = 200_000
    x = jnp.ones((n,))
    layer = Dropout(rate)
    params, state = layer.init(key, x)
    y, _ = layer.apply(params, state, x, key=jax.random.key(1), train=True)
    y = np.asarray(y)
    dropped = np.mean(y == 0)
    se_drop = math.sqrt(rate * (1 - rate) / n)
    assert abs(dropped - rate) < 5 * se_drop
    # Survivors are scaled by exactly 1/(1 - rate).
    np.testing.assert_allclose(np.unique(y[y != 0]), 1.0 / (1.0 - rate), rtol=1e-6)
    # E[y] = 1, Var[y] = rate / (1 - rate) per unit.
    se_mean = math.sqrt(rate / (1 - rate) / n)
    assert abs(y.mean() - 1.0) < 5 * se_mean


def test_dropout_same_key_same_mask_different_key_different_mask(key):
    x = jnp.ones((64, 32))
    layer = Dropout(0.5)
    a, _ = layer.apply({}, {}, x, key=jax.random.key(3), train=True)
    b, _ = jax.jit(lambda k: layer.apply({}, {}, x, key=k, train=True))(jax.random.key(3))
    c, _ = layer.apply({}, {}, x, key=jax.random.key(4), train=True)
    np.testing.assert_array_equal(a, b)
    assert np.mean(np.asarray(a) != np.asarray(c)) > 0.3  # ~0.5 of units differ


def test_dropout_is_identity_in_evaluation_and_at_rate_zero(key):
    x = jax.random.normal(key, (4, 5))
    layer = Dropout(0.3)
    y, _ = layer.apply({}, {}, x)
    assert y is x
    y0, _ = Dropout(0.0).apply({}, {}, x, key=key, train=True)
    np.testing.assert_array_equal(y0, x)


def test_dropout_gradient_is_the_mask_over_keep_probability(key):
    x = jnp.ones((1000,))
    layer = Dropout(0.25)
    f = lambda x_: jnp.sum(layer.apply({}, {}, x_, key=key, train=True)[0])  # noqa: E731
    g = jax.grad(f)(x)
    y, _ = layer.apply({}, {}, x, key=key, train=True)
    np.testing.assert_allclose(g, y, rtol=1e-6)  # d(m x / q)/dx = m / q = y at x = 1


def test_dropout_in_sequential_uses_the_split_key(key):
    model = Sequential([Dense(16), Dropout(0.5), Dense(1)])
    x = jnp.ones((8, 3))
    params, state = model.init(key, x)
    y1, _ = model.apply(params, state, x, key=jax.random.key(5), train=True)
    y2, _ = model.apply(params, state, x, key=jax.random.key(5), train=True)
    y3, _ = model.apply(params, state, x, key=jax.random.key(6), train=True)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, y3)
    with pytest.raises(ValueError, match=r"Dropout.apply: this layer is random in training"):
        model.apply(params, state, x, train=True)


def test_spatial_dropout_drops_whole_channels(key):
    n_batch, n_chan = 200, 100
    x = jnp.ones((n_batch, 3, 4, n_chan))
    layer = SpatialDropout(0.4)
    params, state = layer.init(key, x)
    y, _ = layer.apply(params, state, x, key=jax.random.key(2), train=True)
    y = np.asarray(y)
    # Each (example, channel) map is all zero or all 1/(1-rate).
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :1, :], y.shape))
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.6)}
    dropped = np.mean(y[:, 0, 0, :] == 0)
    n = n_batch * n_chan
    assert abs(dropped - 0.4) < 5 * math.sqrt(0.4 * 0.6 / n)
    # Different examples get different masks.
    assert not np.array_equal(y[0, 0, 0], y[1, 0, 0])


def test_spatial_dropout_1d_sequences(key):
    x = jnp.ones((4, 7, 10))
    y, _ = SpatialDropout(0.5).apply({}, {}, x, key=key, train=True)
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :], y.shape))


def test_eval_shape(key):
    x = jnp.ones((2, 3, 3, 4))
    for layer in (Dropout(0.5), SpatialDropout(0.5)):
        out = jax.eval_shape(
            lambda x_, k, f=layer: f.apply({}, {}, x_, key=k, train=True)[0], x, key
        )
        assert out.shape == x.shape and out.dtype == x.dtype
        assert layer.output_shape(x).shape == x.shape


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_rate_outside_unit_interval_is_refused(rate):
    with pytest.raises(ValueError, match=r"Dropout: rate must be in \[0.0, 1.0\); got "
                                         r".*probability of DROPPING"):
        Dropout(rate)
    with pytest.raises(ValueError, match=r"SpatialDropout: rate must be in \[0.0, 1.0\)"):
        SpatialDropout(rate)


def test_bad_input():
    with pytest.raises(TypeError, match=r"Dropout: rate must be a number in \[0, 1\).*str"):
        Dropout("0.5")
    with pytest.raises(ValueError, match=r"Dropout.apply: this layer is random in training "
                                         r"and needs a key.*key=jax.random.key\(0\)"):
        Dropout(0.5).apply({}, {}, jnp.ones((2, 3)), train=True)
    with pytest.raises(ValueError, match=r"SpatialDropout.apply: x must have at least 3 dim.*"
                                         r"use Dropout\(rate\)"):
        SpatialDropout(0.5).apply({}, {}, jnp.ones((2, 3)), key=jax.random.key(0), train=True)
    with pytest.raises(TypeError, match="Dropout.init: x has dtype int32"):
        Dropout(0.5).init(jax.random.key(0), jnp.ones((2, 3), jnp.int32))
