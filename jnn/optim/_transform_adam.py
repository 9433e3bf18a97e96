"""Blocks of the Adam family: Adam, NAdam, AMSGrad, Lion and Adam-mini.

Same conventions as :mod:`jnn.optim._transform`. The math, defaults, references and
the places where jnn differs from optax or PyTorch are in the docstrings of the
user-facing optimizers (:func:`jnn.optim.adam` and friends).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jnn.optim import _base


def _dtype_or_none(dtype: Any) -> Any:
    return None if dtype is None else jnp.dtype(dtype)


def _check_adam_hyperparameters(where: str, b1: Any, b2: Any, eps: Any, eps_root: Any) -> None:
    _base.check_decay(where, "b1", b1, "0.9")
    _base.check_decay(where, "b2", b2, "0.999")
    _base.check_positive(where, "eps", eps, "1e-8")
    _base.check_nonnegative(where, "eps_root", eps_root, "0.0")


def _keep_mu_dtype(mu: Any, state_mu: Any) -> Any:
    return optax.tree.cast_like(mu, state_mu)


class ScaleByAdamState(NamedTuple):
    """Step counter and the first (``mu``) and second (``nu``) moment estimates."""

    count: jax.Array  # int32 scalar
    mu: optax.Updates
    nu: optax.Updates


def scale_by_adam(
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam scaling (Kingma & Ba 2015, Algorithm 1): output ``m̂ / (√v̂ + ε)``.

    See :func:`jnn.optim.adam`.

    Args:
        b1: ``β₁`` in [0, 1).
        b2: ``β₂`` in [0, 1).
        eps: ``ε`` > 0 outside the square root.
        eps_root: ``ε̄`` >= 0 inside the square root.
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_adam"
    _check_adam_hyperparameters(where, b1, b2, eps, eps_root)
    mu_dtype = _dtype_or_none(mu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params, dtype=mu_dtype),
            nu=optax.tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.nu)
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)
        mu_hat = optax.tree.bias_correction(mu, b1, count)
        nu_hat = optax.tree.bias_correction(nu, b2, count)
        new = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        mu = _keep_mu_dtype(mu, state.mu)
        nu = optax.tree.cast_like(nu, state.nu)
        return optax.tree.cast_like(new, updates), ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByNadamState(NamedTuple):
    """Adam's state plus the running product ``Π μ_i`` of the momentum schedule."""

    count: jax.Array  # int32 scalar
    mu: optax.Updates
    nu: optax.Updates
    mu_product: jax.Array  # float scalar; stays 1 without a momentum schedule


def scale_by_nadam(
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    momentum_decay: ArrayLike | None = None,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """NAdam scaling (Dozat 2016), with or without the momentum schedule ``μ_t``.

    See :func:`jnn.optim.nadam`.

    Args:
        b1: ``β₁`` in [0, 1).
        b2: ``β₂`` in [0, 1).
        eps: ``ε`` > 0 outside the square root.
        eps_root: ``ε̄`` >= 0 inside the square root.
        momentum_decay: ``ψ`` of the schedule ``μ_t = β₁(1 - ½·0.96^{tψ})`` (the paper
            uses 0.004); ``None`` keeps ``μ_t = β₁`` (optax's form).
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_nadam"
    _check_adam_hyperparameters(where, b1, b2, eps, eps_root)
    if momentum_decay is not None:
        _base.check_nonnegative(where, "momentum_decay", momentum_decay, "0.004")
    mu_dtype = _dtype_or_none(mu_dtype)

    def init_fn(params):
        product_dtype = jnp.promote_types(optax.tree.dtype(params, "highest"), jnp.float32)
        return ScaleByNadamState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params, dtype=mu_dtype),
            nu=optax.tree.zeros_like(params),
            mu_product=jnp.ones([], product_dtype),
        )

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.nu)
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)
        if momentum_decay is None:
            # μ_t = β₁ for all t, so Π_{i≤t} μ_i = β₁^t (optax's and Keras' simplification).
            mu_hat = jax.tree.map(
                lambda m, g: b1 * m + (1 - b1) * g,
                optax.tree.bias_correction(mu, b1, optax.safe_increment(count)),
                optax.tree.bias_correction(updates, b1, count),
            )
            mu_product = state.mu_product
        else:
            dtype = state.mu_product.dtype
            t = count.astype(dtype)
            mu_t = (b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))).astype(dtype)
            mu_next = (b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))).astype(dtype)
            mu_product = state.mu_product * mu_t
            coef_g = (1 - mu_t) / (1 - mu_product)
            coef_m = mu_next / (1 - mu_product * mu_next)
            mu_hat = jax.tree.map(
                lambda m, g: coef_m.astype(m.dtype) * m + coef_g.astype(g.dtype) * g,
                mu,
                updates,
            )
        nu_hat = optax.tree.bias_correction(nu, b2, count)
        new = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        new_state = ScaleByNadamState(
            count=count,
            mu=_keep_mu_dtype(mu, state.mu),
            nu=optax.tree.cast_like(nu, state.nu),
            mu_product=mu_product,
        )
        return optax.tree.cast_like(new, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByAmsgradState(NamedTuple):
    """Adam's state plus the running maximum ``v̂`` of the second moment."""

    count: jax.Array  # int32 scalar
    mu: optax.Updates
    nu: optax.Updates
    nu_max: optax.Updates


def scale_by_amsgrad(
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    mu_dtype: Any = None,
    bias_correction: bool = True,
) -> optax.GradientTransformation:
    """AMSGrad scaling (Reddi et al. 2018): Adam with ``v̂ <- max(v̂, v)``.

    See :func:`jnn.optim.amsgrad`.

    Args:
        b1: ``β₁`` in [0, 1).
        b2: ``β₂`` in [0, 1).
        eps: ``ε`` > 0 outside the square root.
        eps_root: ``ε̄`` >= 0 inside the square root.
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.
        bias_correction: bias-correct ``m`` and ``v`` before the maximum (optax);
            ``False`` follows the paper's Algorithm 2 (no correction).

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_amsgrad"
    _check_adam_hyperparameters(where, b1, b2, eps, eps_root)
    mu_dtype = _dtype_or_none(mu_dtype)

    def init_fn(params):
        return ScaleByAmsgradState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params, dtype=mu_dtype),
            nu=optax.tree.zeros_like(params),
            nu_max=optax.tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.nu)
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)
        if bias_correction:
            mu_hat = optax.tree.bias_correction(mu, b1, count)
            nu_hat = optax.tree.bias_correction(nu, b2, count)
        else:
            mu_hat, nu_hat = mu, nu
        nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu_hat)
        nu_max = optax.tree.cast_like(nu_max, state.nu_max)
        new = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_max)
        new_state = ScaleByAmsgradState(
            count=count,
            mu=_keep_mu_dtype(mu, state.mu),
            nu=optax.tree.cast_like(nu, state.nu),
            nu_max=nu_max,
        )
        return optax.tree.cast_like(new, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByLionState(NamedTuple):
    """Momentum ``m``."""

    mu: optax.Updates


def scale_by_lion(
    b1: ArrayLike = 0.9, b2: ArrayLike = 0.99, mu_dtype: Any = None
) -> optax.GradientTransformation:
    """Lion scaling (Chen et al. 2023): output ``sign(β₁ m + (1-β₁) g)``.

    See :func:`jnn.optim.lion`.

    Args:
        b1: interpolation ``β₁`` in [0, 1) for the update direction.
        b2: decay ``β₂`` in [0, 1) of the momentum.
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_lion"
    _base.check_decay(where, "b1", b1, "0.9")
    _base.check_decay(where, "b2", b2, "0.99")
    mu_dtype = _dtype_or_none(mu_dtype)

    def init_fn(params):
        return ScaleByLionState(optax.tree.zeros_like(params, dtype=mu_dtype))

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.mu)
        new = jax.tree.map(lambda g, m: jnp.sign((1 - b1) * g + b1 * m), updates, state.mu)
        mu = optax.tree.update_moment(updates, state.mu, b2, 1)
        return optax.tree.cast_like(new, updates), ScaleByLionState(_keep_mu_dtype(mu, state.mu))

    return optax.GradientTransformation(init_fn, update_fn)


def block_axes(x: Any) -> tuple[int, ...]:
    """Axes that Adam-mini averages over: all but the last (output) axis, or all of a vector.

    A Dense kernel ``(in, out)`` or a convolution kernel ``(kh, kw, in, out)`` gets one
    block per output unit; a bias, a normalization scale or a scalar is one block.
    """
    ndim = jnp.ndim(x)
    return tuple(range(ndim - 1)) if ndim >= 2 else tuple(range(ndim))


def _block_zeros(p: jax.Array) -> jax.Array:
    shape = tuple(1 if i in block_axes(p) else n for i, n in enumerate(jnp.shape(p)))
    return jnp.zeros(shape, jnp.result_type(p))


def scale_by_adam_mini(
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam-mini scaling (Zhang et al. 2024): one second moment per parameter block.

    ``v_b <- β₂ v_b + (1-β₂) mean_{i∈b}(g_i²)``; output ``m̂ / (√v̂_b + ε)``. Blocks are
    given by :func:`block_axes`. See :func:`jnn.optim.adam_mini`.

    Args:
        b1: ``β₁`` in [0, 1).
        b2: ``β₂`` in [0, 1).
        eps: ``ε`` > 0 outside the square root.
        mu_dtype: dtype of ``m``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformation``; ``nu`` leaves have size 1 along the
        averaged axes (e.g. ``(1, out)`` for a Dense kernel).
    """
    where = "jnn.optim.scale_by_adam_mini"
    _check_adam_hyperparameters(where, b1, b2, eps, 0.0)
    mu_dtype = _dtype_or_none(mu_dtype)

    def init_fn(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params, dtype=mu_dtype),
            nu=jax.tree.map(_block_zeros, params),
        )

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.nu)
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = jax.tree.map(
            lambda g, v: (1 - b2) * jnp.mean(g * g, axis=block_axes(g), keepdims=True) + b2 * v,
            updates,
            state.nu,
        )
        count = optax.safe_increment(state.count)
        mu_hat = optax.tree.bias_correction(mu, b1, count)
        nu_hat = optax.tree.bias_correction(nu, b2, count)
        new = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), mu_hat, nu_hat)
        new_state = ScaleByAdamState(
            count=count,
            mu=_keep_mu_dtype(mu, state.mu),
            nu=optax.tree.cast_like(nu, state.nu),
        )
        return optax.tree.cast_like(new, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)
