"""Landscape grids and curvature on an 8-device mesh equal their single-device results.

The reference for every sharded value is the same function run on one device (and, for
the eigenvalues, numpy's ``eigvalsh`` of the dense Hessian). The compiled programs are
also checked to split the work: each device holds 1/8 of the points or of the batch.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import assert_trees_close

import jnn
import jnn.parallel as par
from jnn import curvature as C
from jnn.layers import Dense, Sequential

N = 8


@pytest.fixture(scope="module")
def mesh():
    assert jax.device_count() == N, "tests/conftest.py should give the CPU 8 devices"
    return par.data_mesh()


@pytest.fixture(scope="module")
def classifier():
    rng = np.random.default_rng(0)
    model = Sequential([Dense(16), jax.nn.tanh, Dense(3)])
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    params, state = model.init(jax.random.key(0), x)
    d1 = jnn.landscape.filter_normalized_direction(jax.random.key(1), params)
    d2 = jnn.landscape.filter_normalized_direction(jax.random.key(2), params)
    return model, params, state, (x, y), d1, d2


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(1)
    f32 = lambda *s: rng.normal(size=s).astype(np.float32)
    params = {"w1": 0.5 * f32(5, 8), "w2": 0.5 * f32(8, 2)}
    x = f32(64, 5)
    return params, (x, np.sin(x[:, :2]))


def mse(p, batch):
    x, y = batch
    return jnp.mean((jnp.tanh(x @ p["w1"]) @ p["w2"] - y) ** 2)


def test_plane_sharded_equals_single_device(mesh, classifier):
    model, params, state, batch, d1, d2 = classifier
    loss = jnn.objective(model, jnn.losses.softmax_cross_entropy, state)
    acc = jnn.objective(model, jnn.losses.accuracy, state)
    a, b = jnp.linspace(-1, 1, 7), jnp.linspace(-1, 1, 5)
    ref = jnn.landscape.plane(loss, params, d1, d2, a, b, batch, metrics={"acc": acc},
                              chunk_size=35)
    out = jnn.landscape.plane(loss, params, d1, d2, a, b, batch, metrics={"acc": acc},
                              mesh=mesh)
    assert out.loss.shape == (7, 5) and out.metadata["devices"] == N
    assert out.metadata["chunk_size"] % N == 0
    np.testing.assert_allclose(np.asarray(out.loss), np.asarray(ref.loss), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out.metrics["acc"]), np.asarray(ref.metrics["acc"]))
    # A given chunk_size is rounded up to a multiple of the devices (3 -> 8).
    fast = jnn.landscape.plane_fast(model, jnn.losses.softmax_cross_entropy, state, params,
                                    d1, d2, a, b, batch, chunk_size=3, mesh=mesh)
    assert fast.metadata["chunk_size"] == N
    np.testing.assert_allclose(np.asarray(fast.loss), np.asarray(ref.loss), rtol=1e-5)


def test_line_minibatches_sharded_equals_single_device(mesh, classifier):
    model, params, state, (x, y), d1, _ = classifier
    loss = jnn.objective(model, jnn.losses.softmax_cross_entropy, state)
    stacked = (x.reshape(4, 16, 5), y.reshape(4, 16))
    alphas = jnp.linspace(-2, 2, 11)
    ref = jnn.landscape.line(loss, params, d1, alphas, stacked, minibatches=True,
                             chunk_size=11)
    out = jnn.landscape.line(loss, params, d1, alphas, stacked, minibatches=True,
                             chunk_size=16, mesh=mesh)
    assert out.metadata["chunk_size"] == 16  # 11 points padded to 2 per device
    np.testing.assert_allclose(np.asarray(out.loss), np.asarray(ref.loss), rtol=1e-5)


def test_grid_points_are_split_over_devices(mesh, classifier):
    from jnn.landscape._grid import _run_axes
    from jnn.landscape._slices import AffineSpec

    model, params, state, batch, d1, d2 = classifier
    spec = AffineSpec(jnn.objective(model, jnn.losses.softmax_cross_entropy, state), ())
    axes = (jnp.linspace(-1, 1, 8), jnp.linspace(-1, 1, 5))
    hlo = _run_axes.lower(spec, (params, (d1, d2)), axes, batch, None, chunk_size=40,
                          stacked=False, padded=40, mesh=mesh, axis_name="data").compile()
    # 40 points per chunk, 5 per device: the hidden activations are (5, 64, 16) per device.
    assert set(re.findall(r"f32\[\d+,64,16\]", hlo.as_text())) == {"f32[5,64,16]"}


def test_plane_mesh_errors(mesh, classifier):
    model, params, state, batch, d1, d2 = classifier
    loss = jnn.objective(model, jnn.losses.softmax_cross_entropy, state)
    g = jnp.linspace(-1, 1, 3)
    with pytest.raises(ValueError, match=r"plane: mesh has no axis 'batch'; its axes are "
                       r"\('data',\)"):
        jnn.landscape.plane(loss, params, d1, d2, g, g, batch, mesh=mesh, axis_name="batch")
    with pytest.raises(TypeError, match=r"line: mesh must be a jax.sharding.Mesh; got list"):
        jnn.landscape.line(loss, params, d1, g, batch, mesh=jax.devices())


def test_hvp_sharded_equals_single_device(mesh, regression):
    params, batch = regression
    v = jax.tree.map(lambda p: jnp.linspace(-1, 1, p.size).reshape(p.shape), params)
    ref = C.hvp(mse, params, v, batch)
    out = C.hvp(mse, params, v, batch, mesh=mesh)
    assert_trees_close(out, ref, rtol=1e-5, atol=1e-6)
    assert out["w1"].sharding.is_fully_replicated and len(out["w1"].sharding.device_set) == N
    # Under jit each device differentiates 64 / 8 = 8 examples: (8, 8) hidden activations.
    hlo = jax.jit(lambda p, b: C.hvp(mse, p, v, b, mesh=mesh)).lower(params, batch).compile()
    shapes = set(re.findall(r"f32\[\d+,8\]", hlo.as_text()))
    assert "f32[8,8]" in shapes and "f32[64,8]" not in shapes


def test_lanczos_on_sharded_operator_equals_single_device(mesh, regression):
    params, batch = regression
    key = jax.random.key(0)
    ref = C.top_eigenvalues(C.hvp_operator(mse, params, batch, linearize=False), params, k=3,
                            key=key, num_iters=20)
    out = C.top_eigenvalues(C.hvp_operator(mse, params, batch, mesh=mesh), params, k=3,
                            key=key, num_iters=20)
    np.testing.assert_allclose(np.asarray(out.eigenvalues), np.asarray(ref.eigenvalues),
                               rtol=1e-5)
    dense = np.linalg.eigvalsh(np.asarray(C.hessian(mse, params, batch)[0], np.float64))
    np.testing.assert_allclose(np.asarray(out.eigenvalues), dense[::-1][:3], rtol=1e-4)


def test_hessian_diag_and_ggn_sharded(mesh, regression):
    params, batch = regression
    assert_trees_close(C.hessian_diag(mse, params, batch, mesh=mesh),
                       C.hessian_diag(mse, params, batch), rtol=1e-5, atol=1e-6)
    model = lambda p, b: jnp.tanh(b[0] @ p["w1"]) @ p["w2"]
    out_loss = lambda o, b: jnp.mean((o - b[1]) ** 2)
    v = jax.tree.map(jnp.ones_like, params)
    assert_trees_close(C.ggn_vp(model, out_loss, params, v, batch, mesh=mesh),
                       C.ggn_vp(model, out_loss, params, v, batch), rtol=1e-5, atol=1e-6)


def test_curvature_mesh_errors(mesh, regression):
    params, (x, y) = regression
    v = jax.tree.map(jnp.ones_like, params)
    with pytest.raises(ValueError, match=r"hvp: global batch 60 is not divisible by the 8 "
                       r"devices on mesh axis 'data'; use 56 or 64"):
        C.hvp(mse, params, v, (x[:60], y[:60]), mesh=mesh)
    with pytest.raises(ValueError, match=r"hvp_operator: mesh has no axis 'batch'"):
        C.hvp_operator(mse, params, (x, y), mesh=mesh, axis_name="batch")
    with pytest.raises(ValueError, match=r"hessian_diag: batch has no array leaves"):
        C.hessian_diag(lambda p, b: jnp.sum(p["w1"] ** 2), params, None, mesh=mesh)
