"""Building blocks of the first-order optimizers: the step size, momentum and Nesterov.

Each block is an optax ``GradientTransformation`` with a ``NamedTuple`` state, written
as ``init_fn``/``update_fn`` closures (the shape of ``optax.scale_by_adam``). The
user-facing optimizers in :mod:`jnn.optim._alias` chain them. Every block keeps the
dtypes of its inputs: updates come out in the dtype of the incoming gradients and the
state keeps the dtype it was created with, even when hyperparameters arrive as float32
arrays (as under ``optax.inject_hyperparams``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jnn.optim import _base

_int32_zero = lambda: jnp.zeros([], jnp.int32)


def _dtype_or_none(dtype: Any) -> Any:
    return None if dtype is None else jnp.dtype(dtype)


class ScaleByLearningRateState(NamedTuple):
    """Step counter, read by a learning-rate schedule (kept only for a schedule)."""

    count: jax.Array  # int32 scalar


def scale_by_learning_rate(
    learning_rate: optax.ScalarOrSchedule, *, flip_sign: bool = True
) -> optax.GradientTransformation:
    """Multiply updates by ``-learning_rate`` (``learning_rate`` if ``flip_sign=False``).

    Args:
        learning_rate: a positive number, or a schedule ``step -> step size``.
        flip_sign: multiply by the negative step size (descent), the default.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_learning_rate"
    _base.check_learning_rate(where, learning_rate)
    sign = -1 if flip_sign else 1

    scheduled = callable(learning_rate)

    def init_fn(params):
        del params
        # A constant step size needs no counter (the state is empty, as in optax).
        return ScaleByLearningRateState(count=_int32_zero()) if scheduled else optax.EmptyState()

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params)
        if scheduled:
            step_size = sign * learning_rate(state.count)
            state = ScaleByLearningRateState(count=optax.safe_increment(state.count))
        else:
            step_size = sign * learning_rate
        new = jax.tree.map(lambda g: step_size * g, updates)
        return optax.tree.cast_like(new, updates), state

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByHeavyBallState(NamedTuple):
    """Step counter and velocity ``v`` (in parameter units: it holds ``-η g`` terms)."""

    count: jax.Array  # int32 scalar
    velocity: optax.Updates


def scale_by_heavy_ball(
    learning_rate: optax.ScalarOrSchedule,
    momentum: ArrayLike = 0.9,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    """Heavy-ball momentum with the step size inside: ``v <- μ v - η g``; output ``v``.

    See :func:`jnn.optim.momentum` (``form="heavy_ball"``).

    Args:
        learning_rate: step size ``η`` (number or schedule).
        momentum: ``μ`` in [0, 1).
        accumulator_dtype: dtype of ``v``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_heavy_ball"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "momentum", momentum, "0.9")
    accumulator_dtype = _dtype_or_none(accumulator_dtype)

    def init_fn(params):
        return ScaleByHeavyBallState(
            count=_int32_zero(),
            velocity=optax.tree.zeros_like(params, dtype=accumulator_dtype),
        )

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.velocity)
        lr = _base.learning_rate_at(learning_rate, state.count)
        velocity = jax.tree.map(lambda g, v: momentum * v - lr * g, updates, state.velocity)
        velocity = optax.tree.cast_like(velocity, state.velocity)
        new_state = ScaleByHeavyBallState(optax.safe_increment(state.count), velocity)
        return optax.tree.cast_like(velocity, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByMomentumState(NamedTuple):
    """Velocity ``v`` (in gradient units)."""

    velocity: optax.Updates


def scale_by_momentum(
    momentum: ArrayLike = 0.9, *, ema: bool = False, accumulator_dtype: Any = None
) -> optax.GradientTransformation:
    """Momentum without the step size: ``v <- μ v + g`` (or ``v <- β v + (1-β) g``).

    Chain it with :func:`scale_by_learning_rate`. See :func:`jnn.optim.momentum`
    (``form="separate_lr"`` and ``form="ema"``).

    Args:
        momentum: ``μ`` (or ``β`` when ``ema=True``) in [0, 1).
        ema: use the exponential-moving-average form ``v <- β v + (1-β) g``.
        accumulator_dtype: dtype of ``v``; ``None`` keeps the parameter dtype.

    Returns:
        An ``optax.GradientTransformation``.
    """
    where = "jnn.optim.scale_by_momentum"
    _base.check_decay(where, "momentum", momentum, "0.9")
    accumulator_dtype = _dtype_or_none(accumulator_dtype)

    def init_fn(params):
        return ScaleByMomentumState(optax.tree.zeros_like(params, dtype=accumulator_dtype))

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.velocity)
        if ema:
            velocity = optax.tree.update_moment(updates, state.velocity, momentum, 1)
        else:
            velocity = jax.tree.map(lambda g, v: g + momentum * v, updates, state.velocity)
        velocity = optax.tree.cast_like(velocity, state.velocity)
        return optax.tree.cast_like(velocity, updates), ScaleByMomentumState(velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_nesterov(
    learning_rate: optax.ScalarOrSchedule, momentum: ArrayLike = 0.9
) -> optax.GradientTransformation:
    """Reformulated Nesterov momentum: ``v <- μ v - η g``; output ``μ v - η g``.

    The state is the look-ahead form's velocity; the parameters it moves are the
    look-ahead points ``Θ = θ + μ v``. See :func:`jnn.optim.nesterov`.

    Args:
        learning_rate: step size ``η`` (number or schedule).
        momentum: ``μ`` in [0, 1).

    Returns:
        An ``optax.GradientTransformation`` (state: :class:`ScaleByHeavyBallState`).
    """
    where = "jnn.optim.scale_by_nesterov"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "momentum", momentum, "0.9")

    def init_fn(params):
        return ScaleByHeavyBallState(count=_int32_zero(), velocity=optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        _base.check_trees(where, updates, params, state.velocity)
        lr = _base.learning_rate_at(learning_rate, state.count)
        velocity = jax.tree.map(lambda g, v: momentum * v - lr * g, updates, state.velocity)
        velocity = optax.tree.cast_like(velocity, state.velocity)
        new = jax.tree.map(lambda g, v: momentum * v - lr * g, updates, velocity)
        new_state = ScaleByHeavyBallState(optax.safe_increment(state.count), velocity)
        return optax.tree.cast_like(new, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)


LOOKAHEAD_NO_LOSS = (
    "{where}: the look-ahead form takes the gradient at θ + μv, so it needs the loss. "
    "Either build it with the loss, opt = jnn.optim.nesterov(learning_rate, "
    'form="lookahead", loss_fn=loss), or pass it at every step: updates, state = '
    "opt.update(None, state, params, value_fn=loss, batch=batch) (the loss's other "
    "arguments go as keywords). form=\"reformulated\" gives the same iterates without it."
)


def kwargs_accepted_by(fn: Callable, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``kwargs`` that ``fn`` takes by name (all if it has ``**kwargs``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return dict(kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(kwargs)
    names = {p.name for p in parameters}
    return {k: v for k, v in kwargs.items() if k in names}


def scale_by_nesterov_lookahead(
    learning_rate: optax.ScalarOrSchedule,
    momentum: ArrayLike = 0.9,
    loss_fn: Callable[..., jax.Array] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Nesterov momentum in its look-ahead form: ``v <- μ v - η ∇f(θ + μ v)``; output ``v``.

    It differentiates the loss itself at the look-ahead point, so the gradient passed
    to ``update`` is not used (pass ``None``). See :func:`jnn.optim.nesterov`.

    Args:
        learning_rate: step size ``η`` (number or schedule).
        momentum: ``μ`` in [0, 1).
        loss_fn: ``loss(params, **kwargs) -> scalar``; may instead be given to
            ``update`` as ``value_fn=``.

    Returns:
        An ``optax.GradientTransformationExtraArgs`` whose ``update`` is
        ``update(grads_or_None, state, params, *, value_fn=None, **loss_kwargs)``.
    """
    where = "jnn.optim.nesterov(form='lookahead')"
    _base.check_learning_rate(where, learning_rate)
    _base.check_decay(where, "momentum", momentum, "0.9")

    def init_fn(params):
        return ScaleByHeavyBallState(count=_int32_zero(), velocity=optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None, *, value_fn=None, **loss_kwargs):
        fn = value_fn if value_fn is not None else loss_fn
        if fn is None:
            raise TypeError(LOOKAHEAD_NO_LOSS.format(where=where))
        if params is None:
            raise TypeError(
                f"{where}: update needs params (the gradient is taken at params + μv): "
                "opt.update(None, state, params, value_fn=loss)."
            )
        if updates is not None:
            _base.check_trees(where, updates, params, state.velocity)
        else:
            _base.check_trees(where, params, None, state.velocity)
        lookahead = jax.tree.map(lambda p, v: p + momentum * v, params, state.velocity)
        lookahead = optax.tree.cast_like(lookahead, params)
        grads = jax.grad(fn)(lookahead, **kwargs_accepted_by(fn, loss_kwargs))
        lr = _base.learning_rate_at(learning_rate, state.count)
        velocity = jax.tree.map(lambda g, v: momentum * v - lr * g, grads, state.velocity)
        velocity = optax.tree.cast_like(velocity, state.velocity)
        new_state = ScaleByHeavyBallState(optax.safe_increment(state.count), velocity)
        return optax.tree.cast_like(velocity, params), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
