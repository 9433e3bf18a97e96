"""jnn.landscape line/plane (one compiled call, chunks, minibatches, NaN) and the fast path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jnn
import jnn.models
import jnn.parallel
from jnn.landscape import (
    NonFiniteLandscapeWarning,
    filter_normalized_direction,
    line,
    line_fast,
    plane,
    plane_fast,
    random_direction,
)
from jnn.landscape._grid import (
    CPU_CHUNK_BYTES,
    CPU_MIN_CHUNK,
    CPU_PAIR_BYTES,
    CPU_SHARED_BYTES,
    CPU_SHARED_CHUNK,
    DEFAULT_MEMORY_BUDGET,
    balanced_chunks,
    cpu_chunk,
    run_grid,
)
from jnn.landscape._slices import AffineSpec, perturb
from jnn.layers import Dense, Sequential

MODEL = Sequential([Dense(16), jax.nn.tanh, Dense(16), jax.nn.relu, Dense(3)])
CE = jnn.losses.softmax_cross_entropy


@pytest.fixture(scope="module")
def problem():
    kx, ky, kp, k1, k2 = jax.random.split(jax.random.key(42), 5)
    x = jax.random.normal(kx, (48, 4))
    y = jax.random.randint(ky, (48,), 0, 3)
    params, state = MODEL.init(kp, x)
    loss = jnn.objective(MODEL, CE, state)
    d1 = filter_normalized_direction(k1, params)
    d2 = filter_normalized_direction(k2, params)
    return params, state, loss, d1, d2, (x, y)


ALPHAS = jnp.linspace(-1.0, 1.0, 5)
BETAS = jnp.linspace(-0.5, 1.5, 4)


def test_quadratic_surface_is_analytic(x64, key):
    """L = 0.5 (t - c)' H (t - c) on a pytree: f(a, b) is a known quadratic polynomial."""
    k0, k1, k2, k3, k4 = jax.random.split(key, 5)
    params = {"a": jax.random.normal(k0, (3,)), "b": [jax.random.normal(k1, (2, 2))]}
    theta, unravel = ravel_pytree(params)
    A = np.asarray(jax.random.normal(k2, (7, 7)))
    H = A @ A.T + np.eye(7)
    c = np.asarray(jax.random.normal(k3, (7,)))
    loss = lambda p, batch: 0.5 * (ravel_pytree(p)[0] - batch[1]) @ batch[0] @ (
        ravel_pytree(p)[0] - batch[1])
    d1 = random_direction(k4, params)
    d2 = random_direction(jax.random.key(7), params)
    res = plane(loss, params, d1, d2, ALPHAS, BETAS, (jnp.asarray(H), jnp.asarray(c)),
                chunk_size=6)
    t, u, v = np.asarray(theta), np.asarray(ravel_pytree(d1)[0]), np.asarray(ravel_pytree(d2)[0])
    g = H @ (t - c)
    f0 = 0.5 * (t - c) @ H @ (t - c)
    a, b = np.meshgrid(np.asarray(ALPHAS, float), np.asarray(BETAS, float), indexing="ij")
    expected = f0 + a * (g @ u) + b * (g @ v) + 0.5 * (a**2 * (u @ H @ u) + 2 * a * b * (u @ H @ v)
                                                        + b**2 * (v @ H @ v))
    assert res.loss.dtype == jnp.float64 and res.loss.shape == (5, 4)
    np.testing.assert_allclose(res.loss, expected, rtol=1e-12)


@pytest.mark.parametrize("chunk_size", [3, None])
def test_chunked_grid_equals_python_loop_of_jitted_points(problem, chunk_size):
    params, _, loss, d1, d2, batch = problem
    res = plane(loss, params, d1, d2, ALPHAS, BETAS, batch, chunk_size=chunk_size,
                metrics={"accuracy": jnn.objective(MODEL, jnn.losses.accuracy, problem[1])})
    point = jax.jit(lambda a, b: loss(perturb(params, (d1, d2), jnp.stack([a, b])), batch))
    naive = np.array([[point(a, b) for b in BETAS] for a in ALPHAS])
    np.testing.assert_allclose(res.loss, naive, rtol=2e-6, atol=1e-6)
    assert res.metrics["accuracy"].shape == (5, 4)
    assert res.num_nonfinite == 0 and not res.nonfinite.any()
    if chunk_size is None:  # chosen from the default budget (and, on CPU, the cache rule)
        temp, working = res.metadata["bytes_per_point"], res.metadata["working_bytes_per_point"]
        assert 0 < temp <= working
        most = DEFAULT_MEMORY_BUDGET // temp
        if jax.default_backend() == "cpu":
            most = min(most, cpu_chunk(working))
        assert res.metadata["chunk_size"] == balanced_chunks(20, min(20, most))[0]
    else:  # 20 points in 7 balanced chunks of 3 (one padded point, discarded)
        assert res.metadata["chunk_size"] == 3


def test_line_equals_plane_column_and_minibatches_equal_full_batch(problem):
    params, _, loss, d1, _, (x, y) = problem
    full = line(loss, params, d1, ALPHAS, (x, y), chunk_size=5)
    stacked = (x.reshape(4, 12, 4), y.reshape(4, 12))
    mini = line(loss, params, d1, ALPHAS, stacked, minibatches=True, chunk_size=2)
    # Equal minibatches: the mean of the minibatch means is the full mean.
    np.testing.assert_allclose(mini.loss, full.loss, rtol=2e-6)
    # Weights: the weighted mean of per-minibatch losses.
    w = jnp.array([1.0, 0.0, 3.0, 1.0])
    weighted = line(loss, params, d1, ALPHAS, stacked, minibatches=True, weights=w,
                    chunk_size=5)
    parts = np.stack([line(loss, params, d1, ALPHAS, (stacked[0][i], stacked[1][i]),
                           chunk_size=5).loss for i in range(4)])
    np.testing.assert_allclose(weighted.loss, (np.asarray(w) @ parts) / 5.0, rtol=2e-6)


def test_cpu_chunk_rule():
    assert cpu_chunk(CPU_CHUNK_BYTES // 8) == 8  # tiny points: by the cache budget
    assert cpu_chunk(CPU_PAIR_BYTES // CPU_MIN_CHUNK) == CPU_MIN_CHUNK  # small: paired
    assert cpu_chunk(CPU_PAIR_BYTES) == 1  # large: one at a time
    # The fast path's large points are grouped (their ops then split over cores).
    assert cpu_chunk(2 * CPU_SHARED_BYTES, shares_work=True) == CPU_SHARED_CHUNK
    assert cpu_chunk(CPU_SHARED_BYTES // 2, shares_work=True) == CPU_MIN_CHUNK


def test_memory_budget_chooses_the_chunk_and_bounds_temporaries(problem):
    params, _, loss, d1, d2, batch = problem
    probe = plane(loss, params, d1, d2, ALPHAS, BETAS, batch, memory_budget_bytes=2**30)
    per_point = probe.metadata["bytes_per_point"]
    # Activations (48 x 16 floats) and perturbed weights of one point, at the least.
    assert per_point >= 4 * (48 * 16 + 16 * 16)
    res = plane(loss, params, d1, d2, ALPHAS, BETAS, batch, memory_budget_bytes=7 * per_point)
    assert res.metadata["chunk_size"] <= 7
    np.testing.assert_allclose(res.loss, probe.loss, rtol=2e-6)
    # The compiled program's temporaries depend on the chunk, not on the grid's size.
    spec = AffineSpec(loss, ())
    temps = []
    for n in (8, 64):
        coords = jnp.zeros((n, 2))
        compiled = run_grid.lower(spec, (params, (d1, d2)), coords, batch, None, chunk_size=4,
                                  stacked=False).compile()
        temps.append(compiled.memory_analysis().temp_size_in_bytes)
    assert temps[1] <= temps[0] + 4 * (64 - 8) + 1024, temps


def test_nan_points_are_kept_and_reported():
    loss = lambda p, batch: jnp.log(p["w"][0]) + batch
    alphas = jnp.array([-2.0, -1.5, 0.0, 1.0, 2.0])
    with pytest.warns(NonFiniteLandscapeWarning, match=r"line: 2 of 5 grid points have a "
                                                        r"non-finite loss"):
        res = line(loss, {"w": jnp.ones(2)}, {"w": jnp.ones(2)}, alphas, jnp.float32(0.5),
                   chunk_size=2)
    np.testing.assert_array_equal(res.nonfinite, [True, True, False, False, False])
    assert int(res.num_nonfinite) == 2
    np.testing.assert_allclose(res.loss[2:], np.log([1.0, 2.0, 3.0]) + 0.5, rtol=1e-6)
    assert np.isnan(res.loss[0]) and np.isnan(res.loss[1])


def test_bad_input(problem):
    params, _, loss, d1, d2, batch = problem
    with pytest.raises(ValueError, match=r"(?s)plane: d2 must have the same tree structure as "
                                         r"params\..*d2: PyTreeDef.*params: PyTreeDef"):
        plane(loss, params, d1, d1[:3], ALPHAS, BETAS, batch)
    with pytest.raises(ValueError, match=r"line: alphas is empty"):
        line(loss, params, d1, jnp.zeros(0), batch)
    with pytest.raises(ValueError, match=r"plane: betas must be strictly increasing; "
                                         r"betas\[1\]=1.0 is followed by betas\[2\]=0.5"):
        plane(loss, params, d1, d2, ALPHAS, jnp.array([0.0, 1.0, 0.5]), batch)
    with pytest.raises(ValueError, match=r"line: alphas must be a 1-D array"):
        line(loss, params, d1, jnp.zeros((2, 2)), batch)
    with pytest.raises(ValueError, match=r"line: alphas contains nan or inf"):
        line(loss, params, d1, jnp.array([0.0, jnp.nan]), batch)
    with pytest.raises(ValueError, match=r"line: one grid point needs about \d+ bytes .* more "
                                         r"than memory_budget_bytes=64 .* no chunk fits"):
        line(loss, params, d1, ALPHAS, batch, memory_budget_bytes=64)
    with pytest.raises(ValueError, match=r"line: chunk_size=5 points need about \d+ bytes .*"
                                         r"Use chunk_size <= \d"):
        per_point = line(loss, params, d1, ALPHAS, batch,
                         memory_budget_bytes=2**30).metadata["bytes_per_point"]
        line(loss, params, d1, ALPHAS, batch, chunk_size=5, memory_budget_bytes=3 * per_point)
    with pytest.raises(ValueError, match=r"line: chunk_size must be a positive integer; got 0"):
        line(loss, params, d1, ALPHAS, batch, chunk_size=0)
    with pytest.raises(ValueError, match=r"line: loss must return a scalar; it returned shape "
                                         r"\(48, 3\)"):
        line(lambda p, b: MODEL.apply(p, problem[1], b[0])[0], params, d1, ALPHAS, batch)
    with pytest.raises(ValueError, match=r"line: with minibatches=True every leaf of batch "
                                         r"must have the same leading"):
        line(loss, params, d1, ALPHAS, (batch[0][:4], batch[1][:6]), minibatches=True)
    with pytest.raises(ValueError, match=r"line: weights must have shape \(4,\)"):
        line(loss, params, d1, ALPHAS, (batch[0].reshape(4, 12, 4), batch[1].reshape(4, 12)),
             minibatches=True, weights=jnp.ones(3))
    with pytest.raises(TypeError, match=r"line: loss must be a function"):
        line("ce", params, d1, ALPHAS, batch)


@pytest.mark.parametrize("minibatches", [False, True])
def test_fast_path_equals_generic_path(problem, minibatches):
    params, state, loss, d1, d2, (x, y) = problem
    batch = (x.reshape(3, 16, 4), y.reshape(3, 16)) if minibatches else (x, y)
    generic = plane(loss, params, d1, d2, ALPHAS, BETAS, batch, minibatches=minibatches,
                    chunk_size=7)
    fast = plane_fast(MODEL, CE, state, params, d1, d2, ALPHAS, BETAS, batch,
                      minibatches=minibatches, chunk_size=7, metrics={"acc": jnn.losses.accuracy})
    np.testing.assert_allclose(fast.loss, generic.loss, rtol=1e-5, atol=1e-6)
    assert fast.metadata["fast_path"] == "dense_first" and fast.metrics["acc"].shape == (5, 4)
    if not minibatches:  # a jnn.models model built as a Sequential, through line_fast
        mlp = jnn.models.MLP((16, 3))
        mp, ms = mlp.init(jax.random.key(0), x)
        d = random_direction(jax.random.key(1), mp)
        one = line_fast(mlp, CE, ms, mp, d, ALPHAS, (x, y), chunk_size=5)
        ref = line(jnn.objective(mlp, CE, ms), mp, d, ALPHAS, (x, y), chunk_size=5)
        np.testing.assert_allclose(one.loss, ref.loss, rtol=1e-5, atol=1e-6)


def test_fast_path_is_exact_in_float64(x64):
    model = Sequential([Dense(8), jax.nn.relu, Dense(2)])
    x = jax.random.normal(jax.random.key(0), (20, 6), jnp.float64)
    y = jax.random.normal(jax.random.key(1), (20, 2), jnp.float64)
    params, state = model.init(jax.random.key(2), x)
    d = random_direction(jax.random.key(3), params)
    fast = line_fast(model, jnn.losses.mse, state, params, d, ALPHAS, (x, y), chunk_size=5)
    slow = line(jnn.objective(model, jnn.losses.mse, state), params, d, ALPHAS, (x, y),
                chunk_size=5)
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=1e-12)


def test_fast_path_refuses_other_models(problem):
    params, state, *_ = problem
    model = Sequential([jax.nn.tanh, Dense(3)])
    with pytest.raises(ValueError, match=r"plane_fast: the fast path needs a Sequential model "
                                         r"whose first layer is Dense.*jnn.landscape.plane"):
        plane_fast(model, CE, state, params, params, params, ALPHAS, BETAS, problem[-1])


def test_mesh_placement_is_one_transfer_and_keeps_placed_leaves():
    from jax.sharding import NamedSharding, PartitionSpec

    from jnn.parallel._tools import place_replicated

    mesh = jnn.parallel.data_mesh()
    full = NamedSharding(mesh, PartitionSpec())
    split = NamedSharding(mesh, PartitionSpec("data"))
    placed = jax.device_put(jnp.arange(8.0 * mesh.size), split)  # e.g. a user's FSDP shard
    tree = {"w": jnp.ones((3, 2)), "b": placed, "n": np.arange(4, dtype=np.int32)}
    out = place_replicated("plane", tree, mesh)
    assert out["b"] is placed
    for name in ("w", "n"):
        assert out[name].sharding == full
        np.testing.assert_array_equal(out[name], tree[name])
    traced = jax.jit(lambda t: place_replicated("plane", t, mesh))(tree)  # no placement under jit
    np.testing.assert_array_equal(traced["w"], tree["w"])
