"""Shared plumbing for jnn.viz: lazy matplotlib, a figure-or-axes helper, input checks."""

from __future__ import annotations

from typing import Any

import numpy as np


def pyplot():
    """``matplotlib.pyplot``, imported on first use (plotting is optional for jnn)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(
            "jnn.viz needs matplotlib; install it with `pip install matplotlib`."
        ) from error
    return plt


def figure_and_axes(ax: Any, figsize: tuple[float, float] = (5.0, 4.0)):
    """``(fig, ax)``: the given axes and its figure, or a new single-axes figure."""
    if ax is None:
        fig, ax = pyplot().subplots(figsize=figsize)
        return fig, ax
    if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
        raise TypeError(
            f"jnn.viz: ax must be a matplotlib Axes (e.g. from plt.subplots()); got "
            f"{type(ax).__name__}."
        )
    return ax.figure, ax


def grid_of_axes(n: int, ncols: int | None, panel: float = 1.6):
    """A new figure with ``n`` small image axes in a grid (ticks off); ``(fig, axes)``."""
    ncols = min(n, 8) if ncols is None else ncols
    nrows = -(-n // ncols)
    fig, axes = pyplot().subplots(nrows, ncols, figsize=(panel * ncols, panel * nrows),
                                  squeeze=False)
    axes = axes.ravel()
    for axis in axes[n:]:
        fig.delaxes(axis)
    for axis in axes[:n]:
        axis.set_xticks([])
        axis.set_yticks([])
    return fig, list(axes[:n])


def as_numpy(where: str, name: str, value: Any, ndim: int | tuple[int, ...] | None = None,
             meaning: str = "") -> np.ndarray:
    """``value`` as a float/int numpy array, with an optional rank check."""
    try:
        array = np.asarray(value)
    except Exception as error:
        raise TypeError(f"{where}: {name} must be an array; got {type(value).__name__}.") \
            from error
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{where}: {name} must be numeric; got dtype {array.dtype}.")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if allowed is not None and array.ndim not in allowed:
        ranks = " or ".join(map(str, allowed))
        raise ValueError(
            f"{where}: {name} must have {ranks} dimensions {meaning}; got shape "
            f"{array.shape}."
        )
    return array


def check_names(where: str, name: str, value: Any) -> None:
    """Refuse a bare string where a list of names is expected."""
    if isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a list of names; got the string {value!r}. "
                        f"Write [{value!r}].")
