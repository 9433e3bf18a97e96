"""Blocks with per-parameter step sizes: Adagrad, RMSProp, Adadelta and Rprop.

Same conventions as :mod:`jnn.optim._transform`: ``NamedTuple`` states, ``init_fn`` /
``update_fn`` closures, dtypes kept. The math, defaults and references are in the
docstrings of the user-facing optimizers (:func:`jnn.optim.adagrad` and friends).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jnn.optim import _base


class ScaleByAdagradState(NamedTuple):
    """Running sum ``r`` of squared gradients."""

    sum_of_squares: optax.Updates


def scale_by_adagrad(
    eps: ArrayLike = 1e-7,
    initial_accumulator_value: ArrayLike = 0.0,
    eps_in_sqrt: bool = False,
) -> optax.GradientTransformation:
    """Adagrad scaling: ``r <- r + g⊙g``; output ``g / (δ + √r)`` (or ``g / √(r + δ)``).

    See :func:`jnn.optim.adagrad`.

    Args:
        eps: ``δ`` > 0.
        initial_accumulator_value: starting value of ``r`` (>= 0).
        eps_in_sqrt: put ``δ`` inside the square root (optax's placement).

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_adagrad"
    _base.check_positive(where, "eps", eps, "1e-7")
    _base.check_nonnegative(where, "initial_accumulator_value", initial_accumulator_value, "0.0")

    def init_fn(params):
        return ScaleByAdagradState(optax.tree.full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.sum_of_squares)
        r = jax.tree.map(lambda g, s: g * g + s, updates, state.sum_of_squares)
        r = optax.tree.cast_like(r, state.sum_of_squares)
        if eps_in_sqrt:
            new = jax.tree.map(lambda g, s: jax.lax.rsqrt(s + eps) * g, updates, r)
        else:
            new = jax.tree.map(lambda g, s: g / (eps + jnp.sqrt(s)), updates, r)
        return optax.tree.cast_like(new, updates), ScaleByAdagradState(r)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByRmsState(NamedTuple):
    """Exponential moving average ``r`` of squared gradients."""

    nu: optax.Updates


class ScaleByCenteredRmsState(NamedTuple):
    """Moving averages of gradients (``mu``) and of squared gradients (``nu``)."""

    mu: optax.Updates
    nu: optax.Updates


def scale_by_rms(
    decay: ArrayLike = 0.9,
    eps: ArrayLike = 1e-8,
    eps_in_sqrt: bool = False,
    centered: bool = False,
    initial_scale: ArrayLike = 0.0,
) -> optax.GradientTransformation:
    """RMSProp scaling: ``r <- ρ r + (1-ρ) g⊙g``; output ``g / (δ + √r)``.

    With ``centered=True`` the denominator uses the variance ``r - m⊙m`` (Graves 2013).
    See :func:`jnn.optim.rmsprop`.

    Args:
        decay: ``ρ`` in [0, 1).
        eps: ``δ`` > 0.
        eps_in_sqrt: use ``√(r + δ)`` (optax's default) instead of ``δ + √r``.
        centered: divide by the root of the centered second moment.
        initial_scale: starting value of ``r`` (>= 0).

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_rms"
    _base.check_decay(where, "decay", decay, "0.9")
    _base.check_positive(where, "eps", eps, "1e-8")
    _base.check_nonnegative(where, "initial_scale", initial_scale, "0.0")

    def inverse_root(n):
        if eps_in_sqrt:
            return jax.lax.rsqrt(n + eps)
        return 1 / (jnp.sqrt(n) + eps)

    def init_fn(params):
        nu = optax.tree.full_like(params, initial_scale)
        if centered:
            return ScaleByCenteredRmsState(mu=optax.tree.zeros_like(params), nu=nu)
        return ScaleByRmsState(nu=nu)

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.nu)
        nu = optax.tree.update_moment_per_elem_norm(updates, state.nu, decay, 2)
        nu = optax.tree.cast_like(nu, state.nu)
        if centered:
            mu = optax.tree.update_moment(updates, state.mu, decay, 1)
            mu = optax.tree.cast_like(mu, state.mu)
            scaling = jax.tree.map(lambda m, n: inverse_root(n - m * m), mu, nu)
            new_state = ScaleByCenteredRmsState(mu=mu, nu=nu)
        else:
            scaling = jax.tree.map(inverse_root, nu)
            new_state = ScaleByRmsState(nu=nu)
        new = jax.tree.map(lambda s, g: s * g, scaling, updates)
        return optax.tree.cast_like(new, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByAdadeltaState(NamedTuple):
    """Moving averages of squared gradients ``E[g²]`` and squared steps ``E[Δx²]``."""

    e_g: optax.Updates
    e_x: optax.Updates


def scale_by_adadelta(rho: ArrayLike = 0.9, eps: ArrayLike = 1e-6) -> optax.GradientTransformation:
    """Adadelta scaling (Zeiler 2012, Algorithm 1), output ``+RMS[Δx]/RMS[g] · g``.

    See :func:`jnn.optim.adadelta`.

    Args:
        rho: decay ``ρ`` in [0, 1).
        eps: ``ε`` > 0 inside both root-mean-squares.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_adadelta"
    _base.check_decay(where, "rho", rho, "0.9")
    _base.check_positive(where, "eps", eps, "1e-6")

    def init_fn(params):
        return ScaleByAdadeltaState(
            e_g=optax.tree.zeros_like(params), e_x=optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.e_g)
        e_g = optax.tree.update_moment(updates, state.e_g, rho, 2)
        e_g = optax.tree.cast_like(e_g, state.e_g)
        step = jax.tree.map(
            lambda g, eg, ex: (jnp.sqrt(ex + eps) / jnp.sqrt(eg + eps)) * g,
            updates,
            e_g,
            state.e_x,
        )
        step = optax.tree.cast_like(step, updates)
        e_x = optax.tree.update_moment(step, state.e_x, rho, 2)
        e_x = optax.tree.cast_like(e_x, state.e_x)
        return step, ScaleByAdadeltaState(e_g=e_g, e_x=e_x)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByRpropState(NamedTuple):
    """Per-parameter step sizes ``Δ`` and the previous signed step ``Δ ⊙ sign(g)``."""

    step_sizes: optax.Updates
    prev_steps: optax.Updates  # 0 where the gradient changed sign


def scale_by_rprop(
    learning_rate: ArrayLike,
    eta_minus: ArrayLike = 0.5,
    eta_plus: ArrayLike = 1.2,
    min_step_size: ArrayLike = 1e-6,
    max_step_size: ArrayLike = 50.0,
) -> optax.GradientTransformation:
    """iRprop− scaling; outputs ``+Δ ⊙ sign(g)`` (zero where the gradient changed sign).

    See :func:`jnn.optim.rprop`.

    Args:
        learning_rate: initial step size ``Δ₀`` > 0 (clipped to the bounds).
        eta_minus: factor ``η⁻`` in (0, 1) applied to ``Δ`` after a sign change.
        eta_plus: factor ``η⁺`` > 1 applied while the sign stays.
        min_step_size: lower bound ``Δ_min`` > 0.
        max_step_size: upper bound ``Δ_max`` > 0.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_rprop"
    _base.check_learning_rate(where, learning_rate)
    _base.check_positive(where, "eta_minus", eta_minus, "0.5")
    _base.check_positive(where, "eta_plus", eta_plus, "1.2")
    _base.check_positive(where, "min_step_size", min_step_size, "1e-6")
    _base.check_positive(where, "max_step_size", max_step_size, "50.0")

    def init_fn(params):
        first = jnp.clip(learning_rate, min_step_size, max_step_size)
        return ScaleByRpropState(
            step_sizes=jax.tree.map(lambda p: jnp.full_like(p, first), params),
            prev_steps=optax.tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.step_sizes)
        # Only signs matter. Storing the signed step (not the gradient) lets XLA fuse the
        # whole update into one pass with no copies of the donated state.
        agreement = jax.tree.map(
            lambda g, prev: jnp.sign(g) * jnp.sign(prev), updates, state.prev_steps
        )
        steps = jax.tree.map(
            lambda a, s: jnp.where(
                a > 0,
                jnp.minimum(s * eta_plus, max_step_size),
                jnp.where(a < 0, jnp.maximum(s * eta_minus, min_step_size), s),
            ),
            agreement,
            state.step_sizes,
        )
        steps = optax.tree.cast_like(steps, state.step_sizes)
        new = jax.tree.map(
            lambda a, s, g: jnp.where(a < 0, jnp.zeros_like(s), s * jnp.sign(g)),
            agreement,
            steps,
            updates,
        )
        new = optax.tree.cast_like(new, updates)
        new_state = ScaleByRpropState(
            step_sizes=steps, prev_steps=optax.tree.cast_like(new, state.prev_steps)
        )
        return new, new_state

    return optax.GradientTransformation(init_fn, update_fn)
