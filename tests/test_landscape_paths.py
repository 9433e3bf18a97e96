"""jnn.landscape interpolation (with BatchNorm statistics) and training trajectories."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close

import jnn
from jnn.landscape import (
    TrajectoryRecorder,
    interpolate,
    interpolate_model,
    project_trajectory,
    trajectory_pca,
)
from jnn.layers import BatchNorm, Dense, Sequential

CE = jnn.losses.softmax_cross_entropy


def _bn_endpoints(dtype, momentum=0.9):
    model = Sequential([Dense(6), BatchNorm(momentum=momentum), jax.nn.relu, Dense(3)])
    kx, ky, k0, k1, k2 = jax.random.split(jax.random.key(5), 5)
    x = jax.random.normal(kx, (40, 4), dtype)
    y = jax.random.randint(ky, (40,), 0, 3)
    ends = []
    for k in (k0, k1):
        params, state = model.init(k, x)
        km, kv = jax.random.split(jax.random.fold_in(k2, len(ends)))
        state[1] = {"mean": jax.random.normal(km, (6,), dtype),
                    "var": jax.random.uniform(kv, (6,), dtype, 0.5, 2.0)}
        ends.append((params, state))
    return model, (x, y), ends


def test_interpolate_endpoints_are_exact_and_path_is_convex(key):
    a = {"w": jax.random.normal(key, (5,))}
    b = {"w": jax.random.normal(jax.random.key(1), (5,))}
    loss = lambda p, batch: jnp.sum((p["w"] - batch) ** 2)
    alphas = jnp.array([-0.5, 0.0, 0.25, 1.0, 1.5])
    res = interpolate(loss, a, b, alphas, jnp.float32(0.3), chunk_size=2)
    assert res.loss[1] == loss(a, 0.3) and res.loss[3] == loss(b, 0.3)
    ref = [loss({"w": (1 - t) * a["w"] + t * b["w"]}, 0.3) for t in np.asarray(alphas)]
    np.testing.assert_allclose(res.loss, ref, rtol=1e-6)


def test_batchnorm_interpolation_reproduces_endpoint_evaluations():
    model, batch, ((pa, sa), (pb, sb)) = _bn_endpoints(jnp.float32)
    res = interpolate_model(model, CE, (pa, sa), (pb, sb), jnp.array([0.0, 0.5, 1.0]), batch,
                            state="interpolate", metrics={"accuracy": jnn.losses.accuracy},
                            chunk_size=3)
    for i, (p, s) in ((0, (pa, sa)), (2, (pb, sb))):
        evaluated = jnn.train.evaluate(model, p, s, CE, batch, metrics=["accuracy"])
        np.testing.assert_allclose(res.loss[i], evaluated["loss"], rtol=1e-6)
        np.testing.assert_allclose(res.metrics["accuracy"][i], evaluated["accuracy"], rtol=1e-6)
        # The same single evaluation, compiled alone: equal to the last bit.
        single = jax.jit(jnn.objective(model, CE, s))(p, batch)
        np.testing.assert_array_equal(res.loss[i], single)
    mid = jax.tree.map(lambda u, v: 0.5 * u + 0.5 * v, (pa, sa), (pb, sb))
    reference = jax.jit(lambda p, s: jnn.objective(model, CE, s)(p, batch))
    np.testing.assert_allclose(res.loss[1], reference(*mid), rtol=1e-6)


@pytest.mark.parametrize("minibatches", [False, True])
def test_batchnorm_recompute_gives_population_statistics(x64, minibatches):
    model, (x, y), ((pa, sa), (pb, sb)) = _bn_endpoints(jnp.float64, momentum=0.99)
    alphas = jnp.array([0.0, 0.3, 1.0])
    batch = (x.reshape(4, 10, 4), y.reshape(4, 10)) if minibatches else (x, y)
    res = interpolate_model(model, CE, (pa, sa), (pb, sb), alphas, batch, state="recompute",
                            minibatches=minibatches, chunk_size=2)
    evaluate = jax.jit(lambda p, s, xb, yb: jnn.objective(model, CE, s)(p, (xb, yb)))
    for i, t in enumerate(np.asarray(alphas)):
        p = jax.tree.map(lambda u, v, t=t: (1 - t) * u + t * v, pa, pb)
        h = np.asarray(x @ p[0]["kernel"] + p[0]["bias"][None])
        if minibatches:  # the mean of the minibatches' statistics, as SWA's update_bn
            parts = h.reshape(4, 10, 6)
            mean, var = parts.mean(axis=1).mean(axis=0), parts.var(axis=1).mean(axis=0)
        else:
            mean, var = h.mean(axis=0), h.var(axis=0)
        state = [{}, {"mean": jnp.asarray(mean), "var": jnp.asarray(var)}, {}, {}]
        expected = np.mean([evaluate(p, state, xb, yb)
                            for xb, yb in zip(*(batch if minibatches else ([x], [y])))])
        np.testing.assert_allclose(res.loss[i], expected, rtol=1e-10)


def test_interpolate_bad_input():
    model, batch, ((pa, sa), (pb, sb)) = _bn_endpoints(jnp.float32)
    with pytest.raises(ValueError, match=r"interpolate_model: state must be one of"):
        interpolate_model(model, CE, (pa, sa), (pb, sb), jnp.array([0.0, 1.0]), batch,
                          state="keep")
    with pytest.raises(ValueError, match=r"(?s)interpolate_model: state_b must have the same "
                                         r"tree structure as state_a.*state_b: PyTreeDef"):
        interpolate_model(model, CE, (pa, sa), (pb, sb[:2]), jnp.array([0.0, 1.0]), batch)
    with pytest.raises(TypeError, match=r"endpoint_b must be a pair \(params, state\)"):
        interpolate_model(model, CE, (pa, sa), pb, jnp.array([0.0, 1.0]), batch)
    with pytest.raises(ValueError, match=r"interpolate: alphas must be strictly increasing"):
        interpolate(jnn.objective(model, CE, sa), pa, pb, jnp.array([1.0, 0.0]), batch)


def test_trajectory_recorder_with_fit():
    x, y = jnn.data.spirals(jax.random.key(0), 64)
    model = Sequential([Dense(4), jax.nn.tanh, Dense(2)])
    params, state = model.init(jax.random.key(1), x)
    recorder = TrajectoryRecorder(every=2)
    final, *_ = jnn.train.fit(model, params, state, optax.sgd(0.5), CE, (x, y), epochs=5,
                              batch_size=32, key=jax.random.key(2), callbacks=[recorder],
                              verbose=0)
    assert recorder.epochs == [0, 2, 4]
    assert_trees_close(recorder.params[0], params, 0, 0)
    assert not np.allclose(recorder.params[-1][0]["kernel"], params[0]["kernel"])
    pca = trajectory_pca(recorder, k=2)
    assert pca.coordinates.shape == (3, 2)
    np.testing.assert_allclose(pca.coordinates[-1], 0.0, atol=1e-6)  # origin: the last record


def test_pca_recovers_coordinates_of_a_trajectory_in_a_known_plane(key):
    shapes = {"a": (4, 3), "b": (5,)}
    ku, kv, kc = jax.random.split(key, 3)
    q, _ = np.linalg.qr(np.asarray(jax.random.normal(ku, (17, 2))))
    u, v = q[:, 0], q[:, 1]
    center = np.asarray(jax.random.normal(kc, (17,)))
    # Uncorrelated, zero-mean coordinates with the larger spread along u.
    a = np.array([-3.0, -1.0, 1.0, 3.0])
    b = np.array([1.0, -1.0, -1.0, 1.0])

    def tree(flat):
        return {"a": jnp.asarray(flat[:12].reshape(shapes["a"])), "b": jnp.asarray(flat[12:])}

    path = [tree(center + ai * u + bi * v) for ai, bi in zip(a, b)]
    pca = trajectory_pca(path, k=2)
    np.testing.assert_allclose(pca.explained_variance_ratio, [20 / 24, 4 / 24], rtol=1e-5)
    got_u = np.concatenate([np.ravel(pca.directions[0]["a"]), pca.directions[0]["b"]])
    got_v = np.concatenate([np.ravel(pca.directions[1]["a"]), pca.directions[1]["b"]])
    np.testing.assert_allclose(got_u, u, atol=1e-5)  # sign: the path runs towards +u
    sign = np.sign(got_v @ v)
    np.testing.assert_allclose(sign * got_v, v, atol=1e-5)
    expected = np.stack([a - a[-1], sign * (b - b[-1])], axis=1)  # origin: the final point
    np.testing.assert_allclose(pca.coordinates, expected, atol=2e-5)
    centered = trajectory_pca(path, k=2, origin="mean")
    np.testing.assert_allclose(centered.coordinates[:, 0], a, atol=2e-5)
    # Least-squares projection onto any basis of the plane recovers the coefficients.
    d1, d2 = tree(2.0 * u + v), tree(u - v)
    coef = np.linalg.solve(np.array([[2.0, 1.0], [1.0, -1.0]]).T, np.stack([a, b]))
    got = project_trajectory(path, tree(center), [d1, d2])
    np.testing.assert_allclose(got, coef.T, atol=5e-5)


def test_trajectory_bad_input(key):
    p = {"w": jnp.ones(3)}
    with pytest.raises(ValueError, match=r"trajectory_pca: trajectory must be a list of at "
                                         r"least 2 params"):
        trajectory_pca([p])
    with pytest.raises(ValueError, match=r"trajectory_pca: k=3 directions need at least"):
        trajectory_pca([p, p, p], k=3)
    with pytest.raises(ValueError, match=r"(?s)trajectory\[1\] must have the same tree"):
        trajectory_pca([p, {"v": jnp.ones(3)}])
    with pytest.raises(ValueError, match=r"TrajectoryRecorder: every must be a positive"):
        TrajectoryRecorder(every=0)


def test_interpolation_split_over_eight_devices_equals_single_device():
    import jnn.parallel

    mesh = jnn.parallel.data_mesh()
    model, batch, ((pa, sa), (pb, sb)) = _bn_endpoints(jnp.float32)
    alphas = jnp.linspace(-0.5, 1.5, 11)  # 11 points: padded to a multiple of 8
    # interpolate_model's recomputed statistics: the most work per point (interpolate
    # takes the same path through the shared grid evaluation).
    kw = dict(state="recompute", metrics={"accuracy": jnn.losses.accuracy})
    alone = interpolate_model(model, CE, (pa, sa), (pb, sb), alphas, batch, **kw)
    split = interpolate_model(model, CE, (pa, sa), (pb, sb), alphas, batch, mesh=mesh, **kw)
    np.testing.assert_allclose(split.loss, alone.loss, rtol=1e-5)
    np.testing.assert_array_equal(split.metrics["accuracy"], alone.metrics["accuracy"])
    assert split.metadata["devices"] == 8
    with pytest.raises(ValueError, match=r"interpolate: mesh has no axis 'batch'; its axes are "
                                         r"\('data',\)"):
        interpolate(jnn.objective(model, CE, sa), pa, pb, alphas, batch, mesh=mesh,
                    axis_name="batch")


def test_trajectory_tools_split_over_eight_devices_equal_single_device(key):
    import jnn.parallel

    mesh = jnn.parallel.data_mesh()
    # A random walk of 6 points with 37 params (padded to 40 on the mesh), drifting so
    # that the principal directions are well separated.
    steps = np.asarray(jax.random.normal(key, (6, 37))) * np.linspace(3.0, 0.3, 37)
    flat = np.cumsum(steps + 2.0, axis=0).astype(np.float32)
    path = [{"k": jnp.asarray(f[:30].reshape(5, 6)), "b": jnp.asarray(f[30:])} for f in flat]
    alone = trajectory_pca(path, k=2, origin=path[2])
    split = trajectory_pca(path, k=2, origin=path[2], mesh=mesh)
    for got, want in zip(split.directions, alone.directions):
        assert_trees_close(got, want, rtol=0, atol=2e-4)
    np.testing.assert_allclose(split.coordinates, alone.coordinates, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(split.explained_variance_ratio, alone.explained_variance_ratio,
                               rtol=1e-4)
    assert_trees_close(split.origin, alone.origin, rtol=0, atol=0)
    projected = project_trajectory(path, path[-1], alone.directions, mesh=mesh)
    np.testing.assert_allclose(projected,
                               project_trajectory(path, path[-1], alone.directions),
                               rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match=r"project_trajectory: mesh has no axis 'batch'"):
        project_trajectory(path, path[-1], alone.directions, mesh=mesh, axis_name="batch")
