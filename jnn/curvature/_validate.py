"""Argument checks for the curvature tools (static: they run at trace time, never per step)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import same_structure

MATRIX_FREE_HINT = (
    "Use the matrix-free tools instead: jnn.curvature.hvp / hvp_operator for products, "
    "top_eigenvalues / smallest_eigenvalues for the spectrum's edges, hessian_diag or "
    "diag_hutchinson for the diagonal, trace and spectral_density for global statistics"
)


def check_params(where: str, params: Any) -> None:
    """Refuse empty trees and non-floating leaves (derivatives need floats)."""
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError(
            f"{where}: params has no array leaves (got {params!r}); pass the parameter "
            "pytree the loss differentiates, e.g. the params returned by layer.init."
        )
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{where}: params leaf {jax.tree_util.keystr(path) or '<root>'} has dtype {dtype}; "
                "curvature needs floating parameters. Cast it, e.g. "
                "jax.tree.map(lambda p: p.astype(jnp.float32), params)."
            )


def check_scalar_output(where: str, name: str, fn, *args) -> jax.ShapeDtypeStruct:
    """``fn(*args)`` must return a floating scalar; checked abstractly with ``jax.eval_shape``."""
    out = jax.eval_shape(fn, *args)
    if not isinstance(out, jax.ShapeDtypeStruct):
        raise TypeError(
            f"{where}: {name} must return a scalar array; it returned a "
            f"{type(out).__name__} with structure {jax.tree.structure(out)}. If it returns "
            f"(value, aux), pass lambda *a: {name}(*a)[0]."
        )
    if out.shape != ():
        raise ValueError(
            f"{where}: {name} must return a scalar; it returned shape {out.shape} "
            f"({out.dtype}). Reduce the per-example values, e.g. return jnp.mean(losses)."
        )
    if not jnp.issubdtype(out.dtype, jnp.inexact):
        raise TypeError(
            f"{where}: {name} returned dtype {out.dtype}; a floating scalar is needed to "
            "differentiate it."
        )
    return out


def check_loss(where: str, loss, params, batch) -> None:
    """The usual check of a ``loss(params, batch) -> scalar`` at ``params``."""
    if not callable(loss):
        raise TypeError(
            f"{where}: loss must be a function loss(params, batch) -> scalar; got "
            f"{type(loss).__name__}."
        )
    check_params(where, params)
    check_scalar_output(where, "loss", loss, params, batch)


def check_like(where: str, name: str, v: Any, params_name: str, params: Any) -> None:
    """``v`` must have the tree structure and leaf shapes of ``params``."""
    same_structure(where, name, v, params_name, params)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(v), jax.tree.leaves(params)):
        if jnp.shape(a) != jnp.shape(b):
            raise ValueError(
                f"{where}: {name} leaf {jax.tree_util.keystr(path) or '<root>'} has shape "
                f"{jnp.shape(a)} but the matching {params_name} leaf has shape {jnp.shape(b)}; "
                f"{name} must be shaped like {params_name} (e.g. build it with "
                f"jax.tree.map(jnp.zeros_like, {params_name}))."
            )


def check_operator(where: str, matvec, params) -> None:
    """``matvec`` must map a params-shaped tree to a params-shaped tree."""
    if not callable(matvec):
        raise TypeError(
            f"{where}: matvec must be a function v -> A v on params-shaped trees (e.g. "
            f"jnn.curvature.hvp_operator(loss, params, batch)); got {type(matvec).__name__}."
        )
    check_params(where, params)
    out = jax.eval_shape(matvec, params)
    sa, sb = jax.tree.structure(out), jax.tree.structure(params)
    shapes_out = [o.shape for o in jax.tree.leaves(out)]
    shapes_in = [jnp.shape(p) for p in jax.tree.leaves(params)]
    if sa != sb or shapes_out != shapes_in:
        raise ValueError(
            f"{where}: matvec(v) must return a tree shaped like params.\n"
            f"  matvec(v): {sa} with leaf shapes {shapes_out}\n"
            f"  params:    {sb} with leaf shapes {shapes_in}"
        )


def is_traced(*trees: Any) -> bool:
    return any(isinstance(x, jax.core.Tracer) for t in trees for x in jax.tree.leaves(t))


def all_finite(tree: Any) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def raise_if_not_finite(where: str, what: str, flag: Any) -> None:
    """Outside ``jit``, turn a False finiteness flag into a ``ValueError``; under ``jit``, nothing.

    Under ``jit`` the flag is returned to the caller instead (values cannot raise there).
    """
    if isinstance(flag, jax.core.Tracer):
        return
    if not bool(np.asarray(flag)):
        raise ValueError(
            f"{where}: {what} contains nan or inf. The loss or its derivatives are not finite "
            "at these params (check loss(params, batch), the inputs and the learning rate). "
            "Under jax.jit this is reported as finite=False instead of raising."
        )
