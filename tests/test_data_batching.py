"""Minibatch iteration and stacked epochs for lax.scan in jnn.data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.data as jd

N, B = 50, 16


def data():
    x = jnp.arange(N, dtype=jnp.float32)[:, None] * jnp.ones((1, 2))
    return x, jnp.arange(N)


@pytest.mark.parametrize("drop", [False, True])
def test_batches_cover_data_once(key, drop):
    x, y = data()
    got = list(jd.batches(key, x, y, B, drop_remainder=drop))
    sizes = [len(yb) for _, yb in got]
    assert sizes == ([16, 16, 16] if drop else [16, 16, 16, 2])
    assert len(got) == jd.num_batches(N, B, drop_remainder=drop)
    ids = np.concatenate([np.asarray(yb) for _, yb in got])
    assert len(set(ids.tolist())) == len(ids)  # no repeats
    if not drop:
        assert sorted(ids.tolist()) == list(range(N))
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb.astype(jnp.float32))  # pairs kept
    assert not np.all(np.diff(ids) > 0)  # shuffled
    again = np.concatenate([np.asarray(yb) for _, yb in jd.batches(key, x, y, B, drop_remainder=drop)])
    np.testing.assert_array_equal(ids, again)


def test_batches_no_shuffle_numpy_and_pytrees():
    x = {"a": np.arange(10.0), "b": np.zeros((10, 3))}
    got = list(jd.batches(None, x, None, 4, shuffle=False))
    assert [xb["a"].tolist() for xb, _ in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert got[0][1] is None and isinstance(got[0][0]["b"], np.ndarray)


@pytest.mark.parametrize("drop", [True, False])
def test_epoch_batches_shapes_and_remainder_policy(key, drop):
    x, y = data()
    xs, ys = jd.epoch_batches(key, (x, y), B, drop_remainder=drop)
    count = 3 if drop else 4
    assert xs.shape == (count, B, 2) and ys.shape == (count, B)
    ids = np.asarray(ys).ravel()
    np.testing.assert_array_equal(xs[..., 0], ys.astype(jnp.float32))
    if drop:
        assert len(set(ids.tolist())) == 48  # 2 examples skipped this epoch
    else:
        # Every example at least once; the 14 fillers repeat the epoch's first examples.
        assert sorted(set(ids.tolist())) == list(range(N))
        np.testing.assert_array_equal(ids[N:], ids[: 4 * B - N])


def test_epoch_batches_in_jit_and_scan(key):
    """Shuffle and scan in one compiled call; equal to a Python loop over the same batches."""
    x, y = data()
    w0 = jnp.zeros(2)

    def step(w, batch):
        xb, yb = batch
        g = jax.grad(lambda w: jnp.mean((xb @ w - yb) ** 2))(w)
        return w - 1e-4 * g, jnp.mean(xb @ w)

    @jax.jit
    def epoch(w, key):
        return jax.lax.scan(step, w, jd.epoch_batches(key, (x, y), B))

    w_scan, _ = epoch(w0, key)
    w_loop = w0
    xs, ys = jd.epoch_batches(key, (x, y), B)
    for i in range(xs.shape[0]):
        w_loop, _ = step(w_loop, (xs[i], ys[i]))
    np.testing.assert_allclose(w_scan, w_loop, rtol=1e-5)
    # A different key gives a different order; the same key the same.
    ys1 = jd.epoch_batches(jax.random.key(1), (x, y), B)[1]
    assert not np.array_equal(ys1, ys)


def test_padded_batches_exact_mean():
    x, y = data()
    (xs, ys), mask = jd.padded_batches((x, y), B)
    assert xs.shape == (4, B, 2) and mask.shape == (4, B) and int(mask.sum()) == N
    np.testing.assert_array_equal(np.asarray(ys)[np.asarray(mask)], np.arange(N))
    masked_mean = jnp.sum(jnp.where(mask, ys, 0)) / jnp.sum(mask)
    np.testing.assert_allclose(masked_mean, np.arange(N).mean())


def test_batching_bad_input(key):
    x, y = data()
    with pytest.raises(ValueError, match=r"batches: batch_size=64 is larger than the dataset \(50 "
                       r"examples\). Use batch_size <= 50"):
        jd.batches(key, x, y, 64)  # raised at the call, not at the first next()
    with pytest.raises(ValueError, match=r"epoch_batches: batch_size=51 is larger than the dataset"):
        jd.epoch_batches(key, (x, y), 51)
    with pytest.raises(ValueError, match=r"batches: all arrays in x and y must have the same number of examples "
                       r"\(leading axis\); got x: 50, y: 49"):
        jd.batches(key, x, y[:-1], 8)
    with pytest.raises(ValueError, match=r"epoch_batches: all arrays in data must have the same number of examples "
                       r"\(leading axis\); got data\[0\]: 50, data\[1\]: 49"):
        jd.epoch_batches(key, (x, y[:-1]), 8)
    with pytest.raises(ValueError, match=r"batches: batch_size must be a positive integer; got 0"):
        jd.batches(key, x, y, 0)
    with pytest.raises(TypeError, match=r"batches: key must be a single JAX PRNG key"):
        jd.batches(None, x, y, 8)
    with pytest.raises(ValueError, match=r"batches: x contains 1 NaN or inf"):
        jd.batches(key, x.at[3, 1].set(jnp.nan), y, 8)
    with pytest.raises(TypeError, match=r"drop_remainder must be True or False; got 'yes'"):
        jd.epoch_batches(key, (x, y), 8, drop_remainder="yes")
