"""Sharpness in numbers: top Hessian eigenpairs and Keskar et al.'s epsilon-sharpness."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._checks import number_in_range, positive_int
from ..curvature import Eigenpairs, hvp_operator, top_eigenvalues
from ._directions import tree_norm
from ._validate import check_loss_fn, check_params, check_scalar

_NORMS = ("box", "l2")


def hessian_eigenpairs(loss: Callable, params: Any, batch: Any, k: int = 2, *,
                       key: jax.Array, num_iters: int | None = None,
                       tol: float = 1e-6) -> Eigenpairs:
    r"""The ``k`` largest Hessian eigenpairs of ``loss`` at ``params``, by Lanczos.

    A thin wrapper over ``jnn.curvature.top_eigenvalues(hvp_operator(loss, params,
    batch), params, k)``: matrix-free Hessian-vector products, no Hessian formed. The top
    eigenvector is the direction of greatest curvature, so ``plane(loss, params, *dirs,
    ...)`` with ``dirs = hessian_directions(...)`` shows the sharpest 2-D slice, and
    :math:`\lambda_{\max}` is the standard number for how sharp a minimum is.

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params: the point.
      batch: the loss's second argument.
      k: how many eigenpairs.
      key: the Lanczos starting vector's key.
      num_iters, tol: see ``jnn.curvature.top_eigenvalues``.

    Returns:
      ``jnn.curvature.Eigenpairs`` (eigenvalues descending, eigenvectors stacked on a
      leading axis of every leaf, unit norm).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)   # H = diag(b)
      >>> res = hessian_eigenpairs(loss, {"w": jnp.zeros(4)}, jnp.arange(1.0, 5.0), k=1,
      ...                          key=jax.random.key(0))
      >>> round(float(res.eigenvalues[0]), 4)
      4.0
    """
    where = "hessian_eigenpairs"
    check_loss_fn(where, loss)
    check_params(where, params)
    check_scalar(where, "loss", jax.eval_shape(loss, params, batch))
    positive_int(where, "k", k)
    res = _eigenpairs(loss, params, batch, key, k=k, num_iters=num_iters, tol=tol)
    if not bool(res.finite):
        raise ValueError(f"{where}: the Lanczos result contains nan or inf; the loss or its "
                         "second derivatives are not finite at these params.")
    return res


@functools.partial(jax.jit, static_argnames=("loss", "k", "num_iters", "tol"))
def _eigenpairs(loss, params, batch, key, *, k, num_iters, tol):
    # One compiled program (the Lanczos loop and its post-processing), not op-by-op.
    return top_eigenvalues(hvp_operator(loss, params, batch), params, k, key=key,
                           num_iters=num_iters, tol=tol)


def hessian_directions(loss: Callable, params: Any, batch: Any, k: int = 2, *,
                       key: jax.Array, num_iters: int | None = None,
                       tol: float = 1e-6) -> list[Any]:
    """The top-``k`` Hessian eigenvectors as a list of direction pytrees (unit norm).

    See :func:`hessian_eigenpairs`; ``hessian_directions(...)[0]`` is the sharpest direction.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> loss = lambda p, b: 0.5 * jnp.sum(b * p ** 2)
      >>> d1, d2 = hessian_directions(loss, jnp.zeros(3), jnp.array([1.0, 3.0, 2.0]),
      ...                             key=jax.random.key(0))
      >>> jnp.abs(d1).round(3), jnp.abs(d2).round(3)
      (Array([0., 1., 0.], dtype=float32), Array([0., 0., 1.], dtype=float32))
    """
    res = hessian_eigenpairs(loss, params, batch, k, key=key, num_iters=num_iters, tol=tol)
    return [jax.tree.map(lambda v, i=i: v[i], res.eigenvectors) for i in range(k)]


def top_hessian_eigenvalue(loss: Callable, params: Any, batch: Any, *, key: jax.Array,
                           num_iters: int | None = None, tol: float = 1e-6) -> jax.Array:
    r""":math:`\lambda_{\max}(\nabla^2 L(\theta))`, the sharpness of Keskar et al. and Cohen et al.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> loss = lambda p, b: 0.5 * jnp.sum(b * p ** 2)
      >>> lam = top_hessian_eigenvalue(loss, jnp.zeros(3), jnp.array([1.0, 3.0, 2.0]),
      ...                              key=jax.random.key(0))
      >>> round(float(lam), 4)
      3.0

    References:
      Keskar et al., "On Large-Batch Training for Deep Learning: Generalization Gap and Sharp
      Minima", ICLR 2017. https://arxiv.org/abs/1609.04836
      Cohen, Kaur, Li, Kolter, Talwalkar, "Gradient Descent on Neural Networks Typically
      Occurs at the Edge of Stability", ICLR 2021. https://arxiv.org/abs/2103.00065
    """
    return hessian_eigenpairs(loss, params, batch, 1, key=key, num_iters=num_iters,
                              tol=tol).eigenvalues[0]


class EpsilonSharpness(NamedTuple):
    r"""The result of :func:`epsilon_sharpness`.

    Attributes:
      sharpness: Keskar et al.'s :math:`\phi = 100\,(\max_{y} L(\theta + y) - L(\theta))
        / (1 + L(\theta))`, in percent.
      relative_increase: :math:`(\max_y L(\theta + y) - L(\theta)) / |L(\theta)|` (``inf``
        when :math:`L(\theta) = 0` and the maximum is larger).
      loss: :math:`L(\theta)`.
      max_loss: the largest loss found in the ball.
      perturbation: the maximizing :math:`y`, a pytree like ``params``.
      finite: ``False`` if a nan or inf appeared during the ascent.
    """

    sharpness: jax.Array
    relative_increase: jax.Array
    loss: jax.Array
    max_loss: jax.Array
    perturbation: Any
    finite: jax.Array


def _radius(params, epsilon, norm):
    if norm == "box":
        return jax.tree.map(lambda p: epsilon * (jnp.abs(p) + 1), params)
    return epsilon * (tree_norm(params) + 1)


def _project(y, radius, norm):
    if norm == "box":
        return jax.tree.map(lambda v, r: jnp.clip(v, -r, r), y, radius)
    n = tree_norm(y)
    scale = jnp.minimum(1.0, radius / jnp.maximum(n, jnp.finfo(n.dtype).tiny))
    return jax.tree.map(lambda v: v * scale.astype(v.dtype), y)


def _ascent_step(g, radius, step_size, norm):
    if norm == "box":  # steepest ascent for the max-norm: a signed step per coordinate
        return jax.tree.map(lambda gi, r: step_size * r * jnp.sign(gi), g, radius)
    n = tree_norm(g)
    scale = step_size * radius / jnp.maximum(n, jnp.finfo(n.dtype).tiny)
    return jax.tree.map(lambda gi: gi * scale.astype(gi.dtype), g)


def _start(params, radius, norm, key):
    if key is None:
        return jax.tree.map(jnp.zeros_like, params)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    u = [jax.random.uniform(k, p.shape, p.dtype, -1.0, 1.0) for k, p in zip(keys, leaves)]
    u = jax.tree.unflatten(treedef, u)
    if norm == "box":
        return jax.tree.map(lambda v, r: v * r, u, radius)
    return _project(jax.tree.map(lambda v: v * radius, u), radius, norm)


@functools.partial(jax.jit, static_argnames=("loss", "steps", "norm"))
def _ascend(loss, params, batch, epsilon, step_size, key, *, steps, norm):
    radius = _radius(params, epsilon, norm)
    f = lambda y: loss(jax.tree.map(jnp.add, params, y), batch)
    value_and_grad = jax.value_and_grad(f)
    y0 = _start(params, radius, norm, key)
    f0 = loss(params, batch)

    def body(carry, _):
        y, best, best_y = carry
        value, g = value_and_grad(y)
        better = value > best
        best = jnp.where(better, value, best)
        best_y = jax.tree.map(lambda a, b: jnp.where(better, a, b), y, best_y)
        y = _project(jax.tree.map(jnp.add, y, _ascent_step(g, radius, step_size, norm)),
                     radius, norm)
        return (y, best, best_y), jnp.isfinite(value)

    (y, best, best_y), finite = lax.scan(body, (y0, f0, jax.tree.map(jnp.zeros_like, y0)),
                                         None, length=steps)
    last = f(y)
    better = last > best
    best = jnp.where(better, last, best)
    best_y = jax.tree.map(lambda a, b: jnp.where(better, a, b), y, best_y)
    return f0, best, best_y, jnp.all(finite) & jnp.isfinite(last)


def epsilon_sharpness(
    loss: Callable,
    params: Any,
    batch: Any,
    *,
    epsilon: float = 1e-3,
    steps: int = 20,
    step_size: float | None = None,
    norm: str = "box",
    key: jax.Array | None = None,
) -> EpsilonSharpness:
    r"""Keskar et al.'s :math:`\epsilon`-sharpness: the largest loss increase in a small box.

    .. math::

        \phi_{\theta}(\epsilon) = \frac{\max_{y \in \mathcal{C}_\epsilon} L(\theta + y)
            - L(\theta)}{1 + L(\theta)} \times 100, \qquad
        \mathcal{C}_\epsilon = \{y : |y_i| \le \epsilon\,(|\theta_i| + 1)\}

    (the full-space version, :math:`A = I_n`). Keskar et al. solve the inner maximization
    with L-BFGS-B; here it is projected gradient ascent, ``steps`` iterations inside one
    ``lax.scan``: for the box a signed step :math:`y \leftarrow \Pi_{\mathcal{C}}(y +
    \eta\,r \odot \mathrm{sign}\,\nabla L)` with :math:`r_i = \epsilon(|\theta_i| + 1)`
    (steepest ascent for the max-norm, as in PGD), and for ``norm="l2"`` the ball
    :math:`\|y\| \le \epsilon(\|\theta\| + 1)` with normalized gradient steps. The best
    value seen is returned. At a minimum the gradient vanishes, so give a ``key`` to start
    from a random point of the set.

    Args:
      loss: ``loss(params, batch) -> scalar``.
      params: the point :math:`\theta`.
      batch: the loss's second argument.
      epsilon: the relative size of the set, ``> 0`` (Keskar et al. use 1e-3 and 5e-4).
      steps: gradient-ascent iterations.
      step_size: :math:`\eta` as a fraction of the radius; default ``2.5 / steps`` for the
        box (PGD's choice: the steps can cross the box) and ``1`` for the ball (each step
        then mixes the current direction with the gradient's, a power iteration that finds
        the top-curvature direction of a quadratic).
      norm: ``"box"`` (Keskar et al.) or ``"l2"``.
      key: a random start in the set (recommended); ``None`` starts at :math:`\theta`.

    Returns:
      :class:`EpsilonSharpness`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> loss = lambda p, b: 0.5 * jnp.sum(b * p ** 2)      # max at a corner: 0.5 eps^2 sum b
      >>> res = epsilon_sharpness(loss, jnp.zeros(3), jnp.array([1.0, 2.0, 3.0]),
      ...                         epsilon=0.1, key=jax.random.key(0))
      >>> round(float(res.max_loss), 6)
      0.03

    References:
      Keskar, Mudigere, Nocedal, Smelyanskiy, Tang, "On Large-Batch Training for Deep
      Learning: Generalization Gap and Sharp Minima", ICLR 2017.
      https://arxiv.org/abs/1609.04836
    """
    where = "epsilon_sharpness"
    check_loss_fn(where, loss)
    check_params(where, params)
    check_scalar(where, "loss", jax.eval_shape(loss, params, batch))
    number_in_range(where, "epsilon", epsilon, 0.0, None, low_inclusive=False)
    steps = positive_int(where, "steps", steps)
    if norm not in _NORMS:
        raise ValueError(f"{where}: norm must be one of {_NORMS}; got {norm!r}.")
    if step_size is None:
        step_size = 2.5 / steps if norm == "box" else 1.0
    number_in_range(where, "step_size", step_size, 0.0, None, low_inclusive=False)
    f0, best, y, finite = _ascend(loss, params, batch, epsilon, step_size, key,
                                  steps=steps, norm=norm)
    increase = best - f0
    relative = jnp.where(increase == 0, 0.0, increase / jnp.abs(f0))
    return EpsilonSharpness(100 * increase / (1 + f0), relative, f0, best, y, finite)

