"""Data augmentation as pure functions of a key, usable inside ``jit`` and ``vmap``.

Images are NHWC: a batch ``(n, height, width, channels)`` or one image
``(height, width, channels)``. In a batch every image gets its own random draw; one
image gives the same result as a batch holding only it. The hyperparameters (padding,
sizes, which flips) are Python values fixed at trace time; ``p`` and ``stddev`` may be
traced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from .._checks import floating_input, number_in_range
from ._validate import check_key


def _images(where: str, x: Any) -> None:
    if jnp.ndim(x) not in (3, 4):
        raise ValueError(
            f"{where}: x must be NHWC images, (n, height, width, channels) or (height, "
            f"width, channels); got shape {jnp.shape(x)}. Add a channel axis for grey "
            "images, e.g. x[..., None]."
        )


def _batchwise(core: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Let ``core(key, batch, ...)`` take one image ``(H, W, C)`` as a batch of one."""

    @functools.wraps(core)
    def wrapped(key, x, *args, **kwargs):
        if x.ndim == 3:
            return core(key, x[None], *args, **kwargs)[0]
        return core(key, x, *args, **kwargs)

    return wrapped


def _nonnegative_int(where: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: {name} must be an integer >= 0; got {value!r}.")
    return value


def random_flip(
    key: jax.Array,
    x: Any,
    *,
    horizontal: bool = True,
    vertical: bool = False,
    p: float = 0.5,
) -> jax.Array:
    """Mirror each image left-right (and/or upside down) with probability ``p``.

    A horizontal flip reverses the width axis, a vertical flip the height axis; with
    both enabled each is drawn independently. Do not flip where orientation carries
    the label (digits: a mirrored 2 is no digit, and a 6 turned over becomes a 9).

    Args:
      key: a PRNG key.
      x: images ``(n, H, W, C)`` or ``(H, W, C)``.
      horizontal: allow left-right flips.
      vertical: allow upside-down flips.
      p: probability of each enabled flip, in [0, 1].

    Returns:
      an array of the shape and dtype of ``x``.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> x = jnp.arange(4.0).reshape(1, 1, 4, 1)
      >>> jnn.data.random_flip(jax.random.key(0), x, p=1.0)[0, 0, :, 0].tolist()
      [3.0, 2.0, 1.0, 0.0]

    References:
      Krizhevsky, Sutskever and Hinton, "ImageNet classification with deep
      convolutional neural networks", NeurIPS 2012.
    """
    where = "jnn.data.random_flip"
    check_key(where, key)
    _images(where, x)
    if not (isinstance(horizontal, bool) and isinstance(vertical, bool)):
        raise TypeError(f"{where}: horizontal and vertical must be True or False.")
    if not (horizontal or vertical):
        raise ValueError(f"{where}: horizontal and vertical are both False; enable one.")
    number_in_range(where, "p", p, 0.0, 1.0)

    return _flip(key, jnp.asarray(x), p=p, horizontal=horizontal, vertical=vertical)


@partial(jax.jit, static_argnames=("horizontal", "vertical"))
@_batchwise
def _flip(key, batch, *, p, horizontal, vertical):
    flip = jax.random.bernoulli(key, p, (batch.shape[0], 2))
    for enabled, column, axis in ((horizontal, 0, 2), (vertical, 1, 1)):
        if enabled:
            mask = flip[:, column].reshape(-1, 1, 1, 1)
            batch = jnp.where(mask, jnp.flip(batch, axis=axis), batch)
    return batch


def random_crop(key: jax.Array, x: Any, *, padding: int = 4, mode: str = "constant") -> jax.Array:
    r"""Pad each image by ``padding`` pixels on every side, then crop it back at random.

    Equivalent to shifting the image by :math:`(\Delta_h, \Delta_w)`, each uniform on
    :math:`\{-\mathrm{padding}, \dots, \mathrm{padding}\}`, filling the uncovered border
    according to ``mode``. The output has the input's size (the standard CIFAR recipe is
    ``padding=4`` on 32x32 images).

    Args:
      key: a PRNG key.
      x: images ``(n, H, W, C)`` or ``(H, W, C)``.
      padding: pixels added on each side, >= 0 (0 returns ``x`` unchanged).
      mode: how to fill the padding, any ``jnp.pad`` mode: ``"constant"`` (zeros),
        ``"edge"``, ``"reflect"``, ``"wrap"``.

    Returns:
      an array of the shape and dtype of ``x``.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> x = jnp.ones((2, 8, 8, 3))
      >>> jnn.data.random_crop(jax.random.key(0), x, padding=2).shape
      (2, 8, 8, 3)

    References:
      He, Zhang, Ren and Sun, "Deep residual learning for image recognition", CVPR 2016,
      https://arxiv.org/abs/1512.03385 (section 4.2).
    """
    where = "jnn.data.random_crop"
    check_key(where, key)
    _images(where, x)
    padding = _nonnegative_int(where, "padding", padding)
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise ValueError(
            f"{where}: mode must be 'constant', 'edge', 'reflect', 'symmetric' or 'wrap'; "
            f"got {mode!r}."
        )
    if padding == 0:
        return jnp.asarray(x)

    return _crop(key, jnp.asarray(x), padding=padding, mode=mode)


@partial(jax.jit, static_argnames=("padding", "mode"))
@_batchwise
def _crop(key, batch, *, padding, mode):
    n, h, w, c = batch.shape
    pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    padded = jnp.pad(batch, pad, mode=mode)
    offsets = jax.random.randint(key, (n, 2), 0, 2 * padding + 1)
    crop = lambda image, o: jax.lax.dynamic_slice(image, (o[0], o[1], 0), (h, w, c))
    return jax.vmap(crop)(padded, offsets)


def add_noise(
    key: jax.Array, x: Any, stddev: float, *, clip: tuple[float, float] | None = None
) -> jax.Array:
    r"""Add Gaussian noise to the inputs.

    .. math::

        \tilde x = x + \sigma \epsilon, \qquad \epsilon \sim \mathcal{N}(0, I).

    Input-noise injection; for small :math:`\sigma` it acts like a Tikhonov
    (gradient-norm) penalty on the model (Bishop 1995). Works on any shape, not only
    images.

    Args:
      key: a PRNG key.
      x: a floating array of any shape.
      stddev: :math:`\sigma \ge 0`.
      clip: optional ``(low, high)`` to clip the result to (e.g. ``(0, 1)`` for pixels).

    Returns:
      an array of the shape and dtype of ``x``.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> x = jnp.zeros((1000,))
      >>> float(jnn.data.add_noise(jax.random.key(0), x, 0.1).std()) > 0.09
      True

    References:
      Bishop, "Training with noise is equivalent to Tikhonov regularization", Neural
      Computation 7(1), 1995.
    """
    where = "jnn.data.add_noise"
    check_key(where, key)
    floating_input(where, "x", x)
    number_in_range(where, "stddev", stddev, 0.0, None)
    if clip is not None:
        try:
            clip = tuple(clip)
        except TypeError:
            clip = ()
        if len(clip) != 2:
            raise ValueError(f"{where}: clip must be None or a pair (low, high); got {clip!r}.")
    return _noise(key, jnp.asarray(x), stddev, clip)


@jax.jit
def _noise(key, x, stddev, clip):
    noisy = x + stddev * jax.random.normal(key, x.shape, x.dtype)
    if clip is not None:
        noisy = jnp.clip(noisy, clip[0], clip[1])
    return noisy.astype(x.dtype)


def cutout(
    key: jax.Array, x: Any, *, size: int | tuple[int, int] = 4, fill: float = 0.0
) -> jax.Array:
    r"""Set a random ``size`` rectangle of each image to ``fill`` (zero by default).

    The rectangle's centre is uniform over all pixels, so near the border part of it
    falls outside the image and less is covered, as in DeVries and Taylor (2017). All
    channels are cut. Rows :math:`[c_h - \lfloor h/2 \rfloor, c_h - \lfloor h/2 \rfloor + h)`
    and the matching columns are filled.

    Args:
      key: a PRNG key.
      x: images ``(n, H, W, C)`` or ``(H, W, C)``.
      size: ``h`` or ``(h, w)``, at most the image size.
      fill: the value written into the rectangle.

    Returns:
      an array of the shape and dtype of ``x``.

    Example:
      >>> import jax, jax.numpy as jnp, jnn
      >>> x = jnp.ones((1, 8, 8, 1))
      >>> int((jnn.data.cutout(jax.random.key(0), x, size=2) == 0).sum()) <= 4
      True

    References:
      DeVries and Taylor, "Improved regularization of convolutional neural networks with
      cutout", 2017, https://arxiv.org/abs/1708.04552.
    """
    where = "jnn.data.cutout"
    check_key(where, key)
    _images(where, x)
    hw = (size, size) if isinstance(size, int) and not isinstance(size, bool) else size
    try:
        ch, cw = (int(v) for v in hw)
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in hw)
    except (TypeError, ValueError):
        ok = False
    shape = jnp.shape(x)
    if not ok or ch < 1 or cw < 1 or ch > shape[-3] or cw > shape[-2]:
        raise ValueError(
            f"{where}: size must be an int or (h, w) with 1 <= h <= {shape[-3]} and "
            f"1 <= w <= {shape[-2]} (the image size); got {size!r}."
        )

    return _cutout(key, jnp.asarray(x), size=(ch, cw), fill=fill)


@partial(jax.jit, static_argnames=("size",))
@_batchwise
def _cutout(key, batch, *, size, fill):
    n, h, w, _ = batch.shape
    ch, cw = size
    k_row, k_col = jax.random.split(key)
    top = jax.random.randint(k_row, (n, 1, 1, 1), 0, h) - ch // 2
    left = jax.random.randint(k_col, (n, 1, 1, 1), 0, w) - cw // 2
    rows = jnp.arange(h).reshape(1, h, 1, 1)
    cols = jnp.arange(w).reshape(1, 1, w, 1)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return jnp.where(inside, jnp.asarray(fill, batch.dtype), batch)
