"""Flax interop: from_linen wraps Linen modules as jnn layers; to_linen_params exports."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.layers import (
    BatchNorm,
    Dense,
    Embedding,
    GroupNorm,
    LayerNorm,
    Sequential,
    from_linen,
    to_linen_params,
)


def _randn(shape, dtype=np.float32, seed=0):
    """Standard normal test data from numpy: no XLA compilation per shape."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))



class _Net(nn.Module):
    """Dense -> BatchNorm -> Dropout -> Dense, switched by a `train` argument."""

    rate: float = 0.0

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Dense(8)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        x = nn.Dropout(self.rate, deterministic=not train)(x)
        return nn.Dense(2)(x)


class _Noisy(nn.Module):
    """Dropout with a `deterministic` call argument and no params."""

    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        return nn.Dropout(0.5)(x, deterministic=deterministic)


@pytest.fixture(scope="module")
def x():
    return _randn((16, 3), seed=1)


def test_dense_without_state_equals_flax(key, x):
    layer = from_linen(nn.Dense(4))
    params, state = layer.init(key, x)
    assert state == {} and set(params) == {"kernel", "bias"}
    y, _ = layer.apply(params, state, x)
    np.testing.assert_allclose(y, nn.Dense(4).apply({"params": params}, x), rtol=1e-6)


def test_batch_stats_become_state_and_train_maps_to_the_module(key, x):
    module = _Net(rate=0.0)
    layer = from_linen(module)
    params, state = layer.init(key, x)
    assert set(state) == {"batch_stats"}
    variables = {"params": params, **state}
    # Evaluation: running averages, state unchanged.
    y, same = layer.apply(params, state, x)
    np.testing.assert_allclose(y, module.apply(variables, x, train=False), rtol=1e-6)
    assert same is state
    # Training: batch statistics, and the updated running averages come back as state.
    y, new_state = layer.apply(params, state, x, key=key, train=True)
    y_ref, mutated = module.apply(variables, x, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(mutated)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)


def test_dropout_inside_a_linen_module_uses_the_key(key, x):
    layer = from_linen(_Net(rate=0.5))
    params, state = layer.init(key, x)
    run = jax.jit(lambda k: layer.apply(params, state, x, key=k, train=True)[0])
    y1, y2, y3 = run(jax.random.key(7)), run(jax.random.key(7)), run(jax.random.key(8))
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, y3)
    with pytest.raises(ValueError, match=r"from_linen\(_Net\).apply: this layer is random in "
                                         r"training and needs a key"):
        layer.apply(params, state, x, train=True)


def test_deterministic_argument_is_negated_train(key, x):
    layer = from_linen(_Noisy())
    params, state = layer.init(key, x)
    assert params == {} and state == {}
    y_eval, _ = layer.apply(params, state, x)
    np.testing.assert_array_equal(y_eval, x)
    y_train, _ = layer.apply(params, state, x, key=key, train=True)
    dropped = np.asarray(y_train) == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_allclose(np.asarray(y_train)[~dropped], 2 * np.asarray(x)[~dropped])


def test_inside_sequential_under_jit_and_grad(key, x):
    """Gradients through a wrapped module equal those of the module used directly."""
    model = Sequential([from_linen(nn.Dense(5)), jax.nn.tanh, Dense(1)])
    params, state = model.init(key, x)
    target = jnp.ones((16, 1))

    def loss(p):
        return jnp.mean((model.apply(p, state, x)[0] - target) ** 2)

    def reference(p):
        h = jnp.tanh(nn.Dense(5).apply({"params": p[0]}, x))
        return jnp.mean((Dense(1).apply(p[2], {}, h)[0] - target) ** 2)

    g, g_ref = jax.jit(jax.grad(loss))(params), jax.grad(reference)(params)
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_init_from_shape_struct_and_eval_shape(key, x):
    layer = from_linen(_Net())
    struct = jax.ShapeDtypeStruct(x.shape, x.dtype)
    params, state = layer.init(key, struct)
    out = jax.eval_shape(lambda p, s, x_: layer.apply(p, s, x_, train=True), params, state, x)
    assert out[0].shape == (16, 2)
    assert layer.output_shape(x).shape == (16, 2)
    assert hash(from_linen(nn.Dense(3))) == hash(from_linen(nn.Dense(3)))


def test_to_linen_params_for_a_sequential_model(key, x):
    model = Sequential([Dense(6), jax.nn.relu, BatchNorm(momentum=0.9), LayerNorm(), Dense(2)])
    params, state = model.init(key, x)
    _, state = jax.jit(lambda p, s: model.apply(p, s, x, train=True))(params, state)
    ref = nn.Sequential([
        nn.Dense(6), nn.relu, nn.BatchNorm(use_running_average=True, epsilon=1e-5),
        nn.LayerNorm(epsilon=1e-5), nn.Dense(2),
    ])
    variables = to_linen_params(model, params, state)
    assert set(variables) == {"params", "batch_stats"}
    y = jax.jit(lambda p, s: model.apply(p, s, x)[0])(params, state)
    np.testing.assert_allclose(y, jax.jit(ref.apply)(variables, x), rtol=1e-5, atol=1e-6)


def test_to_linen_params_simple_layers_and_round_trip(key):
    img = _randn((2, 4, 4, 6), seed=2)
    gn = GroupNorm(3)
    p, _ = gn.init(key, img)
    np.testing.assert_allclose(
        gn.apply(p, {}, img)[0],
        nn.GroupNorm(3, epsilon=1e-5).apply(to_linen_params(gn, p), img),
        rtol=1e-5, atol=1e-6,
    )
    emb = Embedding(5, 3)
    p, _ = emb.init(key, jnp.array([1]))
    assert to_linen_params(emb, p) == {"params": p}
    layer = from_linen(_Net())
    params, state = layer.init(key, jnp.ones((2, 3)))
    assert to_linen_params(layer, params, state) == {"params": params, **state}


def test_bad_input():
    with pytest.raises(TypeError, match=r"from_linen: module must be a flax.linen.Module "
                                        r"instance.*from_linen\(nn.Dense\(3\)\)"):
        from_linen(nn.Dense)
    with pytest.raises(TypeError, match=r"from_linen: module must be a flax.linen.Module"):
        from_linen(Dense(3))
    with pytest.raises(TypeError, match=r"from_linen: rng_names must be a tuple of strings"):
        from_linen(nn.Dense(3), rng_names="dropout")
    with pytest.raises(TypeError, match=r"to_linen_params: no Linen mapping for"):
        to_linen_params(Sequential([Dense(2)]), [[1.0]])
