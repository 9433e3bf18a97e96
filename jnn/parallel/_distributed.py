"""Joining the processes of a multi-host run (a TPU pod slice, a GPU cluster) into one JAX."""

from __future__ import annotations

import os
from typing import Any

import jax

BEFORE_COMPUTE_MSG = (
    "initialize: JAX has already run a computation (or listed devices) in this process, so "
    "it can no longer join a multi-process run. Call jnn.parallel.initialize() first thing "
    "in the program, right after the imports and before any jax or jnn call."
)


def _cluster_detected(method: str | None) -> bool:
    """Whether JAX's automatic cluster detection (TPU pod, Slurm, Open MPI, ...) finds a job."""
    try:
        from jax._src import clusters  # JAX's own detection; private, so guarded
    except Exception:  # pragma: no cover - a JAX without it: let JAX decide
        return True
    try:
        envs = clusters.ClusterEnv._cluster_types
        if method is not None:
            return any(e.name == method for e in envs)
        return any(not e.opt_in_only_method and e.is_env_present() for e in envs)
    except Exception:  # pragma: no cover
        return True


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs: Any) -> bool:
    """Join this process to a multi-host JAX run; a no-op on a single machine.

    A thin wrapper of :func:`jax.distributed.initialize`. After it, ``jax.devices()`` lists
    the devices of every process, so :func:`data_mesh` spans the whole pod or cluster,
    and every process runs the *same* program on its own part of the data (JAX's
    multi-controller model): each process loads ``1 / jax.process_count()`` of every global
    batch and :func:`shard_batch` assembles the global array. On a TPU pod slice, Slurm,
    Open MPI or Kubernetes JAX finds all arguments itself; elsewhere pass the three
    arguments. With a single process (a laptop, one GPU, a Colab TPU with its 8 cores on one
    host) there is nothing to join: it returns ``False`` and does nothing, so the same
    script runs everywhere.

    Multi-host recipe (the same script on every host)::

        import jax, jnn, jnn.parallel
        jnn.parallel.initialize()              # first line: before any JAX computation
        # GPU cluster without Slurm/MPI, on each host i of N:
        # jnn.parallel.initialize("10.0.0.1:1234", num_processes=N, process_id=i)
        mesh = jnn.parallel.data_mesh()        # every device of every host
        params = jnn.parallel.replicate(params, mesh)
        for x, y in my_loader(shard=jax.process_index(), num_shards=jax.process_count()):
            batch = jnn.parallel.shard_batch((x, y), mesh)   # this host's part of the batch
            params, opt_state = step(params, opt_state, batch)

    On a TPU pod slice run it on every worker, e.g.
    ``gcloud compute tpus tpu-vm ssh NAME --worker=all --command="python train.py"``;
    on Slurm, ``srun python train.py`` (one process per host or per GPU).

    Args:
      coordinator_address: ``"host:port"`` of process 0, reachable from every process;
        ``None`` to detect it (TPU pods, Slurm, Open MPI) or to read
        ``JAX_COORDINATOR_ADDRESS``.
      num_processes: the number of processes; ``1`` makes this a no-op.
      process_id: this process's index in ``0 .. num_processes - 1``.
      **kwargs: passed to :func:`jax.distributed.initialize` (``local_device_ids``,
        ``cluster_detection_method``, ``initialization_timeout``, ...).

    Returns:
      ``True`` when this process is part of a multi-process run (now or already),
      ``False`` for a single process (nothing was done).

    Raises:
      RuntimeError: JAX already computed something in this process (the fix: call it first).

    Example:
      >>> import jnn.parallel
      >>> jnn.parallel.initialize()          # one machine: nothing to join
      False

    References:
      JAX documentation, "Multi-host and multi-process environments".
      https://docs.jax.dev/en/latest/multi_process.html
    """
    if jax.distributed.is_initialized():
        return True
    if num_processes == 1:
        return False
    explicit = (coordinator_address is not None or num_processes is not None
                or process_id is not None or bool(os.environ.get("JAX_COORDINATOR_ADDRESS")))
    if not explicit and not _cluster_detected(kwargs.get("cluster_detection_method")):
        return False
    try:
        jax.distributed.initialize(coordinator_address, num_processes, process_id, **kwargs)
    except RuntimeError as e:
        if "must be called before" in str(e):
            raise RuntimeError(BEFORE_COMPUTE_MSG) from e
        raise
    return True
