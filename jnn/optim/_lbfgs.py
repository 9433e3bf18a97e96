"""L-BFGS: the two-loop recursion as a jnn block, chained with a line search.

The block :func:`scale_by_lbfgs` is written here from Nocedal & Wright's Algorithm 7.4;
the line searches are optax's (zoom for the strong Wolfe conditions, backtracking for
Armijo's). :func:`lbfgs` wraps the chain so that the loss can be given once, at
construction, and so that a missing loss is reported with the call to write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn import _checks
from jnn.optim import _base
from jnn.optim import _transform as _t

LINESEARCHES = ("zoom", "backtracking")

NO_LOSS_MSG = (
    "{where}: the line search evaluates the loss, but no loss was given. Either build "
    "the optimizer with it, opt = jnn.optim.lbfgs(loss_fn=loss), or pass it at every "
    "step: updates, state = opt.update(grads, state, params, value_fn=loss) "
    "(add value=loss_value to save one evaluation, and the loss's other arguments as "
    "keywords, e.g. batch=batch). With linesearch=None no loss is needed."
)


class ScaleByLbfgsState(NamedTuple):
    """Memory of the last ``m`` parameter and gradient differences.

    Attributes:
        count: number of updates so far (int32).
        prev_params: parameters at the previous update.
        prev_grads: gradient at the previous update.
        s_memory: :math:`s_i = \\theta_{i+1} - \\theta_i`, each leaf stacked to
            ``(memory_size, *leaf.shape)`` (a circular buffer).
        y_memory: :math:`y_i = g_{i+1} - g_i`, stacked the same way.
        rho_memory: :math:`\\rho_i = 1 / (y_i^\\top s_i)`, shape ``(memory_size,)``;
            0 for empty slots and for pairs that violate the curvature condition.
    """

    count: jax.Array
    prev_params: optax.Params
    prev_grads: optax.Updates
    s_memory: optax.Updates
    y_memory: optax.Updates
    rho_memory: jax.Array


def _two_loop(grads, s_memory, y_memory, rho_memory, gamma, newest):
    """``H g`` by Nocedal & Wright's Algorithm 7.4 (two-loop recursion)."""
    memory_size = rho_memory.shape[0]
    newest_first = (newest - jnp.arange(memory_size)) % memory_size
    take = lambda tree, i: jax.tree.map(lambda x: x[i], tree)

    def first_loop(q, i):
        alpha = rho_memory[i] * optax.tree.vdot(take(s_memory, i), q)
        q = optax.tree.cast_like(optax.tree.add_scale(q, -alpha, take(y_memory, i)), q)
        return q, alpha

    q, alphas = jax.lax.scan(first_loop, grads, newest_first)
    r = optax.tree.cast_like(optax.tree.scale(gamma, q), q)

    def second_loop(r, i_alpha):
        i, alpha = i_alpha
        beta = rho_memory[i] * optax.tree.vdot(take(y_memory, i), r)
        r = optax.tree.cast_like(optax.tree.add_scale(r, alpha - beta, take(s_memory, i)), r)
        return r, None

    r, _ = jax.lax.scan(second_loop, r, (newest_first[::-1], alphas[::-1]))
    return r


def scale_by_lbfgs(
    memory_size: int = 10, scale_init_precond: bool = True
) -> optax.GradientTransformation:
    r"""Multiply the gradient by the L-BFGS inverse-Hessian approximation :math:`H_k`.

    Outputs :math:`H_k g_k` (chain a negative step size or a line search after it).
    :math:`H_k` is built from the last ``m`` pairs :math:`s_i = \theta_{i+1} -
    \theta_i`, :math:`y_i = g_{i+1} - g_i` by the two-loop recursion, starting from
    :math:`H^0_k = \gamma_k I` with :math:`\gamma_k = s^\top y / y^\top y` of the newest
    pair (``scale_init_precond=True``; else 1) and :math:`\gamma_0 = \min(1,
    1/\|g_0\|)` at the first step. A pair with :math:`y^\top s \le 0` (which a Wolfe
    line search rules out) is skipped, which keeps :math:`H_k` positive definite.

    Args:
        memory_size: number ``m`` >= 1 of pairs kept.
        scale_init_precond: use :math:`\gamma_k` above instead of 1 after step 0.

    Returns:
        An ``optax.GradientTransformation`` whose ``update`` needs ``params``.
    """
    where = "jnn.optim.scale_by_lbfgs"
    memory_size = _checks.positive_int(where, "memory_size", memory_size)

    def init_fn(params):
        # Distinct buffers for every field, so that the state can be donated to jit.
        stacked = lambda: jax.tree.map(
            lambda p: jnp.zeros((memory_size, *jnp.shape(p)), p.dtype), params)
        real = jnp.promote_types(optax.tree.dtype(params, "highest"), jnp.float32)
        return ScaleByLbfgsState(
            count=jnp.zeros([], jnp.int32),
            prev_params=optax.tree.zeros_like(params),
            prev_grads=optax.tree.zeros_like(params),
            s_memory=stacked(),
            y_memory=stacked(),
            rho_memory=jnp.zeros((memory_size,), real),
        )

    def update_fn(updates, state, params=None):
        if params is None:
            raise TypeError(f"{where}: update needs params: opt.update(grads, state, params).")
        _base.check_trees(where, updates, params, state.prev_params)
        started = state.count > 0
        s = optax.tree.sub(params, state.prev_params)
        y = optax.tree.sub(updates, state.prev_grads)
        sy = optax.tree.vdot(s, y).astype(state.rho_memory.dtype)
        yy = optax.tree.vdot(y, y).astype(state.rho_memory.dtype)
        accept = started & (sy > 0)
        rho = jnp.where(accept, 1 / jnp.where(accept, sy, 1), 0)
        slot = (state.count - 1) % memory_size
        keep = lambda x: jnp.where(accept, x, jnp.zeros_like(x))
        s_memory = jax.tree.map(lambda m, x: m.at[slot].set(keep(x)), state.s_memory, s)
        y_memory = jax.tree.map(lambda m, x: m.at[slot].set(keep(x)), state.y_memory, y)
        rho_memory = jnp.where(started, state.rho_memory.at[slot].set(rho), state.rho_memory)

        grad_norm = optax.tree.norm(jax.lax.stop_gradient(updates)).astype(rho.dtype)
        first_gamma = jnp.minimum(1, 1 / grad_norm)
        if scale_init_precond:
            gamma = jnp.where(accept & (yy > 0), sy / jnp.where(yy > 0, yy, 1), 1)
        else:
            gamma = jnp.ones_like(rho)
        gamma = jnp.where(started, gamma, first_gamma)

        direction = _two_loop(updates, s_memory, y_memory, rho_memory, gamma, slot)
        new_state = ScaleByLbfgsState(
            count=optax.safe_increment(state.count),
            prev_params=params,
            prev_grads=updates,
            s_memory=s_memory,
            y_memory=y_memory,
            rho_memory=rho_memory,
        )
        return optax.tree.cast_like(direction, updates), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _make_linesearch(where: str, linesearch: Any, max_linesearch_steps: int) -> Any:
    if linesearch is None or not isinstance(linesearch, str):
        return linesearch
    _base.check_choice(where, "linesearch", linesearch, LINESEARCHES)
    if linesearch == "zoom":
        return optax.scale_by_zoom_linesearch(
            max_linesearch_steps=max_linesearch_steps, initial_guess_strategy="one"
        )
    return optax.scale_by_backtracking_linesearch(
        max_backtracking_steps=max_linesearch_steps, store_grad=True
    )


def lbfgs(
    loss_fn: Callable[..., jax.Array] | None = None,
    *,
    learning_rate: optax.ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: str | optax.GradientTransformationExtraArgs | None = "zoom",
    max_linesearch_steps: int = 20,
) -> optax.GradientTransformationExtraArgs:
    r"""L-BFGS with a line search, usable like any other optax optimizer.

    Limited-memory BFGS (Liu & Nocedal 1989) keeps the last ``m`` steps
    :math:`s_i = \theta_{i+1} - \theta_i` and gradient changes :math:`y_i = g_{i+1} -
    g_i` and applies the inverse-Hessian approximation

    .. math::

        H_{k} = V_{k-1}^\top H_{k-1} V_{k-1} + \rho_{k-1} s_{k-1} s_{k-1}^\top, \quad
        V_i = I - \rho_i y_i s_i^\top, \quad \rho_i = \frac{1}{y_i^\top s_i}, \quad
        H^0_k = \gamma_k I

    to the gradient with the two-loop recursion (Nocedal & Wright, Algorithm 7.4), then
    steps :math:`\theta_{k+1} = \theta_k - \eta_k H_k g_k` with :math:`\eta_k` from a
    line search: ``"zoom"`` finds a step meeting the strong Wolfe conditions
    (:math:`f(\theta + \eta d) \le f(\theta) + c_1 \eta\, g^\top d` and
    :math:`|\nabla f(\theta + \eta d)^\top d| \le c_2 |g^\top d|`; Algorithm 3.5),
    ``"backtracking"`` only the first (Armijo) condition. Both are optax's.

    The line search evaluates the loss, so the optimizer needs it. Give it once,

    >>> import jax, jax.numpy as jnp, optax, jnn.optim
    >>> loss = lambda p: jnp.sum((p - 1.0) ** 2) + jnp.sum(p ** 4)
    >>> opt = jnn.optim.lbfgs(loss_fn=loss)
    >>> params = jnp.zeros(3); state = opt.init(params)
    >>> for _ in range(10):
    ...     grads = jax.grad(loss)(params)
    ...     updates, state = opt.update(grads, state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> bool(jnp.linalg.norm(jax.grad(loss)(params)) < 1e-5)
    True

    or at every step: ``opt.update(grads, state, params, value_fn=loss, batch=batch)``;
    keyword arguments other than ``value``, ``grad`` and ``value_fn`` go to the loss.
    Passing ``value=`` (the loss at ``params``) saves one evaluation; reusing the line
    search's last value and gradient saves the gradient too::

        value_and_grad = optax.value_and_grad_from_state(loss)
        value, grads = value_and_grad(params, state=state)
        updates, state = opt.update(grads, state, params, value=value)

    Args:
        loss_fn: ``loss(params, **kwargs) -> scalar``; may instead be passed to
            ``update`` as ``value_fn=``.
        learning_rate: fixed step size multiplying the direction (before the line
            search); ``None`` means 1, the natural quasi-Newton step.
        memory_size: number ``m`` >= 1 of pairs kept (memory ``2 m`` params).
        scale_init_precond: :math:`\gamma_k = s^\top y / y^\top y` (else 1).
        linesearch: ``"zoom"`` (strong Wolfe, default), ``"backtracking"`` (Armijo),
            ``None`` (fixed steps; then no loss is needed) or an optax line search.
        max_linesearch_steps: most loss evaluations per line search.

    Returns:
        An ``optax.GradientTransformationExtraArgs``; ``update`` is
        ``update(grads, state, params, *, value=None, grad=None, value_fn=None,
        **loss_kwargs)``.

    .. note::
        Under ``optax.inject_hyperparams`` list the non-numeric and integer arguments
        as static: ``optax.inject_hyperparams(jnn.optim.lbfgs, static_args=("loss_fn",
        "memory_size", "max_linesearch_steps"))(loss_fn=loss, learning_rate=1.0)``.

    .. warning::
        L-BFGS is a full-batch method: the curvature pairs assume the same loss at
        every step, so minibatch noise corrupts them.

    References:
        Liu & Nocedal, `On the limited memory BFGS method for large scale
        optimization <https://doi.org/10.1007/BF01589116>`_, 1989.

        Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithms 3.5, 3.6, 7.4
        and 7.5, 2006.
    """
    where = "jnn.optim.lbfgs"
    _checks.positive_int(where, "memory_size", memory_size)
    _checks.positive_int(where, "max_linesearch_steps", max_linesearch_steps)
    if learning_rate is not None:
        _base.check_learning_rate(where, learning_rate)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(
            f"{where}: loss_fn must be a function loss(params, **kwargs) -> scalar; "
            f"got {type(loss_fn).__name__}."
        )
    search = _make_linesearch(where, linesearch, max_linesearch_steps)
    blocks = [
        scale_by_lbfgs(memory_size, scale_init_precond),
        _t.scale_by_learning_rate(1.0 if learning_rate is None else learning_rate),
    ]
    if search is not None:
        blocks.append(search)
    inner = optax.chain(*blocks)

    def init_fn(params):
        # optax's line-search states start with weakly typed scalars that come back
        # strongly typed from update, which would retrace a jitted step once; fix them.
        return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.result_type(x)), inner.init(params))

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None,
                  **loss_kwargs):
        if params is None:
            raise TypeError(f"{where}: update needs params: opt.update(grads, state, params).")
        if search is None:
            return inner.update(updates, state, params)
        fn = value_fn if value_fn is not None else loss_fn
        if fn is None:
            raise TypeError(NO_LOSS_MSG.format(where=where))
        if value is None:
            value = fn(params, **_t.kwargs_accepted_by(fn, loss_kwargs))
        if grad is None:
            grad = updates
        return inner.update(
            updates, state, params, value=value, grad=grad, value_fn=fn, **loss_kwargs
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
