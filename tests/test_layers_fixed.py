"""Fixed filters (Sobel, Prewitt, FixedConv) and Frozen layers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close, tol
from jax.test_util import check_grads
from scipy import signal

from jnn.layers import (
    BatchNorm,
    Conv,
    Dense,
    Dropout,
    FixedConv,
    Frozen,
    Sequential,
    prewitt_kernel,
    sobel_kernel,
)

RNG = np.random.default_rng(0)


def normal(*shape, dtype=np.float32):
    return jnp.asarray(RNG.normal(size=shape).astype(dtype))


# ------------------------------------------------------------ Sobel / Prewitt


def test_sobel_is_smoothing_times_difference():
    """COURSE K3: S_x = [1 2 1]^T [-1 0 +1]; S_y = [[-1,-2,-1],[0,0,0],[+1,+2,+1]]."""
    np.testing.assert_array_equal(sobel_kernel("x"), np.outer([1, 2, 1], [-1, 0, 1]))
    np.testing.assert_array_equal(sobel_kernel("y"), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(prewitt_kernel("x"), np.outer([1, 1, 1], [-1, 0, 1]))
    np.testing.assert_array_equal(prewitt_kernel("y"), prewitt_kernel("x").T)
    assert sobel_kernel("x", dtype=jnp.bfloat16).dtype == jnp.bfloat16


def edge_filters(kernel_fn):
    both = jnp.stack([kernel_fn("x"), kernel_fn("y")], axis=-1)[:, :, None, :]
    return FixedConv(both, padding="VALID")


def test_course_sobel_example_finds_the_vertical_edge():
    """COURSE K3: a dummy image with a vertical edge; S_x finds it, S_y does not."""
    image = np.zeros((6, 6))
    image[:, 3:] = 10.0  # dark left half, bright right half
    g, _ = edge_filters(sobel_kernel).apply({}, {}, jnp.asarray(image)[None, :, :, None])
    gx, gy = g[0, :, :, 0], g[0, :, :, 1]
    # Output column j sees input columns j..j+2: 4 * (x[j+2] - x[j]) on every row.
    np.testing.assert_array_equal(gx, np.tile([0.0, 40.0, 40.0, 0.0], (4, 1)))
    np.testing.assert_array_equal(gy, np.zeros((4, 4)))
    magnitude = jnp.sqrt(gx**2 + gy**2)
    np.testing.assert_array_equal(magnitude, jnp.abs(gx))

    # The transposed image has a horizontal edge: now S_y responds and S_x is silent.
    g, _ = edge_filters(sobel_kernel).apply({}, {}, jnp.asarray(image.T)[None, :, :, None])
    np.testing.assert_array_equal(g[0, :, :, 0], np.zeros((4, 4)))
    np.testing.assert_array_equal(g[0, :, :, 1], np.tile([[0.0], [40.0], [40.0], [0.0]], (1, 4)))
    # Prewitt weights the three rows equally: 3 * 10.
    g, _ = edge_filters(prewitt_kernel).apply({}, {}, jnp.asarray(image)[None, :, :, None])
    np.testing.assert_array_equal(g[0, 0, :, 0], [0.0, 30.0, 30.0, 0.0])


@pytest.mark.parametrize("kernel_fn", [sobel_kernel, prewitt_kernel])
def test_fixed_filters_equal_scipy_correlate2d(kernel_fn, x64):
    image = RNG.uniform(0, 255, size=(9, 11))  # greyscale pixels, 0 black .. 255 white
    g, _ = edge_filters(kernel_fn).apply({}, {}, jnp.asarray(image)[None, :, :, None])
    for channel, direction in enumerate("xy"):
        expected = signal.correlate2d(image, np.asarray(kernel_fn(direction)), mode="valid")
        np.testing.assert_allclose(g[0, :, :, channel], expected, rtol=1e-12, atol=1e-9)


def test_per_channel_filters_every_channel_separately():
    rgb = normal(2, 7, 8, 3)
    layer = FixedConv(sobel_kernel("x"), per_channel=True)
    y, _ = layer.apply({}, {}, rgb)
    assert y.shape == rgb.shape
    single = FixedConv(sobel_kernel("x")[:, :, None, None])
    for c in range(3):
        expected, _ = single.apply({}, {}, rgb[..., c:c + 1])
        np.testing.assert_allclose(y[..., c:c + 1], expected, rtol=1e-6, atol=1e-5)


def test_fixed_conv_equals_conv_with_that_kernel():
    x = normal(2, 8, 8, 2)
    kernel = normal(3, 3, 2, 4)
    fixed = FixedConv(kernel, strides=2, padding=1, dilation=1)
    expected, _ = Conv(4, (3, 3), strides=2, padding=1, use_bias=False).apply(
        {"kernel": kernel}, {}, x)
    params, state = fixed.init(None, x)
    assert params == {} and state == {}
    np.testing.assert_allclose(fixed.apply(params, state, x)[0], expected, rtol=1e-6, atol=1e-6)


def test_fixed_conv_is_hashable_and_static_and_differentiable(x64):
    a = FixedConv(np.asarray(sobel_kernel("x"))[:, :, None, None])
    b = FixedConv(sobel_kernel("x")[:, :, None, None].tolist())
    assert a == b and hash(a) == hash(b)
    assert repr(FixedConv(sobel_kernel("x"), per_channel=True)) == \
        "FixedConv(kernel=<3x3>, per_channel=True)"
    x = normal(1, 5, 5, 1, dtype=np.float64)
    run = jax.jit(lambda layer, x_: layer.apply({}, {}, x_)[0], static_argnums=0)
    np.testing.assert_allclose(run(a, x), a.apply({}, {}, x)[0])
    f = jax.jit(lambda x_: jnp.sum(jnp.sin(a.apply({}, {}, x_)[0])))
    check_grads(f, (x,), order=1, modes=["rev"], atol=tol(jnp.float64, "grads"),
                rtol=tol(jnp.float64, "grads"))


def test_fixed_filter_bad_input():
    with pytest.raises(ValueError, match=r"sobel_kernel: direction must be 'x' .* got 'z'"):
        sobel_kernel("z")
    with pytest.raises(ValueError, match=r"FixedConv: kernel must have shape \(\*kernel_size, "
                                         r"in_channels, out_channels\).*per_channel=True"):
        FixedConv(sobel_kernel("x"))
    with pytest.raises(ValueError, match=r"FixedConv: kernel has non-finite entries"):
        FixedConv(np.full((3, 3), np.nan), per_channel=True)
    with pytest.raises(TypeError, match=r"FixedConv: kernel must be a real numeric array"):
        FixedConv(np.full((3, 3, 1, 1), 1 + 1j))
    with pytest.raises(ValueError, match=r"FixedConv: strides must be a positive integer"):
        FixedConv(sobel_kernel("x"), per_channel=True, strides=0)
    layer = FixedConv(sobel_kernel("x")[:, :, None, None])
    with pytest.raises(ValueError, match=r"FixedConv.apply: x has 3 channels .* expects 1. "
                                         r"Pass per_channel=True"):
        layer.apply({}, {}, jnp.ones((1, 5, 5, 3)))
    with pytest.raises(TypeError, match=r"FixedConv.init: x has dtype int32"):
        layer.init(None, jnp.ones((1, 5, 5, 1), jnp.int32))
    with pytest.raises(ValueError, match=r"FixedConv.apply: params must be a dict with keys \[\]"):
        layer.apply({"kernel": 1.0}, {}, jnp.ones((1, 5, 5, 1)))


# ------------------------------------------------------------ Frozen


def frozen_model():
    return Sequential([Frozen(Dense(4)), jnp.tanh, Dense(1)])


def test_frozen_layer_has_no_params_and_no_gradient():
    model = frozen_model()
    x, t = normal(16, 3), normal(16, 1)
    params, state = model.init(jax.random.key(0), x)
    assert params[0] == {} and set(state[0]) == {"params", "state"}
    loss = lambda p, s: jnp.mean((model.apply(p, s, x)[0] - t) ** 2)
    grads = jax.grad(loss)(params, state)
    assert grads[0] == {}  # nothing to differentiate, nothing to update
    # Even differentiating with respect to the state gives zero (stop_gradient).
    state_grads = jax.grad(loss, argnums=1)(params, state)
    for leaf in jax.tree.leaves(state_grads[0]):
        np.testing.assert_array_equal(leaf, 0.0)


def test_frozen_training_equals_masking_the_updates_with_optax():
    """Reference: the same model unfrozen, its first layer's updates zeroed by optax."""
    x, t = normal(32, 3), normal(32, 1)
    frozen = frozen_model()
    plain = Sequential([Dense(4), jnp.tanh, Dense(1)])
    params, state = frozen.init(jax.random.key(0), x)
    ref_params = [state[0]["params"], {}, params[2]]
    ref_state = [{}, {}, {}]

    opt = optax.adamw(0.05, weight_decay=0.1)  # decay would move any param it saw
    ref_opt = optax.multi_transform(
        {"train": opt, "freeze": optax.set_to_zero()}, ["freeze", "train", "train"])

    def step(model, optimizer):
        @jax.jit
        def run(p, s, o):
            loss_fn = lambda p_: jnp.mean((model.apply(p_, s, x, train=True)[0] - t) ** 2)
            loss, g = jax.value_and_grad(loss_fn)(p)
            updates, o = optimizer.update(g, o, p)
            return optax.apply_updates(p, updates), o, loss
        return run

    run, ref_run = step(frozen, opt), step(plain, ref_opt)
    o, ref_o = opt.init(params), ref_opt.init(ref_params)
    losses, ref_losses = [], []
    for _ in range(5):
        params, o, loss = run(params, state, o)
        ref_params, ref_o, ref_loss = ref_run(ref_params, ref_state, ref_o)
        losses.append(loss)
        ref_losses.append(ref_loss)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-6)
    assert losses[-1] < losses[0]
    assert_trees_close(params[2], ref_params[2], rtol=1e-6, atol=1e-6)
    # The frozen kernel is exactly what init gave, in both runs.
    assert_trees_close(state[0]["params"], ref_params[0], rtol=0, atol=0)


def test_frozen_from_params_reproduces_the_trained_layer():
    layer = Dense(3)
    x = normal(5, 2)
    trained, _ = layer.init(jax.random.key(3), x)
    frozen = Frozen(layer)
    params, state = frozen.from_params(trained, {})
    np.testing.assert_array_equal(frozen.apply(params, state, x)[0],
                                  layer.apply(trained, {}, x)[0])


def test_frozen_batchnorm_statistics_follow_eval_mode():
    x = normal(64, 3) * 2.0 + 1.0
    bn = BatchNorm(momentum=0.9)
    bn_params, bn_state = bn.init(None, x)

    frozen = Frozen(bn)  # eval_mode=True: running averages used and not updated
    params, state = frozen.from_params(bn_params, bn_state)
    y, new_state = frozen.apply(params, state, x, train=True)
    expected, _ = bn.apply(bn_params, bn_state, x, train=False)
    np.testing.assert_array_equal(y, expected)
    assert_trees_close(new_state["state"], bn_state, rtol=0, atol=0)

    passing = Frozen(bn, eval_mode=False)  # train passes through: batch statistics
    y, new_state = passing.apply(params, state, x, train=True)
    expected, expected_state = bn.apply(bn_params, bn_state, x, train=True)
    np.testing.assert_array_equal(y, expected)
    assert_trees_close(new_state["state"], expected_state, rtol=0, atol=0)


def test_frozen_dropout_is_off_in_eval_mode():
    x = jnp.ones((4, 10))
    params, state = Frozen(Dropout(0.5)).init(None, x)
    y, _ = Frozen(Dropout(0.5)).apply(params, state, x, key=jax.random.key(0), train=True)
    np.testing.assert_array_equal(y, x)
    y, _ = Frozen(Dropout(0.5), eval_mode=False).apply(
        params, state, x, key=jax.random.key(0), train=True)
    assert set(np.unique(np.asarray(y)).tolist()) <= {0.0, 2.0} and not np.all(y == x)


def test_frozen_bad_input():
    frozen = Frozen(Dense(2))
    params, state = frozen.init(jax.random.key(0), jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"Frozen.apply: params must be a dict with keys \[\]; "
                                         r"got \['bias', 'kernel'\]"):
        frozen.apply(state["params"], state, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"Frozen.apply: state must be a dict with keys "
                                         r"\['params', 'state'\]"):
        frozen.apply({}, state["params"], jnp.ones((1, 3)))
    with pytest.raises(TypeError, match=r"Frozen: got the class Dense, not a layer"):
        Frozen(Dense)
    assert repr(Frozen(Dense(2), eval_mode=False)) == "Frozen(Dense(2), eval_mode=False)"


def test_gradient_flows_through_frozen_to_the_input(x64):
    frozen = Frozen(Conv(2, (3, 3)))
    x = normal(1, 4, 4, 1, dtype=np.float64)
    params, state = frozen.init(jax.random.key(0), x)
    f = jax.jit(lambda x_: jnp.sum(jnp.sin(frozen.apply(params, state, x_)[0])))
    check_grads(f, (x,), order=1, modes=["rev"], atol=tol(jnp.float64, "grads"),
                rtol=tol(jnp.float64, "grads"))
