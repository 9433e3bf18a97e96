"""Tests for jnn.initializers: variance formulas on large samples, exact distributions (KS
tests against scipy), orthogonality, uniform directions, hinge placement, dtypes, keys,
equality/hashing and every error message.

Sample-size bounds: with N >= 73,728 i.i.d. draws the relative standard error of the sample
variance is at most sqrt(2/N) < 0.53%, so the 3% bound below is more than 5 standard
errors; means are checked to within 5 standard errors (5 sigma / sqrt(N)).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import jnn.initializers as init

DENSE = (512, 1024)  # fan_in 512, fan_out 1024
CONV = (3, 3, 64, 128)  # fan_in 3*3*64 = 576, fan_out 3*3*128 = 1152
FANS = {DENSE: (512, 1024), CONV: (576, 1152)}
TRUNC_STD = scipy.stats.truncnorm(-2, 2).std()  # std of N(0,1) truncated to [-2, 2]


def _fan_avg(fi, fo):
    return (fi + fo) / 2


# (name, initializer, variance from (fan_in, fan_out), scipy distribution from variance)
def _trunc(var):
    return scipy.stats.truncnorm(-2, 2, scale=math.sqrt(var) / TRUNC_STD)


def _norm(var):
    return scipy.stats.norm(scale=math.sqrt(var))


def _unif(var):
    a = math.sqrt(3 * var)
    return scipy.stats.uniform(-a, 2 * a)


VARIANCE_CASES = [
    ("lecun_normal", init.lecun_normal(), lambda fi, fo: 1 / fi, _trunc),
    ("lecun_uniform", init.lecun_uniform(), lambda fi, fo: 1 / fi, _unif),
    ("glorot_normal", init.glorot_normal(), lambda fi, fo: 1 / _fan_avg(fi, fo), _trunc),
    ("glorot_uniform", init.glorot_uniform(), lambda fi, fo: 1 / _fan_avg(fi, fo), _unif),
    ("xavier_uniform", init.xavier_uniform(), lambda fi, fo: 2 / (fi + fo), _unif),
    ("he_normal", init.he_normal(), lambda fi, fo: 2 / fi, _trunc),
    ("he_uniform", init.he_uniform(), lambda fi, fo: 2 / fi, _unif),
    ("kaiming_normal", init.kaiming_normal(), lambda fi, fo: 2 / fi, _trunc),
    ("vs_fan_out_normal", init.variance_scaling(3.0, "fan_out", "normal"),
     lambda fi, fo: 3 / fo, _norm),
    ("vs_geo_uniform", init.variance_scaling(0.5, "fan_geo_avg", "uniform"),
     lambda fi, fo: 0.5 / math.sqrt(fi * fo), _unif),
]


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name,initializer,variance,dist", VARIANCE_CASES,
                         ids=[c[0] for c in VARIANCE_CASES])
def test_variance_formula_and_distribution(key, name, initializer, variance, dist, shape):
    w = np.asarray(initializer(key, shape), np.float64).ravel()
    var = variance(*FANS[shape])
    assert abs(w.var() / var - 1) < 0.03, (w.var(), var)
    assert abs(w.mean()) < 5 * math.sqrt(var / w.size)
    # The whole distribution, not just two moments: Kolmogorov-Smirnov against scipy.
    assert scipy.stats.kstest(w, dist(var).cdf).pvalue > 1e-3
    if dist is not _norm:  # bounded supports: truncation at 2 sigma, uniform at sqrt(3 var)
        bound = 2 * math.sqrt(var) / TRUNC_STD if dist is _trunc else math.sqrt(3 * var)
        assert np.abs(w).max() <= bound * (1 + 1e-6)


def test_normal_and_uniform_moments_and_bounds(key):
    n = 512 * 1024
    w = np.asarray(init.normal(0.1)(key, DENSE), np.float64).ravel()
    assert abs(w.var() / 0.01 - 1) < 0.03 and abs(w.mean()) < 5 * 0.1 / math.sqrt(n)
    assert scipy.stats.kstest(w, scipy.stats.norm(scale=0.1).cdf).pvalue > 1e-3

    w = np.asarray(init.uniform(low=-0.3, high=0.5)(key, DENSE), np.float64).ravel()
    assert w.min() >= -0.3 and w.max() <= 0.5
    assert abs(w.var() / (0.8**2 / 12) - 1) < 0.03
    assert abs(w.mean() - 0.1) < 5 * 0.8 / math.sqrt(12 * n)
    assert scipy.stats.kstest(w, scipy.stats.uniform(-0.3, 0.8).cdf).pvalue > 1e-3

    # uniform(scale) is JAX's [0, scale), not symmetric.
    w = np.asarray(init.uniform(0.2)(key, DENSE), np.float64)
    assert w.min() >= 0 and w.max() < 0.2
    assert abs(w.mean() - 0.1) < 5 * 0.2 / math.sqrt(12 * n)


def test_default_uniform_scale_is_jax_default(key):
    assert init.uniform() == init.Uniform(0.0, 0.01)
    np.testing.assert_allclose(
        init.uniform()(key, (64,)), jax.nn.initializers.uniform()(key, (64,)), rtol=1e-6
    )


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (init.lecun_normal(), jax.nn.initializers.lecun_normal()),
        (init.glorot_uniform(), jax.nn.initializers.glorot_uniform()),
        (init.he_normal(), jax.nn.initializers.he_normal()),
        (init.normal(0.3), jax.nn.initializers.normal(0.3)),
        (init.orthogonal(2.0), jax.nn.initializers.orthogonal(2.0)),
        (init.constant(0.5), jax.nn.initializers.constant(0.5)),
        (init.zeros, jax.nn.initializers.zeros),
        (init.ones, jax.nn.initializers.ones),
    ],
)
def test_same_values_as_jax(key, ours, theirs):
    # Where jnn wraps jax.nn.initializers, the numbers are JAX's (jnn compiles the draw as
    # one program, so the last bit may differ from JAX's op-by-op evaluation).
    # (A rank-2 shape: JAX's own draw of a rank-4 shape takes seconds to compile on CPU;
    # the conv fan convention is checked against hand-computed fans above. (16, 12) is the
    # shape of the determinism tests, so jnn's side reuses their compilations.)
    np.testing.assert_allclose(
        ours(key, (16, 12)), theirs(key, (16, 12), jnp.float32), rtol=1e-6, atol=1e-7
    )


def test_constant_zeros_ones():
    k = jax.random.key(1)
    np.testing.assert_array_equal(init.zeros(k, (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones(k, (4,)), np.ones(4))
    np.testing.assert_array_equal(init.constant(-2.5)(k, (2, 2)), np.full((2, 2), -2.5))
    np.testing.assert_array_equal(init.constant([1.0, 2.0])(k, (3, 2)), [[1, 2]] * 3)
    assert init.zeros(k, (3,), jnp.int32).dtype == jnp.int32  # zeros work for any dtype


@pytest.mark.parametrize(
    "shape,column_axis",
    [((16, 12), -1), ((12, 16), -1), ((8, 3, 3, 4), 0)],
)
def test_orthogonal(key, shape, column_axis):
    q = init.orthogonal(scale=2.0, column_axis=column_axis)(key, shape)
    assert q.shape == shape
    m = np.moveaxis(np.asarray(q, np.float64), column_axis, -1).reshape(-1, shape[column_axis])
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(len(gram)), atol=2e-5)


def test_orthogonal_float64(key, x64):
    q = init.orthogonal()(key, (16, 12), jnp.float64)
    assert q.dtype == jnp.float64
    np.testing.assert_allclose(q.T @ q, np.eye(12), atol=1e-12)


def test_orthogonal_is_haar(key):
    # For Haar-random Q in O(n), any fixed entry q11 * sqrt(n) -> N(0, 1); for n = 2 the
    # angle of the first column is exactly uniform on (-pi, pi].
    q = jax.vmap(lambda k: init.orthogonal()(k, (2, 2)))(jax.random.split(key, 4000))
    angle = np.arctan2(np.asarray(q[:, 1, 0]), np.asarray(q[:, 0, 0]))
    assert scipy.stats.kstest(angle, scipy.stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


@pytest.mark.parametrize("scale", [1.0, 2.0])
@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
def test_uniform_direction_norm_and_variance(key, shape, scale):
    w = np.asarray(init.uniform_direction(scale)(key, shape), np.float64)
    columns = w.reshape(-1, shape[-1])  # one column per output unit (per filter for conv)
    np.testing.assert_allclose(np.linalg.norm(columns, axis=0), math.sqrt(scale), rtol=1e-5)
    fan_in = FANS[shape][0]
    assert abs(w.var() / (scale / fan_in) - 1) < 0.03
    assert abs(w.mean()) < 5 * math.sqrt(scale / fan_in / w.size)


def test_uniform_direction_is_uniform_on_the_sphere(key):
    k2, k3 = jax.random.split(key)
    # n = 2: the angle is uniform on (-pi, pi].
    w = np.asarray(init.uniform_direction()(k2, (2, 20000)))
    angle = np.arctan2(w[1], w[0])
    assert scipy.stats.kstest(angle, scipy.stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    # n = 3 (Archimedes): each coordinate of a uniform unit vector is uniform on [-1, 1].
    w = np.asarray(init.uniform_direction()(k3, (3, 20000)))
    for coord in w:
        assert scipy.stats.kstest(coord, scipy.stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_uniform_direction_out_axis(key):
    w = init.uniform_direction(out_axis=0)(key, (8, 5))
    np.testing.assert_allclose(jnp.linalg.norm(w, axis=1), 1.0, rtol=1e-5)


# ------------------------------------------------------------------------ hinge_bias


def _spread_data(key, n=1000, d=3):
    # Off-centre, anisotropic data: a zero bias would leave many ReLU units dead on it.
    scales = jnp.array([[1.0, 3.0, 0.5]])[:, :d]
    return 5.0 + scales * jax.random.normal(key, (n, d))


def test_hinge_bias_places_hinges_through_data(key):
    kx, kw, kb = jax.random.split(key, 3)
    x = _spread_data(kx)
    w = init.lecun_normal()(kw, (3, 2048))
    b = init.hinge_bias()(kb, (2048,), kernel=w, x=x)
    assert b.shape == (2048,) and b.dtype == jnp.float32
    x, w, b = (np.asarray(a, np.float64) for a in (x, w, b))
    norms = np.linalg.norm(w, axis=0)
    along = (x @ w) / norms  # data coordinates along each unit's direction w_j / |w_j|
    hinge = -b / norms  # where w_j . x + b_j = 0 along that direction
    assert np.all(hinge >= along.min(axis=0)) and np.all(hinge <= along.max(axis=0))
    # Each hinge passes exactly through one data point.
    np.testing.assert_allclose(np.abs(x @ w + b).min(axis=0), 0.0, atol=1e-5 * np.abs(b).max())
    active = (x @ w + b > 1e-5 * np.abs(b).max()).mean(axis=0)
    assert active.min() > 0 and active.max() < 1  # every unit active on part of the data
    # The hinge point is uniform among the n - 1 lower-ranked points, so the active fraction
    # is uniform on {1, ..., n - 1} / n: compare with U(0, 1).
    assert scipy.stats.kstest(active, scipy.stats.uniform(0, 1).cdf).pvalue > 1e-3
    # Contrast: zero biases leave many units dead on this off-centre data.
    assert ((x @ w > 0).mean(axis=0) == 0).mean() > 0.1


def test_hinge_bias_box_without_data(key):
    kw, kb = jax.random.split(key)
    w = init.lecun_normal()(kw, (2, 4096))
    hb = init.hinge_bias(low=(0.0, 10.0), high=(1.0, 20.0))
    b = hb(kb, (4096,), kernel=w, x=jax.ShapeDtypeStruct((32, 2), jnp.float32))
    w, b = np.asarray(w, np.float64), np.asarray(b, np.float64)
    corners = np.array([[0, 10], [0, 20], [1, 10], [1, 20]], np.float64)
    pre = corners @ w + b  # the hinge plane cuts the box: corners on both sides
    assert np.all(pre.min(axis=0) < 0) and np.all(pre.max(axis=0) > 0)
    # x = None also uses the box, and the hinge points are uniform in it: with kernel
    # columns e_1 the hinge is at x_1 = -b, uniform on [0, 1].
    e1 = np.tile(np.array([[1.0], [0.0]], np.float32), (1, 4096))
    b1 = np.asarray(hb(kb, (4096,), kernel=e1))
    assert scipy.stats.kstest(-b1, scipy.stats.uniform(0, 1).cdf).pvalue > 1e-3


def test_hinge_bias_conv_patches(key):
    kx, kw, kb = jax.random.split(key, 3)
    x = 2.0 + jax.random.normal(kx, (4, 10, 10, 2))
    w = init.he_normal()(kw, (3, 3, 2, 64))
    b = init.hinge_bias()(kb, (64,), kernel=w, x=x)
    pre = jax.lax.conv_general_dilated(
        x, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST,
    )
    pre = np.asarray(pre).reshape(-1, 64) + np.asarray(b)
    np.testing.assert_allclose(np.abs(pre).min(axis=0), 0.0, atol=1e-4)
    active = (pre > 1e-4).mean(axis=0)
    assert active.min() > 0 and active.max() < 1


def test_hinge_bias_jit_dtype_and_determinism(key):
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (50, 4))
    w = init.lecun_normal()(kw, (4, 8))
    hb = init.hinge_bias()
    f = jax.jit(lambda k, w, x: hb(k, (8,), jnp.bfloat16, kernel=w, x=x))
    b = f(jax.random.key(3), w, x)
    assert b.dtype == jnp.bfloat16
    np.testing.assert_array_equal(b, f(jax.random.key(3), w, x))
    assert not np.array_equal(b, f(jax.random.key(4), w, x))
    # The bias is minus the projection of a data point: it lies among -(x @ w)'s columns.
    proj = -np.asarray(x @ w, np.float32)
    assert np.all(np.abs(proj - np.asarray(b, np.float32)).min(axis=0) <= 2**-7 * np.abs(b))
    assert init.HingeBias.needs_kernel is True and hb.needs_kernel is True
    assert not getattr(init.lecun_normal(), "needs_kernel", False)
    assert hb == init.hinge_bias() and hash(hb) == hash(init.hinge_bias())


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda k, w: init.hinge_bias()(k, (8,), kernel=w, x=None),
         ValueError, r"hinge_bias: no data to place the hinges on.*hinge_bias\(low=\.\.\., high"),
        (lambda k, w: init.hinge_bias()(k, (8,), kernel=w,
                                        x=jax.ShapeDtypeStruct((5, 4), jnp.float32)),
         ValueError, "no data to place the hinges"),
        (lambda k, w: init.hinge_bias()(k, (7,), kernel=w, x=jnp.ones((5, 4))),
         ValueError, r"bias shape must be \(8,\).*got \(7,\)"),
        (lambda k, w: init.hinge_bias()(k, (8,), kernel=w, x=jnp.ones((5, 3))),
         ValueError, r"x has shape \(5, 3\).*expects 4 input features"),
        (lambda k, w: init.hinge_bias()(k, (8,), kernel=w, x=jnp.ones((1, 4))),
         ValueError, "x holds 1 data point.*at least 2"),
        (lambda k, w: init.hinge_bias()(k, (8,), kernel=w[0], x=jnp.ones((5, 4))),
         ValueError, r"kernel must have rank >= 2.*got shape \(8,\)"),
        (lambda k, w: init.hinge_bias(low=[0, 0, 0], high=[1, 1, 1])(k, (8,), kernel=w),
         ValueError, "low/high have 3/3 entries but the kernel expects 4"),
        (lambda k, w: init.hinge_bias(low=0.0), ValueError, "low and high must be given together"),
        (lambda k, w: init.hinge_bias(low=1.0, high=1.0), ValueError, "low must be smaller"),
        (lambda k, w: init.hinge_bias(low="a", high=1.0), TypeError, "low must be a number"),
        (lambda k, w: init.hinge_bias()(k, (8,), x=jnp.ones((5, 4))), TypeError, "kernel"),
        (lambda k, w: init.hinge_bias()(k, (8,), jnp.int32, kernel=w, x=jnp.ones((5, 4))),
         TypeError, "dtype must be a floating dtype"),
        (lambda k, w: init.hinge_bias()(k, (8,), kernel=jnp.ones((3, 3, 2, 8)),
                                        x=jnp.ones((4, 2, 2, 2))),
         ValueError, r"needs x of shape \(batch, \*spatial, 2\)"),
    ],
)
def test_hinge_bias_errors(key, call, error, match):
    w = jnp.ones((4, 8))
    with pytest.raises(error, match=match):
        call(key, w)


# ----------------------------------------------------------------- general contract

RANDOM_INITS = {
    "normal": init.normal(0.5),
    "uniform": init.uniform(low=-1.0, high=1.0),
    "lecun_normal": init.lecun_normal(),
    "lecun_uniform": init.lecun_uniform(),
    "glorot_normal": init.glorot_normal(),
    "glorot_uniform": init.glorot_uniform(),
    "he_normal": init.he_normal(),
    "he_uniform": init.he_uniform(),
    "orthogonal": init.orthogonal(),
    "uniform_direction": init.uniform_direction(),
    "variance_scaling": init.variance_scaling(1.5, "fan_avg", "normal"),
}
# One initializer per distinct compiled draw (the others share these programs): the dtype
# and jit checks run on these to keep the number of compilations small.
PROGRAMS = ["normal", "uniform", "lecun_normal", "orthogonal", "uniform_direction"]


@pytest.mark.parametrize("name", sorted(RANDOM_INITS))
def test_determinism_by_key(name):
    f = RANDOM_INITS[name]
    a = f(jax.random.key(7), (16, 12))
    assert a.dtype == jnp.float32 and a.shape == (16, 12)
    np.testing.assert_array_equal(a, f(jax.random.key(7), (16, 12)))
    assert not np.array_equal(a, f(jax.random.key(8), (16, 12)))


@pytest.mark.parametrize("name", PROGRAMS)
def test_bfloat16_and_jit(name):
    f = RANDOM_INITS[name]
    a = f(jax.random.key(7), (16, 12))
    b = f(jax.random.key(7), (16, 12), jnp.bfloat16)
    assert b.dtype == jnp.bfloat16
    # bfloat16 results are the float32 draw rounded (relative error <= 2^-8).
    np.testing.assert_allclose(np.asarray(b, np.float32), a, rtol=2**-8, atol=1e-30)
    # Works under jit with a traced key.
    c = jax.jit(lambda k: f(k, (16, 12)))(jax.random.key(7))
    np.testing.assert_allclose(c, a, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", PROGRAMS)
def test_float64(name, x64):
    w = RANDOM_INITS[name](jax.random.key(7), (16, 12), jnp.float64)
    assert w.dtype == jnp.float64


def test_bfloat16_variance(key):
    w = np.asarray(init.he_normal()(key, DENSE, jnp.bfloat16), np.float64)
    assert abs(w.var() / (2 / 512) - 1) < 0.03


def test_empty_shape(key):
    assert init.lecun_normal()(key, (0, 5)).shape == (0, 5)
    assert init.uniform_direction()(key, (4, 0)).shape == (4, 0)


def test_equality_and_hashing():
    assert init.lecun_normal() == init.lecun_normal()
    assert hash(init.he_normal()) == hash(init.kaiming_normal())
    assert init.he_normal() != init.lecun_normal()
    assert init.lecun_normal() == init.variance_scaling(1.0, "fan_in", "truncated_normal")
    assert init.constant(0.5) == init.constant(0.5) and init.constant(0.5) != init.constant(1)
    assert hash(init.constant([1.0, 2.0])) == hash(init.constant([1.0, 2.0]))
    assert init.normal(0.1) == init.normal(0.1) and init.orthogonal() == init.orthogonal(1.0)
    assert init.xavier_normal is init.glorot_normal and init.kaiming_uniform is init.he_uniform
    assert "he_normal" in repr(init.he_normal()) or "VarianceScaling" in repr(init.he_normal())


def test_get_registry():
    assert init.get("he_normal") == init.he_normal()
    assert init.get("Glorot_Uniform") == init.glorot_uniform()
    assert init.get("zeros") is init.zeros
    assert init.get("normal", stddev=0.2) == init.normal(0.2)
    assert init.get("hinge_bias", low=0.0, high=1.0) == init.hinge_bias(0.0, 1.0)
    f = init.orthogonal()
    assert init.get(f) is f


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: init.normal(0.0), ValueError, r"normal: stddev must be a positive finite.*0\.0"),
        (lambda: init.normal(-1.0), ValueError, "normal: stddev must be a positive"),
        (lambda: init.normal("1"), TypeError, "normal: stddev must be a positive number"),
        (lambda: init.uniform(0.0), ValueError, "uniform: scale must be a positive"),
        (lambda: init.uniform(0.1, low=-1.0), ValueError, "give either scale or low/high"),
        (lambda: init.uniform(low=-1.0), ValueError, "low and high must be given together"),
        (lambda: init.uniform(low=1.0, high=1.0), ValueError, "low must be smaller than high"),
        (lambda: init.variance_scaling(0.0, "fan_in", "normal"), ValueError,
         "variance_scaling: scale must be a positive"),
        (lambda: init.variance_scaling(1.0, "fan", "normal"), ValueError,
         r"mode must be one of \('fan_in'"),
        (lambda: init.variance_scaling(1.0, "fan_in", "gauss"), ValueError,
         "distribution must be one of"),
        (lambda: init.variance_scaling(1.0, "fan_in", "normal", in_axis=1.5), TypeError,
         "in_axis must be an int or a sequence of ints"),
        (lambda: init.orthogonal(scale=-2.0), ValueError, "orthogonal: scale must be a positive"),
        (lambda: init.uniform_direction(scale=0.0), ValueError,
         "uniform_direction: scale must be a positive"),
        (lambda: init.constant("abc"), TypeError, "constant: value must be a number"),
        (lambda: init.get("he_norml"), ValueError,
         r"get: unknown initializer 'he_norml'\. Did you mean 'he_normal'\?.*Valid names: constant"),
        (lambda: init.get(init.zeros, value=1.0), TypeError, "only apply to a name"),
        (lambda: init.get("normal", sigma=1.0), TypeError, "bad arguments.*'normal'"),
        (lambda: init.get(3), TypeError, "name must be a string"),
    ],
)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "f,shape,dtype,error,match",
    [
        (init.lecun_normal(), (5,), jnp.float32, ValueError,
         r"lecun_normal: shape \(5,\) has rank 1.*kernel of rank >= 2.*use jnn\.initializers\.zeros"),
        (init.he_uniform(), (), jnp.float32, ValueError, r"he_uniform: shape \(\) has rank 0"),
        (init.orthogonal(), (5,), jnp.float32, ValueError, r"orthogonal: shape \(5,\) has rank 1"),
        (init.uniform_direction(), (5,), jnp.float32, ValueError,
         r"uniform_direction: shape \(5,\) has rank 1"),
        (init.variance_scaling(1.0, "fan_in", "normal", in_axis=0, out_axis=2), (4, 3),
         jnp.float32, ValueError, r"out_axis=2 is out of range for shape \(4, 3\)"),
        (init.variance_scaling(1.0, "fan_in", "normal", in_axis=0, out_axis=-2), (4, 3),
         jnp.float32, ValueError, "axis 0 of shape .* both as in_axis and as out_axis"),
        (init.orthogonal(column_axis=3), (4, 3), jnp.float32, ValueError,
         "column_axis=3 is out of range"),
        (init.he_normal(), (4, 3), jnp.int32, TypeError,
         "he_normal: dtype must be a floating dtype.*got int32"),
        (init.normal(), (4, -1), jnp.float32, ValueError,
         r"normal: shape must be a tuple of non-negative integers; got \(4, -1\)"),
        (init.normal(), "ab", jnp.float32, ValueError, "shape must be a tuple"),
        (init.constant([1.0, 2.0]), (3,), jnp.float32, ValueError,
         r"constant: value of shape \(2,\) cannot be broadcast to the requested shape \(3,\)"),
    ],
)
def test_call_errors(key, f, shape, dtype, error, match):
    with pytest.raises(error, match=match):
        f(key, shape, dtype)


def test_with_dense_layer(key):
    # The protocol Dense uses: kernel_init(key, shape, dtype); a bias_init with
    # needs_kernel=True also gets kernel= and x=.
    from jnn.layers import Dense

    kx, kp = jax.random.split(key)
    x = _spread_data(kx)  # the shapes of test_hinge_bias_places_hinges_through_data
    layer = Dense(2048, kernel_init=init.he_normal(), bias_init=init.hinge_bias())
    params, _ = layer.init(kp, x)
    assert params["kernel"].shape == (3, 2048) and params["bias"].shape == (2048,)
    active = np.asarray(layer.apply(params, {}, x)[0] > 1e-4).mean(axis=0)
    assert active.min() > 0 and active.max() < 1
    # Equal configurations make equal (hashable) layers.
    same = Dense(2048, kernel_init=init.he_normal(), bias_init=init.hinge_bias())
    assert layer == same and hash(layer) == hash(same)
