"""Sophia: momentum divided by a clipped, periodically refreshed Hessian diagonal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.typing import ArrayLike

from jnn.optim import _base
from jnn.optim import _transform as _t
from jnn.optim._adahessian import _check_common, hutchinson_diagonal
from jnn.optim._second_order import NO_PARAMS_MSG, check_scalar_loss, loss_of_params


class ScaleBySophiaState(NamedTuple):
    """State of :func:`scale_by_sophia`.

    Attributes:
      count: number of updates so far (int32).
      mu: :math:`m_t`, the moving average of the gradients.
      hessian: :math:`h_t`, the moving average of the Hessian diagonal estimates.
      key: the ``jax.random`` key for the next probes.
      clip_fraction: the fraction of coordinates clipped at the last step (the paper
        tunes :math:`\\gamma` so that it stays roughly between 0.1 and 0.5).
    """

    count: jax.Array
    mu: optax.Updates
    hessian: optax.Updates
    key: jax.Array
    clip_fraction: jax.Array


def scale_by_sophia(
    b1: ArrayLike = 0.965,
    b2: ArrayLike = 0.99,
    gamma: ArrayLike = 0.01,
    eps: ArrayLike = 1e-12,
    *,
    update_every: int = 10,
    num_samples: int = 1,
    key: jax.Array | None = None,
    loss_fn: Callable | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""The Sophia direction: outputs :math:`\mathrm{clip}(m_t / \max\{\gamma h_t, \epsilon\}, 1)`.

    See :func:`sophia` for the algorithm and the arguments. Chain a negative step size
    after it (``sophia`` does).
    """
    where = "jnn.optim.scale_by_sophia"
    key = _check_common(where, b1, b2, eps, update_every, num_samples, loss_fn, key,
                        ("0.965", "0.99", "1e-12"))
    _base.check_positive(where, "gamma", gamma, "0.01")

    def init_fn(params):
        real = jnp.promote_types(optax.tree.dtype(params, "highest"), jnp.float32)
        return ScaleBySophiaState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params),
            hessian=optax.tree.zeros_like(params),
            key=key,
            clip_fraction=jnp.zeros([], real),
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del value, grad
        if params is None:
            raise TypeError(NO_PARAMS_MSG.format(where=where))
        _base.check_trees(where, updates, params, state.mu)
        f = loss_of_params(where, "sophia", loss_fn, value_fn, extra)
        check_scalar_loss(where, f, params)

        mu = optax.tree.update_moment(updates, state.mu, b1, 1)

        def refresh(h, k):
            k, probe_key = jax.random.split(k)
            # The paper draws Gaussian probes u ~ N(0, I); Rademacher probes give the
            # same unbiased estimate with lower variance (as optax.contrib.sophia).
            h_hat = hutchinson_diagonal(f, params, probe_key, num_samples)
            return optax.tree.cast_like(optax.tree.update_moment(h_hat, h, b2, 1), h), k

        due = state.count % update_every == 0
        h, new_key = lax.cond(due, refresh, lambda h, k: (h, k), state.hessian, state.key)

        ratio = jax.tree.map(lambda m, h_: m / jnp.maximum(gamma * h_, eps), mu, h)
        clipped = sum(jnp.sum(jnp.abs(r) >= 1) for r in jax.tree.leaves(ratio))
        out = jax.tree.map(lambda r: jnp.clip(r, -1, 1), ratio)
        new_state = ScaleBySophiaState(
            count=optax.safe_increment(state.count),
            mu=optax.tree.cast_like(mu, state.mu),
            hessian=h,
            key=new_key,
            clip_fraction=(clipped / optax.tree.size(ratio)).astype(state.clip_fraction.dtype),
        )
        return optax.tree.cast_like(out, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sophia(
    learning_rate: optax.ScalarOrSchedule = 1e-3,
    b1: ArrayLike = 0.965,
    b2: ArrayLike = 0.99,
    gamma: ArrayLike = 0.01,
    eps: ArrayLike = 1e-12,
    weight_decay: ArrayLike = 0.0,
    *,
    update_every: int = 10,
    num_samples: int = 1,
    key: jax.Array | None = None,
    loss_fn: Callable | None = None,
    mask: Any = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Sophia (Sophia-H): a clipped diagonal-Newton step with a lazily refreshed Hessian.

    Liu et al., Algorithm 3 with the Hutchinson estimator
    :math:`\hat h_t = u \odot (H_t u)` (one Hessian-vector product), :math:`h_{1-k} = 0`:

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        h_t &= \begin{cases} \beta_2 h_{t-k} + (1 - \beta_2)\, \hat h_t
              & t \bmod k = 1 \\ h_{t-1} & \text{otherwise} \end{cases} \\
        \theta_{t+1} &= \theta_t - \eta_t \lambda \theta_t
              - \eta_t\, \mathrm{clip}\!\left(\frac{m_t}{\max\{\gamma h_t,\ \epsilon\}},\ 1\right)

    where :math:`\mathrm{clip}(z, 1) = \max(\min(z, 1), -1)` elementwise. Where the
    curvature estimate is small or negative the step is the sign step :math:`\pm\eta`;
    where it is large, a damped Newton step :math:`m / (\gamma h)`. The state reports
    the fraction of clipped coordinates (``clip_fraction``). The Hessian-vector product
    needs the loss: ``value_fn=`` at every step (``jnn.train.fit`` passes it) or
    ``loss_fn=`` at construction; the key lives in the state.

    Args:
      learning_rate: :math:`\eta` > 0, or a schedule; every coordinate moves at most
        :math:`\eta` per step.
      b1: :math:`\beta_1` in [0, 1).
      b2: :math:`\beta_2` in [0, 1), applied once per refresh.
      gamma: :math:`\gamma` > 0, scales the Hessian (0.01 for Sophia-H in the paper).
      eps: :math:`\epsilon` > 0.
      weight_decay: :math:`\lambda` >= 0, decoupled.
      update_every: :math:`k`, refresh the Hessian estimate every ``k`` steps.
      num_samples: probes per estimate.
      key: ``jax.random`` key for the probes (default ``jax.random.key(0)``).
      loss_fn: ``loss(params, **kwargs) -> scalar``; or pass ``value_fn=`` to ``update``.
      mask: which leaves decay (``None``: all), a tree of bools or a function of params.

    Returns:
      An ``optax.GradientTransformationExtraArgs``;
      ``update(grads, state, params, *, value_fn=None, **kwargs)``. Under
      ``optax.inject_hyperparams`` pass ``static_args=("update_every", "num_samples")``.

    Example:
      >>> import jax, jax.numpy as jnp, optax, jnn.optim
      >>> loss = lambda p: jnp.sum(jnp.array([1.0, 100.0]) * p**2)   # badly conditioned
      >>> opt = jnn.optim.sophia(0.05, gamma=1.0, update_every=1)
      >>> @jax.jit
      ... def step(params, state):
      ...     grads = jax.grad(loss)(params)
      ...     updates, state = opt.update(grads, state, params, value_fn=loss)
      ...     return optax.apply_updates(params, updates), state
      >>> params = jnp.array([1.0, 1.0]); state = opt.init(params)
      >>> for _ in range(200):
      ...     params, state = step(params, state)
      >>> bool(loss(params) < 1e-3)
      True

    .. warning::
        ``optax.contrib.sophia`` differs from the paper's algorithm, which jnn follows:
        it bias-corrects :math:`m_t`, and it refreshes :math:`h` after the step, so a
        step uses the previous estimate (its first step is a pure sign step). The paper
        draws Gaussian probes; jnn, like optax, draws Rademacher probes (same mean,
        lower variance). The Gauss-Newton-Bartlett estimator (Sophia-G) is not included.

    References:
      Liu, Li, Hall, Liang & Ma, `Sophia: A Scalable Stochastic Second-order Optimizer
      for Language Model Pre-training <https://arxiv.org/abs/2305.14342>`_, ICLR 2024.
    """
    where = "jnn.optim.sophia"
    _base.check_learning_rate(where, learning_rate)
    return optax.chain(
        scale_by_sophia(b1, b2, gamma, eps, update_every=update_every, num_samples=num_samples,
                        key=key, loss_fn=loss_fn),
        _base.decoupled_weight_decay(where, weight_decay, mask),
        _t.scale_by_learning_rate(learning_rate),
    )
