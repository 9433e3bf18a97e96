"""MNIST and Fashion-MNIST from local files: the IDX format and Keras's ``.npz``.

jnn downloads nothing. Put the files in a directory and pass its path:

- IDX (the original distribution, gzipped or not): ``train-images-idx3-ubyte[.gz]``,
  ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
  ``t10k-labels-idx1-ubyte[.gz]`` (``train-images.idx3-ubyte`` also works).
- ``.npz`` as Keras ships it (``mnist.npz`` with ``x_train``, ``y_train``, ``x_test``,
  ``y_test``), or the path of such a file itself.

The IDX format (LeCun et al.): a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then
``ndim`` big-endian uint32 sizes, then the values in big-endian C order. Type codes:
``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32,
``0x0E`` float64.
"""

from __future__ import annotations

import gzip
import os
import zipfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._validate import check_float_dtype

_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_PREFIX = {"train": "train", "test": "t10k"}
_DOWNLOAD_HELP = (
    "Download the four files of MNIST (https://yann.lecun.com/exdb/mnist/, or the mirror "
    "https://ossci-datasets.s3.amazonaws.com/mnist/) or of Fashion-MNIST "
    "(https://github.com/zalandoresearch/fashion-mnist, folder data/fashion), or Keras's "
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz, and put them "
    "in that directory (the .gz files can stay compressed)."
)


def _open(path: Path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a NumPy array of its stored type and shape.

    Args:
      path: the file, e.g. ``".../train-images-idx3-ubyte.gz"``.

    Returns:
      a host ``np.ndarray`` in native byte order, e.g. uint8 ``(60000, 28, 28)`` for
      MNIST's training images and uint8 ``(60000,)`` for its labels.

    Raises:
      ValueError: when the magic number, the type code or the size does not match the
        IDX format (a truncated download, an HTML error page saved under the file's name).
    """
    where = "jnn.data.read_idx"
    path = Path(path)
    with _open(path) as f:
        try:
            content = f.read()
        except (OSError, EOFError) as err:
            raise ValueError(f"{where}: {path} is not a readable gzip file ({err}).") from None
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_TYPES:
        raise ValueError(
            f"{where}: {path} is not an IDX file: its magic number is "
            f"{content[:4].hex(' ') or 'missing'}, expected 00 00 <type> <ndim> with type "
            f"one of {', '.join(f'{t:02x}' for t in _IDX_TYPES)}. The file is probably "
            "corrupted or not MNIST data; download it again."
        )
    dtype, ndim = _IDX_TYPES[content[2]], content[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(content) < header:
        raise ValueError(
            f"{where}: {path} has a broken IDX header (ndim={ndim}); download it again."
        )
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise ValueError(
            f"{where}: {path} holds {len(content)} bytes but its header (shape {shape}, "
            f"type {dtype}) implies {expected}; the file is truncated or corrupted, "
            "download it again."
        )
    data = np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, prefix: str, part: str, ndim: int) -> Path | None:
    for stem in (f"{prefix}-{part}-idx{ndim}-ubyte", f"{prefix}-{part}.idx{ndim}-ubyte"):
        for name in (stem, stem + ".gz"):
            if (directory / name).is_file():
                return directory / name
    return None


def _find_npz(directory: Path) -> Path | None:
    found = sorted(directory.glob("*.npz"))
    if len(found) == 1:
        return found[0]
    for name in ("mnist.npz", "fashion_mnist.npz", "fashion-mnist.npz"):
        if (directory / name).is_file():
            return directory / name
    if found:
        raise FileNotFoundError(
            f"jnn.data.load_mnist: {directory} holds several .npz files "
            f"({', '.join(p.name for p in found)}); pass the path of the one to load."
        )
    return None


def _load_npz(path: Path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    where = "jnn.data.load_mnist"
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{where}: {path} is not a readable .npz file ({err}); download it again."
        ) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: {path} holds a single array, not an .npz archive.")
    with npz:
        want = [f"x_{kind}", f"y_{kind}"]
        if not set(want) <= set(npz.files):
            raise ValueError(
                f"{where}: {path} has arrays {sorted(npz.files)} but needs {want} "
                "(the layout of Keras's mnist.npz: x_train, y_train, x_test, y_test)."
            )
        return npz[want[0]], npz[want[1]]


def load_mnist(
    path: str | os.PathLike,
    kind: str = "train",
    *,
    flatten: bool = True,
    normalize: bool = True,
    dtype: Any = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""MNIST or Fashion-MNIST from a local directory (IDX files) or a Keras ``.npz``.

    Both datasets share one format: 28x28 grey-scale images with pixel values 0..255 and
    labels 0..9; 60,000 training and 10,000 test images. Nothing is downloaded.

    Args:
      path: a directory holding the IDX files (gzipped or not) or one ``.npz`` file, or
        the path of a ``.npz`` file.
      kind: ``"train"`` or ``"test"``.
      flatten: return ``x`` as ``(n, 784)`` vectors; otherwise NHWC images
        ``(n, 28, 28, 1)``.
      normalize: scale pixels to ``[0, 1]`` (``x / 255``); otherwise keep ``0..255``.
      dtype: floating dtype of ``x``.

    Returns:
      ``(x, y)``: ``x`` of shape ``(n, 784)`` or ``(n, 28, 28, 1)``, ``y: (n,)`` int32.

    Raises:
      FileNotFoundError: when the directory holds neither form, with where to get them.
      ValueError: when a file is corrupted (see :func:`read_idx`) or images and labels
        disagree.

    Example:
      >>> import jnn
      >>> x, y = jnn.data.load_mnist("~/data/mnist", "test")  # doctest: +SKIP
      >>> x.shape, y.shape  # doctest: +SKIP
      ((10000, 784), (10000,))

    References:
      LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
      recognition", Proceedings of the IEEE, 1998.
      Xiao, Rasul and Vollgraf, "Fashion-MNIST: a novel image dataset for benchmarking
      machine learning algorithms", 2017, https://arxiv.org/abs/1708.07747.
    """
    where = "jnn.data.load_mnist"
    if kind not in _PREFIX:
        raise ValueError(f"{where}: kind must be 'train' or 'test'; got {kind!r}.")
    for name, value in (("flatten", flatten), ("normalize", normalize)):
        if not isinstance(value, bool):
            raise TypeError(f"{where}: {name} must be True or False; got {value!r}.")
    dtype = check_float_dtype(where, dtype)
    root = Path(os.path.expanduser(os.fspath(path)))

    if root.is_file():
        images, labels = _load_npz(root, kind)
        source = root
    elif root.is_dir():
        prefix = _PREFIX[kind]
        image_file = _find_idx(root, prefix, "images", 3)
        label_file = _find_idx(root, prefix, "labels", 1)
        if image_file is not None and label_file is not None:
            images, labels = read_idx(image_file), read_idx(label_file)
            source = image_file
        else:
            npz = _find_npz(root)
            if npz is None:
                missing = [
                    f"{prefix}-{part}-idx{nd}-ubyte[.gz]"
                    for part, nd, found in (
                        ("images", 3, image_file),
                        ("labels", 1, label_file),
                    )
                    if found is None
                ]
                raise FileNotFoundError(
                    f"{where}: no MNIST {kind} data in {root}: missing "
                    f"{' and '.join(missing)} (and no .npz file). {_DOWNLOAD_HELP}"
                )
            images, labels = _load_npz(npz, kind)
            source = npz
    else:
        raise FileNotFoundError(
            f"{where}: {root} does not exist. Create the directory and put the data there. "
            f"{_DOWNLOAD_HELP}"
        )

    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{where}: {source}: images must be (n, height, width) and labels (n,); got "
            f"shapes {images.shape} and {labels.shape}. The files do not belong together."
        )
    if images.dtype.kind == "f" and not np.all(np.isfinite(images)):
        raise ValueError(f"{where}: {source}: the images contain NaN or inf.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"{where}: {source}: labels must lie in 0..9; got values from {labels.min()} "
            f"to {labels.max()}. Is the labels file from another dataset?"
        )
    x = images.astype(np.float32)
    if normalize:
        x = x / 255.0
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    return jnp.asarray(x, dtype), jnp.asarray(labels, jnp.int32)
