"""The embedded 8x8 digits: shape, class counts, value range and a checksum of the file."""

import hashlib

import jax.numpy as jnp
import numpy as np
import pytest

import jnn.data as jd

# sha256 of images (uint8, 1797x8x8) followed by labels (uint8, 1797), as shipped.
DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"


def test_digits_raw_checksum_counts_and_range():
    x, y = jd.load_digits(flatten=False, normalize=False)
    assert x.shape == (1797, 8, 8, 1) and x.dtype == jnp.float32
    assert y.shape == (1797,) and y.dtype == jnp.int32
    images = np.asarray(x)[..., 0]
    assert np.array_equal(images, np.round(images)) and images.min() == 0 and images.max() == 16
    counts = np.bincount(np.asarray(y), minlength=10)
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    digest = hashlib.sha256(
        images.astype(np.uint8).tobytes() + np.asarray(y).astype(np.uint8).tobytes()
    ).hexdigest()
    assert digest == DIGITS_SHA256
    # The border columns of these centred digits are almost empty; the centre is inked.
    assert images[:, :, 0].mean() < 0.5 and images[:, 3:5, 3:5].mean() > 5


def test_digits_flatten_normalize():
    x, y = jd.load_digits()
    assert x.shape == (1797, 64) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    raw, y2 = jd.load_digits(flatten=False, normalize=False)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_allclose(np.asarray(x), np.asarray(raw).reshape(1797, 64) / 16.0)


def test_digits_bad_input():
    with pytest.raises(TypeError, match=r"load_digits: flatten must be True or False; got 'yes'"):
        jd.load_digits(flatten="yes")
    with pytest.raises(TypeError, match=r"load_digits: dtype must be a floating dtype"):
        jd.load_digits(dtype=jnp.uint8)
