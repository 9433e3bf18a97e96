"""MaxPool, AvgPool, GlobalAvgPool, GlobalMaxPool against numpy loops and Flax Linen."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import tol
from jax.test_util import check_grads

from jnn.layers import (
    AvgPool,
    Conv,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
    Sequential,
    conv_output_size,
)

RNG = np.random.default_rng(0)


def normal(*shape, dtype=np.float32):
    return jnp.asarray(RNG.normal(size=shape).astype(dtype))


def same_pads(i, k, s):
    total = max((-(-i // s) - 1) * s + k - i, 0)
    return (total // 2, total - total // 2)


def pads_for(padding, spatial, window, strides):
    if padding == "VALID":
        return [(0, 0)] * len(spatial)
    if padding == "SAME":
        return [same_pads(i, k, s) for i, k, s in zip(spatial, window, strides)]
    if isinstance(padding, int):
        return [(padding, padding)] * len(spatial)
    return [p if isinstance(p, tuple) else (p, p) for p in padding]


def np_pool(x, window, strides, pads, kind, count_include_pad=True):
    """Pooling by explicit loops over output positions; padding is -inf (max) or 0 (avg)."""
    rank = x.ndim - 2
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
    real = np.pad(np.ones(x.shape[1:-1]), pads)  # 1 where the entry is not padding
    out = [(xp.shape[1 + a] - window[a]) // strides[a] + 1 for a in range(rank)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in np.ndindex(*out):
        box = tuple(slice(o[a] * strides[a], o[a] * strides[a] + window[a]) for a in range(rank))
        patch = xp[(slice(None), *box, slice(None))].reshape(x.shape[0], -1, x.shape[-1])
        if kind == "max":
            y[(slice(None), *o)] = patch.max(axis=1)
        else:
            count = np.prod(window) if count_include_pad else real[box].sum()
            y[(slice(None), *o)] = patch.sum(axis=1) / count
    return y


CASES = [
    # (x shape, window, strides, padding)
    ((2, 9, 3), (3,), None, "VALID"),
    ((2, 10, 2), (4,), 3, "SAME"),
    ((2, 7, 8, 3), (2, 2), None, "VALID"),
    ((1, 7, 8, 2), (3, 3), 2, "SAME"),  # overlapping, as AlexNet
    ((1, 6, 5, 2), (3, 2), (1, 2), ((1, 1), (0, 1))),
    ((2, 5, 5, 1), 3, 2, 1),
    ((1, 4, 5, 6, 2), (2, 2, 3), (2, 1, 3), "VALID"),
    ((1, 5, 4, 4, 1), (3, 2, 2), 2, "SAME"),
]


@pytest.mark.parametrize("case", CASES)
def test_pools_equal_numpy_loops_and_flax(case, x64):
    shape, window, strides, padding = case
    rank = len(shape) - 2
    x = RNG.normal(size=shape)
    w = window if isinstance(window, tuple) else (window,) * rank
    s = w if strides is None else (strides if isinstance(strides, tuple) else (strides,) * rank)
    pads = pads_for(padding, shape[1:-1], w, s)
    flax_pad = padding if isinstance(padding, str) else [tuple(p) for p in pads]

    y, _ = MaxPool(window, strides, padding).apply({}, {}, jnp.asarray(x))
    np.testing.assert_array_equal(y, np_pool(x, w, s, pads, "max"))
    np.testing.assert_array_equal(y, nn.max_pool(jnp.asarray(x), w, s, flax_pad))
    for include in (True, False):
        y, _ = AvgPool(window, strides, padding, count_include_pad=include).apply(
            {}, {}, jnp.asarray(x))
        np.testing.assert_allclose(y, np_pool(x, w, s, pads, "avg", include), rtol=1e-12)
        theirs = nn.avg_pool(jnp.asarray(x), w, s, flax_pad, count_include_pad=include)
        np.testing.assert_allclose(y, theirs, rtol=1e-12)
    for i, k, st, p, o in zip(shape[1:-1], w, s, pads, y.shape[1:-1]):
        assert o == conv_output_size(i, k, st, p)


def test_course_max_pool_example():
    """COURSE K12: 2x2 max pooling with stride 2 keeps the largest entry of each block."""
    image = jnp.array([[1.0, 1, 2, 4],
                       [5, 6, 7, 8],
                       [3, 2, 1, 0],
                       [1, 2, 3, 4]])[None, :, :, None]
    y, _ = MaxPool((2, 2), strides=2).apply({}, {}, image)
    np.testing.assert_array_equal(y[0, :, :, 0], [[6, 8], [3, 4]])
    y, _ = AvgPool((2, 2)).apply({}, {}, image)
    np.testing.assert_array_equal(y[0, :, :, 0], [[3.25, 5.25], [2, 2]])


@pytest.mark.parametrize("shape", [(2, 7, 3), (2, 4, 5, 3), (1, 3, 4, 2, 5)])
def test_global_pools_equal_numpy(shape):
    x = np.asarray(normal(*shape))
    axes = tuple(range(1, len(shape) - 1))
    y, _ = GlobalAvgPool().apply({}, {}, jnp.asarray(x))
    np.testing.assert_allclose(y, x.mean(axis=axes), rtol=1e-6, atol=1e-6)
    y, _ = GlobalMaxPool().apply({}, {}, jnp.asarray(x))
    np.testing.assert_array_equal(y, x.max(axis=axes))
    y, _ = GlobalAvgPool(keepdims=True).apply({}, {}, jnp.asarray(x))
    assert y.shape == (shape[0],) + (1,) * len(axes) + (shape[-1],)


GRID = [
    (shape, layer)
    for shape in [(1, 8, 3), (2, 9, 7, 2), (1, 5, 4, 6, 1)]
    for layer in [MaxPool(2), AvgPool(3, strides=2, padding="SAME"), MaxPool(3, 1, padding=1),
                  AvgPool(2, strides=1, count_include_pad=False, padding=1), GlobalAvgPool(),
                  GlobalMaxPool(keepdims=True)]
]


@pytest.mark.parametrize("shape,layer", GRID)
def test_eval_shape_agrees_with_real_output(shape, layer):
    x = jnp.ones(shape)
    params, state = layer.init(jax.random.key(0), x)
    assert params == {} and state == {}
    y, _ = layer.apply(params, state, x)
    abstract = layer.output_shape(jax.ShapeDtypeStruct(shape, jnp.float32))
    assert abstract.shape == y.shape and abstract.dtype == y.dtype


@pytest.mark.parametrize("layer", [MaxPool((2, 3), strides=1, padding="SAME"),
                                   AvgPool(2, strides=1, padding=1, count_include_pad=False),
                                   GlobalAvgPool(), GlobalMaxPool()])
def test_check_grads(layer, x64):
    x = normal(2, 4, 5, 2, dtype=np.float64)  # continuous: no ties, max is differentiable
    f = jax.jit(lambda x_: jnp.sum(jnp.sin(layer.apply({}, {}, x_)[0])))
    check_grads(f, (x,), order=2, modes=["rev"], atol=tol(jnp.float64, "grads"),
                rtol=tol(jnp.float64, "grads"))


def test_max_pool_gradient_routes_to_the_maximum():
    x = jnp.array([[0.0, 3.0], [1.0, 2.0]])[None, :, :, None]
    g = jax.grad(lambda x_: MaxPool(2).apply({}, {}, x_)[0].sum())(x)
    np.testing.assert_array_equal(g[0, :, :, 0], [[0, 1], [0, 0]])


@pytest.mark.parametrize("jit", [False, True])
def test_pools_in_sequential_jit_and_no_jit(jit):
    model = Sequential([Conv(2, (3, 3)), MaxPool(2), AvgPool(2, padding="SAME"), GlobalMaxPool()])
    x = normal(3, 8, 8, 1)
    params, state = jax.eval_shape(model.init, jax.random.key(0), x)
    params = jax.tree.map(lambda s: jnp.ones(s.shape, s.dtype) * 0.1, params)
    f = lambda p, x_: model.apply(p, state, x_)[0]
    y = (jax.jit(f) if jit else f)(params, x)
    assert y.shape == (3, 2)
    np.testing.assert_allclose(y, f(params, x), rtol=1e-6)


def test_dtype_preserved():
    x = jnp.ones((1, 4, 4, 1), jnp.bfloat16)
    for layer in (MaxPool(2), AvgPool(2), GlobalAvgPool(), GlobalMaxPool()):
        assert layer.apply({}, {}, x)[0].dtype == jnp.bfloat16


def test_hashable_and_repr():
    assert MaxPool([2, 2]) == MaxPool((2, 2))
    assert hash(AvgPool(2, padding="same")) == hash(AvgPool(2, padding="SAME"))
    assert repr(MaxPool(3, strides=2)) == "MaxPool(3, strides=2)"


# ------------------------------------------------------------ bad input


def test_window_larger_than_input_with_valid_padding():
    with pytest.raises(ValueError, match=r"MaxPool.apply: on spatial axis 1 the pooling window "
                                         r"\(extent 3\) is larger than the padded input "
                                         r"\(2 \+ 0 \+ 0 = 2\).*padding='SAME'"):
        MaxPool(3).apply({}, {}, jnp.ones((1, 5, 2, 1)))
    with pytest.raises(ValueError, match=r"AvgPool.init: on spatial axis 0 the pooling window"):
        AvgPool((4, 1)).init(None, jnp.ones((1, 3, 3, 1)))
    # SAME padding always fits.
    assert MaxPool(3, padding="SAME").apply({}, {}, jnp.ones((1, 2, 2, 1)))[0].shape == (1, 1, 1, 1)


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"MaxPool.apply: x must have 4 axes \(batch, height, width, "
                                         r"channels\).*add a batch axis \(x\[None\]\)"):
        MaxPool((2, 2)).apply({}, {}, jnp.ones((8, 8, 3)))
    with pytest.raises(ValueError, match=r"AvgPool.apply: x must be \(batch, \*spatial, channels\)"):
        AvgPool(2).apply({}, {}, jnp.ones((4, 8)))
    with pytest.raises(ValueError, match=r"GlobalAvgPool.apply: x must be \(batch, \*spatial, "
                                         r"channels\).*already pooled"):
        GlobalAvgPool().apply({}, {}, jnp.ones((4, 8)))
    with pytest.raises(ValueError, match=r"GlobalMaxPool.init: x must be"):
        GlobalMaxPool().init(None, jnp.ones((4,)))


@pytest.mark.parametrize("make,match", [
    (lambda: MaxPool(0), r"MaxPool: window must be a positive integer or a tuple of them; got 0"),
    (lambda: AvgPool((2, -1)), r"AvgPool: every entry of window must be a positive integer"),
    (lambda: MaxPool(2, strides=0), r"MaxPool: strides must be a positive integer"),
    (lambda: MaxPool(2.0), r"MaxPool: window must be a positive integer or a tuple"),
    (lambda: MaxPool((2, 2), strides=(1, 1, 1)), r"window has 2 entries, strides has 3"),
    (lambda: AvgPool(2, padding="causal"), r"AvgPool: padding must be 'SAME' or 'VALID'"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match=r"AvgPool.apply: x has dtype int32 but a floating dtype"):
        AvgPool(2).apply({}, {}, jnp.ones((1, 4, 4, 1), jnp.int32))
    with pytest.raises(TypeError, match=r"MaxPool.apply: x has dtype int32"):
        MaxPool(2).apply({}, {}, jnp.ones((1, 4, 4, 1), jnp.int32))
