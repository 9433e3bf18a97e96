"""AdaHessian: Adam with the squared gradient replaced by a Hutchinson Hessian diagonal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.typing import ArrayLike

from jnn import _checks, curvature
from jnn.optim import _base
from jnn.optim import _transform as _t
from jnn.optim._second_order import (
    NO_PARAMS_MSG,
    check_loss_fn,
    check_scalar_loss,
    loss_of_params,
)


def hutchinson_diagonal(f: Callable, params: Any, key: jax.Array, num_samples: int) -> Any:
    r"""Hutchinson's estimate :math:`\frac1n \sum_i z_i \odot H z_i` of the loss's Hessian diagonal.

    ``f`` is the loss as a function of params only; the probes are Rademacher vectors.
    """
    H = curvature.hvp_operator(lambda p, _: f(p), params, None, linearize=num_samples > 1)
    return curvature.diag_hutchinson(H, params, key=key, num_samples=num_samples)


def check_key(where: str, key: Any) -> jax.Array:
    """``None`` -> ``jax.random.key(0)``; a typed or raw key passes; anything else raises."""
    if key is None:
        return jax.random.key(0)
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, jax.Array) and key.shape == (2,) and key.dtype == jnp.uint32:
        return key
    raise TypeError(
        f"{where}: key must be a jax.random key, e.g. key=jax.random.key(0); got {key!r}."
    )


def _spatial_average(D: Any) -> Any:
    # Paper, Eq. 10: for convolution kernels, the average over each kernel window. jnn
    # kernels are (*spatial, in, out), so the window axes are all but the last two. Like
    # the authors' code, the magnitudes |D| are averaged (Eq. 10 averages D itself; the
    # two agree wherever the block has one entry, since only D**2 is used).
    def average(d):
        if d.ndim < 3:
            return d
        axes = tuple(range(d.ndim - 2))
        return jnp.broadcast_to(jnp.mean(jnp.abs(d), axis=axes, keepdims=True), d.shape)

    return jax.tree.map(average, D)


class ScaleByAdaHessianState(NamedTuple):
    """State of :func:`scale_by_adahessian`.

    Attributes:
      count: number of updates so far (int32).
      mu: :math:`m`, the moving average of the gradients.
      nu: :math:`v`, the moving average of the squared (spatially averaged) Hessian
        diagonal estimates.
      hessian: the last estimate :math:`D^{(s)}`, reused between refreshes.
      key: the ``jax.random`` key for the next Rademacher probes.
    """

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates
    hessian: optax.Updates
    key: jax.Array


def _check_common(where, b1, b2, eps, update_every, num_samples, loss_fn, key, typical):
    """Shared checks of AdaHessian and Sophia; ``typical`` holds the b1, b2, eps defaults."""
    _base.check_decay(where, "b1", b1, typical[0])
    _base.check_decay(where, "b2", b2, typical[1])
    _base.check_positive(where, "eps", eps, typical[2])
    _checks.positive_int(where, "update_every", update_every)
    _checks.positive_int(where, "num_samples", num_samples)
    check_loss_fn(where, loss_fn)
    return check_key(where, key)


def scale_by_adahessian(
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-4,
    hessian_power: ArrayLike = 1.0,
    *,
    update_every: int = 1,
    num_samples: int = 1,
    spatial_average: bool = True,
    key: jax.Array | None = None,
    loss_fn: Callable | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""The AdaHessian preconditioner: outputs :math:`\hat m_t / (\hat v_t^{k/2} + \epsilon)`.

    See :func:`adahessian` for the algorithm and the arguments. Chain a negative step
    size after it (``adahessian`` does).
    """
    where = "jnn.optim.scale_by_adahessian"
    key = _check_common(where, b1, b2, eps, update_every, num_samples, loss_fn, key,
                        ("0.9", "0.999", "1e-4"))
    _checks.number_in_range(where, "hessian_power", hessian_power, 0.0, 1.0,
                            fix="The paper's k lies in [0, 1]; 1 is the default.")
    if not isinstance(spatial_average, bool):
        raise TypeError(f"{where}: spatial_average must be True or False; got {spatial_average!r}.")

    def init_fn(params):
        return ScaleByAdaHessianState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params),
            nu=optax.tree.zeros_like(params),
            hessian=optax.tree.zeros_like(params),
            key=key,
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del value, grad
        if params is None:
            raise TypeError(NO_PARAMS_MSG.format(where=where))
        _base.check_trees(where, updates, params, state.mu)
        f = loss_of_params(where, "adahessian", loss_fn, value_fn, extra)
        check_scalar_loss(where, f, params)

        def estimate(k):
            k, probe_key = jax.random.split(k)
            D = hutchinson_diagonal(f, params, probe_key, num_samples)
            D = _spatial_average(D) if spatial_average else D
            return optax.tree.cast_like(D, state.hessian), k

        refresh = state.count % update_every == 0
        D, new_key = lax.cond(refresh, estimate, lambda k: (state.hessian, k), state.key)

        count = optax.safe_increment(state.count)
        mu = optax.tree.update_moment(updates, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(D, state.nu, b2, 2)
        m_hat = optax.tree.bias_correction(mu, b1, count)
        v_hat = optax.tree.bias_correction(nu, b2, count)
        out = jax.tree.map(lambda m, v: m / (v ** (hessian_power / 2) + eps), m_hat, v_hat)
        new_state = ScaleByAdaHessianState(
            count=count,
            mu=optax.tree.cast_like(mu, state.mu),
            nu=optax.tree.cast_like(nu, state.nu),
            hessian=D,
            key=new_key,
        )
        return optax.tree.cast_like(out, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def adahessian(
    learning_rate: optax.ScalarOrSchedule = 0.15,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-4,
    hessian_power: ArrayLike = 1.0,
    weight_decay: ArrayLike = 0.0,
    *,
    update_every: int = 1,
    num_samples: int = 1,
    spatial_average: bool = True,
    key: jax.Array | None = None,
    loss_fn: Callable | None = None,
    mask: Any = None,
) -> optax.GradientTransformationExtraArgs:
    r"""AdaHessian: Adam's update with a Hessian diagonal in place of the squared gradient.

    Yao et al., Algorithm 1. With the Hutchinson estimate of the Hessian diagonal
    :math:`D_t = z \odot (H_t z)`, :math:`z \in \{\pm1\}^d` (one Hessian-vector product;
    :func:`jnn.curvature.diag_hutchinson`), spatially averaged over each convolution
    kernel window into :math:`D_t^{(s)}` (Eq. 10):

    .. math::

        m_t &= \frac{(1-\beta_1)\sum_{i=1}^{t} \beta_1^{t-i} g_i}{1 - \beta_1^t}, \qquad
        v_t = \left(\sqrt{\frac{(1-\beta_2)\sum_{i=1}^{t} \beta_2^{t-i}\,
              D_i^{(s)} D_i^{(s)}}{1 - \beta_2^t}}\;\right)^{k} \\
        \theta_t &= \theta_{t-1} - \eta \left( \frac{m_t}{v_t + \epsilon}
              + \lambda\, \theta_{t-1} \right)

    with Hessian power :math:`k` and decoupled weight decay :math:`\lambda` (as in the
    authors' code). With ``update_every=k`` the estimate is refreshed at steps
    :math:`1, k+1, 2k+1, \dots` and reused in between (the delayed Hessian update); each
    refresh costs about two gradients. The loss is needed for the Hessian-vector
    products: ``value_fn=`` at every step (``jnn.train.fit`` passes it) or
    ``loss_fn=`` at construction. The random key lives in the state.

    Args:
      learning_rate: :math:`\eta` > 0 (paper default 0.15), or a schedule.
      b1: :math:`\beta_1` in [0, 1).
      b2: :math:`\beta_2` in [0, 1).
      eps: :math:`\epsilon` > 0, added to :math:`v_t` (the paper's code uses 1e-4).
      hessian_power: :math:`k` in [0, 1] (0 gives momentum SGD up to scale).
      weight_decay: :math:`\lambda` >= 0, decoupled.
      update_every: refresh the Hessian estimate every this many steps.
      num_samples: Rademacher probes per estimate.
      spatial_average: average :math:`|D|` over the window axes of kernels with 3 or more
        dimensions (jnn's ``(*window, in, out)`` layout); other leaves are unchanged.
      key: ``jax.random`` key for the probes (default ``jax.random.key(0)``).
      loss_fn: ``loss(params, **kwargs) -> scalar``; or pass ``value_fn=`` to ``update``.
      mask: which leaves decay (``None``: all, as in the paper), a tree of bools or a
        function of params.

    Returns:
      An ``optax.GradientTransformationExtraArgs``;
      ``update(grads, state, params, *, value_fn=None, **kwargs)``. Under
      ``optax.inject_hyperparams`` pass ``static_args=("update_every", "num_samples")``.

    Example:
      >>> import jax, jax.numpy as jnp, optax, jnn.optim
      >>> loss = lambda p: jnp.sum(jnp.array([1.0, 100.0]) * p**2)   # badly conditioned
      >>> opt = jnn.optim.adahessian(0.1)
      >>> @jax.jit
      ... def step(params, state):
      ...     grads = jax.grad(loss)(params)
      ...     updates, state = opt.update(grads, state, params, value_fn=loss)
      ...     return optax.apply_updates(params, updates), state
      >>> params = jnp.array([1.0, 1.0]); state = opt.init(params)
      >>> for _ in range(200):
      ...     params, state = step(params, state)
      >>> bool(loss(params) < 1e-6)
      True

    .. warning::
        The paper's Eq. 10 averages :math:`D` over a block; like the authors' code, jnn
        averages :math:`|D|`. The authors' instruction code also averages each row of
        a 2-D weight matrix by default; jnn leaves matrices alone (the paper's
        convolution-only setting).

    References:
      Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, `ADAHESSIAN: An Adaptive Second
      Order Optimizer for Machine Learning <https://arxiv.org/abs/2006.00719>`_, AAAI 2021.
    """
    where = "jnn.optim.adahessian"
    _base.check_learning_rate(where, learning_rate)
    return optax.chain(
        scale_by_adahessian(b1, b2, eps, hessian_power, update_every=update_every,
                            num_samples=num_samples, spatial_average=spatial_average,
                            key=key, loss_fn=loss_fn),
        _base.decoupled_weight_decay(where, weight_decay, mask),
        _t.scale_by_learning_rate(learning_rate),
    )
