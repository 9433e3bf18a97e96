"""Decision boundaries of classifiers of two input features."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.layers import Layer
from jnn.viz._common import as_numpy, figure_and_axes


class DecisionRegions(NamedTuple):
    """A classifier evaluated on a grid over the plane.

    Attributes:
        xx, yy: ``(resolution, resolution)`` grid coordinates (``np.meshgrid``, "xy").
        classes: ``(resolution, resolution)`` int predicted class at each grid point.
        score: ``(resolution, resolution)`` for two classes the margin whose sign is the
            class (``z_1 - z_0`` for two logits, ``s - threshold`` for one output), the
            boundary being its zero level; ``None`` for more classes.
    """

    xx: np.ndarray
    yy: np.ndarray
    classes: np.ndarray
    score: np.ndarray | None


@functools.lru_cache(maxsize=32)
def _compiled(model: Any) -> Callable:
    """One jitted ``(params, state, points) -> outputs`` per model, so that plotting the
    same model again (other params of the same shapes) reuses the compilation."""
    if isinstance(model, Layer):
        return jax.jit(lambda params, state, points: model.apply(params, state, points)[0])
    return jax.jit(lambda params, state, points: model(params, points))


def _predict_fn(where: str, model: Any, params: Any, state: Any) -> Callable:
    if isinstance(model, Layer):
        if state is None:
            struct = jax.ShapeDtypeStruct((1, 2), jnp.result_type(float))
            _, state = jax.eval_shape(model.init, jax.random.key(0), struct)
            if jax.tree.leaves(state):
                raise ValueError(
                    f"{where}: {model!r} has state (e.g. BatchNorm statistics); pass "
                    f"state=... as returned by init or fit."
                )
    elif not callable(model):
        raise TypeError(
            f"{where}: model must be a jnn Layer or a function f(params, x) -> scores; got "
            f"{type(model).__name__}."
        )
    try:
        compiled = _compiled(model)
    except TypeError:  # an unhashable callable: compile it for this call only
        compiled = _compiled.__wrapped__(model)
    return lambda points: compiled(params, state, points)


def _bounds(x: np.ndarray, margin: float) -> tuple[tuple[float, float], tuple[float, float]]:
    low, high = x.min(axis=0), x.max(axis=0)
    pad = margin * np.where(high > low, high - low, 1.0)
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def decision_regions(
    model: Any,
    params: Any,
    x: Any,
    *,
    state: Any = None,
    resolution: int = 200,
    margin: float = 0.15,
    threshold: float = 0.0,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
) -> DecisionRegions:
    r"""A 2-D classifier's predicted class (and binary margin) on a grid around ``x``.

    The model's outputs are read by shape: ``(m, K)`` with :math:`K \ge 2` are class
    scores (the class is the argmax; for :math:`K = 2` the margin is :math:`z_1 - z_0`);
    ``(m,)`` or ``(m, 1)`` is one score :math:`s` per point (class 1 where
    :math:`s > \text{threshold}`, margin :math:`s - \text{threshold}`). Use
    ``threshold=0`` for a logit, ``0.5`` for a probability.

    Args:
        model: a jnn ``Layer`` (evaluated in eval mode) or a function
            ``f(params, x) -> scores`` for ``x`` of shape ``(m, 2)``.
        params: the model's params (passed through to ``f`` for a function).
        x: ``(n, 2)`` data; the grid covers it with ``margin`` (a fraction of its range)
            on every side, unless ``xlim``/``ylim`` are given.
        state: the layer's state; needed only for models with state (BatchNorm).
        resolution: grid points per axis.
        margin: padding around the data, as a fraction of its range.
        threshold: the decision threshold for single-output models.
        xlim, ylim: explicit grid ranges.

    Returns:
        :class:`DecisionRegions`.
    """
    where = "jnn.viz.decision_regions"
    x = as_numpy(where, "x", x, 2, "(n, 2)")
    if x.shape[1] != 2:
        raise ValueError(
            f"{where}: x must have 2 features (points in the plane); got shape {x.shape}. "
            f"For higher-dimensional inputs plot a 2-D projection or slice instead."
        )
    resolution = _checks.positive_int(where, "resolution", resolution)
    _checks.number_in_range(where, "margin", margin, 0.0)
    auto_x, auto_y = _bounds(x, margin)
    xlim, ylim = xlim or auto_x, ylim or auto_y
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    xx, yy = np.meshgrid(xs, ys)
    points = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=1), jnp.result_type(float))
    out = np.asarray(_predict_fn(where, model, params, state)(points), dtype=np.float64)
    if out.shape[0] != points.shape[0] or out.ndim > 2:
        raise ValueError(
            f"{where}: the model maps {points.shape[0]} points to shape {out.shape}; expected "
            f"({points.shape[0]},), ({points.shape[0]}, 1) or ({points.shape[0]}, K)."
        )
    if out.ndim == 2 and out.shape[1] >= 2:
        classes = out.argmax(axis=1)
        score = out[:, 1] - out[:, 0] if out.shape[1] == 2 else None
    else:
        score = out.reshape(-1) - threshold
        classes = (score > 0).astype(int)
    shape = xx.shape
    return DecisionRegions(xx, yy, classes.reshape(shape),
                           None if score is None else score.reshape(shape))


def _labels(where: str, y: Any, n: int) -> np.ndarray:
    y = as_numpy(where, "y", y, (1, 2), "(n,) labels or (n, K) one-hot")
    if y.shape[0] != n:
        raise ValueError(f"{where}: x has {n} points but y has {y.shape[0]} labels.")
    if y.ndim == 2:
        y = y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)
    return np.rint(y).astype(int)


def plot_decision_boundary(
    model: Any,
    params: Any,
    x: Any,
    y: Any = None,
    *,
    state: Any = None,
    ax: Any = None,
    resolution: int = 200,
    margin: float = 0.15,
    threshold: float = 0.0,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    title: str | None = None,
    cmap: str = "coolwarm",
):
    """Plot a 2-D classifier's decision regions and boundary, with the data on top.

    The regions are coloured by predicted class, the boundary (the zero level of the
    binary margin, or the edges between classes) is drawn in black, and the points
    ``(x, y)`` are scattered in their true class's colour. See :func:`decision_regions`
    for how outputs are read.

    Args:
        model: a jnn ``Layer`` or a function ``f(params, x) -> scores``.
        params: the model's params.
        x: ``(n, 2)`` points.
        y: ``(n,)`` integer labels (or one-hot ``(n, K)``); ``None`` to draw no points.
        state, resolution, margin, threshold, xlim, ylim: as in :func:`decision_regions`.
        ax: a matplotlib Axes; a new figure when ``None``.
        title: the axes title.
        cmap: a matplotlib colormap name.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> import jax, jnn, optax
        >>> x, y = jnn.data.spirals(jax.random.key(0), 200)
        >>> model = jnn.models.MLP((32, 32, 2))
        >>> params, state = model.init(jax.random.key(1), x)
        >>> fig = plot_decision_boundary(model, params, x, y)  # doctest: +SKIP
    """
    where = "jnn.viz.plot_decision_boundary"
    regions = decision_regions(model, params, x, state=state, resolution=resolution,
                               margin=margin, threshold=threshold, xlim=xlim, ylim=ylim)
    x = np.asarray(x)
    labels = None if y is None else _labels(where, y, x.shape[0])
    num_classes = int(regions.classes.max()) + 1
    if labels is not None:
        num_classes = max(num_classes, int(labels.max()) + 1)
    num_classes = max(num_classes, 2)
    fig, ax = figure_and_axes(ax, (4.5, 4.0))
    levels = np.arange(num_classes + 1) - 0.5
    ax.contourf(regions.xx, regions.yy, regions.classes, levels=levels, cmap=cmap, alpha=0.35,
                vmin=0, vmax=num_classes - 1)
    if regions.score is not None:
        if regions.score.min() < 0 < regions.score.max():
            ax.contour(regions.xx, regions.yy, regions.score, levels=[0.0], colors="k",
                       linewidths=1.5)
    elif num_classes > 2:
        ax.contour(regions.xx, regions.yy, regions.classes, levels=levels[1:-1], colors="k",
                   linewidths=1.0)
    if labels is not None:
        ax.scatter(x[:, 0], x[:, 1], c=labels, cmap=cmap, vmin=0, vmax=num_classes - 1,
                   edgecolors="k", linewidths=0.5, s=18)
    ax.set_xlim(regions.xx[0, 0], regions.xx[0, -1])
    ax.set_ylim(regions.yy[0, 0], regions.yy[-1, 0])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title is not None:
        ax.set_title(title)
    return fig
