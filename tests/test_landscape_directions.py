"""jnn.landscape directions: Gaussian, filter/layer normalization, differences, Gram-Schmidt."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import assert_trees_close

from jnn.landscape import (
    cosine_similarity,
    difference,
    filter_normalize,
    filter_normalized_direction,
    layer_normalize,
    orthogonalize,
    random_direction,
)
from jnn.layers import BatchNorm, Conv, Dense, Flatten, Sequential


@pytest.fixture(scope="module")
def cnn_params():
    model = Sequential([Conv(4, (3, 3)), BatchNorm(), jax.nn.relu, Flatten(), Dense(5)])
    params, _ = model.init(jax.random.key(1), jnp.ones((2, 6, 6, 3)))
    # Make the per-filter norms differ a lot, and one filter exactly zero.
    params[0]["kernel"] = params[0]["kernel"] * jnp.arange(1.0, 5.0)[None, None, None]
    params[4]["kernel"] = params[4]["kernel"].at[:, 2].set(0.0)
    return params


def test_random_direction_is_standard_normal_and_reproducible():
    params = {"a": jnp.zeros((300, 200)), "b": [jnp.zeros(7, jnp.float16)]}
    d = random_direction(jax.random.key(3), params)
    again = random_direction(jax.random.key(3), params)
    assert_trees_close(d, again, 0, 0)
    assert d["b"][0].dtype == jnp.float16
    x = np.asarray(d["a"]).ravel()
    # 60,000 samples: mean within 5 standard errors (5/sqrt(n) = 0.02), std within 2%.
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1.0) < 0.02
    other = random_direction(jax.random.key(4), params)
    assert not np.allclose(d["a"], other["a"])


def test_filter_normalized_norms_equal_params_per_filter(cnn_params, key):
    d = filter_normalized_direction(key, cnn_params)
    for p, q in zip(jax.tree.leaves(cnn_params), jax.tree.leaves(d)):
        if p.ndim >= 2:  # Conv (kh, kw, in, out) and Dense (in, out): filters on the last axis
            axes = tuple(range(p.ndim - 1))
            np.testing.assert_allclose(jnp.linalg.norm(q.reshape(-1, q.shape[-1]), axis=0),
                                       jnp.sqrt(jnp.sum(p * p, axis=axes)), rtol=1e-5, atol=1e-7)
        else:  # biases and BatchNorm scale/bias are zeroed by default
            np.testing.assert_array_equal(q, 0.0)
    np.testing.assert_array_equal(d[4]["kernel"][:, 2], 0.0)  # a zero filter stays zero


def test_filter_normalize_matches_per_filter_numpy_loop(cnn_params, key):
    raw = random_direction(key, cnn_params)
    out = filter_normalize(raw, cnn_params, vectors="keep")
    k_raw, k_par = np.asarray(raw[0]["kernel"]), np.asarray(cnn_params[0]["kernel"])
    for j in range(k_raw.shape[-1]):  # Li et al.'s loop: d_j * ||w_j|| / ||d_j||
        ref = k_raw[..., j] * np.linalg.norm(k_par[..., j]) / (np.linalg.norm(k_raw[..., j]) + 1e-10)
        np.testing.assert_allclose(out[0]["kernel"][..., j], ref, rtol=1e-5)
    np.testing.assert_array_equal(out[1]["scale"], raw[1]["scale"])  # kept
    norm = filter_normalize(raw, cnn_params, vectors="normalize")
    np.testing.assert_allclose(jnp.linalg.norm(norm[1]["scale"]),
                               jnp.linalg.norm(cnn_params[1]["scale"]), rtol=1e-5)


def test_layer_normalize_whole_leaf_norms(cnn_params, key):
    d = layer_normalize(random_direction(key, cnn_params), cnn_params)
    for p, q in zip(jax.tree.leaves(cnn_params), jax.tree.leaves(d)):
        np.testing.assert_allclose(jnp.linalg.norm(q), jnp.linalg.norm(p), rtol=1e-5, atol=1e-6)


def test_difference_and_orthogonalize(key):
    a = {"w": jnp.array([[1.0, 2.0], [3.0, 4.0]]), "b": jnp.array([0.5, -1.0])}
    b = jax.tree.map(lambda x: 2 * x + 1, a)
    assert_trees_close(difference(a, b), jax.tree.map(lambda x: x + 1, a), 0, 0)
    d1, d2 = random_direction(key, a), random_direction(jax.random.key(9), a)
    f1 = np.concatenate([np.ravel(x) for x in jax.tree.leaves(d1)])
    f2 = np.concatenate([np.ravel(x) for x in jax.tree.leaves(d2)])
    o1, o2 = orthogonalize(d1, d2)
    g2 = np.concatenate([np.ravel(x) for x in jax.tree.leaves(o2)])
    assert o1 is d1
    assert abs(g2 @ f1) < 1e-5 * np.linalg.norm(f1) * np.linalg.norm(f2)
    np.testing.assert_allclose(np.linalg.norm(g2), np.linalg.norm(f2), rtol=1e-5)
    # Reference: numpy Gram-Schmidt, then rescaled.
    ref = f2 - (f1 @ f2) / (f1 @ f1) * f1
    np.testing.assert_allclose(g2, ref * np.linalg.norm(f2) / np.linalg.norm(ref), rtol=1e-4,
                               atol=1e-6)
    _, raw = orthogonalize(d1, d2, keep_norm=False)
    np.testing.assert_allclose(np.concatenate([np.ravel(x) for x in jax.tree.leaves(raw)]), ref,
                               rtol=1e-4, atol=1e-6)


def test_cosine_similarity(key):
    a = {"w": jax.random.normal(key, (30, 20)), "b": jnp.arange(5.0)}
    b = {"w": jnp.cos(a["w"]), "b": -jnp.ones(5)}
    fa, fb = (np.concatenate([np.ravel(x) for x in jax.tree.leaves(t)]) for t in (a, b))
    ref = fa @ fb / (np.linalg.norm(fa) * np.linalg.norm(fb))
    np.testing.assert_allclose(cosine_similarity(a, b), ref, rtol=1e-5)
    np.testing.assert_allclose(cosine_similarity(a, jax.tree.map(lambda x: -3 * x, a)), -1.0,
                               rtol=1e-6)
    # Li et al.'s premise: two Gaussian directions in d = 100,000 dimensions have
    # |cos| ~ 1/sqrt(d); 5/sqrt(d) bounds it with probability 1 - 6e-7.
    big = {"w": jnp.zeros((100, 1000))}
    c = cosine_similarity(random_direction(key, big), random_direction(jax.random.key(5), big))
    assert abs(float(c)) < 5 / np.sqrt(100_000)
    zero = jax.tree.map(jnp.zeros_like, a)
    assert np.isnan(jax.jit(cosine_similarity)(zero, a)), "under jit a zero direction is nan"


def test_bad_directions():
    params = {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)}
    with pytest.raises(ValueError, match=r"(?s)filter_normalize: direction must have the same "
                                         r"tree structure as params.*direction: PyTreeDef.*"
                                         r"params: PyTreeDef"):
        filter_normalize({"kernel": jnp.ones((3, 2))}, params)
    with pytest.raises(ValueError, match=r"leaf \['kernel'\] has shape \(2, 3\).*\(3, 2\)"):
        layer_normalize({"kernel": jnp.ones((2, 3)), "bias": jnp.zeros(2)}, params)
    with pytest.raises(ValueError, match="vectors must be one of"):
        filter_normalize(params, params, vectors="drop")
    with pytest.raises(TypeError, match=r"leaf \['n'\] has dtype int32"):
        random_direction(jax.random.key(0), {"n": jnp.arange(3)})
    with pytest.raises(ValueError, match="d2 is parallel to d1"):
        orthogonalize(params, jax.tree.map(lambda x: 2 * x, params))
    with pytest.raises(ValueError, match="d1 is zero"):
        orthogonalize(jax.tree.map(jnp.zeros_like, params), params)
    with pytest.raises(ValueError, match=r"cosine_similarity: d2 is zero, so it has no angle"):
        cosine_similarity(params, jax.tree.map(jnp.zeros_like, params))
    with pytest.raises(ValueError, match=r"cosine_similarity: d2 must have the same tree"):
        cosine_similarity(params, {"kernel": jnp.ones((3, 2))})
