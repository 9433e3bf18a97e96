"""Data parallelism in fit/evaluate on a mesh of 8 CPU devices, and sharded checkpoints."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jnn
from jnn import losses
from jnn.layers import BatchNorm, Conv, Dense, Flatten, Sequential
from jnn.train import Checkpointer, evaluate, fit

MLP = Sequential([Dense(16), jax.nn.relu, Dense(2)])
ADAM, SGD = optax.adam(1e-2), optax.sgd(0.1)  # shared, so compiled epochs are reused
CNN = Sequential([Conv(4, (3, 3)), BatchNorm(momentum=0.9), jax.nn.relu, Flatten(), Dense(3)])


def mesh_of(shape, names, count=None):
    devices = np.array(jax.devices()[: count or int(np.prod(shape))]).reshape(shape)
    return Mesh(devices, names)


@pytest.fixture(scope="module")
def spirals():
    return jnn.data.spirals(jax.random.key(0), 128)


def test_eight_devices_are_available():
    assert jax.device_count() == 8


def run_fit(model, data, mesh, optimizer=None, **kw):
    params, state = model.init(jax.random.key(1), data[0][:2])
    optimizer = ADAM if optimizer is None else optimizer
    return fit(model, params, state, optimizer, losses.softmax_cross_entropy, data,
               epochs=2, batch_size=32, key=jax.random.key(2), verbose=0, mesh=mesh, **kw)


def test_data_parallel_fit_equals_single_device_fit_mlp(spirals):
    single = run_fit(MLP, spirals, None)
    parallel = run_fit(MLP, spirals, mesh_of((8,), ("data",)))
    assert_trees_close(parallel[0], single[0], rtol=1e-5, atol=1e-6)
    assert_trees_close(parallel[2], single[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(parallel[3]["loss"], single[3]["loss"], rtol=1e-5)
    # Params come back replicated over the whole mesh.
    kernel = parallel[0][0]["kernel"]
    assert len(kernel.sharding.device_set) == 8 and kernel.sharding.is_fully_replicated


def test_data_parallel_cnn_with_batchnorm_uses_global_batch_statistics():
    x = jax.random.normal(jax.random.key(3), (64, 6, 6, 1))
    y = jax.random.randint(jax.random.key(4), (64,), 0, 3)
    # SGD, not Adam: the conv bias before BatchNorm has a zero gradient, and Adam would
    # blow its rounding noise up to full-size steps.
    single = run_fit(CNN, (x, y), None, SGD)
    parallel = run_fit(CNN, (x, y), mesh_of((8,), ("data",)), SGD)
    # Per-device statistics (4 examples each) would give different running stats.
    assert_trees_close(parallel[1], single[1], rtol=1e-5, atol=1e-6)
    assert_trees_close(parallel[0], single[0], rtol=1e-4, atol=1e-5)
    mesh = mesh_of((8,), ("data",))
    kw = dict(batch_size=16, metrics=["accuracy"])
    on_mesh = evaluate(CNN, parallel[0], parallel[1], losses.softmax_cross_entropy, (x, y),
                       mesh=mesh, **kw)
    alone = evaluate(CNN, parallel[0], parallel[1], losses.softmax_cross_entropy, (x, y), **kw)
    np.testing.assert_allclose(on_mesh["loss"], alone["loss"], rtol=1e-5)
    assert on_mesh["accuracy"] == alone["accuracy"]


def test_two_dimensional_mesh_splits_the_batch_over_the_data_axis_only(spirals):
    single = run_fit(MLP, spirals, None, val_data=spirals)
    # jax.make_mesh gives Explicit axes (the other tests use Auto ones).
    mesh = jax.make_mesh((4, 2), ("data", "model"))
    parallel = run_fit(MLP, spirals, mesh, val_data=spirals)
    assert_trees_close(parallel[0], single[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(parallel[3]["val_loss"], single[3]["val_loss"], rtol=1e-5)


def test_mesh_errors_are_clear(spirals):
    params, state = MLP.init(jax.random.key(1), spirals[0])
    args = (MLP, params, state, ADAM, losses.softmax_cross_entropy, spirals)
    kw = dict(epochs=1, key=jax.random.key(0), verbose=0)
    mesh = mesh_of((8,), ("data",))
    # The shared checks of jnn.parallel, naming fit's own arguments.
    with pytest.raises(ValueError, match=r"fit: batch_size=30 is not divisible by the 8 devices "
                                         r"on mesh axis 'data'; use a multiple of 8, e.g. "
                                         r"batch_size=24 or 32\."):
        fit(*args, batch_size=30, mesh=mesh, **kw)
    with pytest.raises(ValueError, match=r"fit: mesh has no axis 'batch'; its axes are "
                                         r"\('data', 'model'\)\. Pass data_axis= one of those"):
        fit(*args, batch_size=32, mesh=mesh_of((4, 2), ("data", "model")), data_axis="batch",
            **kw)
    with pytest.raises(TypeError, match=r"fit: mesh must be a jax.sharding.Mesh; got list\. "
                                        r"Build one with jnn.parallel.data_mesh\(\)"):
        fit(*args, batch_size=32, mesh=jax.devices(), **kw)
    with pytest.raises(ValueError, match=r"evaluate: batch_size=12 is not divisible by the 8"):
        evaluate(MLP, params, state, losses.softmax_cross_entropy, spirals, batch_size=12,
                 mesh=mesh)


def sharded_state(mesh):
    """A replicated small tree plus a 'big' kernel whose first axis is split over 8
    devices (FSDP-style), and an Adam state for it."""
    params = {"big": jnp.arange(64 * 3, dtype=jnp.float32).reshape(64, 3),
              "bias": jnp.linspace(-1.0, 1.0, 3)}
    opt_state = optax.adam(1e-3).init(params)
    fsdp = NamedSharding(mesh, P("data"))
    params = {"big": jax.device_put(params["big"], fsdp),
              "bias": jax.device_put(params["bias"], NamedSharding(mesh, P()))}
    return params, {}, jax.device_put(opt_state, NamedSharding(mesh, P()))


@pytest.mark.parametrize("pack", [True, False])
def test_sharded_checkpoints_restore_on_other_device_counts(tmp_path, pack):
    mesh8 = mesh_of((8,), ("data",))
    saved = sharded_state(mesh8)
    assert len(saved[0]["big"].sharding.device_set) == 8
    assert saved[0]["big"].addressable_shards[0].data.shape == (8, 3)
    with Checkpointer(tmp_path, pack=pack) as ckpt:
        ckpt.save(1, *saved)
    ckpt = Checkpointer(tmp_path)
    like = jax.tree.map(np.zeros_like, saved)
    mesh2 = mesh_of((2,), ("data",))
    on_two = ckpt.restore(like, mesh=mesh2)  # replicated over 2 devices
    assert on_two.params["big"].sharding == NamedSharding(mesh2, P())
    fsdp2 = jax.tree.map(lambda _: NamedSharding(mesh2, P()), like)
    fsdp2[0]["big"] = NamedSharding(mesh2, P("data"))
    split = ckpt.restore(like, shardings=fsdp2)
    assert split.params["big"].addressable_shards[0].data.shape == (32, 3)
    one = ckpt.restore(like, shardings=jax.sharding.SingleDeviceSharding(jax.devices()[0]))
    assert one.params["big"].sharding.device_set == {jax.devices()[0]}
    for restored in (on_two, split, one):
        assert_trees_close((restored.params, restored.opt_state), (saved[0], saved[2]),
                           rtol=0, atol=0)


def test_mismatched_sharding_requests_are_clear(tmp_path):
    mesh8 = mesh_of((8,), ("data",))
    saved = sharded_state(mesh8)
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, *saved)
    like = jax.tree.map(np.zeros_like, saved)
    ckpt = Checkpointer(tmp_path)
    with pytest.raises(ValueError, match=r"(?s)shardings does not match the structure of like"
                                         r".*shardings:.*like:"):
        ckpt.restore(like, shardings=({"big": NamedSharding(mesh8, P())}, {}, ()))
    odd = jax.tree.map(lambda _: NamedSharding(mesh8, P()), like)
    odd[2][0].mu["bias"] = NamedSharding(mesh8, P("data"))
    with pytest.raises(ValueError, match=r"opt_state/0/mu/bias with shape \(3,\) cannot be "
                                         r"split by NamedSharding.*not divisible"):
        ckpt.restore(like, shardings=odd)
    with pytest.raises(ValueError, match=r"pass mesh or shardings, not both"):
        ckpt.restore(like, mesh=mesh8, shardings=odd)
    with pytest.raises(TypeError, match=r"mesh must be a jax.sharding.Mesh"):
        ckpt.restore(like, mesh="data")




def _loss_scaled_sgd(learning_rate):
    """An optimizer that calls the loss (fit's ``value_fn``): SGD steps times the loss."""

    def update(grads, state, params=None, *, value_fn, **extra):
        step = learning_rate * value_fn(params)
        return jax.tree.map(lambda g: -step * g, grads), state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update)


LOSS_SGD = _loss_scaled_sgd(0.5)
CNN_SYNCED = Sequential([Conv(4, (3, 3)), BatchNorm(momentum=0.9, axis_name="data"), jax.nn.relu,
                         Flatten(), Dense(3)])


def test_shard_map_fit_equals_single_device_fit(spirals):
    single = run_fit(MLP, spirals, None)
    local = run_fit(MLP, spirals, mesh_of((8,), ("data",)), parallel="shard_map")
    assert_trees_close(local[0], single[0], rtol=1e-5, atol=1e-6)
    assert_trees_close(local[2], single[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(local[3]["loss"], single[3]["loss"], rtol=1e-5)
    assert local[0][0]["kernel"].sharding.is_fully_replicated
    # An optimizer that calls the loss (value_fn, averaged over the shards too, as for
    # L-BFGS's line search), and a metric, on a 2-D mesh with Explicit axes (make_mesh's).
    kw = dict(metrics=["accuracy"])
    single = run_fit(MLP, spirals, None, LOSS_SGD, **kw)
    local = run_fit(MLP, spirals, jax.make_mesh((4, 2), ("data", "model")), LOSS_SGD,
                    parallel="shard_map", **kw)
    assert_trees_close(local[0], single[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(local[3]["loss"], single[3]["loss"], rtol=1e-5)
    np.testing.assert_allclose(local[3]["accuracy"], single[3]["accuracy"], rtol=1e-6)


def test_shard_map_fit_with_synced_batchnorm_keeps_global_statistics():
    x = jax.random.normal(jax.random.key(3), (64, 6, 6, 1))
    y = jax.random.randint(jax.random.key(4), (64,), 0, 3)
    mesh = mesh_of((8,), ("data",))
    # BatchNorm(axis_name="data") averages its statistics over the shards: the result
    # equals the default (GSPMD) mesh fit, whose statistics are global.
    gspmd = run_fit(CNN, (x, y), mesh, SGD)
    local = run_fit(CNN_SYNCED, (x, y), mesh, SGD, parallel="shard_map")
    assert_trees_close(local[1], gspmd[1], rtol=1e-5, atol=1e-6)
    assert_trees_close(local[0], gspmd[0], rtol=1e-4, atol=1e-5)
    # Per-shard statistics would silently change training: refused, naming the entry.
    with pytest.raises(ValueError, match=r"fit: parallel='shard_map' .* state entry \[1\]"
                                         r"\['mean'\] depends on that shard alone.* "
                                         r"BatchNorm\(axis_name='data'\)"):
        run_fit(CNN, (x, y), mesh, SGD, parallel="shard_map")


def test_parallel_errors_are_clear(spirals):
    with pytest.raises(ValueError, match=r"fit: parallel='shard_map' runs the step on a mesh; "
                                         r"pass mesh=jnn.parallel.data_mesh\(\)"):
        run_fit(MLP, spirals, None, parallel="shard_map")
    with pytest.raises(ValueError, match=r"fit: parallel must be 'sharding' or 'shard_map'; "
                                         r"got 'pmap'"):
        run_fit(MLP, spirals, mesh_of((8,), ("data",)), parallel="pmap")
