"""BatchNorm, LayerNorm, GroupNorm: equal to flax.linen, running averages, shapes, grads."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import assert_trees_close, tol
from jax.test_util import check_grads

from jnn.layers import BatchNorm, Dense, GroupNorm, LayerNorm, Sequential


def _randn(shape, dtype=np.float32, seed=0):
    """Standard normal test data from numpy: no XLA compilation per shape."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))



def _random_affine(seed, params):
    """Replace ones/zeros with random values so scale and bias are really exercised."""
    return {
        k: v + 0.5 * _randn(v.shape, v.dtype, seed=seed + n)
        for n, (k, v) in enumerate(sorted(params.items()))
    }


# ---------------------------------------------------------------- BatchNorm


@pytest.mark.parametrize("fast_variance", [True, False])
def test_batchnorm_matches_flax_train_and_eval(key, fast_variance):
    shape = (4, 3, 3, 6)
    x = 3.0 + 2.0 * _randn(shape, seed=2)
    bn = BatchNorm(momentum=0.9, epsilon=1e-3, fast_variance=fast_variance)
    params, state = bn.init(key, x)
    params = _random_affine(300, params)
    state = {"mean": _randn(state["mean"].shape, seed=3), "var": state["var"] * 2.0}

    ref = nn.BatchNorm(momentum=0.9, epsilon=1e-3, use_fast_variance=fast_variance)
    variables = {"params": params, "batch_stats": state}
    y_ref, mutated = ref.apply(variables, x, use_running_average=False, mutable=["batch_stats"])
    y, new_state = bn.apply(params, state, x, train=True)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    assert_trees_close(new_state, mutated["batch_stats"], rtol=1e-6, atol=1e-6)

    y_ref_eval = ref.apply(variables, x, use_running_average=True)
    y_eval, same_state = bn.apply(params, state, x, train=False)
    np.testing.assert_allclose(y_eval, y_ref_eval, rtol=1e-5, atol=1e-5)
    assert same_state is state


def test_batchnorm_running_averages_follow_momentum_formula(key):
    """running = momentum * running + (1 - momentum) * batch_stat, biased variance."""
    bn = BatchNorm(momentum=0.8)
    xs = 1.0 + _randn((4, 16, 3), seed=4) * jnp.array([[[1.0, 2.0, 0.5]]])
    params, state = bn.init(key, xs[0])
    mean = np.zeros(3)
    var = np.ones(3)
    step = jax.jit(lambda p, s, x: bn.apply(p, s, x, train=True))
    for x in xs:
        _, state = step(params, state, x)
        xn = np.asarray(x, np.float64)
        mean = 0.8 * mean + 0.2 * xn.mean(axis=0)
        var = 0.8 * var + 0.2 * xn.var(axis=0, ddof=0)
        np.testing.assert_allclose(state["mean"], mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(state["var"], var, rtol=1e-5, atol=1e-6)


def test_batchnorm_variance_modes_and_cancellation(key):
    """One pass, E[x^2] - E[x]^2, loses the variance when |mean| >> std; two passes keep it.

    float32 unit roundoff u ~ 6e-8: at |mean| / std = 1e4 the one-pass relative error is
    of order u * 1e8 >> 1, while the two-pass error stays near u. Both stay >= 0.
    """
    x = 1e4 + _randn((256, 3), seed=15)
    want = np.asarray(x, np.float64).var(axis=0)
    variances = {}
    for fast in (True, False):
        bn = BatchNorm(momentum=0.0, fast_variance=fast)  # momentum 0: state = batch stats
        params, state = bn.init(key, x)
        y, new_state = jax.jit(lambda p, s, x_, bn=bn: bn.apply(p, s, x_, train=True))(
            params, state, x)
        assert np.all(np.isfinite(y)) and np.all(new_state["var"] >= 0)
        variances[fast] = np.asarray(new_state["var"], np.float64)
    np.testing.assert_allclose(variances[False], want, rtol=1e-4)
    assert np.max(np.abs(variances[True] - want) / want) > 1e-2  # the documented trade-off
    # A constant feature far from zero: rounding may push E[x^2] - E[x]^2 below zero;
    # the clamp keeps the variance at >= 0 and the output finite.
    const = jnp.full((64, 2), 1000.1, jnp.float32)
    bn = BatchNorm(momentum=0.0)
    _, st = bn.apply(*bn.init(key, const), const, train=True)
    assert np.all(np.asarray(st["var"]) >= 0)
    with pytest.raises(TypeError, match=r"BatchNorm: fast_variance must be True or False; got 1"):
        BatchNorm(fast_variance=1)


def test_batchnorm_train_output_is_standardized(key):
    x = 5.0 + 3.0 * _randn((64, 4), seed=5)
    bn = BatchNorm()
    params, state = bn.init(key, x)
    y, _ = bn.apply(params, state, x, train=True)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=0), 1.0, atol=1e-3)  # 1 - eps/var


@pytest.mark.parametrize("fast_variance", [True, False])
def test_batchnorm_axis_name_averages_over_devices(key, fast_variance):
    """Under vmap with axis_name, statistics are those of the whole (global) batch."""
    x = _randn((4, 8, 3), seed=6) * 2.0 + jnp.arange(4.0)[:, None, None]
    bn = BatchNorm(momentum=0.5, axis_name="i", fast_variance=fast_variance)
    params, state = bn.init(key, x[0])
    y, new_state = jax.vmap(
        lambda xi: bn.apply(params, state, xi, train=True), axis_name="i"
    )(x)
    y_global, state_global = BatchNorm(momentum=0.5, fast_variance=False).apply(
        params, state, x.reshape(32, 3), train=True
    )
    np.testing.assert_allclose(y.reshape(32, 3), y_global, rtol=1e-5, atol=1e-5)
    for k in ("mean", "var"):
        np.testing.assert_allclose(new_state[k], jnp.broadcast_to(state_global[k], (4, 3)),
                                   rtol=1e-5, atol=1e-6)


def test_batchnorm_without_scale_and_bias_and_other_axis(key):
    x = _randn((6, 3, 5), seed=7)
    bn = BatchNorm(axis=1, use_scale=False, use_bias=False)
    params, state = bn.init(key, x)
    assert params == {} and state["mean"].shape == (3,)
    y, _ = bn.apply(params, state, x, train=True)
    ref = nn.BatchNorm(axis=1, use_scale=False, use_bias=False).apply(
        {"batch_stats": state}, x, use_running_average=False, mutable=["batch_stats"]
    )[0]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_batchnorm_half_precision_keeps_dtype_with_float32_state(key):
    x = _randn((8, 4), seed=8).astype(jnp.bfloat16)
    bn = BatchNorm()
    params, state = bn.init(key, x)
    assert params["scale"].dtype == jnp.float32 and state["var"].dtype == jnp.float32
    y, new_state = bn.apply(params, state, x, train=True)
    assert y.dtype == jnp.bfloat16 and new_state["mean"].dtype == jnp.float32


def test_batchnorm_in_sequential_trains_under_jit(key):
    model = Sequential([Dense(8), BatchNorm(), jax.nn.relu, Dense(1)])
    x = _randn((16, 3), seed=9)
    params, state = model.init(key, x)

    def loss(p, s):
        y, s = model.apply(p, s, x, train=True)
        return jnp.mean(y**2), s

    (value, new_state), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params, state)
    assert jnp.isfinite(value)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    assert not np.allclose(new_state[1]["mean"], state[1]["mean"])
    assert jax.tree.structure(grads) == jax.tree.structure(params)


# ---------------------------------------------------------------- LayerNorm, GroupNorm


def test_layernorm_matches_flax(key):
    shape = (2, 3, 5)
    x = 2.0 + _randn(shape, seed=10)
    ln = LayerNorm(epsilon=1e-6)
    params, state = ln.init(key, x)
    params = _random_affine(100, params)
    y, _ = ln.apply(params, state, x)
    y_ref = nn.LayerNorm(epsilon=1e-6).apply({"params": params}, x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)


def test_layernorm_over_several_axes_matches_numpy(key):
    x = _randn((2, 3, 4), seed=11)
    ln = LayerNorm(axis=(1, 2), use_scale=False, use_bias=False)
    params, state = ln.init(key, x)
    y, _ = ln.apply(params, state, x)
    xn = np.asarray(x, np.float64)
    mu = xn.mean(axis=(1, 2), keepdims=True)
    ref = (xn - mu) / np.sqrt(xn.var(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,groups", [((2, 3, 3, 6), 3), ((3, 5, 8), 2)])
def test_groupnorm_matches_flax(key, shape, groups):
    x = 1.0 + _randn(shape, seed=12)
    gn = GroupNorm(num_groups=groups)
    params, state = gn.init(key, x)
    params = _random_affine(100, params)
    y, _ = gn.apply(params, state, x)
    y_ref = nn.GroupNorm(num_groups=groups, epsilon=1e-5).apply({"params": params}, x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- shapes and gradients


NORM_CASES = [
    (BatchNorm(), (4, 3), True),
    (BatchNorm(fast_variance=False), (4, 3), True),
    (BatchNorm(), (2, 2, 2, 3), True),
    (LayerNorm(), (2, 5), False),
    (GroupNorm(2), (2, 2, 2, 4), False),
]


@pytest.mark.parametrize("layer,shape,train", NORM_CASES)
def test_eval_shape_agrees(key, layer, shape, train):
    x = _randn(shape, seed=13)
    params, state = layer.init(key, x)
    y, new_state = layer.apply(params, state, x, train=train)
    out = jax.eval_shape(lambda p, s, x_: layer.apply(p, s, x_, train=train), params, state, x)
    assert out[0].shape == y.shape == shape and out[0].dtype == y.dtype
    assert jax.tree.map(jnp.shape, out[1]) == jax.tree.map(jnp.shape, new_state)
    assert layer.output_shape(x).shape == shape


@pytest.mark.parametrize("layer,shape,train", NORM_CASES)
def test_check_grads(x64, layer, shape, train):
    key = jax.random.key(0)
    x = _randn(shape, jnp.float64, seed=14)
    params, state = layer.init(key, x)
    params = _random_affine(200, params)

    @jax.jit
    def f(p, x_):
        return layer.apply(p, state, x_, train=train)[0]

    # Second order once (the default BatchNorm in training, the most intricate); first
    # order elsewhere.
    order = 2 if x.ndim == 2 and train and getattr(layer, "fast_variance", False) else 1
    eps = tol(jnp.float64, "grads")
    check_grads(f, (params, x), order=order, modes=["rev"], atol=eps, rtol=eps)


# ---------------------------------------------------------------- bad input


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match=r"BatchNorm: momentum must be in \[0.0, 1.0\]; got 1.5"):
        BatchNorm(momentum=1.5)
    with pytest.raises(ValueError, match=r"LayerNorm: epsilon must be in \(0.0, inf\)"):
        LayerNorm(epsilon=0.0)
    with pytest.raises(ValueError, match="GroupNorm: num_groups must be a positive integer; got 0"):
        GroupNorm(0)
    with pytest.raises(TypeError, match="BatchNorm: axis must be an int or a non-empty tuple"):
        BatchNorm(axis="channels")


def test_bad_inputs(key):
    with pytest.raises(ValueError, match=r"BatchNorm.init: x must have at least 2 dimensions"):
        BatchNorm().init(key, jnp.ones((5,)))
    with pytest.raises(ValueError, match="includes the batch axis 0"):
        BatchNorm(axis=0).init(key, jnp.ones((5, 3)))
    with pytest.raises(ValueError, match=r"axis=3 is out of range for x of shape \(5, 3\)"):
        LayerNorm(axis=3).init(key, jnp.ones((5, 3)))
    with pytest.raises(TypeError, match="LayerNorm.init: x has dtype int32"):
        LayerNorm().init(key, jnp.ones((5, 3), jnp.int32))
    with pytest.raises(ValueError, match=r"num_groups=4 does not divide the 6 channels.*\[1, 2, 3, 6\]"):
        GroupNorm(4).init(key, jnp.ones((2, 6)))


def test_params_from_another_input_are_refused(key):
    bn = BatchNorm()
    params, state = bn.init(key, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"params\['scale'\] has shape \(3,\) but x of shape "
                                         r"\(4, 5\) needs \(5,\); re-run init"):
        bn.apply(params, state, jnp.ones((4, 5)), train=True)
    with pytest.raises(ValueError, match=r"BatchNorm.apply: state must be a dict with keys "
                                         r"\['mean', 'var'\]; got \[\]"):
        bn.apply(params, {}, jnp.ones((4, 3)))
