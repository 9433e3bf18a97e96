"""Convolution filters, feature maps and image grids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jnn import _checks
from jnn.viz._common import as_numpy, figure_and_axes, grid_of_axes


def mosaic(tiles: np.ndarray, ncols: int, gap: int = 1) -> np.ndarray:
    """Tile ``(n, h, w)`` or ``(n, h, w, 3)`` images into one image, ``nan`` in the gaps."""
    n, h, w = tiles.shape[:3]
    rows = -(-n // ncols)
    extra = tiles.shape[3:]
    out = np.full((rows * (h + gap) - gap, ncols * (w + gap) - gap, *extra), np.nan)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = tiles[i]
    return out


def _rescale01(tiles: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    low = np.nanmin(tiles, axis=axes, keepdims=True)
    high = np.nanmax(tiles, axis=axes, keepdims=True)
    return (tiles - low) / np.where(high > low, high - low, 1.0)


def _kernel(where: str, kernel: Any) -> np.ndarray:
    if isinstance(kernel, Mapping):
        if "kernel" not in kernel:
            raise ValueError(f"{where}: a params dict must have a 'kernel' entry (a Conv "
                             f"layer's params); got keys {sorted(kernel)}.")
        kernel = kernel["kernel"]
    return as_numpy(where, "kernel", kernel, (2, 3, 4),
                    "(kh, kw), (kh, kw, out) or (kh, kw, in, out)").astype(np.float64)


def plot_filters(
    kernel: Any,
    *,
    ax: Any = None,
    in_channel: int | None = None,
    ncols: int | None = None,
    cmap: str = "RdBu_r",
    titles: bool = True,
):
    """The filters of a 2-D convolution, one small image per filter.

    The kernel layout is jnn's ``(kh, kw, in, out)`` (a ``Conv`` layer's
    ``params["kernel"]``, or the params dict itself). With three input channels the
    filters are shown as RGB images (each rescaled to [0, 1]); otherwise as signed
    values on one symmetric colour scale shared by all filters (white is zero), one
    image per (input channel, filter) pair, rows being input channels, unless
    ``in_channel`` picks one.

    Args:
        kernel: ``(kh, kw, in, out)``, ``(kh, kw, out)`` or a single ``(kh, kw)`` filter.
        ax: ``None``: a new figure with one axes per filter; an Axes: all filters tiled
            into one image there.
        in_channel: show only this input channel.
        ncols: filters per row (default: ``out``, at most 8 when one channel is shown).
        cmap: the colour map for signed filters.
        titles: label each panel (``f{j}`` or ``in{i}/f{j}``).

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_filters"
    k = _kernel(where, kernel)
    if k.ndim == 2:
        k = k[:, :, None, None]
    elif k.ndim == 3:
        k = k[:, :, None, :]
    kh, kw, c_in, c_out = k.shape
    if in_channel is not None:
        _checks.number_in_range(where, "in_channel", in_channel, 0, c_in - 1)
        k = k[:, :, int(in_channel): int(in_channel) + 1, :]
        c_in = 1
    rgb = c_in == 3 and in_channel is None
    if rgb:
        tiles = _rescale01(np.moveaxis(k, 3, 0), (1, 2, 3))  # (out, kh, kw, 3)
        names = [f"f{j}" for j in range(c_out)]
        default_cols = min(c_out, 8)
    else:
        tiles = np.transpose(k, (2, 3, 0, 1)).reshape(c_in * c_out, kh, kw)
        names = [f"in{i}/f{j}" if c_in > 1 else f"f{j}"
                 for i in range(c_in) for j in range(c_out)]
        default_cols = c_out if c_in > 1 else min(c_out, 8)
    ncols = default_cols if ncols is None else _checks.positive_int(where, "ncols", ncols)
    scale = float(np.max(np.abs(k))) or 1.0
    style = {} if rgb else {"cmap": cmap, "vmin": -scale, "vmax": scale}
    if ax is not None:
        fig, ax = figure_and_axes(ax)
        ax.imshow(mosaic(tiles, ncols), interpolation="nearest", **style)
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    fig, axes = grid_of_axes(len(tiles), ncols, panel=1.2 if len(tiles) > 16 else 1.6)
    for axis, tile, name in zip(axes, tiles, names):
        axis.imshow(tile, interpolation="nearest", **style)
        if titles:
            axis.set_title(name, fontsize="small")
    return fig


def plot_feature_maps(
    maps: Any,
    *,
    ax: Any = None,
    ncols: int | None = None,
    max_maps: int | None = None,
    cmap: str = "viridis",
    titles: bool = True,
):
    """The channels of a convolutional activation, one image per channel.

    Args:
        maps: ``(H, W, C)`` or a batch of one ``(1, H, W, C)`` (NHWC, as jnn's ``Conv``
            returns it).
        ax: ``None``: a new figure with one axes per channel; an Axes: all channels, each
            rescaled to [0, 1], tiled into one image there.
        ncols: channels per row (default up to 8).
        max_maps: show only the first ``max_maps`` channels.
        cmap: the colour map.
        titles: label each panel with its channel.

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_feature_maps"
    m = as_numpy(where, "maps", maps, (3, 4), "(H, W, C) or (1, H, W, C)").astype(np.float64)
    if m.ndim == 4:
        if m.shape[0] != 1:
            raise ValueError(f"{where}: maps has a batch of {m.shape[0]}; pass one example, "
                             f"e.g. maps[0] or maps[:1].")
        m = m[0]
    tiles = np.moveaxis(m, 2, 0)
    if max_maps is not None:
        tiles = tiles[: _checks.positive_int(where, "max_maps", max_maps)]
    ncols = None if ncols is None else _checks.positive_int(where, "ncols", ncols)
    if ax is not None:
        fig, ax = figure_and_axes(ax)
        cols = ncols or min(len(tiles), 8)
        ax.imshow(mosaic(_rescale01(tiles, (1, 2)), cols), cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    fig, axes = grid_of_axes(len(tiles), ncols)
    for c, (axis, tile) in enumerate(zip(axes, tiles)):
        axis.imshow(tile, cmap=cmap, interpolation="nearest")
        if titles:
            axis.set_title(f"channel {c}", fontsize="small")
    return fig


def _images(where: str, images: Any, image_shape: tuple[int, int] | None) -> np.ndarray:
    x = as_numpy(where, "images", images, (2, 3, 4), "(n, H, W), (n, H, W, C) or (n, H*W)")
    x = x.astype(np.float64)
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        shape = image_shape or ((side, side) if side * side == x.shape[1] else None)
        if shape is None or shape[0] * shape[1] != x.shape[1]:
            raise ValueError(f"{where}: images of shape {x.shape} are flat; pass "
                             f"image_shape=(H, W) with H * W = {x.shape[1]}.")
        x = x.reshape(x.shape[0], *shape)
    if x.ndim == 4:
        if x.shape[3] == 1:
            x = x[..., 0]
        elif x.shape[3] != 3:
            raise ValueError(f"{where}: images need 1 or 3 channels; got {x.shape[3]}.")
    return x


def plot_images(
    images: Any,
    labels: Any = None,
    predictions: Any = None,
    *,
    class_names: Sequence[str] | None = None,
    image_shape: tuple[int, int] | None = None,
    ncols: int | None = None,
    cmap: str = "gray_r",
    ax: Any = None,
):
    """A grid of images, titled with their labels (and predictions, red where wrong).

    Args:
        images: ``(n, H, W)``, ``(n, H, W, 1)``, ``(n, H, W, 3)`` or flat ``(n, H*W)``
            (square images, or give ``image_shape``).
        labels: ``(n,)`` integer labels, or ``None``.
        predictions: ``(n,)`` predicted labels or ``(n, K)`` scores, or ``None``.
        class_names: names for the labels.
        image_shape: ``(H, W)`` for flat images.
        ncols: images per row (default up to 8).
        cmap: the colour map for greyscale images.
        ax: ``None``: a new figure, one axes per image; an Axes: the images tiled there
            (no titles).

    Returns:
        The matplotlib ``Figure``.
    """
    where = "jnn.viz.plot_images"
    x = _images(where, images, image_shape)
    n = x.shape[0]

    def as_labels(name, values):
        if values is None:
            return None
        values = as_numpy(where, name, values, (1, 2), "(n,) or (n, K)")
        if values.shape[0] != n:
            raise ValueError(f"{where}: {name} has {values.shape[0]} entries for {n} images.")
        return values.argmax(axis=1) if values.ndim == 2 else values.astype(int)

    labels, predictions = as_labels("labels", labels), as_labels("predictions", predictions)
    name = (lambda k: str(class_names[k])) if class_names is not None else str
    ncols = min(n, 8) if ncols is None else _checks.positive_int(where, "ncols", ncols)
    if ax is not None:
        fig, ax = figure_and_axes(ax)
        ax.imshow(mosaic(x, ncols), cmap=cmap, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    fig, axes = grid_of_axes(n, ncols, panel=1.3)
    for i, axis in enumerate(axes):
        axis.imshow(x[i], cmap=cmap, interpolation="nearest")
        if predictions is not None:
            wrong = labels is not None and predictions[i] != labels[i]
            text = f"pred {name(predictions[i])}"
            if labels is not None:
                text += f" ({name(labels[i])})"
            axis.set_title(text, fontsize="small", color="C3" if wrong else "k")
        elif labels is not None:
            axis.set_title(name(labels[i]), fontsize="small")
    return fig
