"""A tree's arrays stored as one array per dtype, for checkpoints.

Orbax spends about 2 ms of CPU per saved array (opening its tensorstore files), more
than writing the data for a model's few dozen arrays, and ~40 ms in all for an MLP and
its Adam state. Concatenated into one flat array per dtype (with each leaf's path,
dtype, shape and offset in the checkpoint's JSON), a save writes one or two arrays. The
concatenation is one compiled call, which is also the private copy an asynchronous save
needs.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def path_name(path: tuple) -> str:
    """``"params/0/kernel"`` for a key path; lists, tuples and NamedTuples read alike."""
    keys = []
    for k in path:
        if isinstance(k, jax.tree_util.SequenceKey):
            keys.append(str(k.idx))
        elif isinstance(k, jax.tree_util.DictKey):
            keys.append(str(k.key))
        elif isinstance(k, jax.tree_util.GetAttrKey):
            keys.append(k.name)
        else:
            keys.append(str(getattr(k, "idx", k)))
    return "/".join(keys)


def packable(tree: Any) -> bool:
    """Whether ``pack`` applies: one process, every leaf an array whose dtype JAX keeps as
    it is (numpy, or jax: whole on each of its devices, all on one set of devices), and
    distinct leaf paths. A sharded array is not packed: concatenating it would gather
    all of it onto every device."""
    if jax.process_count() != 1:
        return False  # arrays split over hosts are written shard by shard by orbax
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    if not flat or len({path_name(p) for p, _ in flat}) != len(flat):
        return False
    devices = set()
    for _, leaf in flat:
        if isinstance(leaf, jax.Array):
            if not leaf.sharding.is_fully_replicated:
                return False
            devices.add(frozenset(leaf.sharding.device_set))
        elif not (isinstance(leaf, np.ndarray)
                  and (jnp.issubdtype(leaf.dtype, jnp.number) or leaf.dtype == np.bool_)
                  and jax.dtypes.canonicalize_dtype(leaf.dtype) == leaf.dtype):
            return False
    return len(devices) <= 1


@jax.jit
def _concatenate(groups: dict[str, list]) -> dict[str, jax.Array]:
    return {dtype: jnp.concatenate([jnp.ravel(a) for a in arrays])
            for dtype, arrays in groups.items()}


def pack(tree: Any) -> tuple[dict[str, jax.Array], dict[str, Any]]:
    """``({dtype: flat array}, layout)``; ``layout`` is JSON: the tree's structure (for
    error messages) and, per leaf, its path, dtype, shape and offset in its flat array."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    groups: dict[str, list] = {}
    sizes: dict[str, int] = {}  # elements so far in each dtype's flat array
    leaves = []
    for path, leaf in flat:
        dtype = str(np.dtype(leaf.dtype))
        leaves.append({"path": path_name(path), "dtype": dtype,
                       "shape": [int(d) for d in np.shape(leaf)],
                       "offset": sizes.get(dtype, 0)})
        sizes[dtype] = sizes.get(dtype, 0) + math.prod(np.shape(leaf))
        groups.setdefault(dtype, []).append(leaf)
    return _concatenate(groups), {"structure": str(treedef), "leaves": leaves}


def leaf_paths(layout: dict[str, Any]) -> list[tuple[str, tuple, str]]:
    """(path, shape, dtype) of every packed leaf, sorted by path."""
    return sorted((e["path"], tuple(e["shape"]), e["dtype"]) for e in layout["leaves"])


def unpack(arrays: dict[str, np.ndarray], layout: dict[str, Any], like: Any) -> Any:
    """The tree shaped like ``like`` (its leaves matched by path, already checked), each
    leaf where ``like``'s is: numpy for numpy, the same sharding for a jax array or a
    ``jax.ShapeDtypeStruct`` with one, the default device otherwise."""
    by_path = {e["path"]: e for e in layout["leaves"]}
    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    out = []
    for path, target in flat:
        entry = by_path[path_name(path)]
        start, shape = entry["offset"], tuple(entry["shape"])
        host = np.asarray(arrays[entry["dtype"]])[start:start + math.prod(shape)].reshape(shape)
        sharding = getattr(target, "sharding", None)
        if isinstance(target, np.ndarray):
            out.append(host.copy())  # not a view that keeps the whole flat array alive
        elif sharding is None:
            out.append(jnp.asarray(host))
        else:
            out.append(jax.make_array_from_callback(shape, sharding, lambda i, h=host: h[i]))
    return jax.tree.unflatten(treedef, out)
