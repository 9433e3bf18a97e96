"""fit(precision=...): mixed precision with float32 master weights and loss scaling."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close

import jnn
from jnn import losses
from jnn import mixed_precision as mp
from jnn.data import epoch_batches
from jnn.layers import Dense, Sequential
from jnn.train import fit

MODEL = Sequential([Dense(32), jax.nn.relu, Dense(2)])
EPOCHS = 4
ADAM = optax.adam(1e-2)  # shared, so fit reuses its compiled epochs across calls


@pytest.fixture(scope="module")
def data():
    return jnn.data.spirals(jax.random.key(0), 256)


def _fit(data, params=None, state=None, epochs=EPOCHS, **kw):
    x, y = data
    if params is None:
        params, state = MODEL.init(jax.random.key(1), x)
    return fit(MODEL, params, state, ADAM, losses.softmax_cross_entropy, data,
               epochs=epochs, batch_size=32, key=jax.random.key(2), verbose=0, **kw)


def test_bfloat16_fit_tracks_float32(data):
    p32, _, _, h32 = _fit(data)
    p16, _, _, h16 = _fit(data, precision="bfloat16")
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(p16))
    # bfloat16 keeps 8 significant bits: per-epoch losses agree to a few percent.
    np.testing.assert_allclose(h16["loss"], h32["loss"], rtol=0.05)
    assert h16["loss"][-1] < 0.97 * h16["loss"][0]  # and it learns


def test_float16_fit_scales_the_loss_as_a_hand_written_loop_does(data):
    x, y = data
    params, state = MODEL.init(jax.random.key(1), x)
    optimizer = optax.adam(1e-2)
    key = jax.random.key(2)
    fitted, _, _, history = _fit(data, precision="float16")
    np.testing.assert_allclose(history["loss"], _fit(data)[3]["loss"], rtol=0.05)

    model = mp.MixedPrecision(MODEL, "float16")

    @jax.jit
    def step(p, o, scale, xb, yb):
        value_fn = lambda q: losses.softmax_cross_entropy(model.apply(q, state, xb)[0], yb)
        value, g = jax.value_and_grad(lambda q: scale.scale(value_fn(q)))(p)
        g = scale.unscale(g)
        finite = mp.all_finite(g)
        u, new_o = optimizer.update(g, o, p)
        p, o = mp.select_tree(finite, (optax.apply_updates(p, u), new_o), (p, o))
        return p, o, scale.adjust(finite), value / scale.loss_scale

    p, o, scale = params, optimizer.init(params), mp.DynamicLossScale()
    for epoch in range(EPOCHS):
        shuffle_key, _ = jax.random.split(jax.random.fold_in(key, epoch))
        xs, ys = epoch_batches(shuffle_key, (x, y), 32)
        values = []
        for i in range(xs.shape[0]):
            p, o, scale, v = step(p, o, scale, xs[i], ys[i])
            values.append(v)
        np.testing.assert_allclose(history["loss"][epoch], np.mean(values), rtol=1e-3)
        # The dynamic scale after each epoch is logged.
        assert history["loss_scale"][epoch] == float(scale.loss_scale)
    assert_trees_close(fitted, p, rtol=1e-3, atol=1e-4)


def test_resumed_float16_fit_continues_from_the_logged_loss_scale(data):
    # 2**30 overflows float16 gradients: the scale halves on the first steps and settles
    # between the start and the default 2**15 (no growth within 2000 steps).
    start = dict(precision="float16", loss_scale=mp.DynamicLossScale(scale=2.0**30))
    whole = _fit(data, **start)
    assert 2.0**15 < whole[3]["loss_scale"][1] < 2.0**30
    half = _fit(data, **{**start, "epochs": 2})
    resumed = _fit(data, params=half[0], state=half[1], opt_state=half[2], history=half[3],
                   initial_epoch=2, precision="float16")
    # Without the logged scale the run would restart at 2**15 (and skip other steps).
    np.testing.assert_array_equal(resumed[3]["loss_scale"], whole[3]["loss_scale"])
    np.testing.assert_allclose(resumed[3]["loss"], whole[3]["loss"], rtol=1e-6)
    assert_trees_close(resumed[0], whole[0], rtol=1e-6, atol=1e-7)


def test_fit_precision_rejects_bad_input(data):
    with pytest.raises(ValueError, match="loss_scale=.* needs a low-precision policy"):
        _fit(data, loss_scale=mp.DynamicLossScale())
    with pytest.raises(TypeError, match="loss_scale must be a jnn.mixed_precision loss scale"):
        _fit(data, precision="float16", loss_scale=2.0**15)
    with pytest.raises(ValueError, match="float17"):
        _fit(data, precision="float17")
