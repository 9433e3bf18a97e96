"""Residual: identity and projection shortcuts, inferred strides, state, grads, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import tol
from jax.test_util import check_grads

from jnn.layers import (
    BatchNorm,
    Conv,
    Dense,
    Dropout,
    Flatten,
    Residual,
    Sequential,
)

RNG = np.random.default_rng(0)


def normal(*shape, dtype=np.float32):
    return jnp.asarray(RNG.normal(size=shape).astype(dtype))


def np_init(layer, x):
    params, state = jax.eval_shape(layer.init, jax.random.key(0), x)
    fill = lambda s: jnp.asarray(RNG.normal(size=s.shape).astype(s.dtype))
    return jax.tree.map(fill, params), jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype), state)


def test_identity_shortcut_adds_the_input():
    block = Sequential([Conv(3, (3, 3)), jax.nn.relu, Conv(3, (3, 3))])
    x = normal(2, 6, 6, 3)
    params, state = np_init(Residual(block), x)
    assert params["shortcut"] == {}
    y, _ = Residual(block).apply(params, state, x)
    fx, _ = block.apply(params["block"], state["block"], x)
    np.testing.assert_allclose(y, fx + x, rtol=1e-6, atol=1e-6)


def test_identity_residual_jacobian_is_identity_plus_block_jacobian(x64):
    """He et al.: H(x) = F(x) + x, so dH/dx = I + dF/dx; for F = Dense, I + W^T."""
    x = normal(1, 4, dtype=np.float64)
    params, state = np_init(Residual(Dense(4)), x)
    jac = jax.jacobian(lambda x_: Residual(Dense(4)).apply(params, state, x_)[0])(x)[0, :, 0, :]
    np.testing.assert_allclose(jac, np.eye(4) + np.asarray(params["block"]["kernel"]).T,
                               rtol=1e-12)


@pytest.mark.parametrize("x_shape,block,strides", [
    ((2, 8, 8, 3), Conv(5, (3, 3)), 1),  # channels change only
    ((2, 8, 8, 4), Conv(4, (3, 3), strides=2), 2),  # downsampling only
    ((1, 7, 9, 2), Conv(6, (3, 3), strides=2), 2),  # odd sizes: ceil(7 / 2) = 4
    ((1, 8, 6, 2), Conv(3, (3, 3), strides=(2, 1)), (2, 1)),  # per-axis strides
    ((2, 9, 3), Conv(4, 3, strides=3), 3),  # 1-D
])
def test_projection_shortcut_is_a_strided_1x1_conv(x_shape, block, strides):
    x = normal(*x_shape)
    layer = Residual(block)
    params, state = np_init(layer, x)
    rank = len(x_shape) - 2
    assert params["shortcut"]["kernel"].shape == (1,) * rank + (x_shape[-1], block.features)
    y, _ = layer.apply(params, state, x)
    fx, _ = block.apply(params["block"], {}, x)
    proj = Conv(block.features, (1,) * rank, strides=strides, padding="VALID", use_bias=False)
    wx, _ = proj.apply(params["shortcut"], {}, x)
    assert y.shape == fx.shape == wx.shape
    np.testing.assert_allclose(y, fx + wx, rtol=1e-5, atol=1e-5)
    assert layer.output_shape(x).shape == y.shape


def test_dense_projection_for_feature_vectors():
    x = normal(5, 3)
    params, state = np_init(Residual(Dense(7)), x)
    assert params["shortcut"]["kernel"].shape == (3, 7) and "bias" not in params["shortcut"]
    y, _ = Residual(Dense(7)).apply(params, state, x)
    expected = x @ params["block"]["kernel"] + params["block"]["bias"][None] + x @ params[
        "shortcut"]["kernel"]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_explicit_shortcut_with_batchnorm_updates_its_state():
    shortcut = Sequential([Conv(8, (1, 1), strides=2, use_bias=False), BatchNorm(momentum=0.9)])
    layer = Residual(Sequential([Conv(8, (3, 3), strides=2), BatchNorm(momentum=0.9)]), shortcut)
    x = normal(4, 8, 8, 3)
    params, state = np_init(layer, x)
    y, new_state = layer.apply(params, state, x, train=True)
    assert y.shape == (4, 4, 4, 8)
    for branch in ("block", "shortcut"):
        assert not np.allclose(new_state[branch][1]["mean"], state[branch][1]["mean"])
    _, eval_state = layer.apply(params, state, x, train=False)
    np.testing.assert_array_equal(eval_state["shortcut"][1]["mean"], state["shortcut"][1]["mean"])


def test_key_reaches_the_block():
    layer = Residual(Dropout(0.5))
    x = jnp.ones((4, 16))
    params, state = layer.init(jax.random.key(0), x)
    a, _ = layer.apply(params, state, x, key=jax.random.key(1), train=True)
    b, _ = layer.apply(params, state, x, key=jax.random.key(1), train=True)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(np.asarray(a)).tolist()) == {1.0, 3.0}  # x + {0, 2}
    np.testing.assert_array_equal(layer.apply(params, state, x)[0], 2 * x)


@pytest.mark.parametrize("jit", [False, True])
def test_jit_and_no_jit(jit):
    model = Sequential([Residual(Sequential([Conv(4, (3, 3), strides=2), jax.nn.relu])),
                        jax.nn.relu, Flatten(), Dense(2)])
    x = normal(2, 6, 6, 2)
    params, state = np_init(model, x)
    f = lambda p, x_: model.apply(p, state, x_)[0]
    y = (jax.jit(f) if jit else f)(params, x)
    assert y.shape == (2, 2)
    np.testing.assert_allclose(y, f(params, x), rtol=1e-5, atol=1e-6)


def test_check_grads_through_projection(x64):
    layer = Residual(Sequential([Conv(3, (3, 3), strides=2), jnp.tanh]))
    x = normal(1, 5, 5, 2, dtype=np.float64)
    params, state = np_init(layer, x)
    f = jax.jit(lambda p, x_: jnp.sum(jnp.sin(layer.apply(p, state, x_)[0])))
    check_grads(f, (params, x), order=2, modes=["rev"], atol=tol(jnp.float64, "grads"),
                rtol=tol(jnp.float64, "grads"))


def test_bad_input():
    with pytest.raises(ValueError, match=r"Residual.init: the block maps shape \(2, 4, 4, 3\) to "
                                         r"\(2, 48\), and no automatic projection.*shortcut="):
        Residual(Flatten()).init(jax.random.key(0), jnp.ones((2, 4, 4, 3)))
    wrong = Residual(Conv(4, (3, 3), strides=2), shortcut=Conv(4, (1, 1)))
    with pytest.raises(ValueError, match=r"Residual.init: the block gives shape \(1, 4, 4, 4\) but "
                                         r"the shortcut Conv\(4, \(1, 1\)\) gives \(1, 8, 8, 4\)"):
        wrong.init(jax.random.key(0), jnp.ones((1, 8, 8, 2)))
    layer = Residual(Dense(3))
    params, state = layer.init(jax.random.key(0), jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"Residual.apply: params must be a dict with keys "
                                         r"\['block', 'shortcut'\]"):
        layer.apply(params["block"], state, jnp.ones((1, 3)))
    with pytest.raises(TypeError, match=r"Residual: expected a jnn Layer or a callable"):
        Residual(3)
    assert repr(Residual(Dense(3))) == "Residual(Dense(3))"
