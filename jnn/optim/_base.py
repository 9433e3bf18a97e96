"""Shared pieces of jnn's optimizers: hyperparameter checks, tree checks, decay masks.

Hyperparameter checks run at construction on concrete numbers. Values that cannot be
checked in Python (a tracer under ``optax.inject_hyperparams``, or a schedule) pass
through unchanged, so every optimizer keeps working under ``inject_hyperparams``.
Tree checks compare tree *structures*, which are static: under ``jit`` they run once,
at trace time, and cost nothing in the compiled step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jnn import _checks

# The default of ``mask`` in the optimizers with decoupled weight decay.
AUTO_MASK = "auto"


def check_learning_rate(where: str, learning_rate: Any, name: str = "learning_rate") -> Any:
    """``learning_rate`` if it is a positive number, a schedule or a tracer."""
    return _checks.number_in_range(
        where,
        name,
        learning_rate,
        0.0,
        None,
        low_inclusive=False,
        fix=f"Pass a positive step size such as {name}=1e-3, or a schedule (step -> size).",
    )


def check_decay(where: str, name: str, value: Any, typical: str) -> Any:
    """``value`` if it is a decay rate in [0, 1)."""
    fix = f"A decay rate is at least 0 and below 1; a typical choice is {name}={typical}."
    dtype = getattr(value, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize < 4:
        fix += (
            f" {name} arrived as a {jnp.dtype(dtype).name} array, in which rates near 1 round "
            "to 1.0: under optax.inject_hyperparams pass hyperparam_dtype=jnp.float32."
        )
    return _checks.number_in_range(
        where, name, value, 0.0, 1.0, high_inclusive=False, fix=fix
    )


def check_positive(where: str, name: str, value: Any, typical: str) -> Any:
    """``value`` if it is > 0 (``eps``, step-size bounds)."""
    return _checks.number_in_range(
        where,
        name,
        value,
        0.0,
        None,
        low_inclusive=False,
        fix=f"It must be strictly positive; a typical choice is {name}={typical}.",
    )


def check_nonnegative(where: str, name: str, value: Any, typical: str) -> Any:
    """``value`` if it is >= 0 (weight decay, initial accumulators, ``eps_root``)."""
    return _checks.number_in_range(
        where, name, value, 0.0, None, fix=f"It must be >= 0; a typical choice is {name}={typical}."
    )


def check_choice(where: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{where}: {name} must be one of {listed}; got {value!r}.")
    return value


def check_trees(where: str, updates: Any, params: Any = None, state_tree: Any = None) -> None:
    """Raise ``ValueError`` printing both structures when the trees of a step disagree.

    ``updates`` (the gradients) must have the structure of ``params`` (when given) and of
    ``state_tree`` (a per-parameter tree held in the optimizer state, when given).
    """
    su = jax.tree.structure(updates)
    if params is not None:
        sp = jax.tree.structure(params)
        if sp != su:
            raise ValueError(
                f"{where}: updates and params must have the same tree structure.\n"
                f"  updates: {su}\n  params:  {sp}\n"
                "Pass the gradient of the loss with respect to these params, "
                "e.g. grads = jax.grad(loss)(params)."
            )
    if state_tree is not None:
        ss = jax.tree.structure(state_tree)
        if ss != su:
            raise ValueError(
                f"{where}: updates and the optimizer state must have the same tree structure.\n"
                f"  updates: {su}\n  state:   {ss}\n"
                "The state was built by init() for a different params tree; "
                "call state = opt.init(params) with the params you are training."
            )


def learning_rate_at(learning_rate: Any, count: jax.Array) -> Any:
    """The step size at step ``count`` (``learning_rate`` may be a schedule)."""
    return learning_rate(count) if callable(learning_rate) else learning_rate


def weights_mask(params: Any) -> Any:
    """Mask selecting weight matrices and kernels: ``True`` for leaves with ``ndim >= 2``.

    Biases and normalization scales/offsets (``ndim <= 1``) get ``False``, the usual
    choice for weight decay (Loshchilov & Hutter, 2019).

    Example:
        >>> import jax.numpy as jnp
        >>> weights_mask({"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)})
        {'bias': False, 'kernel': True}
    """
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def resolve_mask(where: str, mask: Any) -> Any:
    """Turn jnn's ``mask`` argument into what ``optax.add_decayed_weights`` takes.

    ``"auto"`` -> :func:`weights_mask`; ``None`` -> every leaf; a tree of bools or a
    callable ``params -> tree of bools`` passes through.
    """
    if isinstance(mask, str):
        if mask != AUTO_MASK:
            raise ValueError(
                f"{where}: mask must be 'auto', None, a tree of bools or a function "
                f"params -> tree of bools; got {mask!r}."
            )
        return weights_mask
    return mask


def decoupled_weight_decay(
    where: str, weight_decay: Any, mask: Any
) -> optax.GradientTransformation:
    """``u <- u + λ θ`` on the leaves selected by ``mask`` (optax's transformation)."""
    check_nonnegative(where, "weight_decay", weight_decay, "1e-4")
    return optax.add_decayed_weights(weight_decay, resolve_mask(where, mask))


MaskOrFn = Any | Callable[[Any], Any] | None
