"""Training trajectories: a recorder for ``fit``, PCA directions and projections onto a plane."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._checks import positive_int
from ..parallel._mesh import check_mesh
from ..train._callbacks import Callback
from ._validate import check_like, check_params


class TrajectoryRecorder(Callback):
    """A ``fit`` callback that keeps a copy of the params every ``every`` epochs.

    ``fit`` compiles whole epochs, so the finest grain a callback sees is one epoch; to
    record every k steps, train with ``epochs`` of k steps each (``batch_size`` and the
    data size fix the steps per epoch) or collect the params yourself into a list.

    Args:
      every: record after every ``every``-th epoch.
      include_initial: also record the params before the first epoch.

    Attributes:
      params: the recorded params, oldest first (copies: ``fit`` donates its buffers).
      epochs: the epoch after which each was taken (``0`` = before training).

    Example:
      >>> import jax, optax, jnn
      >>> from jnn.layers import Dense
      >>> x, y = jnn.data.spirals(jax.random.key(0), 64)
      >>> params, state = Dense(2).init(jax.random.key(1), x)
      >>> recorder = TrajectoryRecorder(every=2)
      >>> _ = jnn.train.fit(Dense(2), params, state, optax.sgd(0.1),
      ...                   jnn.losses.softmax_cross_entropy, (x, y), epochs=4, batch_size=16,
      ...                   key=jax.random.key(2), callbacks=[recorder], verbose=0)
      >>> recorder.epochs
      [0, 2, 4]
    """

    def __init__(self, every: int = 1, *, include_initial: bool = True):
        self.every = positive_int("TrajectoryRecorder", "every", every)
        self.include_initial = bool(include_initial)
        self.params: list[Any] = []
        self.epochs: list[int] = []

    def _record(self, params: Any, epoch: int) -> None:
        self.params.append(jax.tree.map(jnp.copy, params))
        self.epochs.append(epoch)

    def on_train_begin(self, ctx) -> None:
        if self.include_initial and not self.params:
            self._record(ctx.params, ctx.epoch)

    def on_epoch_end(self, epoch, logs, ctx) -> None:
        if (epoch + 1) % self.every == 0:
            self._record(ctx.params, epoch + 1)


class TrajectoryPCA(NamedTuple):
    """Principal directions of a trajectory and the coordinates of its points.

    Attributes:
      directions: ``k`` unit-norm pytrees shaped like the params, orthogonal to each other.
      coordinates: ``(T, k)``; row ``t`` is :math:`\\langle \\theta_t - \\theta_0^*, u_i
        \\rangle`, the point's position in the plane of the directions around ``origin``.
      explained_variance_ratio: ``(k,)``, the share of the trajectory's variance along each.
      origin: the center of the plot (the final params by default).
    """

    directions: list
    coordinates: jax.Array
    explained_variance_ratio: jax.Array
    origin: Any


def _as_list(trajectory: Any) -> Any:
    return trajectory.params if isinstance(trajectory, TrajectoryRecorder) else trajectory


def _stack(where: str, trajectory: Sequence[Any], min_len: int = 2):
    if not isinstance(trajectory, Sequence) or len(trajectory) < min_len:
        raise ValueError(
            f"{where}: trajectory must be a list of at least {min_len} params pytrees (e.g. "
            f"TrajectoryRecorder.params); got {type(trajectory).__name__}"
            + (f" of length {len(trajectory)}" if isinstance(trajectory, Sequence) else "")
            + "."
        )
    first = trajectory[0]
    check_params(where, first, "trajectory[0]")
    for t, p in enumerate(trajectory[1:], start=1):
        check_like(where, f"trajectory[{t}]", p, "trajectory[0]", first)
    _, unravel = ravel_pytree(first)
    return jnp.stack([ravel_pytree(p)[0] for p in trajectory]), unravel


def _split_params_axis(where: str, vectors: jax.Array, mesh: Any, axis_name: Any
                       ) -> jax.Array:
    """``vectors`` (rows of raveled params) with the params axis split over ``axis_name``:
    zero-padded to a multiple of the devices (zeros change no inner product)."""
    devices = check_mesh(where, mesh, axis_name)
    vectors = jnp.pad(vectors, ((0, 0), (0, -vectors.shape[1] % devices)))
    spec = jax.sharding.PartitionSpec(None, axis_name)
    return jax.device_put(vectors, jax.sharding.NamedSharding(mesh, spec))


def _principal_axes_gram(M: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""``(mean, s**2, V^T)`` of ``M - mean`` from the ``(T, T)`` Gram matrix: with the
    params axis split over devices, the only communication is the all-reduce of
    :math:`C C^\top` (and each device forms its columns of :math:`V^\top = \Sigma^{-1}
    U^\top C`)."""
    mean = jnp.mean(M, axis=0)
    centered = M - mean[None]
    variance, u = jnp.linalg.eigh(centered @ centered.T)
    variance, u = jnp.maximum(variance[::-1], 0), u[:, ::-1]  # descending
    s = jnp.sqrt(variance)
    vt = (u.T @ centered) / jnp.where(s > 0, s, 1)[:, None]
    return mean, variance, vt


def trajectory_pca(trajectory: Sequence[Any], k: int = 2, *, origin: Any = "final",
                   mesh: Any = None, axis_name: Any = "data") -> TrajectoryPCA:
    r"""The top-``k`` principal directions of a training trajectory, and its coordinates.

    Li et al. (2018, Sec. 7) plot optimization paths on the plane of the first two
    principal components of the matrix of params :math:`M = [\theta_0; \dots; \theta_T]`
    (mean-centered rows), since random directions are nearly orthogonal to the path.
    With :math:`M - \bar M = U \Sigma V^\top` the directions are the first rows of
    :math:`V^\top` and each point's coordinates are

    .. math::

        c_{t,i} = \langle \theta_t - \theta^*, v_i \rangle,

    with :math:`\theta^*` the ``origin`` (the final params, the center of the landscape
    plot). ``plane(loss, pca.origin, *pca.directions, alphas, betas, batch)`` then draws
    the landscape the coordinates live in.

    Args:
      trajectory: a list of params pytrees (or a :class:`TrajectoryRecorder`).
      k: how many directions, at most ``len(trajectory) - 1``.
      origin: ``"final"``, ``"mean"``, or a params pytree.
      mesh: a :class:`jax.sharding.Mesh` (e.g. ``jnn.parallel.data_mesh()``) to split the
        params axis of :math:`M` over its devices (for models whose trajectory matrix is
        large): the decomposition then comes from the :math:`T \times T` Gram matrix
        :math:`(M - \bar M)(M - \bar M)^\top = U \Sigma^2 U^\top`, with
        :math:`V^\top = \Sigma^{-1} U^\top (M - \bar M)`; the same result up to
        rounding.
      axis_name: the mesh axis (or tuple of axes) the params axis is split along.

    Returns:
      :class:`TrajectoryPCA`.

    Example:
      >>> import jax.numpy as jnp
      >>> path = [{"w": jnp.array([t, 2.0 * t, 0.0])} for t in range(5)]
      >>> pca = trajectory_pca(path, k=1)
      >>> pca.coordinates[:, 0].round(3)
      Array([-8.944, -6.708, -4.472, -2.236,  0.   ], dtype=float32)

    References:
      Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural Nets",
      NeurIPS 2018. https://arxiv.org/abs/1712.09913
    """
    where = "trajectory_pca"
    M, unravel = _stack(where, _as_list(trajectory))
    positive_int(where, "k", k)
    if k > M.shape[0] - 1:
        raise ValueError(f"{where}: k={k} directions need at least k + 1 = {k + 1} recorded "
                         f"points; the trajectory has {M.shape[0]}. Use k <= {M.shape[0] - 1}.")
    if isinstance(origin, str):
        if origin not in ("final", "mean"):
            raise ValueError(f"{where}: origin must be 'final', 'mean' or a params pytree; got "
                             f"{origin!r}.")
        center = None
    else:
        check_like(where, "origin", origin, "trajectory[0]", unravel(M[0]))
        center = ravel_pytree(origin)[0]
    size = M.shape[1]
    if mesh is not None:
        M = _split_params_axis(where, M, mesh, axis_name)
        if center is not None:
            center = _split_params_axis(where, center[None], mesh, axis_name)[0]
    vt, coordinates, ratio, center = _principal_axes(
        M, center, k=k, size=size, gram=mesh is not None,
        origin=origin if isinstance(origin, str) else "given")
    return TrajectoryPCA([unravel(v) for v in vt], coordinates, ratio, unravel(center))


@functools.partial(jax.jit, static_argnames=("k", "size", "gram", "origin"))
def _principal_axes(M, center, *, k, size, gram, origin):
    """The top-``k`` directions (signed), coordinates, variance ratios and origin, in one
    compiled call; ``gram`` for a params axis split over devices (see
    :func:`_principal_axes_gram`)."""
    if gram:
        mean, variance, vt = _principal_axes_gram(M)
    else:
        mean = jnp.mean(M, axis=0)
        _, s, vt = jnp.linalg.svd(M - mean[None], full_matrices=False)
        variance = s**2
    vt = vt[:k]
    # Fix each direction's sign so that the path runs towards +: reproducible plots.
    sign = jnp.where(vt @ (M[-1] - M[0]) < 0, -1.0, 1.0).astype(vt.dtype)
    vt = vt * sign[:, None]
    center = {"final": M[-1], "mean": mean}.get(origin, center)
    coordinates = (M - center[None]) @ vt.T
    ratio = variance[:k] / jnp.maximum(jnp.sum(variance), jnp.finfo(variance.dtype).tiny)
    return vt[:, :size], coordinates, ratio, center[:size]


def project_trajectory(trajectory: Sequence[Any], origin: Any, directions: Sequence[Any], *,
                       mesh: Any = None, axis_name: Any = "data") -> jax.Array:
    r"""Coordinates of each point of a trajectory in the span of (any) directions.

    The least-squares coordinates, exact for points in the span and the orthogonal
    projection otherwise (the directions need not be orthogonal or unit-norm):

    .. math::

        c_t = \arg\min_c \Big\|\theta_t - \theta^* - \sum_i c_i d_i\Big\|
            = G^{-1} D^\top (\theta_t - \theta^*), \qquad G = D^\top D.

    Args:
      trajectory: a list of params pytrees (or a :class:`TrajectoryRecorder`).
      origin: :math:`\theta^*`, the center of the plane (the ``params`` of :func:`plane`).
      directions: the ``k`` directions (e.g. ``(d1, d2)`` of :func:`plane`).
      mesh: a :class:`jax.sharding.Mesh` to split the params axis over its devices (each
        device contracts its share; the small :math:`k \times k` and :math:`k \times T`
        products are all-reduced); the same result up to rounding.
      axis_name: the mesh axis (or tuple of axes) the params axis is split along.

    Returns:
      ``(T, k)`` coordinates, in units of the directions (the ``alphas``/``betas`` axes).

    Example:
      >>> import jax.numpy as jnp
      >>> o = {"w": jnp.zeros(2)}
      >>> d1, d2 = {"w": jnp.array([1.0, 1.0])}, {"w": jnp.array([0.0, 2.0])}
      >>> project_trajectory([{"w": jnp.array([1.0, 3.0])}, o], o, [d1, d2])
      Array([[1., 1.],
             [0., 0.]], dtype=float32)
    """
    where = "project_trajectory"
    trajectory = _as_list(trajectory)
    M, _ = _stack(where, trajectory, min_len=1)
    check_like(where, "origin", origin, "trajectory[0]", trajectory[0])
    if not directions:
        raise ValueError(f"{where}: directions is empty; pass e.g. (d1, d2).")
    for i, d in enumerate(directions):
        check_like(where, f"directions[{i}]", d, "trajectory[0]", trajectory[0])
    Dt = jnp.stack([ravel_pytree(d)[0] for d in directions])  # (k, p)
    center = ravel_pytree(origin)[0][None]
    if mesh is not None:
        M, Dt, center = (_split_params_axis(where, a, mesh, axis_name) for a in (M, Dt, center))
    return _least_squares_coordinates(M, Dt, center)


@jax.jit
def _least_squares_coordinates(M: jax.Array, Dt: jax.Array, center: jax.Array) -> jax.Array:
    diffs = M - center
    return jnp.linalg.solve(Dt @ Dt.T, Dt @ diffs.T).T
