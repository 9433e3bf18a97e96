"""Loss-landscape figures: 1-D curves, contours, heatmaps, 3-D surfaces and trajectories.

Each function takes a :class:`jnn.landscape.Landscape` (from ``line``, ``plane``,
``interpolate``, ... or ``load_landscape``), draws one value of it (the loss or a metric),
takes an optional ``ax`` and returns the matplotlib ``Figure``. Points with a nan or
infinite value are left blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from jnn.viz._common import as_numpy, figure_and_axes, pyplot


def _values(where: str, landscape: Any, value: str, ndim: int) -> tuple:
    for field in ("alphas", "betas", "loss", "metrics"):
        if not hasattr(landscape, field):
            raise TypeError(
                f"{where}: landscape must be a jnn.landscape.Landscape (from line, plane, "
                f"interpolate or load_landscape); got {type(landscape).__name__}."
            )
    if value == "loss":
        z = landscape.loss
    elif value in landscape.metrics:
        z = landscape.metrics[value]
    else:
        raise ValueError(f"{where}: value={value!r} is not in this landscape; choose 'loss' or "
                         f"one of its metrics {sorted(landscape.metrics)}.")
    z = as_numpy(where, value, z).astype(float)
    if z.ndim != ndim:
        kind = "a line (line, interpolate)" if ndim == 1 else "a plane (plane, plane_fast)"
        raise ValueError(f"{where}: needs {kind}; this landscape's {value} has shape {z.shape}.")
    alphas = as_numpy(where, "alphas", landscape.alphas, 1).astype(float)
    betas = None
    if ndim == 2:
        betas = as_numpy(where, "betas", landscape.betas, 1).astype(float)
    return alphas, betas, z


def _masked(where: str, z: np.ndarray, log: bool) -> np.ma.MaskedArray:
    bad = ~np.isfinite(z)
    if log:
        bad |= z <= 0
    if bad.all():
        raise ValueError(f"{where}: no finite{' positive' if log else ''} values to draw"
                         f"{' on a log scale; use log=False' if log else ''}.")
    return np.ma.masked_array(z, mask=bad)


def _check_vmax(where: str, z: np.ma.MaskedArray, vmax: float | None) -> None:
    if vmax is None:
        return
    if isinstance(vmax, bool) or not isinstance(vmax, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: vmax must be a number (the top of the color scale) or "
                        f"None; got {type(vmax).__name__}.")
    if not np.isfinite(vmax) or vmax <= float(z.min()):
        raise ValueError(f"{where}: vmax={vmax!r} must be a finite number above the smallest "
                         f"value drawn ({float(z.min()):.6g}); raise it or pass vmax=None.")


def _norm_and_levels(z: np.ma.MaskedArray, levels: int | Any, log: bool,
                     vmax: float | None = None):
    """The color scale and contour levels from the smallest value to the largest (or to
    ``vmax``, above which everything gets the top color)."""
    from matplotlib import colors

    lo, hi = float(z.min()), float(z.max()) if vmax is None else float(vmax)
    if hi <= lo:
        hi = lo + (abs(lo) if lo else 1.0) * 1e-6
    if not isinstance(levels, (int, np.integer)):
        levels = np.asarray(levels, float)
        lo, hi = levels.min(), levels.max()
    else:
        levels = np.geomspace(lo, hi, int(levels)) if log else np.linspace(lo, hi, int(levels))
    return (colors.LogNorm(lo, hi) if log else colors.Normalize(lo, hi)), levels


def plot_landscape_line(
    landscape: Any,
    *,
    value: str = "loss",
    ax: Any = None,
    log: bool = False,
    label: str | None = None,
    xlabel: str = r"$\alpha$",
):
    """A 1-D landscape: the loss (or a metric) against the coefficient.

    Args:
        landscape: a 1-D :class:`jnn.landscape.Landscape`, or a dict ``{label:
            landscape}`` to compare several (two minima, sharp vs flat) on one axes.
        value: ``"loss"`` or the name of a metric in the landscape.
        ax: the Axes to draw into; a new figure when ``None``.
        log: logarithmic y axis (non-positive values are left out).
        label: the legend entry (one landscape).
        xlabel: the x-axis label (e.g. ``"interpolation coefficient"``).

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_landscape_line"
    curves = landscape if isinstance(landscape, Mapping) else {label: landscape}
    fig, ax = figure_and_axes(ax)
    for name, one in curves.items():
        alphas, _, z = _values(where, one, value, 1)
        ax.plot(alphas, _masked(where, z, log), marker=".", label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(value)
    if any(name is not None for name in curves):
        ax.legend()
    return fig


def plot_landscape_contour(
    landscape: Any,
    *,
    value: str = "loss",
    ax: Any = None,
    levels: int | Any = 20,
    log: bool = False,
    vmax: float | None = None,
    filled: bool = False,
    label_levels: bool = True,
    cmap: str = "viridis",
):
    """A 2-D landscape as contour lines with labelled levels (Li et al. 2018, Fig. 1).

    Args:
        landscape: a 2-D :class:`jnn.landscape.Landscape` (``loss[i, j]`` at
            ``(alphas[i], betas[j])``).
        value: ``"loss"`` or a metric name.
        ax: the Axes to draw into; a new figure when ``None``.
        levels: the number of levels, or the level values.
        log: log-spaced levels and a logarithmic color scale (for losses spanning decades).
        vmax: the highest level and top of the color scale; values above it are drawn
            with the top color and get no lines (the loss far from a minimum can be
            orders of magnitude above it; Li et al. cap their plots the same way).
        filled: filled contours (``contourf``) under the lines.
        label_levels: write each level's value on its line.
        cmap: a matplotlib colormap name.

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_landscape_contour"
    alphas, betas, z = _values(where, landscape, value, 2)
    zm = _masked(where, z, log).T  # contour wants (len(y), len(x))
    _check_vmax(where, zm, vmax)
    norm, lv = _norm_and_levels(zm, levels, log, vmax)
    fig, ax = figure_and_axes(ax)
    if filled:
        ax.contourf(alphas, betas, zm, levels=lv, norm=norm, cmap=cmap, alpha=0.8,
                    extend="neither" if vmax is None else "max")
    lines = ax.contour(alphas, betas, zm, levels=lv, norm=norm,
                       cmap=None if filled else cmap, colors="k" if filled else None,
                       linewidths=0.8)
    if label_levels:
        ax.clabel(lines, inline=True, fontsize=7, fmt="%.3g")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$\beta$")
    ax.set_title(value + (" (log scale)" if log else ""))
    return fig


def plot_landscape_heatmap(
    landscape: Any,
    *,
    value: str = "loss",
    ax: Any = None,
    log: bool = False,
    vmax: float | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
):
    """A 2-D landscape as a filled heatmap with a color bar.

    Args:
        landscape: a 2-D :class:`jnn.landscape.Landscape`.
        value: ``"loss"`` or a metric name.
        ax: the Axes to draw into; a new figure when ``None``.
        log: logarithmic color scale.
        vmax: the top of the color scale; larger values get the top color.
        cmap: a matplotlib colormap name.
        colorbar: add a color bar.

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_landscape_heatmap"
    alphas, betas, z = _values(where, landscape, value, 2)
    zm = _masked(where, z, log).T
    _check_vmax(where, zm, vmax)
    norm, _ = _norm_and_levels(zm, 2, log, vmax)
    fig, ax = figure_and_axes(ax)
    mesh = ax.pcolormesh(alphas, betas, zm, shading="auto", norm=norm, cmap=cmap)
    if colorbar:
        fig.colorbar(mesh, ax=ax, label=value, extend="neither" if vmax is None else "max")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$\beta$")
    return fig


def plot_landscape_surface(
    landscape: Any,
    *,
    value: str = "loss",
    ax: Any = None,
    log: bool = False,
    vmax: float | None = None,
    cmap: str = "viridis",
):
    """A 2-D landscape as a 3-D surface (Li et al. 2018's surface plots).

    Args:
        landscape: a 2-D :class:`jnn.landscape.Landscape`.
        value: ``"loss"`` or a metric name.
        ax: a 3-D Axes (``fig.add_subplot(projection="3d")``); a new figure when ``None``.
        log: draw :math:`\\log_{10}` of the value (non-positive values left out).
        vmax: values above it are drawn at ``vmax`` (a flat cap), so a loss that explodes
            at the grid's edges does not flatten the basin into the floor of the plot.
        cmap: a matplotlib colormap name.

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_landscape_surface"
    alphas, betas, z = _values(where, landscape, value, 2)
    zm = _masked(where, z, log)
    _check_vmax(where, zm, vmax)
    if vmax is not None:
        zm = np.ma.minimum(zm, vmax)
    zz = np.log10(zm) if log else zm
    if ax is None:
        fig = pyplot().figure(figsize=(6.0, 5.0))
        ax = fig.add_subplot(projection="3d")
    elif not hasattr(ax, "plot_surface"):
        raise TypeError(f"{where}: ax must be a 3-D Axes, e.g. "
                        "plt.figure().add_subplot(projection='3d'); got a 2-D "
                        f"{type(ax).__name__}.")
    fig = ax.figure
    A, B = np.meshgrid(alphas, betas, indexing="ij")
    ax.plot_surface(A, B, zz.filled(np.nan), cmap=cmap, linewidth=0, antialiased=True)
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$\beta$")
    ax.set_zlabel(f"log10 {value}" if log else value)
    return fig


def plot_landscape_trajectory(
    landscape: Any,
    coordinates: Any,
    *,
    value: str = "loss",
    ax: Any = None,
    levels: int | Any = 20,
    log: bool = False,
    vmax: float | None = None,
    labels: Any = None,
    color: str = "tab:red",
):
    """A training path drawn over the contour plot of the plane it was projected on.

    Typically ``pca = jnn.landscape.trajectory_pca(recorder)`` and ``landscape =
    plane(loss, pca.origin, *pca.directions, alphas, betas, batch)``, then
    ``plot_landscape_trajectory(landscape, pca)`` (Li et al. 2018, Sec. 7).

    Args:
        landscape: a 2-D :class:`jnn.landscape.Landscape`.
        coordinates: ``(T, 2)`` points in the plane's coefficients, or a
            :class:`jnn.landscape.TrajectoryPCA` (its coordinates, and its explained
            variance on the axis labels).
        value: ``"loss"`` or a metric name for the contours.
        ax: the Axes to draw into; a new figure when ``None``.
        levels, log, vmax: as in :func:`plot_landscape_contour`.
        labels: optional text per point (e.g. the recorder's ``epochs``).
        color: the path's color.

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_landscape_trajectory"
    ratio = getattr(coordinates, "explained_variance_ratio", None)
    coords = as_numpy(where, "coordinates", getattr(coordinates, "coordinates", coordinates),
                      2, "(T, 2)")
    if coords.shape[1] != 2:
        raise ValueError(f"{where}: coordinates must have shape (T, 2), one (alpha, beta) per "
                         f"point; got {coords.shape}.")
    if labels is not None and len(labels) != coords.shape[0]:
        raise ValueError(f"{where}: labels has {len(labels)} entries for {coords.shape[0]} "
                         "points; give one label per point.")
    fig = plot_landscape_contour(landscape, value=value, ax=ax, levels=levels, log=log,
                                 vmax=vmax)
    ax = fig.axes[0] if ax is None else ax
    ax.plot(coords[:, 0], coords[:, 1], "-o", color=color, markersize=3, linewidth=1.2)
    ax.plot(coords[0, 0], coords[0, 1], "s", color=color, markersize=6, label="start")
    ax.plot(coords[-1, 0], coords[-1, 1], "*", color=color, markersize=10, label="end")
    if labels is not None:
        for (x, y), text in zip(coords, labels):
            ax.annotate(str(text), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if ratio is not None:
        r = np.asarray(ratio, float)
        ax.set_xlabel(f"PC1 ({100 * r[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC2 ({100 * r[1]:.1f}% of variance)")
    ax.legend(loc="best", fontsize=8)
    return fig
