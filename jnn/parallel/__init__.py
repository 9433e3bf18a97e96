"""Data parallelism over every device with ``jax.sharding``: meshes, placement, FSDP, multi-host.

jnn adds no runtime of its own: a :class:`jax.sharding.Mesh` names the devices, a
``NamedSharding`` says how each array is split over them, and ``jax.jit`` compiles one
program for all of them (XLA inserts the all-reduce of a data-parallel gradient).

- :func:`data_mesh`: a 1-D mesh over all devices (all hosts' after :func:`initialize`).
- :func:`replicate` / :func:`replicated`: a full copy on every device (params, opt state).
- :func:`shard_batch` / :func:`batch_sharding`: the batch split along the mesh axis.
- :func:`shard_params` / :func:`fsdp_shardings`: large params split too (FSDP).
- :func:`check_mesh` / :func:`check_divisible`: the checks every ``mesh=`` argument uses.

Training on a mesh is ``jnn.train.fit(..., mesh=mesh)`` (one global program, XLA places the
gradient all-reduce, BatchNorm statistics global) or ``fit(..., mesh=mesh,
parallel="shard_map")`` (each device differentiates its shard, one ``pmean``; BatchNorm
needs ``axis_name="data"``).
"""

from ._distributed import initialize as initialize
from ._fsdp import fsdp_shardings as fsdp_shardings
from ._fsdp import shard_params as shard_params
from ._mesh import check_divisible as check_divisible
from ._mesh import check_mesh as check_mesh
from ._mesh import data_mesh as data_mesh
from ._placement import batch_sharding as batch_sharding
from ._placement import replicate as replicate
from ._placement import replicated as replicated
from ._placement import shard_batch as shard_batch
