"""The 8x8 handwritten digits shipped with jnn (1,797 images, no download needed).

Source: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI
Machine Learning Repository, 1998, https://doi.org/10.24432/C50P49, licensed under
Creative Commons Attribution 4.0 International (CC BY 4.0,
https://creativecommons.org/licenses/by/4.0/). jnn ships the 1,797 images of the
repository's test split (``optdigits.tes``), the same images scikit-learn ships as
``digits.csv.gz``, repacked unchanged as ``digits.npz`` (``images``: uint8
``(1797, 8, 8)`` with values 0..16, ``labels``: uint8 ``(1797,)`` with values 0..9).

Each image is a 32x32 bitmap of a digit written by one of 43 people, divided into
non-overlapping 4x4 blocks; each pixel counts the set bits in its block (0..16).
"""

from __future__ import annotations

import importlib.resources
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._validate import check_float_dtype

_FILE = "digits.npz"
N_DIGITS = 1797


def _load_raw() -> tuple[np.ndarray, np.ndarray]:
    resource = importlib.resources.files(__package__).joinpath(_FILE)
    try:
        with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"jnn.data.load_digits: the data file {_FILE} is missing from the installed jnn "
            f"package ({resource}). Reinstall jnn (pip install --force-reinstall jnn); when "
            "building from source, make sure package data (jnn/data/*.npz) is included."
        ) from None
    return images, labels


def load_digits(
    *, flatten: bool = True, normalize: bool = True, dtype: Any = jnp.float32
) -> tuple[jax.Array, jax.Array]:
    r"""The UCI 8x8 handwritten digits: 1,797 images of the digits 0 to 9.

    Pixel values are integers 0..16 (ink counts in 4x4 blocks of a 32x32 bitmap); with
    ``normalize=True`` they are divided by 16 so that :math:`x \in [0, 1]`. Each class
    has between 174 and 183 images. The rows come in the file's fixed order; split them
    with :func:`jnn.data.train_val_test_split` (``stratify=True`` keeps the class
    proportions).

    Args:
      flatten: return ``x`` as ``(1797, 64)`` vectors (for an MLP); otherwise as NHWC
        images ``(1797, 8, 8, 1)`` (for a CNN).
      normalize: scale pixels to ``[0, 1]`` (``x / 16``); otherwise keep the raw counts
        ``0..16`` (still as ``dtype``).
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x`` of shape ``(1797, 64)`` or ``(1797, 8, 8, 1)``, ``y`` of shape
      ``(1797,)`` int32 with values 0..9.

    Example:
      >>> import jnn
      >>> x, y = jnn.data.load_digits()
      >>> x.shape, y.shape, float(x.max())
      ((1797, 64), (1797,), 1.0)

    References:
      Alpaydin and Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
      Learning Repository, 1998, https://doi.org/10.24432/C50P49 (CC BY 4.0).
      Kaynak, "Methods of Combining Multiple Classifiers and Their Applications to
      Handwritten Digit Recognition", MSc thesis, Bogazici University, 1995.
    """
    where = "jnn.data.load_digits"
    for name, value in (("flatten", flatten), ("normalize", normalize)):
        if not isinstance(value, bool):
            raise TypeError(f"{where}: {name} must be True or False; got {value!r}.")
    dtype = check_float_dtype(where, dtype)
    images, labels = _load_raw()
    x = images.astype(np.float32)
    if normalize:
        x = x / 16.0
    x = x.reshape(len(x), 64) if flatten else x[..., None]
    return jnp.asarray(x, dtype), jnp.asarray(labels, jnp.int32)
