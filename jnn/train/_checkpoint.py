"""Checkpoints with orbax: atomic, asynchronous, keep-last-N and keep-best,
structure-checked, restorable onto any device layout, no pickle."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from jnn import _checks
from jnn.train import _packing
from jnn.train._callbacks import Callback
from jnn.train._history import History
from jnn.train._packing import path_name


@dataclasses.dataclass
class Restored:
    """What :meth:`Checkpointer.restore` returns."""

    params: Any
    state: Any
    opt_state: Any
    step: int
    history: History
    metrics: dict[str, float]


def _leaf_paths(tree: Any) -> list[tuple[str, tuple, str]]:
    """(path, shape, dtype) of every leaf; lists, tuples and NamedTuples compare alike."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return sorted((path_name(path), tuple(np.shape(leaf)), str(np.dtype(leaf.dtype)))
                  for path, leaf in flat)


def _sharded_target(where: str, target: dict, like: tuple, mesh: Any, shardings: Any) -> dict:
    """``target`` as ShapeDtypeStructs placed by ``shardings`` (one Sharding for every
    leaf, or a tree of them shaped like ``like``), or replicated over ``mesh``."""
    if mesh is not None and shardings is not None:
        raise ValueError(f"{where}: pass mesh or shardings, not both; mesh replicates every "
                         f"array over the mesh, shardings places each leaf.")
    if mesh is not None:
        if not isinstance(mesh, jax.sharding.Mesh):
            raise TypeError(f"{where}: mesh must be a jax.sharding.Mesh; got "
                            f"{type(mesh).__name__}.")
        shardings = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    is_sharding = lambda s: isinstance(s, jax.sharding.Sharding)  # noqa: E731
    if is_sharding(shardings):
        shardings = jax.tree.map(lambda _: shardings, tuple(like))
    want = jax.tree.structure(tuple(like))
    got = jax.tree.structure(tuple(shardings) if isinstance(shardings, list) else shardings,
                             is_leaf=is_sharding)
    if want != got:
        raise ValueError(f"{where}: shardings does not match the structure of like; give one "
                         f"Sharding per array (or a single Sharding for all).\n"
                         f"  shardings: {got}\n  like:      {want}")
    placed = dict(zip(("params", "state", "opt_state"), tuple(shardings)))
    flat, treedef = jax.tree_util.tree_flatten_with_path(target)
    out = []
    for (path, leaf), sharding in zip(flat, jax.tree.leaves(placed, is_leaf=is_sharding)):
        shape = tuple(np.shape(leaf))
        try:
            sharding.shard_shape(shape)
        except Exception as error:  # jax raises its own IndivisibleError / ValueError
            raise ValueError(
                f"{where}: {path_name(path)} with shape {shape} cannot be split by "
                f"{sharding}: an array axis is not divisible by its mesh axes ({error}). "
                f"Shard that leaf over fewer devices or replicate it (PartitionSpec()).") from error
        out.append(jax.ShapeDtypeStruct(shape, np.dtype(leaf.dtype), sharding=sharding))
    return jax.tree.unflatten(treedef, out)


def _lower_priority(priority: int | str) -> None:
    """Run the calling thread, and the threads it starts, below normal CPU priority:
    ``"idle"`` is Linux's ``SCHED_IDLE`` (nice 19 where that is refused), an int that many
    ``nice`` steps; elsewhere than Linux, or if refused, unchanged.

    A checkpoint written at normal priority takes cores from XLA's compute threads and
    slows training by about its own CPU time; at low priority it runs in the gaps
    training leaves (between kernels, while the host handles an epoch's end) and only
    takes longer itself. ``SCHED_IDLE`` gives way at once when a compute thread wakes up,
    where a nice-19 thread may keep the core a while: per-epoch saves cost about 5% of a
    0.46 s epoch instead of 8.5% (``benchmarks/bench_fit.py``).
    """
    if not priority or not sys.platform.startswith("linux"):
        return
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread
            return
        except (OSError, AttributeError):
            priority = 19
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid,
                       min(19, os.getpriority(os.PRIO_PROCESS, tid) + priority))
    except OSError:
        pass


def _snapshot(tree: Any) -> Any:
    """A private copy of every array in ``tree``, made where the array lives (device and
    sharding kept): ``fit`` donates, i.e. overwrites, the originals in the next epoch
    while the copy is still being written. (Packed saves need none: packing copies.)"""
    return jax.tree.map(
        lambda leaf: leaf.copy() if isinstance(leaf, (jax.Array, np.ndarray)) else leaf, tree)


_live_writers: weakref.WeakSet = weakref.WeakSet()
_exit_hook: list = []  # holds the hook once registered


def _finish_writes_at_exit() -> None:
    """Finish every background write when the main thread ends, before Python's shutdown
    stops accepting work in thread pools (orbax's writes need them)."""
    for writer in list(_live_writers):
        try:
            writer.wait()
        except Exception:
            traceback.print_exc()


def _register_for_exit(writer: _Writer) -> None:
    # threading's exit hooks run last-registered first, so this one (registered after
    # concurrent.futures') runs while thread pools still take work; atexit would be late.
    if not _exit_hook and hasattr(threading, "_register_atexit"):
        try:
            threading._register_atexit(_finish_writes_at_exit)
            _exit_hook.append(_finish_writes_at_exit)
        except RuntimeError:  # already shutting down
            pass
    _live_writers.add(writer)


class _Writer:
    """Runs the saves of one Checkpointer one at a time: inline, or in one background
    thread at low CPU priority; errors of a background save surface at the next
    ``save``/``wait``/``close``."""

    def __init__(self, manager: ocp.CheckpointManager, background: bool,
                 priority: int | str):
        self.manager = manager
        self.executor = (concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="jnn-checkpoint", initializer=_lower_priority,
            initargs=(priority,)) if background else None)
        self.pending: tuple[int, concurrent.futures.Future] | None = None
        if background:
            _register_for_exit(self)

    def submit(self, step: int, write: Callable[[], None]) -> None:
        self.wait()
        if self.executor is None:
            write()
        else:
            self.pending = (step, self.executor.submit(write))

    def wait(self) -> None:
        if self.pending is None:
            return
        (step, future), self.pending = self.pending, None
        try:
            future.result()
        except Exception as error:
            if hasattr(error, "add_note"):
                error.add_note(f"Checkpointer: raised by the background save of step {step}.")
            raise

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self.executor is not None:  # never joins itself (a finalizer may run here)
                self.executor.shutdown(wait=not threading.current_thread().name.startswith(
                    "jnn-checkpoint"))
            self.manager.close()


class Checkpointer:
    """Save and restore training state in a directory, one sub-directory per step.

    Each save is written to a temporary directory and renamed into place when complete
    (orbax's atomic commit), so a crash mid-save never touches earlier checkpoints.
    Arrays are stored with tensorstore (by default those of each dtype concatenated into
    one, see ``pack``) and the history as JSON: nothing is pickled.
    The ``max_to_keep`` most recent checkpoints are kept, plus the best one by
    ``best_metric`` when it is given.

    Saves are asynchronous by default (``async_save=True``): :meth:`save` copies the
    arrays where they live (a device-to-device copy, so ``fit`` may donate the originals
    to the next epoch) and returns; orbax then writes the copy in one background thread
    that runs at low CPU priority, so the write uses cores that training leaves idle
    rather than slowing it (on a machine whose cores other processes keep busy it then
    takes longer, and the next save may wait for it; ``background_priority=0`` writes at
    normal priority). The next :meth:`save`, every read (:meth:`steps`,
    :meth:`restore`, ...), :meth:`wait`, :meth:`close` and the end of ``fit`` with the
    :class:`Checkpoint` callback wait for the write in flight, so what they see is
    complete; an error of a background write is raised there. The copy holds as much
    device memory as the saved arrays until it is written. Sharded arrays are saved as
    they are (each host writes its shards) and :meth:`restore` can place them onto a
    different mesh or device count.

    Args:
        directory: where the checkpoints go (created if needed), one sub-directory per
            step.
        max_to_keep: how many of the most recent checkpoints to keep.
        best_metric: also keep the best checkpoint by this key of ``save``'s ``metrics``
            (e.g. ``"val_loss"``); ``best_mode`` ``"min"`` or ``"max"`` says which is best.
        async_save: return from :meth:`save` before the files are written.
        background_priority: the background writer's CPU priority (Linux; ignored
            elsewhere): ``"idle"`` (the default, ``SCHED_IDLE``: it runs only on a core
            nothing else wants) or how many ``nice`` steps (0-19) below normal.
        pack: store the arrays of each dtype as one flat array (their paths, shapes and
            offsets in the checkpoint's JSON): orbax's fixed cost per array, ~2 ms of
            CPU, is then paid once or twice instead of once per array, halving a
            typical save's CPU time. Used when every leaf is an array of this process,
            all on one set of devices and none split over them; otherwise (sharded
            arrays: each device writes its shards), or with ``False``, one orbax array
            per leaf. Either kind restores the same way.

    Example:
        >>> import tempfile, jax.numpy as jnp
        >>> ckpt = Checkpointer(tempfile.mkdtemp(), max_to_keep=2)
        >>> ckpt.save(1, {"w": jnp.ones(2)}, {}, ())
        >>> ckpt.restore(({"w": jnp.zeros(2)}, {}, ())).params["w"].tolist()
        [1.0, 1.0]
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int = 3,
                 best_metric: str | None = None, best_mode: str = "min",
                 async_save: bool = True, background_priority: int | str = "idle",
                 pack: bool = True):
        if best_mode not in ("min", "max"):
            raise ValueError(f"Checkpointer: best_mode must be 'min' or 'max'; got {best_mode!r}.")
        _checks.positive_int("Checkpointer", "max_to_keep", max_to_keep)
        if background_priority != "idle" and (
                isinstance(background_priority, bool) or not isinstance(background_priority, int)
                or not 0 <= background_priority <= 19):
            raise ValueError(f"Checkpointer: background_priority must be 'idle' or an int "
                             f"from 0 (normal priority) to 19 (lowest nice); got "
                             f"{background_priority!r}.")
        self.directory = os.path.abspath(os.fspath(directory))
        self.best_metric = best_metric
        if not isinstance(pack, bool):
            raise TypeError(f"Checkpointer: pack must be True or False; got {pack!r}.")
        self.pack = pack
        keep = [policies.LatestN(n=max_to_keep)]
        if best_metric is not None:
            keep.append(policies.BestN(get_metric_fn=lambda m: m[best_metric],
                                       reverse=best_mode == "min", n=1))
        options = ocp.CheckpointManagerOptions(
            preservation_policy=policies.AnyPreservationPolicy(keep),
            best_fn=(lambda m: m[best_metric]) if best_metric is not None else None,
            best_mode=best_mode,
            # The background thread of _Writer makes saves asynchronous; orbax's own
            # asynchronous mode would run at normal priority, competing with training.
            enable_async_checkpointing=False,
        )
        self._manager = ocp.CheckpointManager(
            self.directory, options=options,
            # Uncompressed: zstd gains little on trained float weights and costs CPU.
            item_handlers={"train": ocp.PyTreeCheckpointHandler(use_compression=False),
                           "meta": ocp.JsonCheckpointHandler()})
        self._writer = _Writer(self._manager, bool(async_save), background_priority)
        # Finish a write in flight when the Checkpointer is dropped or Python exits, so a
        # background write is never cut off by interpreter shutdown.
        self._finalizer = weakref.finalize(self, self._writer.close)

    @property
    def async_save(self) -> bool:
        """Whether :meth:`save` returns before the files are written."""
        return self._writer.executor is not None

    def wait(self) -> None:
        """Block until the save in flight (if any) is complete on disk; raise its error."""
        self._writer.wait()

    def close(self) -> None:
        """Finish the save in flight and release orbax's resources."""
        self._finalizer()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def save(self, step: int, params: Any, state: Any, opt_state: Any, *,
             history: History | None = None, metrics: dict[str, float] | None = None) -> None:
        """Write a checkpoint for ``step`` (an int such as the epoch).

        With ``async_save`` it waits for the previous save, copies the arrays and
        returns; the caller may then donate or change them.
        """
        if self.best_metric is not None and (metrics is None or self.best_metric not in metrics):
            raise ValueError(
                f"Checkpointer.save: best_metric={self.best_metric!r} needs metrics with that "
                f"key; got {sorted(metrics or {})}."
            )
        # Copies: an asynchronous save serializes them later, while fit appends to history.
        meta = {"history": ({k: [float(v) for v in values] for k, values in
                             history.metrics.items()} if history is not None else {}),
                "stop_reason": history.stop_reason if history is not None else None,
                "metrics": {k: float(v) for k, v in (metrics or {}).items()}}
        train = {"params": params, "state": state, "opt_state": opt_state}
        # write() must not hold self: the Checkpointer's finalizer would then run in
        # the writer thread.
        step, manager = int(step), self._manager
        # Metrics (one more file per step) only where keep-best needs them.
        metrics = meta["metrics"] if self.best_metric is not None else None
        self._writer.wait()
        if self.pack and _packing.packable(train):
            # One flat array per dtype: a new copy, so nothing to snapshot.
            packed, meta["packed"] = _packing.pack(train)
            train = {"packed": packed}
        elif self.async_save:
            train = _snapshot(train)

        def write():
            manager.save(step, metrics=metrics, force=True, args=ocp.args.Composite(
                train=ocp.args.PyTreeSave(train), meta=ocp.args.JsonSave(meta)))

        self._writer.submit(step, write)

    def _unreadable(self, where: str, step: int, error: Exception) -> ValueError:
        return ValueError(
            f"{where}: the checkpoint at step {step} in {self.directory} could not be read "
            f"({type(error).__name__}: {error}); it may be corrupted. Earlier steps: "
            f"{[s for s in self.steps() if s != step]}.")

    def steps(self) -> list[int]:
        """The steps that have a complete checkpoint, oldest first."""
        self.wait()
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        self.wait()
        return self._manager.latest_step()

    def best_step(self) -> int | None:
        self.wait()
        return self._manager.best_step() if self.best_metric is not None else None

    def restore(self, like: tuple[Any, Any, Any], step: int | None = None, *,
                mesh: jax.sharding.Mesh | None = None, shardings: Any = None) -> Restored:
        """Restore ``(params, state, opt_state)`` shaped like ``like`` from ``step``.

        ``like`` is a ``(params, state, opt_state)`` triple of the same structure as
        what was saved (for instance fresh ``model.init`` params and
        ``optimizer.init(params)``); a different structure is refused with both printed.

        The arrays land where ``like``'s arrays are, unless ``mesh`` (replicate every
        array over that mesh, as data-parallel ``fit`` expects) or ``shardings`` (one
        ``jax.sharding.Sharding`` for all, or a tree of them shaped like ``like``, e.g.
        ``NamedSharding(mesh, P("data"))`` for a kernel split over devices) is given.
        The device count may differ from the one that saved: a checkpoint written from
        8 devices restores onto 2, or onto one.
        """
        where = "Checkpointer.restore"
        if step is None:
            step = self.latest_step()
            if step is None:
                raise FileNotFoundError(
                    f"{where}: no checkpoint in {self.directory}; save one first, or check "
                    f"the directory.")
        elif step not in self.steps():
            raise FileNotFoundError(
                f"{where}: no checkpoint for step {step} in {self.directory}; available "
                f"steps: {self.steps()}.")
        if not (isinstance(like, (tuple, list)) and len(like) == 3):
            raise TypeError(f"{where}: like must be a (params, state, opt_state) triple.")
        target = {"params": like[0], "state": like[1], "opt_state": like[2]}
        if mesh is not None or shardings is not None:
            target = _sharded_target(where, target, like, mesh, shardings)
        try:
            meta = self._manager.restore(step, args=ocp.args.Composite(
                meta=ocp.args.JsonRestore()))["meta"]
            layout = meta.get("packed")
            if layout is None:
                saved = self._manager.item_metadata(step)["train"]
                saved = getattr(saved, "tree", saved)
                saved_paths, saved_structure = _leaf_paths(saved), jax.tree.structure(saved)
            else:
                saved_paths, saved_structure = _packing.leaf_paths(layout), layout["structure"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise self._unreadable(where, step, error) from error
        if saved_paths != _leaf_paths(target):
            mine = {p: (s, d) for p, s, d in _leaf_paths(target)}
            theirs = {p: (s, d) for p, s, d in saved_paths}
            diff = sorted(set(mine.items()) ^ set(theirs.items()))[:6]
            raise ValueError(
                f"{where}: the checkpoint at step {step} does not match the model.\n"
                f"  saved:    {saved_structure}\n"
                f"  expected: {jax.tree.structure(target)}\n"
                f"  first differing leaves (path, (shape, dtype)): {diff}\n"
                f"Build `like` from the same model and optimizer that wrote the checkpoint.")
        try:
            if layout is None:
                train = self._manager.restore(step, args=ocp.args.Composite(
                    train=ocp.args.PyTreeRestore(
                        target,
                        restore_args=ocp.checkpoint_utils.construct_restore_args(target))))
                train = train["train"]
            else:
                as_numpy = {"packed": {e["dtype"]: ocp.RestoreArgs(restore_type=np.ndarray)
                                       for e in layout["leaves"]}}
                packed = self._manager.restore(step, args=ocp.args.Composite(
                    train=ocp.args.PyTreeRestore(restore_args=as_numpy)))["train"]["packed"]
                train = _packing.unpack(packed, layout, target)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise self._unreadable(where, step, error) from error
        history = History(metrics={k: list(v) for k, v in meta["history"].items()},
                          stop_reason=meta.get("stop_reason"))
        return Restored(train["params"], train["state"], train["opt_state"], int(step),
                        history, dict(meta.get("metrics", {})))


class Checkpoint(Callback):
    """A ``fit`` callback that saves every ``every`` epochs (step = epochs completed).

    With an asynchronous :class:`Checkpointer` the files are written while the next
    epochs train; when ``fit`` returns, every save has finished.
    """

    def __init__(self, checkpointer: Checkpointer, *, every: int = 1):
        self.checkpointer = checkpointer
        self.every = _checks.positive_int("Checkpoint", "every", every)

    def on_epoch_end(self, epoch, logs, ctx):
        if (epoch + 1) % self.every == 0:
            self.checkpointer.save(epoch + 1, ctx.params, ctx.state, ctx.opt_state,
                                   history=ctx.history, metrics=logs)

    def on_train_end(self, ctx):
        self.checkpointer.wait()
