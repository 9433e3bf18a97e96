"""Splits, k-fold cross-validation and standardization in jnn.data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.data as jd
from jnn.data._split import _controlled_rounding, _hamilton

N = 103
LABELS = np.repeat(np.arange(4), [50, 30, 20, 3])  # unbalanced, one tiny class


def data():
    x = np.arange(N, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    return x, LABELS.copy()


def assert_floor_or_ceil(count, exact):
    assert np.floor(exact - 1e-9) <= count <= np.ceil(exact + 1e-9), (count, exact)


@pytest.mark.parametrize("stratify", [False, True])
def test_split_disjoint_complete_sizes(key, stratify):
    x, y = data()
    parts = jd.train_val_test_split(key, x, y, val_fraction=0.2, test_fraction=0.1,
                                    stratify=stratify)
    ids = [p[0][:, 0].astype(int) for p in parts]  # x encodes the row index
    assert sorted(np.concatenate(ids).tolist()) == list(range(N))  # disjoint and complete
    assert [len(i) for i in ids] == [72, 21, 10]  # 72.1, 20.6, 10.3 by largest remainder
    for (xp, yp), i in zip(parts, ids):
        np.testing.assert_array_equal(yp, LABELS[i])  # rows stay paired
        assert isinstance(xp, np.ndarray)  # array type preserved
    if stratify:
        for (_, yp), f in zip(parts, (0.7, 0.2, 0.1)):
            counts = np.bincount(yp, minlength=4)
            for c in range(4):
                assert_floor_or_ceil(counts[c], f * np.sum(LABELS == c))


def test_split_deterministic_and_shuffled(key):
    x, y = data()
    a = jd.train_val_test_split(key, x, y, val_fraction=0.2, test_fraction=0.1)
    b = jd.train_val_test_split(key, x, y, val_fraction=0.2, test_fraction=0.1)
    c = jd.train_val_test_split(jax.random.key(7), x, y, val_fraction=0.2, test_fraction=0.1)
    np.testing.assert_array_equal(a[2][0], b[2][0])
    assert not np.array_equal(a[2][0], c[2][0])
    train_ids = a[0][0][:, 0]
    assert not np.all(np.diff(train_ids) > 0)  # random order, not sorted


def test_split_pytrees_and_jax_arrays(key):
    x = {"a": jnp.arange(10.0), "b": jnp.ones((10, 2))}
    (xtr, ytr), (xte, yte) = jd.train_test_split(key, x, jnp.arange(10), test_fraction=0.3)
    assert xtr["b"].shape == (7, 2) and isinstance(xte["a"], jax.Array)
    np.testing.assert_array_equal(xtr["a"], ytr.astype(jnp.float32))


def test_controlled_rounding_many_tables():
    """Every entry floor/ceil of its exact share, exact row and column sums."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        counts = rng.integers(1, 12, size=rng.integers(1, 9))
        f = rng.dirichlet(np.ones(3))
        totals = _hamilton(int(counts.sum()), f)
        table = _controlled_rounding(counts, f, totals, rng.permutation(len(counts)))
        exact = counts[:, None] * f[None, :]
        assert np.all(table >= np.floor(exact)) and np.all(table <= np.ceil(exact))
        np.testing.assert_array_equal(table.sum(1), counts)
        np.testing.assert_array_equal(table.sum(0), totals)


def test_hamilton():
    np.testing.assert_array_equal(_hamilton(10, np.array([0.5, 0.25, 0.25])), [5, 3, 2])
    np.testing.assert_array_equal(_hamilton(1797, np.array([0.7, 0.15, 0.15])), [1258, 270, 269])


@pytest.mark.parametrize("stratified", [False, True])
def test_kfold_every_index_validated_once(key, stratified):
    labels = LABELS if stratified else None
    folds = jd.kfold(key, N, 5, labels=labels)
    assert len(folds) == 5
    vals = np.concatenate([v for _, v in folds])
    assert sorted(vals.tolist()) == list(range(N))
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == N
    if stratified:
        per_class = np.array([np.bincount(LABELS[v], minlength=4) for _, v in folds])
        assert np.all(per_class.max(0) - per_class.min(0) <= 1)
    again = jd.kfold(key, N, 5, labels=labels)
    for (t1, v1), (t2, v2) in zip(folds, again):
        np.testing.assert_array_equal(v1, v2)
        np.testing.assert_array_equal(t1, t2)


def test_repeated_kfold(key):
    folds = jd.repeated_kfold(key, 20, 4, 3)
    assert len(folds) == 12
    for r in range(3):
        vals = np.concatenate([v for _, v in folds[4 * r:4 * r + 4]])
        assert sorted(vals.tolist()) == list(range(20))
    first = jd.kfold(jax.random.fold_in(key, 0), 20, 4)
    np.testing.assert_array_equal(folds[0][1], first[0][1])
    assert not np.array_equal(np.sort(folds[0][1]), np.sort(folds[4][1]))  # new shuffle


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(val_fraction=0.0, test_fraction=0.1), ValueError,
         r"train_val_test_split: val_fraction must be in \(0.0, 1.0\); got 0.0. E.g. val_fraction=0.2"),
        (dict(val_fraction=0.5, test_fraction=1.5), ValueError, r"test_fraction must be in \(0.0, 1.0\)"),
        (dict(val_fraction=0.6, test_fraction=0.4), ValueError,
         r"val_fraction \+ test_fraction must be < 1 to leave training data; got 0.6 \+ 0.4 = 1.0"),
        (dict(val_fraction="0.1", test_fraction=0.1), TypeError, r"val_fraction must be a number"),
        (dict(val_fraction=0.001, test_fraction=0.1), ValueError,
         r"with 103 examples the split sizes would be \[93, 0, 10\].*every part needs at least one"),
    ],
)
def test_split_bad_fractions(key, kwargs, err, match):
    x, y = data()
    with pytest.raises(err, match=match):
        jd.train_val_test_split(key, x, y, **kwargs)


def test_split_bad_data(key):
    x, y = data()
    with pytest.raises(ValueError, match=r"train_test_split: all arrays in x and y must have the same number of examples.*x: 103, y: 102"):
        jd.train_test_split(key, x, y[:-1], test_fraction=0.2)
    x_nan = x.copy()
    x_nan[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"train_test_split: x contains 1 NaN or inf value"):
        jd.train_test_split(key, x_nan, y, test_fraction=0.2)
    with pytest.raises(ValueError, match=r"stratify=True needs integer class labels y of shape \(103,\); "
                       r"got shape \(103, 4\).*y.argmax\(-1\)"):
        jd.train_test_split(key, x, np.eye(4)[y], test_fraction=0.2, stratify=True)
    with pytest.raises(ValueError, match=r"x is a scalar"):
        jd.train_test_split(key, np.float32(1.0), y, test_fraction=0.2)
    with pytest.raises(TypeError, match=r"train_test_split: key must be a single JAX PRNG key"):
        jd.train_test_split(0, x, y, test_fraction=0.2)


@pytest.mark.parametrize("k, match", [(1, r"kfold: k must satisfy 2 <= k <= n = 10; got k=1"),
                                      (11, r"kfold: k must satisfy 2 <= k <= n = 10; got k=11")])
def test_kfold_bad_k(key, k, match):
    with pytest.raises(ValueError, match=match):
        jd.kfold(key, 10, k)


def test_kfold_bad_labels(key):
    with pytest.raises(ValueError, match=r"needs integer class labels y of shape \(10,\); got shape \(9,\)"):
        jd.kfold(key, 10, 3, labels=np.zeros(9, int))
    with pytest.raises(ValueError, match=r"repeated_kfold: n_repeats must be a positive integer"):
        jd.repeated_kfold(key, 10, 3, 0)


# ---------------------------------------------------------------- standardization


def test_standardizer_uses_train_statistics_only(key):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(200, 4)).astype(np.float32)
    x[:, 3] = 7.0  # a constant feature
    train, test = x[:150], x[150:] * 10.0  # test statistics very different
    z_train, z_test, scaler = jd.standardize(train, test)
    np.testing.assert_allclose(scaler.mean, train.mean(0), rtol=1e-5)
    np.testing.assert_allclose(scaler.std[:3], train[:, :3].std(0), rtol=1e-5)
    assert float(scaler.std[3]) == 1.0  # constant feature: centred, not divided by 0
    np.testing.assert_allclose(z_train[:, :3].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z_train[:, :3].std(0), 1.0, rtol=1e-5)
    ref = (test - train.mean(0)) / np.where(train.std(0) < 1e-8, 1.0, train.std(0))
    np.testing.assert_allclose(z_test, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaler.invert(z_test), test, rtol=1e-5)
    assert not np.allclose(np.asarray(z_test).mean(0)[:3], 0.0, atol=1.0)


def test_standardizer_per_channel_and_jit():
    x = np.random.default_rng(1).uniform(size=(6, 5, 5, 3)).astype(np.float32) * [1, 10, 100]
    s = jd.Standardizer.fit(x, axis=(0, 1, 2))
    assert s.mean.shape == (3,)
    np.testing.assert_allclose(s.mean, x.reshape(-1, 3).mean(0), rtol=1e-5)
    z = jax.jit(lambda s, x: s.apply(x))(s, x)
    np.testing.assert_allclose(np.asarray(z).reshape(-1, 3).std(0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(s.apply(x[0]), z[0], rtol=1e-6)  # one image, no batch axis


def test_standardizer_targets_1d():
    y = np.array([1.0, 3.0, 5.0, 7.0], np.float32)
    z, s = jd.standardize(y)
    assert s.mean.shape == () and float(s.mean) == 4.0
    np.testing.assert_allclose(z, (y - 4.0) / np.std(y), rtol=1e-6)
    np.testing.assert_allclose(s.invert(z), y, rtol=1e-6)


def test_standardizer_bad_input():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"Standardizer.fit: axis must be 0 or the leading axes"):
        jd.Standardizer.fit(x, axis=1)
    with pytest.raises(ValueError, match=r"with m <= x.ndim = 2; got \(0, 1, 2\)"):
        jd.Standardizer.fit(x, axis=(0, 1, 2))
    with pytest.raises(TypeError, match=r"Standardizer.fit: x has dtype int32"):
        jd.Standardizer.fit(np.ones((4, 3), np.int32))
    with pytest.raises(ValueError, match=r"Standardizer.fit: x contains 1 NaN"):
        jd.Standardizer.fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    s = jd.Standardizer.fit(x)
    with pytest.raises(ValueError, match=r"Standardizer.apply: x has shape \(4, 2\) but the statistics "
                       r"were fitted on examples of shape \(3,\)"):
        s.apply(np.ones((4, 2), np.float32))
