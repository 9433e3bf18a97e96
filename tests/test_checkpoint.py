"""Checkpoints: exact round trip, resume = uninterrupted, keep policies, atomicity, errors."""

import os
import subprocess
import sys
import textwrap
import threading

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close

import jnn
from jnn import losses
from jnn.layers import Dense, Sequential
from jnn.train import Checkpoint, Checkpointer, fit

MODEL = Sequential([Dense(8), jax.nn.relu, Dense(2)])


@pytest.fixture(scope="module")
def data():
    return jnn.data.spirals(jax.random.key(0), 64)


def init(data):
    params, state = MODEL.init(jax.random.key(1), data[0])
    optimizer = optax.adam(1e-2)
    return params, state, optimizer, optimizer.init(params)


def test_round_trip_is_exact_including_optimizer_state(tmp_path, data):
    params, state, optimizer, opt_state = init(data)
    params, state, opt_state, history = fit(MODEL, params, state, optimizer,
                                            losses.softmax_cross_entropy, data, epochs=2,
                                            batch_size=16, key=jax.random.key(2), verbose=0)
    with Checkpointer(tmp_path) as ckpt:  # closing waits for the asynchronous write
        ckpt.save(2, params, state, opt_state, history=history, metrics={"loss": 0.5})
    fresh = init(data)
    restored = Checkpointer(tmp_path).restore((fresh[0], fresh[1], fresh[3]))
    assert restored.step == 2
    assert_trees_close(restored.params, params, rtol=0, atol=0)
    assert_trees_close(restored.opt_state, opt_state, rtol=0, atol=0)
    assert jax.tree.structure(restored.opt_state) == jax.tree.structure(opt_state)
    np.testing.assert_array_equal(restored.history["loss"], history["loss"])


def test_resuming_continues_the_same_trajectory(tmp_path, data):
    params, state, optimizer, _ = init(data)
    kw = dict(batch_size=16, key=jax.random.key(3), verbose=0)
    straight = fit(MODEL, params, state, optimizer, losses.softmax_cross_entropy, data,
                   epochs=4, **kw)
    ckpt = Checkpointer(tmp_path, max_to_keep=5)
    fit(MODEL, params, state, optimizer, losses.softmax_cross_entropy, data, epochs=2,
        callbacks=[Checkpoint(ckpt)], **kw)
    # fit returns only when every asynchronous save is on disk: a second reader sees both.
    assert Checkpointer(tmp_path).steps() == [1, 2]
    fresh = init(data)
    r = ckpt.restore((fresh[0], fresh[1], fresh[3]))
    resumed = fit(MODEL, r.params, r.state, optimizer, losses.softmax_cross_entropy, data,
                  epochs=4, opt_state=r.opt_state, initial_epoch=r.step, history=r.history, **kw)
    assert_trees_close(resumed[0], straight[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(resumed[3]["loss"], straight[3]["loss"], rtol=1e-6)


def test_async_saves_of_donated_training_state_restore_exactly(tmp_path, data):
    """Each epoch's save runs in the background while fit donates the same buffers to
    the next epoch; every checkpoint must still hold exactly that epoch's values."""
    params, state, optimizer, _ = init(data)
    kw = dict(batch_size=16, key=jax.random.key(4), verbose=0)
    ckpt = Checkpointer(tmp_path / "async", max_to_keep=4)
    assert ckpt.async_save
    fit(MODEL, params, state, optimizer, losses.softmax_cross_entropy, data, epochs=3,
        callbacks=[Checkpoint(ckpt)], **kw)
    fresh = init(data)
    like = (fresh[0], fresh[1], fresh[3])
    for epochs in (1, 2, 3):
        expected = fit(MODEL, params, state, optimizer, losses.softmax_cross_entropy, data,
                       epochs=epochs, **kw)
        restored = ckpt.restore(like, step=epochs)
        assert_trees_close(restored.params, expected[0], rtol=0, atol=0)
        assert_trees_close(restored.opt_state, expected[2], rtol=0, atol=0)
        assert restored.history.epochs == epochs


def test_save_returns_before_the_write_and_wait_finishes_it(tmp_path):
    tree = ({"w": np.arange(6, dtype=np.float32)}, {}, ())
    ckpt = Checkpointer(tmp_path, max_to_keep=2)
    ckpt.save(1, *tree)
    ckpt.save(2, *tree)  # waits for step 1's write first
    ckpt.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2"]  # no temporary dirs
    with Checkpointer(tmp_path / "sync", async_save=False) as sync:
        sync.save(1, *tree)
        assert (tmp_path / "sync" / "1").is_dir()  # on disk when save returns
    ckpt.close()
    restored = Checkpointer(tmp_path).restore(({"w": np.zeros(6, np.float32)}, {}, ()))
    np.testing.assert_array_equal(restored.params["w"], np.arange(6))


def test_keeps_last_n_and_best(tmp_path):
    ckpt = Checkpointer(tmp_path, max_to_keep=2, best_metric="val_loss")
    tree = ({"w": np.ones(2, np.float32)}, {}, ())
    for step, val in enumerate([0.9, 0.1, 0.5, 0.7, 0.8], start=1):
        ckpt.save(step, *tree, metrics={"val_loss": val})
    assert ckpt.steps() == [2, 4, 5]
    assert ckpt.best_step() == 2


def test_interrupted_save_leaves_previous_checkpoint_loadable(tmp_path):
    ckpt = Checkpointer(tmp_path)
    good = ({"w": np.arange(3, dtype=np.float32)}, {}, ())
    ckpt.save(1, *good)
    ckpt.wait()
    # A save killed midway leaves only orbax's temporary directory behind.
    partial = tmp_path / "2.orbax-checkpoint-tmp-1234567"
    (partial / "train").mkdir(parents=True)
    (partial / "train" / "garbage").write_bytes(b"\x00" * 10)
    reopened = Checkpointer(tmp_path)
    assert reopened.steps() == [1]
    restored = reopened.restore(({"w": np.zeros(3, np.float32)}, {}, ()))
    np.testing.assert_array_equal(restored.params["w"], [0, 1, 2])


def test_never_pickles(tmp_path):
    Checkpointer(tmp_path).save(1, {"w": np.ones(2, np.float32)}, {}, ())
    for root, _, files in os.walk(tmp_path):
        for name in files:
            assert not name.endswith((".pkl", ".pickle"))
            with open(os.path.join(root, name), "rb") as f:
                assert not f.read(2).startswith(b"\x80\x04"), name  # pickle protocol header


def test_restore_errors_are_clear(tmp_path):
    ckpt = Checkpointer(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint in .*; save one first"):
        ckpt.restore(({}, {}, ()))
    ckpt.save(1, {"w": np.ones(2, np.float32)}, {}, ())
    with pytest.raises(FileNotFoundError, match=r"no checkpoint for step 7 .* available steps: \[1\]"):
        ckpt.restore(({}, {}, ()), step=7)
    with pytest.raises(ValueError, match=r"(?s)does not match the model.*saved:.*expected:.*"
                                         r"first differing leaves"):
        ckpt.restore(({"w": np.ones(3, np.float32)}, {}, ()))
    for bad in (20, "low", True):
        with pytest.raises(ValueError, match=r"background_priority must be 'idle' or an int "
                                             rf"from 0 .* to 19 .*; got {bad!r}"):
            Checkpointer(tmp_path / "c", background_priority=bad)
    with pytest.raises(TypeError, match=r"Checkpointer: pack must be True or False; got 'yes'"):
        Checkpointer(tmp_path / "p", pack="yes")
    with pytest.raises(ValueError, match=r"best_metric='val_loss' needs metrics"):
        Checkpointer(tmp_path / "b", best_metric="val_loss").save(1, {}, {}, ())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities: Linux")
def test_background_writes_run_at_low_priority_and_training_keeps_its_own(tmp_path):
    def priority_of_writes(checkpointer):
        write, seen = checkpointer._manager.save, []

        def spy(*args, **kwargs):
            seen.append((threading.current_thread() is threading.main_thread(),
                         os.sched_getscheduler(0) == os.SCHED_IDLE,
                         os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
            return write(*args, **kwargs)

        checkpointer._manager.save = spy
        checkpointer.save(1, {"w": np.ones(2, np.float32)}, {}, ())
        checkpointer.close()
        return seen

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    policy = os.sched_getscheduler(0)
    # Default: SCHED_IDLE (nice 19 where the kernel refuses it).
    [(main, idle, nice)] = priority_of_writes(Checkpointer(tmp_path / "idle"))
    assert not main and (idle or nice == 19)
    assert priority_of_writes(Checkpointer(tmp_path / "low", background_priority=19)) == [
        (False, False, 19)]
    assert priority_of_writes(Checkpointer(tmp_path / "normal", background_priority=0)) == [
        (False, False, before)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    assert os.sched_getscheduler(0) == policy


def test_a_failed_background_write_is_raised_by_the_next_call(tmp_path):
    ckpt = Checkpointer(tmp_path)

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    ckpt._manager.save = broken
    ckpt.save(1, {"w": np.ones(2, np.float32)}, {}, ())  # returns; the write fails later
    with pytest.raises(OSError, match="No space left") as info:
        ckpt.wait()
    if sys.version_info >= (3, 11):
        assert "background save of step 1" in " ".join(info.value.__notes__)
    ckpt.wait()  # raised once, then cleared
    ckpt.close()


def test_a_save_in_flight_when_python_exits_is_finished(tmp_path):
    script = textwrap.dedent(f"""
        import numpy as np
        from jnn.train import Checkpointer
        ckpt = Checkpointer({str(tmp_path)!r})
        ckpt.save(1, {{"w": np.ones(3, np.float32)}}, {{}}, ())
        ckpt.save(2, {{"w": np.full(3, 2.0, np.float32)}}, {{}}, ())  # still writing at exit
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    restored = Checkpointer(tmp_path).restore(({"w": np.zeros(3, np.float32)}, {}, ()))
    assert restored.step == 2
    np.testing.assert_array_equal(restored.params["w"], [2, 2, 2])


def test_snapshot_copies_every_array_where_it_lives():
    """save()'s private copy of a tree it does not pack: new buffers, the same devices
    and shardings, numpy arrays copied, other leaves kept."""
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from jnn.train._checkpoint import _snapshot

    mesh = jax.make_mesh((8,), ("data",))
    tree = {"split": jax.device_put(jnp.arange(16.0), NamedSharding(mesh, P("data"))),
            "replicated": jax.device_put(jnp.ones(3), NamedSharding(mesh, P())),
            "host": np.ones(2), "count": 3}
    copy = _snapshot(tree)
    for name in ("split", "replicated"):
        assert copy[name].sharding.is_equivalent_to(tree[name].sharding, 1)
        np.testing.assert_array_equal(copy[name], tree[name])
    assert isinstance(copy["host"], np.ndarray) and copy["host"] is not tree["host"]
    assert copy["count"] == 3
    mixed = {"x": jax.device_put(jnp.ones(2), jax.devices()[1]), "y": jnp.ones(2)}
    copy = _snapshot(mixed)
    assert copy["x"].devices() == {jax.devices()[1]} and copy["y"].devices() == {
        jax.devices()[0]}
    one = jnp.ones(4)
    assert _snapshot([one])[0].unsafe_buffer_pointer() != one.unsafe_buffer_pointer()


def saved_items(ckpt, step):
    """The arrays orbax holds for a step's training state: their paths."""
    tree = ckpt._manager.item_metadata(step)["train"]
    tree = getattr(tree, "tree", tree)
    return sorted("/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
                  for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0])


def test_packed_checkpoints_hold_one_array_per_dtype_and_restore_exactly(tmp_path, data):
    """The default packs every array of a dtype into one (orbax's cost is per array);
    bfloat16, int32 and float32 leaves, numpy and jax, come back bit for bit, each
    where `like` puts it; pack=False writes one array per leaf and restores the same."""
    params, state, optimizer, opt_state = init(data)
    params = {"net": params, "half": jnp.linspace(-2, 2, 5, dtype=jnp.bfloat16),
              "host": np.arange(4, dtype=np.int32)}
    opt_state = optimizer.init(params)
    tree = (params, state, opt_state)
    for pack, expected in ((True, ["packed/bfloat16", "packed/float32", "packed/int32"]),
                           (False, None)):
        with Checkpointer(tmp_path / str(pack), pack=pack) as ckpt:
            ckpt.save(3, *tree)
        items = saved_items(ckpt, 3)
        if expected is not None:
            assert items == expected
        else:
            assert len(items) == len(jax.tree.leaves(tree)) > 3
        like = jax.tree.map(jnp.zeros_like, tree)
        like[0]["host"] = np.zeros(4, np.int32)
        restored = Checkpointer(tmp_path / str(pack)).restore(like)
        got = (restored.params, restored.state, restored.opt_state)
        assert jax.tree.structure(got) == jax.tree.structure(tree)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(tree)):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert isinstance(restored.params["host"], np.ndarray)
        assert isinstance(restored.params["half"], jax.Array)


def test_trees_that_cannot_be_packed_are_saved_per_array(tmp_path):
    """A Python number among the leaves (or arrays on different devices) is saved one
    array per leaf, as pack=False does; a per-array checkpoint restores like any other."""
    tree = ({"w": np.ones(2, np.float32), "scale": 0.5}, {}, ())
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, *tree)
    assert saved_items(ckpt, 1) == ["params/scale", "params/w"]
    from jnn.train._packing import packable

    assert packable({"h": np.ones(2, jnp.bfloat16), "b": np.ones(2, bool), "i": np.ones(2, "i4")})
    for leaf in (np.array([None]), np.array(["text"]), np.ones(2, np.float64)):
        # objects and strings; float64 where JAX would make it float32 (x64 off)
        assert packable({"x": leaf}) == (leaf.dtype == np.float64 and jax.config.x64_enabled)
    split = ({"a": jax.device_put(jnp.ones(2), jax.devices()[1]), "b": jnp.zeros(3)}, {}, ())
    with Checkpointer(tmp_path / "split") as ckpt:
        ckpt.save(1, *split)
    assert saved_items(ckpt, 1) == ["params/a", "params/b"]
    restored = ckpt.restore(jax.tree.map(jnp.zeros_like, split))
    np.testing.assert_array_equal(restored.params["a"], [1, 1])
    # Split over devices: written shard by shard (packing would gather it on every
    # device); replicated over the same devices: packed.
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = jax.make_mesh((8,), ("data",))
    for spec, items in ((P("data"), ["params/a", "params/b"]), (P(), ["packed/float32"])):
        tree = ({"a": jax.device_put(jnp.arange(16.0), NamedSharding(mesh, spec)),
                 "b": jax.device_put(jnp.ones(3), NamedSharding(mesh, P()))}, {}, ())
        with Checkpointer(tmp_path / str(spec)) as ckpt:
            ckpt.save(1, *tree)
        assert saved_items(ckpt, 1) == items
        restored = ckpt.restore(tree)
        assert restored.params["a"].sharding.is_equivalent_to(tree[0]["a"].sharding, 1)
        np.testing.assert_array_equal(restored.params["a"], np.arange(16.0))


def test_a_corrupted_checkpoint_is_reported_with_the_steps_still_readable(tmp_path):
    tree = ({"w": np.arange(3, dtype=np.float32)}, {}, ())
    with Checkpointer(tmp_path, max_to_keep=3) as ckpt:
        ckpt.save(1, *tree)
        ckpt.save(2, *tree)
    for root, _, files in os.walk(tmp_path / "2" / "train"):
        for name in files:  # every data and metadata file of step 2's arrays
            with open(os.path.join(root, name), "wb") as f:
                f.write(b"not a checkpoint")
    ckpt = Checkpointer(tmp_path)
    like = ({"w": np.zeros(3, np.float32)}, {}, ())
    with pytest.raises(ValueError, match=r"checkpoint at step 2 in .* could not be read "
                                         r"\(.*\); it may be corrupted. Earlier steps: \[1\]"):
        ckpt.restore(like)
    np.testing.assert_array_equal(ckpt.restore(like, step=1).params["w"], [0, 1, 2])
