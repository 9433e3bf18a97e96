"""Regularization on parameter trees: penalties to add to a loss, and optax transformations.

Penalties (``l1_penalty``, ``l2_penalty``, ``elastic_net``) are functions of ``params``
returning a scalar to add to the loss. Transformations (``add_decayed_weights``,
``add_l1_subgradient``, ``max_norm``, clipping, gradient noise) go into ``optax.chain``.

Every function takes a ``mask`` choosing the leaves it acts on:

- ``"auto"`` (the default): leaves with ``ndim >= 2`` (:func:`jnn.optim.weights_mask`),
  skipping biases and normalization scales, which the course (I2, I3) and common practice
  leave unregularized; the same default as the optimizers' ``mask`` (``adamw``);
- ``None``: every leaf (as in optax);
- a pytree of Python bools with the structure of ``params``;
- a callable ``params -> such a pytree``. Under ``optax.inject_hyperparams`` a callable
  would be taken for a schedule; pass ``static_args=("mask",)`` there, or use a string or
  a pytree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn._checks import number_in_range, same_structure
from jnn.optim._base import AUTO_MASK, weights_mask

Mask = Any  # "auto", None, a pytree of bools shaped like params, or a callable

_NO_PARAMS = (
    "{where}: this transformation needs the parameters; call "
    "update(updates, state, params) with params, e.g. optimizer.update(grads, opt_state, params)."
)


def _check_mask(where: str, mask: Mask) -> Mask:
    """Refuse unknown mask names at construction."""
    if isinstance(mask, str) and mask != AUTO_MASK:
        raise ValueError(
            f"{where}: mask must be 'auto' (weights, not biases), None (every leaf), a pytree "
            f"of bools or a function params -> pytree of bools; got {mask!r}."
        )
    return mask


def _resolve_mask(where: str, mask: Mask, params: Any) -> Any:
    """The mask as a pytree of Python bools with the structure of ``params``."""
    if mask is None:
        return jax.tree.map(lambda _: True, params)
    if isinstance(mask, str) and mask == AUTO_MASK:
        return weights_mask(params)
    tree = mask(params) if callable(mask) else mask
    same_structure(where, "params", params, "mask", tree)
    for leaf in jax.tree.leaves(tree):
        if not isinstance(leaf, (bool, np.bool_)):
            raise TypeError(
                f"{where}: mask leaves must be Python bools (True: regularize this leaf); got "
                f"{leaf!r} of type {type(leaf).__name__}. Build it from shapes, e.g. "
                "jax.tree.map(lambda p: p.ndim >= 2, params)."
            )
    return jax.tree.map(bool, tree)


def _selected(where: str, params: Any, mask: Mask) -> list[jax.Array]:
    _check_mask(where, mask)
    tree = _resolve_mask(where, mask, params)
    return [p for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(tree)) if m]


def _sum(leaves: list[jax.Array], fn: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """Sum of ``fn`` over all leaves, accumulated in at least float32."""
    total = jnp.zeros((), dtype=float)
    for p in leaves:
        p = jnp.asarray(p)
        total = total + jnp.sum(fn(p.astype(jnp.promote_types(p.dtype, jnp.float32))))
    return total


# ------------------------------------------------------------------------- penalties


def l1_penalty(params: Any, mask: Mask = "auto") -> jax.Array:
    r"""L1 (lasso) penalty: the sum of absolute values of the masked leaves.

    .. math::
        \Omega_1(w) = \|w\|_1 = \sum_i |w_i|

    Add ``lam * l1_penalty(params)`` to a loss; it drives weights to exactly zero (sparse
    weights, course I3/I4). Its gradient is :math:`\lambda\,\mathrm{sign}(w)` (at
    :math:`w_i = 0` JAX returns a subgradient).

    Args:
        params: any pytree of arrays.
        mask: which leaves to include: ``"auto"`` (default: weights, not biases),
            ``None`` (all), a pytree of bools or a callable returning one.

    Returns:
        A scalar (float32 at least).

    Example:
        >>> import jax.numpy as jnp, jnn.optim as jo
        >>> params = {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([5.0])}
        >>> float(jo.l1_penalty(params))
        3.0
    """
    return _sum(_selected("jnn.optim.l1_penalty", params, mask), jnp.abs)


def l2_penalty(params: Any, mask: Mask = "auto") -> jax.Array:
    r"""L2 (ridge) penalty with the factor one half: :math:`\tfrac12 \|w\|_2^2`.

    .. math::
        \Omega_2(w) = \tfrac12\, w^\top w = \tfrac12 \sum_i w_i^2, \qquad
        \nabla_w\, \alpha\,\Omega_2(w) = \alpha w

    The :math:`\tfrac12` follows the course (I2: :math:`\tilde J(w) = J(w) +
    \tfrac{\alpha}{2} w^\top w`, gradient :math:`\nabla J + \alpha w`), so ``loss +
    alpha * l2_penalty(params)`` adds exactly ``alpha * w`` to the gradient. (Without the
    half, as in the penalty :math:`\lambda W_{ij}^2` of slide I3, the gradient is
    :math:`2\lambda W_{ij}`; the slide drops that factor 2.) With plain SGD at step size
    :math:`\eta` this equals decoupled weight decay :math:`\lambda' = \eta\alpha`
    (:func:`add_decayed_weights`).

    Args:
        params: any pytree of arrays.
        mask: which leaves to include (default ``"auto"``); see :func:`l1_penalty`.

    Returns:
        A scalar (float32 at least).

    Example:
        >>> import jax.numpy as jnp, jnn.optim as jo
        >>> params = {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([5.0])}
        >>> float(jo.l2_penalty(params))
        2.5
    """
    return 0.5 * _sum(_selected("jnn.optim.l2_penalty", params, mask), jnp.square)


def elastic_net(params: Any, l1_ratio: float = 0.5, mask: Mask = "auto") -> jax.Array:
    r"""Elastic-net penalty: a convex mix of L1 and (half) squared L2.

    .. math::
        \Omega(w) = \rho\, \|w\|_1 + (1 - \rho)\, \tfrac12 \|w\|_2^2

    with :math:`\rho` = ``l1_ratio`` (scikit-learn's convention; multiply by the overall
    strength :math:`\alpha` yourself). ``l1_ratio=1`` is :func:`l1_penalty`, ``0`` is
    :func:`l2_penalty`.

    Args:
        params: any pytree of arrays.
        l1_ratio: :math:`\rho \in [0, 1]`.
        mask: which leaves to include (default ``"auto"``); see :func:`l1_penalty`.

    Returns:
        A scalar (float32 at least).

    Example:
        >>> import jax.numpy as jnp, jnn.optim as jo
        >>> params = {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([5.0])}
        >>> float(jo.elastic_net(params, l1_ratio=0.5))
        2.75

    References:
        Zou & Hastie, `Regularization and variable selection via the elastic net
        <https://doi.org/10.1111/j.1467-9868.2005.00503.x>`_, 2005.
    """
    where = "jnn.optim.elastic_net"
    number_in_range(where, "l1_ratio", l1_ratio, 0.0, 1.0)
    leaves = _selected(where, params, mask)
    return l1_ratio * _sum(leaves, jnp.abs) + (1.0 - l1_ratio) * 0.5 * _sum(leaves, jnp.square)


# ------------------------------------------------------------------- transformations


def add_decayed_weights(
    weight_decay: optax.ScalarOrSchedule, mask: Mask = "auto"
) -> optax.GradientTransformation:
    r"""Decoupled weight decay: add :math:`\lambda\,\theta` to the updates (course F11).

    .. math::
        u \leftarrow u + \lambda\,\theta

    Placed before the learning-rate scaling, as in ``optax.chain(add_decayed_weights(wd),
    optax.sgd(lr))``, a step is :math:`\theta \leftarrow \theta(1 - \eta\lambda) - \eta g`
    (Hanson & Pratt 1988), which for plain SGD equals the L2 penalty
    ``(lam/2) * ||w||^2`` of :func:`l2_penalty`, i.e. :math:`\lambda' = \eta\lambda`
    (course F11/I6); for adaptive methods the two differ (Loshchilov & Hutter 2019).

    This is :func:`optax.add_decayed_weights` (identical arithmetic) with jnn's default
    mask: optax decays every leaf unless told otherwise, jnn skips biases and
    normalization scales (``mask=None`` decays everything).

    Args:
        weight_decay: :math:`\lambda \ge 0`, or a schedule.
        mask: which leaves to decay (default ``"auto"``: weights, not biases).

    Returns:
        An ``optax.GradientTransformation``; ``update`` needs ``params``.

    Example:
        >>> import jax.numpy as jnp, optax, jnn.optim as jo
        >>> tx = optax.chain(jo.add_decayed_weights(0.1), optax.sgd(1.0))
        >>> params = {"kernel": jnp.ones((1, 1)), "bias": jnp.ones(1)}
        >>> grads = {"kernel": jnp.zeros((1, 1)), "bias": jnp.ones(1)}
        >>> updates, _ = tx.update(grads, tx.init(params), params)
        >>> print(updates["kernel"], updates["bias"])  # kernel decayed, bias not
        [[-0.1]] [-1.]

    References:
        Loshchilov & Hutter, `Decoupled Weight Decay Regularization
        <https://arxiv.org/abs/1711.05101>`_, 2019.
    """
    where = "jnn.optim.add_decayed_weights"
    number_in_range(where, "weight_decay", weight_decay, 0.0)
    _check_mask(where, mask)
    if mask is None:
        return optax.add_decayed_weights(weight_decay)
    return optax.add_decayed_weights(weight_decay, lambda t: _resolve_mask(where, mask, t))


def add_l1_subgradient(
    l1: jax.typing.ArrayLike, mask: Mask = "auto"
) -> optax.GradientTransformation:
    r"""Add the L1 subgradient :math:`\lambda\,\mathrm{sign}(\theta)` to the updates.

    .. math::
        u \leftarrow u + \lambda\,\mathrm{sign}(\theta)

    The course's "L1 by weight decay" (I3): the gradient of :math:`\lambda\|w\|_1`, added
    to the unregularized gradient; ``sign(0) = 0``. Put it before the learning-rate
    scaling, like :func:`add_decayed_weights`.

    Args:
        l1: :math:`\lambda \ge 0`.
        mask: which leaves to regularize (default ``"auto"``: weights, not biases).

    Returns:
        An ``optax.GradientTransformation``; ``update`` needs ``params``.

    Example:
        >>> import jax.numpy as jnp, jnn.optim as jo
        >>> tx = jo.add_l1_subgradient(0.5, mask=None)
        >>> w = jnp.array([[-2.0, 0.0, 3.0]])
        >>> updates, _ = tx.update(jnp.zeros_like(w), tx.init(w), w)
        >>> print(updates)
        [[-0.5  0.   0.5]]
    """
    where = "jnn.optim.add_l1_subgradient"
    number_in_range(where, "l1", l1, 0.0)
    _check_mask(where, mask)

    def init_fn(params):
        _resolve_mask(where, mask, params)
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(_NO_PARAMS.format(where=where))
        same_structure(where, "updates", updates, "params", params)
        tree = _resolve_mask(where, mask, params)
        updates = jax.tree.map(
            lambda u, p, m: (u + l1 * jnp.sign(p)).astype(u.dtype) if m else u,
            updates, params, tree,
        )
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


def _norm_axes(where: str, axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim - 1))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{where}: axis {axis} is out of range for a parameter with {ndim} dimensions; "
                "use axis=None for 'all but the last axis' (each output unit's fan-in)."
            )
    return tuple(a % ndim for a in axes)


def max_norm(
    max_value: jax.typing.ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    mask: Mask = "auto",
) -> optax.GradientTransformation:
    r"""Max-norm constraint: project each unit's incoming weights onto a ball of radius c.

    .. math::
        \theta' = \theta + u, \qquad
        w_j \leftarrow w_j \cdot \min\!\left(1, \frac{c}{\|w_j\|_2}\right)
        \quad\text{for each column } w_j \text{ of } \theta'

    A unit's incoming weight vector is a column of a Dense kernel ``(in, out)`` (norm over
    axis 0) or, for a convolution kernel ``(kh, kw, in, out)``, everything but the last
    axis; ``axis=None`` means "all but the last axis" and covers both. Columns that land
    inside the ball keep their update unchanged, bit for bit.

    An optax transformation returns updates, not parameters, so this one computes where
    the step would land, :math:`\theta' = \theta + u`, projects it, and returns
    :math:`\mathrm{proj}(\theta') - \theta`: after ``optax.apply_updates`` the parameters
    are the projection (up to one rounding). It must therefore come **last** in the chain,
    after the learning rate: ``optax.chain(optax.sgd(0.1), max_norm(3.0))``.

    Args:
        max_value: :math:`c > 0` (Srivastava et al. use 3 to 4 with dropout).
        axis: axes the norm runs over; ``None``: all but the last.
        mask: which leaves to constrain (default ``"auto"``: not biases).

    Returns:
        An ``optax.GradientTransformation``; ``update`` needs ``params``.

    Example:
        >>> import numpy as np, jax.numpy as jnp, optax, jnn.optim as jo
        >>> tx = optax.chain(optax.sgd(1.0), jo.max_norm(1.0, mask=None))
        >>> w = jnp.array([[3.0, 0.1], [4.0, 0.2]])  # column norms 5 and 0.22
        >>> updates, _ = tx.update(jnp.zeros_like(w), tx.init(w), w)
        >>> print(np.asarray(optax.apply_updates(w, updates)).round(4))
        [[0.6 0.1]
         [0.8 0.2]]

    References:
        Srivastava et al., `Dropout: A Simple Way to Prevent Neural Networks from
        Overfitting <https://jmlr.org/papers/v15/srivastava14a.html>`_, JMLR 2014
        (Section 5.1); Hinton et al., `Improving neural networks by preventing
        co-adaptation of feature detectors <https://arxiv.org/abs/1207.0580>`_, 2012.
    """
    where = "jnn.optim.max_norm"
    number_in_range(where, "max_value", max_value, 0.0, low_inclusive=False)
    _check_mask(where, mask)

    def init_fn(params):
        tree = _resolve_mask(where, mask, params)
        for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(tree)):
            if m:
                _norm_axes(where, axis, np.ndim(p))
        return optax.EmptyState()

    def project(u, p):
        axes = _norm_axes(where, axis, p.ndim)
        landed = p + u.astype(p.dtype)
        compute = jnp.promote_types(p.dtype, jnp.float32)
        norms = jnp.sqrt(jnp.sum(jnp.square(landed.astype(compute)), axis=axes, keepdims=True))
        outside = norms > max_value
        scale = max_value / jnp.where(outside, norms, 1)
        projected = (landed.astype(compute) * scale).astype(p.dtype)
        # Columns inside the ball keep the incoming update bit for bit.
        return jnp.where(outside, (projected - p).astype(u.dtype), u)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(_NO_PARAMS.format(where=where))
        same_structure(where, "updates", updates, "params", params)
        tree = _resolve_mask(where, mask, params)
        updates = jax.tree.map(lambda u, p, m: project(u, p) if m else u, updates, params, tree)
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


def clip_by_value(max_delta: jax.typing.ArrayLike) -> optax.GradientTransformation:
    r"""Clip every update element to :math:`[-\delta, \delta]`.

    .. math::
        u_i \leftarrow \min(\max(u_i, -\delta), \delta)

    Checks ``max_delta > 0`` and returns :func:`optax.clip`.

    Example:
        >>> import jax.numpy as jnp, jnn.optim as jo
        >>> tx = jo.clip_by_value(1.0)
        >>> print(tx.update(jnp.array([-3.0, 0.5, 2.0]), tx.init(None))[0])
        [-1.   0.5  1. ]
    """
    number_in_range("jnn.optim.clip_by_value", "max_delta", max_delta, 0.0, low_inclusive=False)
    return optax.clip(max_delta)


def clip_by_global_norm(max_norm: jax.typing.ArrayLike) -> optax.GradientTransformation:
    r"""Rescale all updates together when their global norm exceeds ``max_norm``.

    .. math::
        u \leftarrow u \cdot \min\!\left(1, \frac{c}{\|u\|_2}\right), \qquad
        \|u\|_2 = \sqrt{\textstyle\sum_{\text{leaves}} \sum_i u_i^2}

    Checks ``max_norm > 0`` and returns :func:`optax.clip_by_global_norm`.

    Example:
        >>> import jax.numpy as jnp, jnn.optim as jo
        >>> tx = jo.clip_by_global_norm(1.0)
        >>> print(tx.update(jnp.array([3.0, 4.0]), tx.init(None))[0])
        [0.6 0.8]

    References:
        Pascanu et al., `On the difficulty of training Recurrent Neural Networks
        <https://arxiv.org/abs/1211.5063>`_, 2013.
    """
    number_in_range(
        "jnn.optim.clip_by_global_norm", "max_norm", max_norm, 0.0, low_inclusive=False
    )
    return optax.clip_by_global_norm(max_norm)


def add_gradient_noise(
    eta: jax.typing.ArrayLike, gamma: jax.typing.ArrayLike = 0.55, *, key: jax.Array | int
) -> optax.GradientTransformation:
    r"""Annealed Gaussian gradient noise (Neelakantan et al. 2015).

    .. math::
        g_t \leftarrow g_t + \mathcal N(0, \sigma_t^2), \qquad
        \sigma_t^2 = \frac{\eta}{(1 + t)^\gamma}

    with :math:`t = 0, 1, \dots` the step count, fresh noise for every element at every
    step. Checks the arguments and returns :func:`optax.add_noise`, which computes exactly
    this (its ``count`` starts at 1 = :math:`1 + t`). Put it before the learning-rate
    scaling. The paper uses :math:`\eta \in \{0.01, 0.3, 1\}` and :math:`\gamma = 0.55`.

    Args:
        eta: :math:`\eta \ge 0`, the variance at the first step.
        gamma: :math:`\gamma \ge 0`, the annealing exponent.
        key: a ``jax.random.key`` or an integer seed (required: the same key gives the
            same noise).

    Returns:
        An ``optax.GradientTransformation`` whose state carries the count and the key.

    Example:
        >>> import jax, jax.numpy as jnp, optax, jnn.optim as jo
        >>> tx = optax.chain(jo.add_gradient_noise(0.01, key=jax.random.key(0)),
        ...                  optax.sgd(0.1))
        >>> updates, state = tx.update(jnp.zeros(3), tx.init(jnp.zeros(3)))
        >>> updates.shape
        (3,)

    References:
        Neelakantan et al., `Adding Gradient Noise Improves Learning for Very Deep Networks
        <https://arxiv.org/abs/1511.06807>`_, 2015.
    """
    where = "jnn.optim.add_gradient_noise"
    number_in_range(where, "eta", eta, 0.0)
    number_in_range(where, "gamma", gamma, 0.0)
    return optax.add_noise(eta, gamma, key)
