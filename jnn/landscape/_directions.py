"""Directions in parameter space: random, filter- and layer-normalized, differences, pairs."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._validate import check_like, check_params

_VECTOR_MODES = ("zero", "keep", "normalize")


def tree_vdot(a: Any, b: Any) -> jax.Array:
    """``sum_leaves <a, b>`` accumulated in float32 or wider."""
    parts = [
        jnp.vdot(x.astype(jnp.promote_types(x.dtype, jnp.float32)), y) for x, y in
        zip(jax.tree.leaves(a), jax.tree.leaves(b))
    ]
    return jnp.sum(jnp.stack(parts))


def tree_norm(a: Any) -> jax.Array:
    return jnp.sqrt(tree_vdot(a, a))


def random_direction(key: jax.Array, params: Any) -> Any:
    r"""A Gaussian direction shaped like ``params``: every entry :math:`\sim \mathcal{N}(0, 1)`.

    Each leaf gets its own key (``jax.random.split`` in leaf order), so the same key always
    gives the same direction; store the seed to reproduce a landscape.

    Args:
      key: a ``jax.random`` key.
      params: the parameter pytree whose structure, shapes and dtypes the direction copies.

    Returns:
      A pytree like ``params``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> d = random_direction(jax.random.key(0), {"w": jnp.zeros((2, 3))})
      >>> d["w"].shape
      (2, 3)
    """
    check_params("random_direction", params)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    out = [jax.random.normal(k, jnp.shape(p), jnp.result_type(p)) for k, p in zip(keys, leaves)]
    return jax.tree.unflatten(treedef, out)


def _scaled(d, p, axes, eps):
    d32 = d.astype(jnp.promote_types(d.dtype, jnp.float32))
    p32 = p.astype(d32.dtype)
    dn = jnp.sqrt(jnp.sum(d32 * d32, axis=axes, keepdims=True))
    pn = jnp.sqrt(jnp.sum(p32 * p32, axis=axes, keepdims=True))
    return (d32 * (pn / (dn + eps))).astype(d.dtype)


def _check_mode(where: str, vectors: str) -> None:
    if vectors not in _VECTOR_MODES:
        raise ValueError(
            f"{where}: vectors must be one of {_VECTOR_MODES} (what to do with biases and "
            f"normalization parameters, the leaves with ndim <= 1); got {vectors!r}."
        )


def filter_normalize(direction: Any, params: Any, *, vectors: str = "zero",
                     eps: float = 1e-10) -> Any:
    r"""Rescale every filter of ``direction`` to the norm of the same filter in ``params``.

    Li et al. (2018) remove the scale invariance of ReLU networks from landscape plots by
    giving each filter of the direction :math:`d` the norm of the matching filter of the
    trained weights :math:`\theta`:

    .. math::

        d_{i,j} \leftarrow \frac{d_{i,j}}{\|d_{i,j}\|}\,\|\theta_{i,j}\|,

    where :math:`d_{i,j}` is filter :math:`j` of layer :math:`i`. jnn's kernels keep the
    output unit on the last axis, so a filter is a slice ``leaf[..., j]``: a column of a
    Dense kernel ``(in, out)`` (the incoming weights of output neuron ``j``) or one output
    filter of a convolution kernel ``(kh, kw, in, out)``.

    Leaves with ``ndim <= 1`` (biases, BatchNorm scales and offsets) are handled by
    ``vectors``: ``"zero"`` sets them to 0 (Li et al.'s ``ignore='biasbn'``, the usual
    choice), ``"keep"`` leaves them as they are, ``"normalize"`` rescales each whole vector
    to the norm of the params' vector.

    Args:
      direction: a pytree shaped like ``params`` (e.g. from :func:`random_direction`).
      params: the trained parameters :math:`\theta`.
      vectors: ``"zero"``, ``"keep"`` or ``"normalize"``, for leaves with ``ndim <= 1``.
      eps: added to :math:`\|d_{i,j}\|` so an all-zero filter stays zero.

    Returns:
      The normalized direction, a pytree like ``params``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> params = {"kernel": jnp.array([[3.0, 0.0], [4.0, 1.0]]), "bias": jnp.ones(2)}
      >>> d = filter_normalize(random_direction(jax.random.key(0), params), params)
      >>> jnp.linalg.norm(d["kernel"], axis=0).round(4), d["bias"]
      (Array([5., 1.], dtype=float32), Array([0., 0.], dtype=float32))

    References:
      Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural Nets",
      NeurIPS 2018. https://arxiv.org/abs/1712.09913
    """
    where = "filter_normalize"
    _check_mode(where, vectors)
    check_params(where, params)
    check_like(where, "direction", direction, "params", params)

    def one(d, p):
        d = jnp.asarray(d)
        if d.ndim >= 2:
            return _scaled(d, p, tuple(range(d.ndim - 1)), eps)
        if vectors == "zero":
            return jnp.zeros_like(d)
        if vectors == "normalize":
            return _scaled(d, p, None, eps)
        return d

    return jax.tree.map(one, direction, params)


def filter_normalized_direction(key: jax.Array, params: Any, *, vectors: str = "zero") -> Any:
    """A Gaussian direction, filter-normalized against ``params`` (Li et al. 2018).

    ``filter_normalize(random_direction(key, params), params, vectors=vectors)``; see
    :func:`filter_normalize`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> params = [{"kernel": jnp.ones((3, 4)), "bias": jnp.zeros(4)}]
      >>> d = filter_normalized_direction(jax.random.key(1), params)
      >>> jnp.linalg.norm(d[0]["kernel"], axis=0).round(4)
      Array([1.7321, 1.7321, 1.7321, 1.7321], dtype=float32)
    """
    _check_mode("filter_normalized_direction", vectors)
    return filter_normalize(random_direction(key, params), params, vectors=vectors)


def layer_normalize(direction: Any, params: Any, *, eps: float = 1e-10) -> Any:
    r"""Rescale every leaf of ``direction`` to the norm of the same leaf of ``params``.

    .. math::

        d_i \leftarrow \frac{d_i}{\|d_i\|}\,\|\theta_i\| \qquad \text{for every leaf } i.

    A coarser normalization than :func:`filter_normalize`: one scale per weight array
    (the "layer" normalization compared by Li et al. 2018).

    Example:
      >>> import jax.numpy as jnp
      >>> d = layer_normalize({"w": jnp.ones(4)}, {"w": jnp.full(4, 3.0)})
      >>> float(jnp.linalg.norm(d["w"]))
      6.0
    """
    where = "layer_normalize"
    check_params(where, params)
    check_like(where, "direction", direction, "params", params)
    return jax.tree.map(lambda d, p: _scaled(jnp.asarray(d), p, None, eps), direction, params)


def difference(params_from: Any, params_to: Any) -> Any:
    r"""The direction :math:`\theta_\text{to} - \theta_\text{from}` between two solutions.

    With it, ``line(loss, params_from, difference(params_from, params_to), alphas, batch)``
    is the straight path of Goodfellow et al. (2015) at :math:`\alpha \in [0, 1]`; prefer
    :func:`jnn.landscape.interpolate`, whose endpoints are exactly the two solutions.

    Example:
      >>> import jax.numpy as jnp
      >>> difference({"w": jnp.ones(2)}, {"w": jnp.array([3.0, 0.0])})["w"]
      Array([ 2., -1.], dtype=float32)
    """
    check_params("difference", params_from, "params_from")
    check_like("difference", "params_to", params_to, "params_from", params_from)
    return jax.tree.map(lambda a, b: jnp.asarray(b) - jnp.asarray(a), params_from, params_to)


def cosine_similarity(d1: Any, d2: Any) -> jax.Array:
    r"""The cosine of the angle between two directions, over all their leaves at once:

    .. math::

        \cos\angle(d_1, d_2) = \frac{\langle d_1, d_2\rangle}{\|d_1\|\,\|d_2\|}.

    Li et al. (2018) rely on two random directions in many dimensions being nearly
    orthogonal; this measures how nearly (and how aligned a Hessian eigenvector is with a
    training step, or two solutions' differences are). Accumulated in float32 or wider.

    Args:
      d1, d2: pytrees of the same structure and shapes, neither all zeros.

    Returns:
      A scalar in :math:`[-1, 1]` (nan if a direction is zero, as under ``jit`` nothing
      can be raised).

    Example:
      >>> import jax.numpy as jnp
      >>> cosine_similarity({"w": jnp.array([1.0, 0.0])}, {"w": jnp.array([1.0, 1.0])})
      Array(0.70710677, dtype=float32)
    """
    where = "cosine_similarity"
    check_params(where, d1, "d1")
    check_like(where, "d2", d2, "d1", d1)
    n11, n12, n22 = tree_vdot(d1, d1), tree_vdot(d1, d2), tree_vdot(d2, d2)
    for name, n in (("d1", n11), ("d2", n22)):
        if not isinstance(n, jax.core.Tracer) and float(n) == 0.0:
            raise ValueError(f"{where}: {name} is zero, so it has no angle with another "
                             "direction; pass a nonzero direction.")
    return n12 / (jnp.sqrt(n11) * jnp.sqrt(n22))


def orthogonalize(d1: Any, d2: Any, *, keep_norm: bool = True) -> tuple[Any, Any]:
    r"""Gram–Schmidt on a pair of directions: ``d2`` loses its component along ``d1``.

    .. math::

        d_2 \leftarrow d_2 - \frac{\langle d_1, d_2\rangle}{\langle d_1, d_1\rangle}\, d_1,
        \qquad \text{then (keep\_norm) } d_2 \leftarrow d_2\,
        \frac{\|d_2^\text{old}\|}{\|d_2\|},

    with inner products summed over all leaves. ``d1`` is returned unchanged. Two random
    directions in many dimensions are already nearly orthogonal (Li et al. 2018); this
    makes it exact, so the axes of a plane plot are perpendicular. It perturbs a
    filter-normalized ``d2`` slightly (its per-filter norms no longer match exactly).

    Args:
      d1, d2: pytrees of the same structure and shapes.
      keep_norm: rescale the result to the original norm of ``d2`` (else it keeps the
        norm of the orthogonal part).

    Returns:
      ``(d1, d2_orthogonal)``.

    Example:
      >>> import jax.numpy as jnp
      >>> _, d2 = orthogonalize({"w": jnp.array([1.0, 0.0])}, {"w": jnp.array([1.0, 1.0])})
      >>> d2["w"].round(4)
      Array([0.    , 1.4142], dtype=float32)
    """
    where = "orthogonalize"
    check_params(where, d1, "d1")
    check_like(where, "d2", d2, "d1", d1)
    n11, n12, n22 = tree_vdot(d1, d1), tree_vdot(d1, d2), tree_vdot(d2, d2)
    concrete = not any(isinstance(x, jax.core.Tracer) for x in (n11, n12, n22))
    if concrete:
        if float(n11) == 0.0:
            raise ValueError(f"{where}: d1 is zero; there is no direction to orthogonalize "
                             "against. Pass a nonzero d1.")
        residual = float(n22) - float(n12) ** 2 / float(n11)
        if residual <= 1e-12 * float(n22):
            raise ValueError(
                f"{where}: d2 is parallel to d1 (|cos| = "
                f"{abs(float(n12)) / np.sqrt(float(n11) * float(n22)):.6f}); the pair spans "
                "one dimension only. Draw another d2, e.g. with another key."
            )
    coef = n12 / n11
    out = jax.tree.map(lambda a, b: (b - coef.astype(b.dtype) * a), d1, d2)
    if keep_norm:
        scale = jnp.sqrt(n22) / tree_norm(out)
        out = jax.tree.map(lambda x: x * scale.astype(x.dtype), out)
    return d1, out
