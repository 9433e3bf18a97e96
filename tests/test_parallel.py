"""jnn.parallel: meshes, placement, FSDP shardings, the shared checks, and a data-parallel step.

conftest.py gives the CPU 8 devices, so every mesh here is a real 8-device mesh; the
reference for each sharded computation is the same computation on one device.
"""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import assert_trees_close
from jax.sharding import Mesh, PartitionSpec

import jnn.parallel as par

N = 8


@pytest.fixture(scope="module")
def mesh():
    assert jax.device_count() == N, "tests/conftest.py should give the CPU 8 devices"
    return par.data_mesh()


def test_data_mesh_spans_all_devices(mesh):
    assert mesh.axis_names == ("data",)
    assert mesh.shape["data"] == N
    assert list(mesh.devices.reshape(-1)) == jax.devices()
    sub = par.data_mesh(jax.devices()[:2], axis_name="batch")
    assert dict(sub.shape) == {"batch": 2}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"devices": []}, ValueError, r"data_mesh: devices is empty"),
        ({"devices": [1, 2]}, TypeError, r"data_mesh: devices must hold jax devices"),
        ({"devices": "cpu"}, TypeError, r"data_mesh: devices must be a sequence of jax devices"),
        ({"axis_name": ""}, TypeError, r"data_mesh: axis_name must be a non-empty string"),
    ],
)
def test_data_mesh_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        par.data_mesh(**kwargs)


def test_data_mesh_refuses_duplicates():
    d = jax.devices()[0]
    with pytest.raises(ValueError, match=r"data_mesh: devices lists some device twice"):
        par.data_mesh([d, d])


def test_check_mesh_and_divisible(mesh):
    assert par.check_mesh("f", mesh, "data") == N
    assert par.check_divisible("f", "global batch", 96, mesh) == N
    mesh2 = Mesh(np.array(jax.devices()).reshape(4, 2), ("data", "model"))
    assert par.check_mesh("f", mesh2, ("data", "model")) == N
    with pytest.raises(ValueError, match=r"f: mesh has no axis 'batch'; its axes are "
                       r"\('data', 'model'\)\. Pass axis_name="):
        par.check_mesh("f", mesh2, "batch")
    with pytest.raises(TypeError, match=r"f: mesh must be a jax.sharding.Mesh; got list\. "
                       r"Build one with jnn.parallel.data_mesh\(\)"):
        par.check_mesh("f", jax.devices(), "data")
    with pytest.raises(TypeError, match=r"f: axis_name must be a mesh axis name"):
        par.check_mesh("f", mesh, 0)
    with pytest.raises(ValueError, match=r"fit: global batch 100 is not divisible by the 8 "
                       r"devices on mesh axis 'data'; use 96 or 104\."):
        par.check_divisible("fit", "global batch", 100, mesh)
    with pytest.raises(ValueError, match=r"devices on mesh axis 'data'; use 8\.$"):
        par.check_divisible("fit", "global batch", 3, mesh)


def test_replicate_and_shard_batch(mesh):
    x = np.arange(16 * 3, dtype=np.float32).reshape(16, 3)
    y = np.arange(16, dtype=np.int32)
    xs, ys = par.shard_batch((x, y), mesh)
    assert xs.sharding.spec == PartitionSpec("data") and ys.sharding.spec == PartitionSpec("data")
    assert {s.data.shape for s in xs.addressable_shards} == {(2, 3)}
    # Device k holds rows 2k, 2k+1: contiguous slices in mesh order.
    for shard in xs.addressable_shards:
        k = list(mesh.devices.reshape(-1)).index(shard.device)
        np.testing.assert_array_equal(np.asarray(shard.data), x[2 * k: 2 * k + 2])
    np.testing.assert_array_equal(np.asarray(xs), x)
    p = par.replicate({"w": jnp.ones((3, 2))}, mesh)
    assert p["w"].sharding.is_fully_replicated and len(p["w"].addressable_shards) == N
    assert par.replicated(mesh).spec == PartitionSpec()
    stacked = par.shard_batch(np.zeros((5, 16, 3), np.float32), mesh, batch_axis=1)
    assert stacked.sharding.spec == PartitionSpec(None, "data")
    assert par.batch_sharding(mesh, batch_axis=-1, ndim=3).spec == PartitionSpec(None, None, "data")


def test_shard_batch_inside_jit(mesh):
    @jax.jit
    def f(x):
        return par.shard_batch(x * 2, mesh)

    out = f(jnp.ones((16, 2)))
    assert out.sharding.spec == PartitionSpec("data")
    np.testing.assert_array_equal(np.asarray(out), 2 * np.ones((16, 2)))


def test_shard_batch_bad_input(mesh):
    with pytest.raises(ValueError, match=r"shard_batch: global batch 100 is not divisible by "
                       r"the 8 devices on mesh axis 'data'; use 96 or 104"):
        par.shard_batch(np.zeros((100, 2)), mesh)
    with pytest.raises(ValueError, match=r"shard_batch: the batch leaves have different sizes "
                       r"along batch_axis=0 \(\[0\]: 16, \[1\]: 12\)"):
        par.shard_batch((np.zeros((16, 2)), np.zeros(12)), mesh)
    with pytest.raises(ValueError, match=r"shard_batch: batch leaf \['lr'\] has shape \(\), "
                       r"which has no axis batch_axis=0"):
        par.shard_batch({"x": np.zeros((16, 2)), "lr": np.float32(0.1)}, mesh)
    with pytest.raises(ValueError, match=r"shard_batch: batch has no array leaves"):
        par.shard_batch((), mesh)
    with pytest.raises(ValueError, match=r"shard_batch: mesh has no axis 'batch'"):
        par.shard_batch(np.zeros((16, 2)), mesh, axis_name="batch")
    with pytest.raises(ValueError, match=r"batch_sharding: batch_axis=-1 is negative"):
        par.batch_sharding(mesh, batch_axis=-1)


def test_fsdp_shardings_pick_largest_divisible_axis(mesh):
    params = {
        "big": jnp.zeros((100, 64)),      # 100 % 8 != 0, so axis 1
        "both": jnp.zeros((64, 256)),     # both divisible: the larger, axis 1
        "first": jnp.zeros((512, 40)),    # axis 0
        "odd": jnp.zeros((129, 127)),     # nothing divisible: replicated
        "small": jnp.zeros((8, 8)),       # below min_size: replicated
    }
    s = par.fsdp_shardings(params, mesh, min_size=1000)
    assert s["big"].spec == PartitionSpec(None, "data")
    assert s["both"].spec == PartitionSpec(None, "data")
    assert s["first"].spec == PartitionSpec("data")
    assert s["odd"].spec == PartitionSpec()
    assert s["small"].spec == PartitionSpec()
    placed = par.shard_params(params, mesh, min_size=1000)
    assert {sh.data.shape for sh in placed["first"].addressable_shards} == {(64, 40)}
    with pytest.raises(ValueError, match=r"fsdp_shardings: min_size must be a non-negative"):
        par.fsdp_shardings(params, mesh, min_size=-1)
    with pytest.raises(ValueError, match=r"fsdp_shardings: params has no array leaves"):
        par.fsdp_shardings({}, mesh)


def _mlp_problem(seed=0):
    rng = np.random.default_rng(seed)
    f32 = lambda *shape: rng.normal(size=shape).astype(np.float32)
    params = {"w1": 0.3 * f32(6, 64), "b1": 0.1 * f32(64), "w2": 0.3 * f32(64, 3),
              "b2": 0.1 * f32(3)}
    x = f32(32, 6)
    return params, (x, np.sin(x[:, :3]))


def _loss(p, batch):
    x, y = batch
    h = jnp.tanh(x @ p["w1"] + p["b1"][None])
    return jnp.mean((h @ p["w2"] + p["b2"][None] - y) ** 2)


@jax.jit
def _sgd_steps(p, batch):
    def step(p, _):
        g = jax.grad(_loss)(p, batch)
        return jax.tree.map(lambda a, b: a - 0.1 * b, p, g), None
    return jax.lax.scan(step, p, None, length=5)[0]


@pytest.mark.parametrize("placement", ["replicated", "fsdp"])
def test_data_parallel_steps_equal_single_device(mesh, placement):
    params, batch = _mlp_problem()
    ref = _sgd_steps(params, batch)
    if placement == "replicated":
        placed = par.replicate(params, mesh)
    else:
        placed = par.shard_params(params, mesh, min_size=256)
        assert placed["w1"].sharding.spec == PartitionSpec(None, "data")
    out = _sgd_steps(placed, par.shard_batch(batch, mesh))
    assert len(out["w1"].sharding.device_set) == N
    assert_trees_close(out, ref, rtol=2e-5, atol=2e-6)
    # The single-device reference itself against a numpy gradient of the first step.
    x, y = (np.asarray(a, np.float64) for a in batch)
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    h = np.tanh(x @ p["w1"] + p["b1"])
    r = 2 * (h @ p["w2"] + p["b2"] - y) / y.size
    g_w2 = h.T @ r
    g = jax.grad(_loss)(params, batch)
    np.testing.assert_allclose(np.asarray(g["w2"]), g_w2, rtol=1e-4, atol=1e-6)


def test_initialize_single_process_is_a_no_op():
    assert par.initialize() is False
    assert par.initialize(num_processes=1) is False
    assert jax.process_count() == 1
    # Joining a run after JAX has computed something cannot work; the message says why.
    with pytest.raises(RuntimeError, match=r"initialize: JAX has already run a computation .* "
                       r"Call jnn.parallel.initialize\(\) first thing"):
        par.initialize("localhost:12345", num_processes=2, process_id=0)


def test_docstring_examples_run():
    from jnn.parallel import _distributed, _fsdp, _mesh, _placement

    attempted = 0
    for module in (_mesh, _placement, _fsdp, _distributed):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted >= 12


def test_batchnorm_statistics_span_all_devices(mesh):
    """With the batch split over 8 devices, BatchNorm's training statistics are those of
    the whole global batch (the compiler all-reduces the moments), as on one device."""
    from jnn.layers import BatchNorm, Dense, Sequential

    model = Sequential([Dense(4), BatchNorm()])
    x = np.random.default_rng(3).normal(size=(32, 3)).astype(np.float32) * 2 + 1
    params, state = model.init(jax.random.key(0), x)
    apply = jax.jit(lambda p, s, x: model.apply(p, s, x, train=True))
    ref_y, ref_state = apply(params, state, x)
    y, new_state = apply(par.replicate(params, mesh), par.replicate(state, mesh),
                         par.shard_batch(x, mesh))
    assert y.sharding.spec == PartitionSpec("data")
    assert_trees_close((y, new_state), (ref_y, ref_state), rtol=1e-5, atol=1e-5)
    # Independent reference: per-feature statistics of the whole batch, in numpy.
    h = x @ np.asarray(params[0]["kernel"]) + np.asarray(params[0]["bias"])
    np.testing.assert_allclose(np.asarray(y).mean(0), np.zeros(4), atol=1e-5)
    np.testing.assert_allclose(np.asarray(y).std(0), np.ones(4), rtol=1e-3)
    assert not np.allclose(h.mean(0), h[:4].mean(0))  # one device's shard differs
