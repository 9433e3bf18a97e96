"""Argument checks for the landscape tools (static: they run in Python before compiling)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import is_concrete_number

DIRECTION_HINT = (
    "Build directions from the params themselves, e.g. "
    "jnn.landscape.filter_normalized_direction(key, params)"
)


def keystr(path) -> str:
    return jax.tree_util.keystr(path) or "<root>"


def check_loss_fn(where: str, loss: Any, name: str = "loss") -> None:
    if not callable(loss):
        raise TypeError(
            f"{where}: {name} must be a function {name}(params, batch) -> scalar; got "
            f"{type(loss).__name__}. Build one from a model with jnn.objective(model, loss, state)."
        )


def check_params(where: str, params: Any, name: str = "params") -> None:
    """Refuse empty trees and non-floating leaves."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    if not leaves:
        raise ValueError(
            f"{where}: {name} has no array leaves (got {params!r}); pass the parameter pytree "
            "the loss takes, e.g. the params returned by model.init."
        )
    for path, leaf in leaves:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{where}: {name} leaf {keystr(path)} has dtype {dtype}; landscapes need "
                "floating parameters. Cast it, e.g. "
                "jax.tree.map(lambda p: p.astype(jnp.float32), params)."
            )


def check_like(where: str, name: str, tree: Any, ref_name: str, ref: Any) -> None:
    """``tree`` must have the structure and leaf shapes of ``ref``; both are printed if not."""
    sa, sb = jax.tree.structure(tree), jax.tree.structure(ref)
    if sa != sb:
        raise ValueError(
            f"{where}: {name} must have the same tree structure as {ref_name}.\n"
            f"  {name}: {sa}\n  {ref_name}: {sb}\n{DIRECTION_HINT}."
        )
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(tree), jax.tree.leaves(ref)):
        if jnp.shape(a) != jnp.shape(b):
            raise ValueError(
                f"{where}: {name} leaf {keystr(path)} has shape {jnp.shape(a)} but the "
                f"matching {ref_name} leaf has shape {jnp.shape(b)}; {name} must be shaped "
                f"like {ref_name}. {DIRECTION_HINT}."
            )


def check_grid(where: str, name: str, values: Any) -> jax.Array:
    """A non-empty, finite, strictly increasing 1-D grid of coordinates."""
    if isinstance(values, jax.core.Tracer):
        if values.ndim != 1 or values.shape[0] == 0:
            raise ValueError(f"{where}: {name} must be a non-empty 1-D array; got shape "
                             f"{values.shape}.")
        return values
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(
            f"{where}: {name} must be a 1-D array of coordinates; got shape {arr.shape}. "
            f"Use e.g. {name}=jnp.linspace(-1, 1, 51)."
        )
    if arr.size == 0:
        raise ValueError(
            f"{where}: {name} is empty; the grid needs at least one point. "
            f"Use e.g. {name}=jnp.linspace(-1, 1, 51)."
        )
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{where}: {name} must hold real numbers; got dtype {arr.dtype}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {name} contains nan or inf at positions "
                         f"{np.flatnonzero(~np.isfinite(arr)).tolist()}; pass finite coordinates.")
    steps = np.diff(arr)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(
            f"{where}: {name} must be strictly increasing; {name}[{i}]={arr[i].item()!r} is "
            f"followed by {name}[{i + 1}]={arr[i + 1].item()!r}. Sort it and drop repeats: "
            f"np.unique({name})."
        )
    return jnp.asarray(arr)


def resolve_metrics(where: str, metrics: Any, signature: str) -> tuple[tuple[str, Callable], ...]:
    """``((name, fn), ...)`` from None, a callable, a sequence of callables or a dict."""
    if metrics is None:
        return ()
    if callable(metrics):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
    elif isinstance(metrics, Sequence) and not isinstance(metrics, str):
        items = [(getattr(m, "__name__", f"metric{i}"), m) for i, m in enumerate(metrics)]
    else:
        raise TypeError(
            f"{where}: metrics must be a dict {{name: {signature}}} or a list of such "
            f"functions; got {type(metrics).__name__}."
        )
    names = set()
    for name, fn in items:
        if not isinstance(name, str):
            raise TypeError(f"{where}: metric names must be strings; got {name!r}.")
        if name == "loss" or name in names:
            raise ValueError(
                f"{where}: metric name {name!r} is used twice (or is 'loss', which is always "
                "computed); pass metrics as a dict with distinct names."
            )
        if not callable(fn):
            raise TypeError(f"{where}: metric {name!r} must be a function {signature}; got "
                            f"{type(fn).__name__}.")
        names.add(name)
    return tuple(items)


def check_minibatches(where: str, batch: Any, weights: Any) -> tuple[int, Any]:
    """Stacked minibatches share a leading axis; returns ``(num_batches, weights)``."""
    leaves = jax.tree.leaves(batch)
    if not leaves:
        raise ValueError(
            f"{where}: batch has no arrays; with minibatches=True pass the data stacked as "
            "(num_batches, batch_size, ...), e.g. x.reshape(8, -1, *x.shape[1:])."
        )
    sizes = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            f"{where}: with minibatches=True every leaf of batch must have the same leading "
            f"(num_batches) axis; got leaf shapes {[jnp.shape(x) for x in leaves]}."
        )
    (n,) = sizes
    if n == 0:
        raise ValueError(f"{where}: batch holds 0 minibatches; pass at least one.")
    if weights is None:
        dtype = jnp.result_type(float)
        return n, jnp.ones((n,), dtype)
    w = jnp.asarray(weights)
    if w.shape != (n,):
        raise ValueError(f"{where}: weights must have shape ({n},), one per minibatch; got "
                         f"{w.shape}. Use e.g. the number of real examples in each minibatch.")
    if not isinstance(w, jax.core.Tracer):
        wn = np.asarray(w, dtype=float)
        if np.any(~np.isfinite(wn)) or np.any(wn < 0) or wn.sum() <= 0:
            raise ValueError(f"{where}: weights must be finite, >= 0 and not all 0; got {wn}.")
    return n, w.astype(jnp.result_type(w.dtype, jnp.float32))


def check_scalar(where: str, name: str, out: Any) -> None:
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != ():
        shape = getattr(out, "shape", None)
        desc = f"shape {shape}" if shape is not None else f"structure {jax.tree.structure(out)}"
        raise ValueError(
            f"{where}: {name} must return a scalar; it returned {desc}. Reduce per-example "
            "values, e.g. return jnp.mean(losses)."
        )


def number(where: str, name: str, value: Any) -> float:
    if not is_concrete_number(value):
        raise TypeError(f"{where}: {name} must be a number; got {value!r}.")
    return float(value)
