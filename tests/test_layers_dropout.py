"""Regularization layers: Dropout, SpatialDropout, GaussianNoise, WeightNoise, activity penalty.

Random layers are checked by large-sample statistics with stated bounds (5 standard errors).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import tol
from jax.test_util import check_grads

from jnn.layers import (
    ActivityRegularization,
    Dense,
    Dropout,
    GaussianNoise,
    Sequential,
    SpatialDropout,
    WeightNoise,
    collect_penalties,
)


def _randn(shape, dtype=np.float32, seed=0):
    """Standard normal test data from numpy: no XLA compilation per shape."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))



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
    x = _randn((4, 5), seed=1)
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


# ---------------------------------------------------------------- GaussianNoise, WeightNoise


def test_gaussian_noise_statistics_and_determinism(key):
    n = 100_000
    x = jnp.full((n,), 2.0)
    layer = GaussianNoise(0.5)
    params, state = layer.init(key, x)
    y, _ = layer.apply(params, state, x, key=jax.random.key(1), train=True)
    noise = np.asarray(y) - 2.0
    assert abs(noise.mean()) < 5 * 0.5 / math.sqrt(n)
    assert abs(noise.std() - 0.5) < 5 * 0.5 / math.sqrt(2 * n)  # se of a std: s/sqrt(2n)
    y2, _ = layer.apply(params, state, x, key=jax.random.key(1), train=True)
    np.testing.assert_array_equal(y, y2)
    assert layer.apply(params, state, x)[0] is x
    with pytest.raises(ValueError, match="GaussianNoise.apply: this layer is random in training"):
        layer.apply(params, state, x, train=True)


def test_weight_noise_keeps_the_wrapped_params_and_is_identity_in_eval(key):
    inner = Dense(3)
    layer = WeightNoise(inner, stddev=0.1)
    x = _randn((5, 4), seed=2)
    params, state = layer.init(key, x)
    ref_params, _ = inner.init(key, x)
    assert jax.tree.structure(params) == jax.tree.structure(ref_params)
    np.testing.assert_array_equal(params["kernel"], ref_params["kernel"])
    np.testing.assert_array_equal(layer.apply(params, state, x)[0], inner.apply(params, state, x)[0])
    assert repr(layer) == "WeightNoise(Dense(3), 0.1)"


def test_weight_noise_statistics(key):
    """With x = I and no bias, the training output is the perturbed kernel itself."""
    layer = WeightNoise(Dense(3, use_bias=False), stddev=0.2)
    x = jnp.eye(4)
    params, state = layer.init(key, x)
    keys = jax.random.split(jax.random.key(1), 4000)
    noisy = jax.jit(jax.vmap(lambda k: layer.apply(params, state, x, key=k, train=True)[0]))(keys)
    eps = np.asarray(noisy - params["kernel"][None])  # (4000, 4, 3)
    n = eps.size
    assert abs(eps.mean()) < 5 * 0.2 / math.sqrt(n)
    assert abs(eps.std() - 0.2) < 5 * 0.2 / math.sqrt(2 * n)
    # Entries are independent: the empirical correlation between two of them is ~0.
    corr = np.corrcoef(eps[:, 0, 0], eps[:, 1, 2])[0, 1]
    assert abs(corr) < 5 / math.sqrt(len(keys))


def test_weight_noise_gradient_is_taken_at_the_perturbed_point(key):
    """d/dW sum(tanh(x (W + s E))) = 1 - tanh(W + s E)^2 for x = I: flows to the clean W."""
    layer = WeightNoise(Dense(3, use_bias=False), stddev=0.3)
    x = jnp.eye(4)
    params, state = layer.init(key, x)
    k = jax.random.key(2)
    w_noisy = layer.apply(params, state, x, key=k, train=True)[0]
    grads = jax.grad(
        lambda p: jnp.sum(jnp.tanh(layer.apply(p, state, x, key=k, train=True)[0]))
    )(params)
    np.testing.assert_allclose(grads["kernel"], 1 - np.tanh(w_noisy) ** 2, rtol=1e-5, atol=1e-6)
    assert not np.allclose(w_noisy, params["kernel"])


def test_weight_noise_passes_a_key_to_the_wrapped_layer(key):
    layer = WeightNoise(Sequential([Dense(8), Dropout(0.5)]), stddev=0.0)
    x = jnp.ones((2, 3))
    params, state = layer.init(key, x)
    y1, _ = layer.apply(params, state, x, key=jax.random.key(3), train=True)
    y2, _ = layer.apply(params, state, x, key=jax.random.key(3), train=True)
    np.testing.assert_array_equal(y1, y2)
    assert (np.asarray(y1) == 0).any()  # dropout ran inside
    with pytest.raises(ValueError, match="WeightNoise.apply: this layer is random in training"):
        layer.apply(params, state, x, train=True)


def test_noise_bad_hyperparameters():
    with pytest.raises(ValueError, match=r"GaussianNoise: stddev must be in \[0.0, inf\); got -1"):
        GaussianNoise(-1.0)
    with pytest.raises(TypeError, match=r"WeightNoise: stddev must be a non-negative number"):
        WeightNoise(Dense(2), stddev="big")
    with pytest.raises(TypeError, match=r"WeightNoise: got the class Dense, not a layer"):
        WeightNoise(Dense, stddev=0.1)


# ---------------------------------------------------------------- activity penalty


def test_activity_regularization_value_and_passthrough(key):
    x = _randn((5, 3, 2), seed=3)
    layer = ActivityRegularization(l1=0.1, l2=0.01)
    params, state = layer.init(key, x)
    y, new_state = layer.apply(params, state, x)
    assert y is x
    xn = np.asarray(x, np.float64)
    expected = (0.1 * np.abs(xn).sum() + 0.01 * (xn**2).sum()) / 5  # sum over units, mean over batch
    np.testing.assert_allclose(new_state["penalty"], expected, rtol=1e-6)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)


def _max_activation(h):
    return jnp.max(h)


def test_collect_penalties_and_gradient_of_the_penalized_loss(key):
    """J~ = J + alpha*Omega(h): the gradient equals that of the hand-written objective."""
    model = Sequential([
        Dense(4), jax.nn.tanh, ActivityRegularization(l1=0.05),
        Dense(2), ActivityRegularization(l2=0.1, penalty=_max_activation), Dense(1),
    ])
    x = _randn((6, 3), seed=4)
    target = jnp.ones((6, 1))
    params, state = model.init(key, x)

    def loss(p):
        pred, new_state = model.apply(p, state, x)
        return jnp.mean((pred - target) ** 2) + collect_penalties(new_state)

    def manual(p):
        h1 = jnp.tanh(x @ p[0]["kernel"] + p[0]["bias"][None])
        h2 = h1 @ p[3]["kernel"] + p[3]["bias"][None]
        pred = h2 @ p[5]["kernel"] + p[5]["bias"][None]
        omega = 0.05 * jnp.abs(h1).sum() / 6 + 0.1 * (h2**2).sum() / 6 + jnp.max(h2)
        return jnp.mean((pred - target) ** 2) + omega

    (value, g) = jax.jit(jax.value_and_grad(loss))(params)
    (value_ref, g_ref) = jax.jit(jax.value_and_grad(manual))(params)
    np.testing.assert_allclose(value, value_ref, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_collect_penalties_of_a_state_without_penalties_is_zero():
    assert float(collect_penalties([{}, {"mean": jnp.ones(3)}, []])) == 0.0
    with pytest.raises(ValueError, match=r"collect_penalties: a 'penalty' entry has shape \(2,\)"):
        collect_penalties({"penalty": jnp.ones(2)})


def test_activity_regularization_bad_input(key):
    with pytest.raises(ValueError, match=r"ActivityRegularization: l1 must be in \[0.0, inf\)"):
        ActivityRegularization(l1=-0.1)
    with pytest.raises(TypeError, match=r"ActivityRegularization: penalty must be a callable"):
        ActivityRegularization(penalty=3.0)
    layer = ActivityRegularization(penalty=jnp.abs)
    params, state = layer.init(key, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"penalty\(h\) must return a scalar; got shape \(2, 3\)"):
        layer.apply(params, state, jnp.ones((2, 3)))


@pytest.mark.parametrize(
    "layer",
    [
        Dropout(0.3),
        SpatialDropout(0.5),
        GaussianNoise(0.2),
        WeightNoise(Dense(2), 0.1),
        ActivityRegularization(l1=0.1, l2=0.2),
    ],
    ids=repr,
)
def test_check_grads_in_training(x64, layer):
    """Finite differences through each layer in training, at a fixed key, in float64."""
    x = _randn((2, 3, 3, 2), np.float64, seed=5)
    params, state = layer.init(jax.random.key(0), x)

    @jax.jit
    def f(p, x_):
        y, s = layer.apply(p, state, x_, key=jax.random.key(1), train=True)
        return jnp.sum(y**2) + collect_penalties(s)

    eps = tol(jnp.float64, "grads")
    check_grads(f, (params, x), order=1, modes=["rev"], atol=eps, rtol=eps)
