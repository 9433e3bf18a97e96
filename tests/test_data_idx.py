"""MNIST loaders on small IDX and .npz files written by the tests (the real byte format)."""

import gzip
import struct

import jax.numpy as jnp
import numpy as np
import pytest

import jnn.data as jd

RNG = np.random.default_rng(0)
IMAGES = {
    "train": RNG.integers(0, 256, size=(7, 28, 28), dtype=np.uint8),
    "test": RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
}
LABELS = {"train": RNG.integers(0, 10, size=7, dtype=np.uint8),
          "test": RNG.integers(0, 10, size=3, dtype=np.uint8)}


def idx_bytes(array, type_code=0x08, dtype=">u1"):
    """Independent IDX writer: magic, big-endian uint32 dims, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array).astype(dtype).tobytes()


def write_idx_dir(directory, compress, dot_names=False):
    for kind, prefix in (("train", "train"), ("test", "t10k")):
        for part, ndim, array in (("images", 3, IMAGES[kind]), ("labels", 1, LABELS[kind])):
            name = f"{prefix}-{part}.idx{ndim}-ubyte" if dot_names else f"{prefix}-{part}-idx{ndim}-ubyte"
            data = idx_bytes(array)
            if compress:
                (directory / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (directory / name).write_bytes(data)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_load_mnist_idx(tmp_path, compress, kind):
    write_idx_dir(tmp_path, compress)
    x, y = jd.load_mnist(tmp_path, kind)
    n = len(LABELS[kind])
    assert x.shape == (n, 784) and x.dtype == jnp.float32 and y.dtype == jnp.int32
    np.testing.assert_allclose(np.asarray(x), IMAGES[kind].reshape(n, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, LABELS[kind])


def test_load_mnist_layouts_and_dot_names(tmp_path):
    write_idx_dir(tmp_path, compress=False, dot_names=True)
    x, _ = jd.load_mnist(str(tmp_path), "train", flatten=False, normalize=False)
    assert x.shape == (7, 28, 28, 1)
    np.testing.assert_array_equal(np.asarray(x)[..., 0], IMAGES["train"])


def test_read_idx_other_types(tmp_path):
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
    (tmp_path / "a.idx").write_bytes(idx_bytes(values, 0x0C, ">i4"))
    out = jd.read_idx(tmp_path / "a.idx")
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)
    floats = np.linspace(-1, 1, 5)
    (tmp_path / "f.idx").write_bytes(idx_bytes(floats, 0x0E, ">f8"))
    np.testing.assert_array_equal(jd.read_idx(tmp_path / "f.idx"), floats)


@pytest.mark.parametrize("kind", ["train", "test"])
def test_load_mnist_npz(tmp_path, kind):
    np.savez(tmp_path / "mnist.npz", x_train=IMAGES["train"], y_train=LABELS["train"],
             x_test=IMAGES["test"], y_test=LABELS["test"])
    for path in (tmp_path, tmp_path / "mnist.npz"):
        x, y = jd.load_mnist(path, kind)
        np.testing.assert_allclose(np.asarray(x), IMAGES[kind].reshape(-1, 784) / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y, LABELS[kind])


def test_missing_files_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_mnist: no MNIST train data in .*missing "
                       r"train-images-idx3-ubyte\[\.gz\] and train-labels-idx1-ubyte\[\.gz\].*"
                       r"Download .*yann.lecun.com.*put them in that directory"):
        jd.load_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(IMAGES["test"]))
    with pytest.raises(FileNotFoundError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\] \(and"):
        jd.load_mnist(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match=r"load_mnist: .*nowhere does not exist.*Download"):
        jd.load_mnist(tmp_path / "nowhere")


def test_corrupted_files(tmp_path):
    write_idx_dir(tmp_path, compress=True)
    bad = bytearray(idx_bytes(IMAGES["train"]))
    bad[2] = 0x07  # unknown type code
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(bad)))
    with pytest.raises(ValueError, match=r"read_idx: .*train-images-idx3-ubyte.gz is not an IDX "
                       r"file: its magic number is 00 00 07 03.*download it again"):
        jd.load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ValueError, match=r"magic number is 3c 68 74 6d"):
        jd.load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(IMAGES["train"])[:-10]))
    with pytest.raises(ValueError, match=r"holds 5494 bytes but its header \(shape \(7, 28, 28\).*"
                       r"implies 5504; the file is truncated"):
        jd.load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(IMAGES["train"]))[:-30])
    with pytest.raises(ValueError, match=r"is not a readable gzip file"):
        jd.load_mnist(tmp_path)
    # Images and labels of different lengths.
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(IMAGES["test"])))
    with pytest.raises(ValueError, match=r"got shapes \(3, 28, 28\) and \(7,\). The files do not"):
        jd.load_mnist(tmp_path)


def test_bad_npz_and_arguments(tmp_path):
    np.savez(tmp_path / "mnist.npz", images=IMAGES["train"])
    with pytest.raises(ValueError, match=r"has arrays \['images'\] but needs \['x_train', 'y_train'\]"):
        jd.load_mnist(tmp_path)
    np.savez(tmp_path / "mnist.npz", x_train=IMAGES["train"], y_train=LABELS["train"] + 10)
    with pytest.raises(ValueError, match=r"labels must lie in 0..9; got values from 1[0-9] to 1[0-9]\. Is the labels file"):
        jd.load_mnist(tmp_path)
    np.savez(tmp_path / "mnist.npz", x_train=np.full((7, 28, 28), np.nan), y_train=LABELS["train"])
    with pytest.raises(ValueError, match=r"the images contain NaN or inf"):
        jd.load_mnist(tmp_path)
    (tmp_path / "other.npz").write_bytes(b"garbage")
    (tmp_path / "mnist.npz").rename(tmp_path / "digits.npz")
    with pytest.raises(FileNotFoundError, match=r"several .npz files \(digits.npz, other.npz\); pass"):
        jd.load_mnist(tmp_path)
    with pytest.raises(ValueError, match=r"other.npz is not a readable .npz file"):
        jd.load_mnist(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"load_mnist: kind must be 'train' or 'test'; got 'val'"):
        jd.load_mnist(tmp_path, "val")
