"""Gauss-Newton and Levenberg-Marquardt for least-squares losses ``0.5 * sum(r(params)**2)``."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from jnn import _checks
from jnn.optim import _base
from jnn.optim._second_order import (
    DEFAULT_MAX_BYTES,
    NO_PARAMS_MSG,
    NewtonState,
    check_dense_fits,
    check_loss_fn,
    damped_cholesky_solve,
    init_newton_state,
    loss_decrease_test,
    start_damping,
)
from jnn.optim._transform import kwargs_accepted_by

NO_RESIDUALS_MSG = (
    "{where}: Gauss-Newton needs the residual function r(params) of the least-squares loss "
    "0.5 * sum(r(params) ** 2), but none was given. Build the optimizer with it, "
    "opt = jnn.optim.{name}(residual_fn), where residual_fn(params, batch) -> residuals, and "
    "pass its other arguments at every step, opt.update(grads, state, params, batch=batch); "
    "or pass it at every step, opt.update(grads, state, params, residual_fn=lambda p: "
    "model(p, x) - y). (A scalar loss is not enough: for it use jnn.optim.newton.)"
)


def _check_residuals(where: str, res: Callable, params) -> int:
    out = jax.eval_shape(res, params)
    leaves = jax.tree.leaves(out)
    if not leaves:
        raise ValueError(f"{where}: residual_fn returned no arrays ({out!r}).")
    for leaf in leaves:
        if not jnp.issubdtype(leaf.dtype, jnp.inexact):
            raise TypeError(
                f"{where}: residual_fn must return floating residuals; got dtype {leaf.dtype}."
            )
    return sum(leaf.size for leaf in leaves)


def _make(where, name, residual_fn, learning_rate, damping, adaptive, max_tries, max_bytes):
    _base.check_learning_rate(where, learning_rate)
    _base.check_nonnegative(where, "damping", damping, "1e-3")
    check_loss_fn(where, residual_fn, "residual_fn")
    _checks.positive_int(where, "max_tries", max_tries)
    built_with = residual_fn  # update's residual_fn= argument shadows the name

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        return init_newton_state(damping, flat.dtype)

    def update_fn(updates, state, params=None, *, residual_fn=None, value=None, grad=None,
                  value_fn=None, **extra):
        del value, grad, value_fn  # the loss and its gradient come from the residuals
        if params is None:
            raise TypeError(NO_PARAMS_MSG.format(where=where).replace("value_fn", "residual_fn"))
        _base.check_trees(where, updates, params)
        fn = residual_fn if residual_fn is not None else built_with
        if fn is None:
            raise TypeError(NO_RESIDUALS_MSG.format(where=where, name=name))
        kwargs = kwargs_accepted_by(fn, extra)
        res = lambda p: fn(p, **kwargs)
        n = _check_residuals(where, res, params)
        flat_params, unravel = ravel_pytree(params)
        d = flat_params.size
        check_dense_fits(where, d, flat_params.dtype, max_bytes,
                         "jnn.optim.newton_cg on the squared-error loss")
        flat_res = lambda x: ravel_pytree(res(unravel(x)))[0]
        jacobian = jax.jacfwd if d <= n else jax.jacrev  # fewer passes: d columns or n rows
        J, r = jacobian(lambda x: (flat_res(x), flat_res(x)), has_aux=True)(flat_params)
        A = J.T @ J
        g = J.T @ r
        step_size = jnp.asarray(_base.learning_rate_at(learning_rate, state.count), A.dtype)

        accept = None
        if adaptive:
            loss = lambda p: 0.5 * jnp.sum(ravel_pytree(res(p))[0] ** 2)
            accept = loss_decrease_test(loss, flat_params, unravel, A, g, 0.5 * r @ r, step_size)
        lam = start_damping(state, damping, adaptive)
        solved = damped_cholesky_solve(A, g, lam, max_tries, accept)
        direction = jnp.where(solved.accepted, solved.direction, g)
        new_updates = optax.tree.cast_like(unravel(-step_size * direction), updates)
        new_state = NewtonState(
            count=optax.safe_increment(state.count),
            damping=solved.damping.astype(state.damping.dtype),
            num_tries=solved.num_tries,
            fell_back=~solved.accepted,
            gain_ratio=solved.gain_ratio.astype(state.gain_ratio.dtype),
        )
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def gauss_newton(
    residual_fn: Callable | None = None,
    *,
    learning_rate: optax.ScalarOrSchedule = 1.0,
    damping: ArrayLike = 0.0,
    adaptive_damping: bool = False,
    max_tries: int = 10,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> optax.GradientTransformationExtraArgs:
    r"""Gauss-Newton for least squares: Newton's step with :math:`J^\top J` for the Hessian.

    For the loss :math:`F(\theta) = \tfrac12 \|r(\theta)\|^2` with residuals
    :math:`r(\theta) \in \mathbb{R}^n` and Jacobian :math:`J = \partial r / \partial
    \theta \in \mathbb{R}^{n \times d}`, the gradient is :math:`g = J^\top r` and the
    Hessian :math:`J^\top J + \sum_i r_i \nabla^2 r_i`; Gauss-Newton drops the second
    term, which is small near a good fit and keeps the matrix positive semi-definite:

    .. math::

        \theta_{t+1} = \theta_t - \eta\, (J^\top J + \lambda I)^{-1} J^\top r.

    :math:`J` is computed densely (``jax.jacfwd`` when ``d <= n``, else
    ``jax.jacrev``) and the system is solved by Cholesky, raising :math:`\lambda` when
    :math:`J^\top J + \lambda I` is singular, exactly as in :func:`jnn.optim.newton`
    (state: :class:`jnn.optim.NewtonState`). A linear model is fitted in one step.
    ``adaptive_damping=True`` is the Levenberg-Marquardt method
    (:func:`levenberg_marquardt`).

    Args:
      residual_fn: ``residual_fn(params, **kwargs) -> residuals`` (any pytree of floating
        arrays); may instead be passed to ``update`` as ``residual_fn=``.
      learning_rate: :math:`\eta` > 0, or a schedule.
      damping: :math:`\lambda` >= 0.
      adaptive_damping: Levenberg-Marquardt's damping control (see
        :func:`levenberg_marquardt`).
      max_tries: most Cholesky factorizations per step.
      max_bytes: refuse when the ``d x d`` matrix would need more bytes (default 1 GiB).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update(grads, state, params, *,
      residual_fn=None, **kwargs)`` returns :math:`-\eta (J^\top J + \lambda I)^{-1}
      J^\top r`. The gradient is computed from the residuals: the incoming ``grads`` only
      fix the tree (pass the gradient, or ``params`` itself). ``jnn.train.fit`` cannot
      drive it (it knows the loss, not the residuals); use :func:`jnn.optim.newton` there.

    Example:
      Linear least squares is solved in one step:

      >>> import jax, jax.numpy as jnp, optax, jnn.optim
      >>> X = jax.random.normal(jax.random.key(0), (20, 3))
      >>> y = X @ jnp.array([1.0, -2.0, 0.5])
      >>> residuals = lambda w, batch: batch[0] @ w - batch[1]
      >>> opt = jnn.optim.gauss_newton(residuals)
      >>> w = jnp.zeros(3); state = opt.init(w)
      >>> updates, state = opt.update(w, state, w, batch=(X, y))
      >>> jnp.round(optax.apply_updates(w, updates), 4)
      Array([ 1. , -2. ,  0.5], dtype=float32)

    References:
      Nocedal & Wright, Numerical Optimization, 2nd ed., Section 10.3, 2006.
    """
    if not isinstance(adaptive_damping, bool):
        raise TypeError(
            "jnn.optim.gauss_newton: adaptive_damping must be True or False; got "
            f"{adaptive_damping!r}."
        )
    return _make("jnn.optim.gauss_newton", "gauss_newton", residual_fn, learning_rate, damping,
                 adaptive_damping, max_tries, max_bytes)


def levenberg_marquardt(
    residual_fn: Callable | None = None,
    *,
    learning_rate: optax.ScalarOrSchedule = 1.0,
    damping: ArrayLike = 1e-3,
    max_tries: int = 10,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> optax.GradientTransformationExtraArgs:
    r"""Levenberg-Marquardt: Gauss-Newton with damping adapted to the loss decrease.

    Each step solves :math:`(J^\top J + \mu I)\, h = -J^\top r` and tries
    :math:`\theta + \eta h`. With the gain ratio between the actual and the predicted
    decrease of :math:`F = \tfrac12\|r\|^2`,

    .. math::

        \rho = \frac{F(\theta) - F(\theta + h)}{L(0) - L(h)}, \qquad
        L(0) - L(h) = -h^\top J^\top r - \tfrac12 h^\top J^\top J h,

    a step that does not increase :math:`F` is taken and the next :math:`\mu` is
    :math:`\mu \max(1/3, 1 - (2\rho - 1)^3)`; otherwise :math:`\mu \leftarrow \nu\mu`,
    :math:`\nu \leftarrow 2\nu` and the step is solved again with the same :math:`J`
    (Madsen, Nielsen & Tingleff, Algorithm 3.16, with retries inside one update, at most
    ``max_tries``). Large :math:`\mu` gives short gradient steps, small :math:`\mu` the
    Gauss-Newton step. The state (:class:`jnn.optim.NewtonState`) holds :math:`\mu`,
    :math:`\rho`, the tries and whether the step fell back to the gradient.

    Args:
      residual_fn: ``residual_fn(params, **kwargs) -> residuals``; may instead be passed
        to ``update`` as ``residual_fn=``.
      learning_rate: :math:`\eta` > 0 (1 in the method), or a schedule.
      damping: the first :math:`\mu` >= 0.
      max_tries: most Cholesky factorizations per step.
      max_bytes: refuse when the ``d x d`` matrix would need more bytes (default 1 GiB).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` (see :func:`gauss_newton`).

    Example:
      Fit an exponential decay :math:`y = a e^{-b t}`:

      >>> import jax, jax.numpy as jnp, optax, jnn.optim
      >>> t = jnp.linspace(0.0, 3.0, 30); y = 2.0 * jnp.exp(-1.3 * t)
      >>> residuals = lambda p: p["a"] * jnp.exp(-p["b"] * t) - y
      >>> opt = jnn.optim.levenberg_marquardt(residuals)
      >>> @jax.jit
      ... def step(p, state):
      ...     updates, state = opt.update(p, state, p)
      ...     return optax.apply_updates(p, updates), state
      >>> p = {"a": jnp.array(1.0), "b": jnp.array(0.1)}; state = opt.init(p)
      >>> for _ in range(20):
      ...     p, state = step(p, state)
      >>> round(float(p["a"]), 4), round(float(p["b"]), 4)
      (2.0, 1.3)

    References:
      Marquardt, "An Algorithm for Least-Squares Estimation of Nonlinear Parameters",
      SIAM J. Applied Mathematics 11(2), 1963.
      Madsen, Nielsen & Tingleff, "Methods for Non-Linear Least Squares Problems",
      2nd ed., IMM, DTU, 2004, Algorithm 3.16.
    """
    return _make("jnn.optim.levenberg_marquardt", "levenberg_marquardt", residual_fn,
                 learning_rate, damping, True, max_tries, max_bytes)
