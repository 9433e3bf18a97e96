"""Conv, ConvTranspose and conv_output_size against numpy loops, Flax Linen and the VJP."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import tol
from jax.test_util import check_grads

from jnn.layers import (
    Conv,
    ConvTranspose,
    Dense,
    Flatten,
    MaxPool,
    Sequential,
    conv_output_size,
    conv_transpose_output_size,
)

RNG = np.random.default_rng(0)


def normal(*shape, dtype=np.float32):
    """Test data from numpy: jax.random would compile its generator for every new shape."""
    return jnp.asarray(RNG.normal(size=shape).astype(dtype))


def np_init(layer, x, dtype=None):
    """Params with the shapes and dtypes that init gives, filled with numpy normals."""
    params, state = jax.eval_shape(layer.init, jax.random.key(0), x)
    fill = lambda s: jnp.asarray(RNG.normal(size=s.shape).astype(dtype or s.dtype))
    return jax.tree.map(fill, params), state


# ------------------------------------------------------------ numpy references


def same_pads(i, k_eff, s):
    """TensorFlow's 'SAME': output ceil(i / s), the extra zero (if odd) at the end."""
    total = max((math.ceil(i / s) - 1) * s + k_eff - i, 0)
    return (total // 2, total - total // 2)


def explicit_pads(padding, spatial, kernel, strides, dilation):
    rank = len(spatial)
    if padding == "VALID":
        return [(0, 0)] * rank
    if padding == "SAME":
        return [same_pads(i, d * (k - 1) + 1, s)
                for i, k, s, d in zip(spatial, kernel, strides, dilation)]
    if isinstance(padding, int):
        return [(padding, padding)] * rank
    return [p if isinstance(p, tuple) else (p, p) for p in padding]


def np_conv(x, w, strides, pads, dilation, groups=1):
    """Cross-correlation by explicit loops over output positions and kernel taps."""
    rank = x.ndim - 2
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    k = w.shape[:rank]
    out_spatial = [(xp.shape[1 + a] - dilation[a] * (k[a] - 1) - 1) // strides[a] + 1
                   for a in range(rank)]
    c_in, f = x.shape[-1] // groups, w.shape[-1] // groups
    y = np.zeros((x.shape[0], *out_spatial, w.shape[-1]))
    for o in np.ndindex(*out_spatial):
        for t in np.ndindex(*k):
            idx = tuple(o[a] * strides[a] + t[a] * dilation[a] for a in range(rank))
            patch = xp[(slice(None), *idx, slice(None))]
            for g in range(groups):
                y[(slice(None), *o, slice(g * f, (g + 1) * f))] += (
                    patch[:, g * c_in:(g + 1) * c_in] @ w[t][:, g * f:(g + 1) * f]
                )
    return y


def np_conv_transpose(x, w, strides, pads, dilation):
    """Scatter each input entry through the flipped kernel, then crop the forward padding."""
    rank = x.ndim - 2
    k = w.shape[:rank]
    k_eff = [d * (kk - 1) + 1 for kk, d in zip(k, dilation)]
    full = [(i - 1) * s + ke for i, s, ke in zip(x.shape[1:-1], strides, k_eff)]
    y = np.zeros((x.shape[0], *full, w.shape[-1]))
    flipped = w[(slice(None, None, -1),) * rank]
    for i in np.ndindex(*x.shape[1:-1]):
        for t in np.ndindex(*k):
            idx = tuple(i[a] * strides[a] + t[a] * dilation[a] for a in range(rank))
            y[(slice(None), *idx, slice(None))] += x[(slice(None), *i, slice(None))] @ flipped[t]
    crop = tuple(slice(lo, n - hi) for (lo, hi), n in zip(pads, full))
    return y[(slice(None), *crop, slice(None))]


def per_axis(v, rank):
    return v if isinstance(v, tuple) else (v,) * rank


# Small cases with stride, padding and dilation, in 1, 2 and 3 spatial dimensions.
CONV_CASES = [
    # (x shape, kernel_size, strides, padding, dilation, groups)
    ((2, 9, 3), (3,), 1, "VALID", 1, 1),
    ((2, 10, 2), (4,), 3, "SAME", 1, 1),
    ((1, 11, 2), (3,), 2, ((2, 1),), 2, 1),
    ((2, 6, 7, 3), (3, 3), 1, "SAME", 1, 1),
    ((2, 7, 6, 2), (3, 2), (2, 1), 1, (1, 2), 1),
    ((1, 8, 8, 4), (2, 3), 2, ((0, 1), (2, 0)), 1, 2),
    ((1, 9, 9, 1), (3, 3), 3, "VALID", 2, 1),
    ((1, 5, 6, 4, 2), (2, 3, 2), 1, "VALID", 1, 1),
    ((1, 6, 5, 5, 2), (3, 3, 3), 2, "SAME", (1, 1, 2), 1),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{len(c[1])}d")
def test_conv_equals_numpy_loops(case, x64):
    shape, kernel_size, strides, padding, dilation, groups = case
    rank = len(kernel_size)
    x = RNG.normal(size=shape)
    layer = Conv(4, kernel_size, strides=strides, padding=padding, dilation=dilation,
                 feature_group_count=groups)
    params, state = np_init(layer, jnp.asarray(x))
    y, _ = layer.apply(params, state, jnp.asarray(x))
    s, d = per_axis(strides, rank), per_axis(dilation, rank)
    pads = explicit_pads(padding, shape[1:-1], kernel_size, s, d)
    expected = np_conv(x, np.asarray(params["kernel"]), s, pads, d, groups) + np.asarray(
        params["bias"])
    assert y.dtype == jnp.float64
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{len(c[1])}d")
def test_conv_equals_flax_linen(case):
    shape, kernel_size, strides, padding, dilation, groups = case
    x = normal(*shape)
    layer = Conv(4, kernel_size, strides=strides, padding=padding, dilation=dilation,
                 feature_group_count=groups)
    params, state = np_init(layer, x)
    ours, _ = layer.apply(params, state, x)
    theirs = nn.Conv(4, kernel_size, strides=strides, padding=padding, kernel_dilation=dilation,
                     feature_group_count=groups).apply({"params": params}, x)
    np.testing.assert_allclose(ours, theirs, rtol=tol(jnp.float32), atol=tol(jnp.float32))


TRANSPOSE_CASES = [
    # (x shape, kernel_size, strides, padding, dilation)
    ((2, 5, 3), (3,), 2, 1, 1),
    ((1, 4, 2), (4,), 3, ((2, 0),), 2),
    ((2, 4, 3, 3), (3, 3), 2, 1, 1),
    ((1, 3, 4, 2), (2, 3), (3, 1), ((0, 1), (1, 1)), (1, 2)),
    ((1, 3, 2, 3, 2), (2, 2, 3), 2, 0, 1),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{len(c[1])}d")
def test_conv_transpose_equals_scatter_loops(case, x64):
    shape, kernel_size, strides, padding, dilation = case
    rank = len(kernel_size)
    x = RNG.normal(size=shape)
    layer = ConvTranspose(3, kernel_size, strides=strides, padding=padding, dilation=dilation)
    params, state = np_init(layer, jnp.asarray(x))
    y, _ = layer.apply(params, state, jnp.asarray(x))
    s, d = per_axis(strides, rank), per_axis(dilation, rank)
    pads = explicit_pads(padding, shape[1:-1], kernel_size, s, d)
    expected = np_conv_transpose(x, np.asarray(params["kernel"]), s, pads, d) + np.asarray(
        params["bias"])
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    for axis in range(rank):
        p = pads[axis]
        assert y.shape[1 + axis] == conv_transpose_output_size(
            shape[1 + axis], kernel_size[axis], s[axis], p, d[axis])


@pytest.mark.parametrize("padding", ["SAME", "VALID", 1, ((2, 0), (1, 1))])
@pytest.mark.parametrize("strides", [1, 2, 3])
def test_conv_transpose_equals_flax_linen(padding, strides):
    x = normal(2, 5, 4, 3)
    kernel_size, dilation = (3, 2), (1, 2)
    layer = ConvTranspose(4, kernel_size, strides=strides, padding=padding, dilation=dilation)
    params, state = np_init(layer, x)
    ours, _ = layer.apply(params, state, x)
    if isinstance(padding, str):
        flax_padding = padding
    else:  # jnn's padding is the forward conv's; Flax pads the dilated input directly.
        pairs = explicit_pads(padding, (5, 4), kernel_size, (1, 1), dilation)
        k_eff = [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)]
        flax_padding = [(ke - 1 - lo, ke - 1 - hi) for ke, (lo, hi) in zip(k_eff, pairs)]
    theirs = nn.ConvTranspose(4, kernel_size, strides=(strides, strides), padding=flax_padding,
                              kernel_dilation=dilation).apply({"params": params}, x)
    np.testing.assert_allclose(ours, theirs, rtol=tol(jnp.float32), atol=tol(jnp.float32))


@pytest.mark.parametrize("strides,padding,size", [(2, 1, 7), (3, 0, 9), (2, ((1, 0),), 8)])
def test_conv_transpose_is_the_adjoint_of_conv(strides, padding, size, x64):
    """ConvTranspose with the flipped, channel-swapped kernel is the VJP of Conv."""
    x = normal(2, size, 3, dtype=np.float64)
    conv = Conv(5, (3,), strides=strides, padding=padding, use_bias=False)
    params, _ = np_init(conv, x)
    y, vjp = jax.vjp(lambda x_: conv.apply(params, {}, x_)[0], x)
    cot = normal(*y.shape, dtype=np.float64)
    (expected,) = vjp(cot)
    transpose = ConvTranspose(3, (3,), strides=strides, padding=padding, use_bias=False)
    kernel = params["kernel"][::-1].swapaxes(-1, -2)
    got, _ = transpose.apply({"kernel": kernel}, {}, cot)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------ output sizes and shapes


def test_conv_output_size_formula():
    assert conv_output_size(32, 5) == 28  # valid 5x5 on 32x32 (LeNet's first layer)
    assert conv_output_size(7, 3, s=2, p=1) == 4  # floor((7 + 2 - 3) / 2) + 1
    assert conv_output_size(10, 3, d=2) == 6  # effective kernel 5
    assert conv_output_size(224, 11, s=4, p=2) == 55  # AlexNet's conv1
    assert conv_output_size(7, 3, s=2, p="SAME") == 4  # ceil(7 / 2)
    assert conv_output_size(7, 3, s=2, p="VALID") == 3
    assert conv_output_size(7, 3, s=1, p=(2, 0)) == 7
    for i in range(1, 12):
        for k in range(1, 4):
            for s in range(1, 4):
                for p in range(3):
                    for d in range(1, 3):
                        if i + 2 * p >= d * (k - 1) + 1:
                            expect = math.floor((i + 2 * p - d * (k - 1) - 1) / s) + 1
                            assert conv_output_size(i, k, s, p, d) == expect


def test_conv_transpose_output_size_inverts_conv_output_size():
    for i in range(3, 12):
        for k in (1, 2, 3):
            for s in (1, 2, 3):
                for p in (0, 1):
                    o = conv_output_size(i, k, s, p)
                    if (i + 2 * p - k) % s == 0:  # no rows dropped by the floor
                        assert conv_transpose_output_size(o, k, s, p) == i
    assert conv_transpose_output_size(16, 4, s=2, p="SAME") == 32
    assert conv_transpose_output_size(5, 2, s=3, p="VALID") == 15  # i s when k < s


SHAPE_GRID = [
    (shape, kernel, strides, padding, dilation)
    for shape in [(1, 8, 3), (2, 9, 7, 2), (1, 5, 4, 6, 1)]
    for kernel, strides, padding, dilation in [
        (3, 1, "SAME", 1), (2, 2, "VALID", 1), (3, 3, 1, 2), (1, 2, "SAME", 1), (2, 1, 2, 1),
    ]
]


@pytest.mark.parametrize("shape,kernel,strides,padding,dilation", SHAPE_GRID)
def test_eval_shape_agrees_with_real_output_and_formula(shape, kernel, strides, padding, dilation):
    x = jnp.ones(shape)
    for layer in (Conv(3, kernel, strides, padding, dilation),
                  ConvTranspose(3, kernel, strides, padding, dilation)):
        params, state = np_init(layer, x)
        y, _ = layer.apply(params, state, x)
        abstract = layer.output_shape(jax.ShapeDtypeStruct(shape, jnp.float32))
        assert abstract.shape == y.shape and abstract.dtype == y.dtype
        size = conv_output_size if isinstance(layer, Conv) else conv_transpose_output_size
        expected = [size(i, kernel, strides, padding, dilation) for i in shape[1:-1]]
        assert y.shape == (shape[0], *expected, 3)


def test_init_from_shape_dtype_struct_matches_array(key):
    layer = Conv(4, (3, 3))
    a, _ = layer.init(key, jnp.ones((2, 6, 6, 3)))
    b, _ = layer.init(key, jax.ShapeDtypeStruct((2, 6, 6, 3), jnp.float32))
    assert jax.tree.map(jnp.shape, a) == jax.tree.map(jnp.shape, b)
    np.testing.assert_array_equal(a["kernel"], b["kernel"])


# ------------------------------------------------------------ course examples


def test_translation_equivariance_away_from_borders(key):
    """COURSE K7: conv(shift(x)) == shift(conv(x)) wherever the border does not reach."""
    x = normal(2, 16, 16, 3)
    layer = Conv(5, (3, 3), padding="SAME")
    params, state = np_init(layer, x)
    conv = lambda x_: layer.apply(params, state, x_)[0]
    shift = lambda a: jnp.roll(a, (2, 3), axis=(1, 2))
    a, b = conv(shift(x)), shift(conv(x))
    interior = (slice(None), slice(4, -1), slice(5, -1))  # rows/cols touched by neither border
    np.testing.assert_allclose(a[interior], b[interior], rtol=1e-5, atol=1e-5)
    assert not np.allclose(a, b)  # the borders do differ: the identity is not trivial

    strided = Conv(5, (3, 3), strides=2, padding="SAME")
    p2, _ = np_init(strided, x)
    conv2 = lambda x_: strided.apply(p2, {}, x_)[0]
    # Shifting by the stride shifts the output by one.
    a = conv2(jnp.roll(x, 2, axis=1))
    b = jnp.roll(conv2(x), 1, axis=1)
    np.testing.assert_allclose(a[:, 2:-1], b[:, 2:-1], rtol=1e-5, atol=1e-5)


def test_one_by_one_conv_is_a_dense_layer_per_pixel(key):
    """COURSE K13: a 1x1 convolution mixes channels independently at every pixel."""
    x = normal(2, 5, 4, 3)
    params, _ = np_init(Conv(6, (1, 1)), x)
    y, _ = Conv(6, (1, 1)).apply(params, {}, x)
    dense = {"kernel": params["kernel"][0, 0], "bias": params["bias"]}
    expected, _ = Dense(6).apply(dense, {}, x)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------ contract


def test_default_init_is_lecun_normal_over_the_receptive_field(key):
    params, _ = Conv(256, (5, 5)).init(key, jnp.ones((1, 8, 8, 16)))
    fan_in = 5 * 5 * 16
    assert params["kernel"].shape == (5, 5, 16, 256)
    # 102,400 samples: the sample std is within 2% of 1/sqrt(fan_in).
    std = float(jnp.std(params["kernel"]))
    assert abs(std * math.sqrt(fan_in) - 1) < 0.02
    assert jnp.all(params["bias"] == 0)


@pytest.mark.parametrize("jit", [False, True])
def test_conv_stack_in_sequential_jit_and_no_jit(jit, key):
    model = Sequential([Conv(4, (3, 3)), jax.nn.relu, MaxPool(2), Conv(8, 3, strides=2),
                        Flatten(), Dense(2)])
    x = normal(3, 8, 8, 1)
    params, state = np_init(model, x)
    f = lambda p, x_: model.apply(p, state, x_)[0]
    if jit:
        f = jax.jit(f)
    y = f(params, x)
    assert y.shape == (3, 2)
    np.testing.assert_allclose(y, model.apply(params, state, x)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer,shape,order", [
    (Conv(2, (3,), strides=2, padding=1, dilation=1), (2, 5, 2), 1),
    (Conv(2, (2, 3), strides=(2, 1), padding="SAME", dilation=(1, 2)), (1, 4, 5, 2), 2),
    (Conv(2, 2, padding="VALID", feature_group_count=2), (1, 3, 3, 3, 2), 1),
    (ConvTranspose(2, (3, 2), strides=2, padding="SAME"), (1, 3, 3, 2), 2),
    (ConvTranspose(2, (3,), strides=2, padding=1, dilation=2), (2, 4, 1), 1),
])
def test_check_grads(layer, shape, order, x64):
    x = normal(*shape, dtype=np.float64)
    params, state = np_init(layer, x)
    f = jax.jit(lambda p, x_: jnp.sum(jnp.sin(layer.apply(p, state, x_)[0])))
    check_grads(f, (params, x), order=order, modes=["rev"], atol=tol(jnp.float64, "grads"),
                rtol=tol(jnp.float64, "grads"))


def test_dtypes(key):
    x16 = jnp.ones((1, 4, 4, 2), jnp.bfloat16)
    params, state = jax.eval_shape(Conv(3, (3, 3)).init, key, x16)
    params = jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype), params)
    assert params["kernel"].dtype == jnp.float32  # float32 master weights for bf16 input
    y, _ = Conv(3, (3, 3)).apply(params, state, x16)
    assert y.dtype == jnp.float32  # promotion, as Dense's x @ kernel
    with jax.enable_x64(True):
        x64_ = jnp.ones((1, 4, 4, 2), jnp.float64)
        params, state = np_init(ConvTranspose(3, 2), x64_)
        assert params["kernel"].dtype == jnp.float64
        assert ConvTranspose(3, 2).apply(params, state, x64_)[0].dtype == jnp.float64


def test_layers_are_hashable_and_static(key):
    assert Conv(3, [3, 3], padding=[[1, 1], [0, 0]]) == Conv(3, (3, 3), padding=((1, 1), (0, 0)))
    assert hash(Conv(3, 3, padding="same")) == hash(Conv(3, 3, padding="SAME"))
    assert repr(Conv(8, (3, 3), strides=2)) == "Conv(8, (3, 3), strides=2)"
    x = jnp.ones((1, 5, 5, 1))
    layer = Conv(2, (3, 3))
    params, state = np_init(layer, x)
    run = jax.jit(lambda lyr, p, x_: lyr.apply(p, state, x_)[0], static_argnums=0)
    assert run(layer, params, x).shape == (1, 5, 5, 2)


def test_int_kernel_size_infers_the_number_of_spatial_axes(key):
    for shape in [(2, 9, 3), (2, 9, 9, 3), (2, 5, 5, 5, 3)]:
        params, _ = jax.eval_shape(Conv(4, 3).init, key, jnp.ones(shape))
        assert params["kernel"].shape == (3,) * (len(shape) - 2) + (3, 4)


# ------------------------------------------------------------ bad input


def test_wrong_rank_says_to_add_a_batch_or_channel_axis(key):
    layer = Conv(4, (3, 3))
    image = jnp.ones((28, 28, 3))  # one HWC image without its batch axis
    with pytest.raises(ValueError, match=r"Conv.init: x must have 4 axes \(batch, height, width, "
                                         r"channels\).*add a batch axis \(x\[None\]\).*x\[\.\.\., None\]"):
        layer.init(key, image)
    params, state = np_init(layer, image[None])
    with pytest.raises(ValueError, match=r"Conv.apply: x must have 4 axes.*got shape \(28, 28, 3\)"):
        layer.apply(params, state, image)
    with pytest.raises(ValueError, match=r"Conv.apply: x must have 4 axes.*Reshape it"):
        layer.apply(params, state, jnp.ones((28, 3)))
    with pytest.raises(ValueError, match=r"Conv.init: x must be \(batch, \*spatial, channels\)"):
        Conv(4, 3).init(key, jnp.ones((8, 5)))
    with pytest.raises(ValueError, match=r"ConvTranspose.init: x must have 3 axes \(batch, width"):
        ConvTranspose(4, (3,)).init(key, jnp.ones((2, 8, 8, 1)))


def test_channel_mismatch(key):
    layer = Conv(4, (3, 3))
    params, state = np_init(layer, jnp.ones((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"Conv.apply: x has 8 channels .* kernel expects 3; "
                                         r"images are channels-last.*NCHW"):
        layer.apply(params, state, jnp.ones((1, 3, 8, 8)))
    tparams, _ = np_init(ConvTranspose(4, 2), jnp.ones((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"ConvTranspose.apply: x has 2 channels"):
        ConvTranspose(4, 2).apply(tparams, {}, jnp.ones((1, 8, 8, 2)))


def test_kernel_larger_than_input_with_valid_padding(key):
    with pytest.raises(ValueError, match=r"Conv.init: on spatial axis 1 the kernel \(extent 5\) is "
                                         r"larger than the padded input \(4 \+ 0 \+ 0 = 4\)"):
        Conv(2, (3, 5), padding="VALID").init(key, jnp.ones((1, 8, 4, 1)))
    layer = Conv(2, (3, 3), padding="VALID", dilation=2)  # effective 5
    params, state = np_init(layer, jnp.ones((1, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"Conv.apply: on spatial axis 0 the kernel \(extent 5\)"):
        layer.apply(params, state, jnp.ones((1, 4, 8, 1)))
    with pytest.raises(ValueError, match=r"conv_output_size: .*kernel \(extent 7\) is larger"):
        conv_output_size(3, 4, d=2)


@pytest.mark.parametrize("make,match", [
    (lambda: Conv(0, (3, 3)), r"Conv: features must be a positive integer; got 0"),
    (lambda: Conv(2.5, (3, 3)), r"Conv: features must be a positive integer; got 2.5"),
    (lambda: Conv(4, (3, 0)), r"Conv: every entry of kernel_size must be a positive integer"),
    (lambda: Conv(4, 0), r"Conv: kernel_size must be a positive integer .* got 0"),
    (lambda: Conv(4, 3, strides=-1), r"Conv: strides must be a positive integer"),
    (lambda: Conv(4, 3, dilation=(1, 0)), r"Conv: every entry of dilation"),
    (lambda: Conv(4, "3"), r"Conv: kernel_size must be a positive integer or a tuple"),
    (lambda: Conv(4, 3, padding="full"), r"Conv: padding must be 'SAME' or 'VALID'; got 'full'"),
    (lambda: Conv(4, 3, padding=-1), r"Conv: padding must be >= 0"),
    (lambda: Conv(4, 3, padding=((1, -1),)), r"Conv: padding entries must be non-negative"),
    (lambda: Conv(4, (3, 3), strides=(1, 1, 1)),
     r"Conv: kernel_size has 2 entries, strides has 3 entries"),
    (lambda: Conv(4, (3, 3), padding=(1, 1, 1)), r"padding has 3 entries"),
    (lambda: Conv(4, 3, feature_group_count=3), r"features=4 must be divisible by"),
    (lambda: ConvTranspose(-2, 3), r"ConvTranspose: features must be a positive integer"),
    (lambda: conv_output_size(0, 3), r"conv_output_size: i must be a positive integer; got 0"),
    (lambda: conv_output_size(5, 3, s=0), r"conv_output_size: s must be a positive integer"),
    (lambda: conv_output_size(5, 3, p=-1), r"conv_output_size: p must be a non-negative int"),
    (lambda: conv_transpose_output_size(5, 3, p=(1, 2, 3)), r"p must be a non-negative int"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_params_from_another_layer_and_non_float_input(key):
    params, state = np_init(Conv(4, (3, 3)), jnp.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"Conv.apply: params\['kernel'\] has shape \(3, 3, 2, 4\) "
                                         r"but this layer is Conv\(8, \(3, 3\)\)"):
        Conv(8, (3, 3)).apply(params, state, jnp.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"Conv.apply: params must be a dict with keys \['kernel'\]"):
        Conv(4, (3, 3), use_bias=False).apply(params, state, jnp.ones((1, 5, 5, 2)))
    with pytest.raises(TypeError, match=r"Conv.init: x has dtype int32 but a floating dtype"):
        Conv(4, 3).init(key, jnp.ones((1, 5, 5, 2), jnp.int32))
    with pytest.raises(ValueError, match=r"feature_group_count=2 does not divide"):
        Conv(4, 3, feature_group_count=2).init(key, jnp.ones((1, 5, 5, 3)))


def test_vmap_over_an_ensemble_of_params_and_hessian(x64):
    layer = Conv(2, (3,), padding="VALID")
    x = normal(2, 6, 2, dtype=np.float64)
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *[np_init(layer, x)[0] for _ in range(3)])
    ys = jax.vmap(lambda p: layer.apply(p, {}, x)[0])(stacked)
    for i in range(3):
        p = jax.tree.map(lambda a, i=i: a[i], stacked)
        np.testing.assert_allclose(ys[i], layer.apply(p, {}, x)[0], rtol=1e-12)
    # The loss is quadratic in the kernel, so its Hessian is 2 * sum over windows of
    # patch patch^T: compare with the Gauss-Newton form built from the Jacobian.
    p0 = jax.tree.map(lambda a: a[0], stacked)
    loss = lambda k: 0.5 * jnp.sum(layer.apply({"kernel": k, "bias": p0["bias"]}, {}, x)[0] ** 2)
    h = jax.hessian(loss)(p0["kernel"]).reshape(12, 12)
    jac = jax.jacobian(lambda k: layer.apply({"kernel": k, "bias": p0["bias"]}, {}, x)[0])(
        p0["kernel"]).reshape(-1, 12)
    np.testing.assert_allclose(h, jac.T @ jac, rtol=1e-10, atol=1e-10)
