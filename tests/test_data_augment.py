"""Augmentation in jnn.data: shapes, exact geometry, statistics over large batches, jit/vmap."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.data as jd

N, H, W, C = 2000, 6, 5, 2


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(42)
    return jnp.asarray(rng.uniform(1.0, 2.0, (N, H, W, C)), jnp.float32)  # no zeros, distinct


@pytest.mark.parametrize("horizontal, vertical", [(True, False), (False, True), (True, True)])
def test_random_flip_exact_and_rate(key, images, horizontal, vertical):
    out = np.asarray(jd.random_flip(key, images, horizontal=horizontal, vertical=vertical, p=0.3))
    x = np.asarray(images)
    options = {
        (fh, fv): x[:, ::-1 if fv else 1, ::-1 if fh else 1]
        for fh in ([False, True] if horizontal else [False])
        for fv in ([False, True] if vertical else [False])
    }
    which = {k: np.all(out == v, axis=(1, 2, 3)) for k, v in options.items()}
    assert np.all(np.sum(list(which.values()), axis=0) == 1)  # each image is exactly one option
    for (fh, fv), hit in which.items():
        expected = (0.3 if fh else 0.7 if horizontal else 1.0) * (0.3 if fv else 0.7 if vertical else 1.0)
        # Binomial(2000, q): standard deviation at most 22.4; allow 5 of them.
        assert abs(hit.sum() - N * expected) < 5 * np.sqrt(N * expected * (1 - expected)) + 1


def test_random_flip_single_image_matches_batch_of_one(key, images):
    np.testing.assert_array_equal(jd.random_flip(key, images[0], p=0.5),
                                  jd.random_flip(key, images[:1], p=0.5)[0])
    np.testing.assert_array_equal(jd.random_flip(key, images[:3], p=1.0), images[:3, :, ::-1])
    np.testing.assert_array_equal(jd.random_flip(key, images[:3], p=0.0), images[:3])


@pytest.mark.parametrize("mode", ["constant", "edge"])
def test_random_crop_is_a_shifted_window(key, images, mode):
    padding = 2
    out = np.asarray(jd.random_crop(key, images, padding=padding, mode=mode))
    assert out.shape == images.shape
    padded = np.pad(np.asarray(images), ((0, 0), (padding,) * 2, (padding,) * 2, (0, 0)), mode=mode)
    offsets = list(itertools.product(range(2 * padding + 1), repeat=2))
    windows = np.stack([padded[:, dy:dy + H, dx:dx + W] for dy, dx in offsets], axis=1)
    match = np.all(windows == out[:, None], axis=(2, 3, 4))  # (N, 25)
    assert np.all(match.sum(1) == 1)  # exactly one window per image
    counts = match.sum(0)
    # Uniform over 25 offsets: 80 expected each, binomial std about 8.9; allow 5 of them.
    assert np.all(np.abs(counts - N / 25) < 45), counts


def test_random_crop_zero_padding_is_identity(key, images):
    np.testing.assert_array_equal(jd.random_crop(key, images[:4], padding=0), images[:4])


def test_cutout_region_and_coverage(key, images):
    h, w = 3, 2
    out = np.asarray(jd.cutout(key, images, size=(h, w)))
    x = np.asarray(images)
    cut = out == 0
    assert np.all(cut == cut[..., :1])  # all channels together
    np.testing.assert_array_equal(out[~cut], x[~cut])  # the rest untouched
    cut = cut[..., 0]
    rows, cols = cut.any(2), cut.any(1)
    # The cut set is the product of a run of rows and a run of columns (a clipped rectangle).
    np.testing.assert_array_equal(cut, rows[:, :, None] & cols[:, None, :])
    assert rows.sum(1).max() <= h and cols.sum(1).max() <= w and rows.sum(1).min() >= 1
    # Coverage probability of each pixel: centre uniform over the image, top = c - h // 2.
    def cover(size, extent):
        return np.array([np.mean([(c - size // 2 <= i < c - size // 2 + size)
                                  for c in range(extent)]) for i in range(extent)])
    expected = np.outer(cover(h, H), cover(w, W))
    freq = cut.mean(0)
    assert np.abs(freq - expected).max() < 5 * np.sqrt(0.25 / N)


def test_add_noise_statistics_and_clip(key):
    x = jnp.full((N, 50), 0.5)
    noisy = jd.add_noise(key, x, 0.2)
    diff = np.asarray(noisy - x)
    assert noisy.dtype == x.dtype
    # 100000 draws: the std has relative standard error 0.22%; allow 1%.
    assert abs(diff.std() - 0.2) < 0.002 and abs(diff.mean()) < 0.003
    clipped = np.asarray(jd.add_noise(key, x, 0.2, clip=(0.0, 1.0)))
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    np.testing.assert_array_equal(jd.add_noise(key, x, 0.0), x)


def test_augmentations_under_jit_and_vmap(key, images):
    # The same static settings and shapes as the tests above, so the eager calls reuse
    # their compilations. (add_noise and random_flip are jitted the same way.)
    def pipeline(k, batch):
        k1, k2 = jax.random.split(k)
        return jd.cutout(k2, jd.random_crop(k1, batch, padding=2), size=(3, 2))

    np.testing.assert_array_equal(jax.jit(pipeline)(key, images), pipeline(key, images))
    # vmap over single images with one key each equals the calls one by one.
    keys = jax.random.split(key, 3)
    flipped = jax.vmap(lambda k, im: jd.random_flip(k, im, p=0.5))(keys, images[:3])
    for i in range(3):
        np.testing.assert_array_equal(flipped[i], jd.random_flip(keys[i], images[i], p=0.5))


@pytest.mark.parametrize(
    "call, err, match",
    [
        (lambda k, x: jd.random_flip(k, x[0, :, :, 0]), ValueError,
         r"random_flip: x must be NHWC images.*got shape \(6, 5\).*x\[\.\.\., None\]"),
        (lambda k, x: jd.random_flip(k, x, horizontal=False), ValueError,
         r"random_flip: horizontal and vertical are both False"),
        (lambda k, x: jd.random_flip(k, x, p=1.5), ValueError, r"random_flip: p must be in \[0.0, 1.0\]"),
        (lambda k, x: jd.random_crop(k, x, padding=-1), ValueError,
         r"random_crop: padding must be an integer >= 0; got -1"),
        (lambda k, x: jd.random_crop(k, x, mode="zeros"), ValueError, r"random_crop: mode must be"),
        (lambda k, x: jd.cutout(k, x, size=7), ValueError,
         r"cutout: size must be an int or \(h, w\) with 1 <= h <= 6 and 1 <= w <= 5"),
        (lambda k, x: jd.add_noise(k, x, -0.1), ValueError, r"add_noise: stddev must be in \[0.0, inf\)"),
        (lambda k, x: jd.add_noise(k, jnp.ones(3, jnp.int32), 0.1), TypeError,
         r"add_noise: x has dtype int32 but a floating dtype is needed"),
        (lambda k, x: jd.cutout(0, x), TypeError, r"cutout: key must be a single JAX PRNG key"),
    ],
)
def test_augment_bad_input(key, images, call, err, match):
    with pytest.raises(err, match=match):
        call(key, images[:2])
