"""Mixed precision: policies, the MixedPrecision wrapper, loss scaling, bf16 training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import assert_trees_close

from jnn import mixed_precision as mp
from jnn.layers import BatchNorm, Dense, Embedding, Sequential

F32, BF16, F16 = jnp.dtype(jnp.float32), jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16)
# bfloat16 keeps 8 significant bits: one rounding is a relative error <= 2**-8 ~ 0.004.
# A few layers of products and sums accumulate a few of them; 2% bounds the relative
# (norm-wise) error of a small MLP's gradients with room for the worst leaf.
BF16_GRAD_RTOL = 0.02


# ----------------------------------------------------------------------------- policies


@pytest.mark.parametrize(
    "spec, expected",
    [
        (None, (F32, F32, F32)),
        ("float32", (F32, F32, F32)),
        ("bfloat16", (F32, BF16, F32)),
        ("float16", (F32, F16, F32)),
        (jnp.bfloat16, (F32, BF16, F32)),
        ("params=float32,compute=bfloat16,output=float32", (F32, BF16, F32)),
        ("p=f32,c=f16,o=f16", (F32, F16, F16)),
        (" compute = bf16 ", (F32, BF16, F32)),
        ("params=bfloat16,compute=bfloat16,output=bfloat16", (BF16, BF16, BF16)),
    ],
)
def test_policy_parsing(spec, expected):
    p = mp.policy(spec)
    assert (p.param_dtype, p.compute_dtype, p.output_dtype) == expected
    assert mp.policy(str(p)) == p  # str round-trips
    assert mp.policy(p) is p
    assert hash(p) == hash(mp.Policy(*expected))  # usable as a static jit argument


@pytest.mark.parametrize(
    "spec, error, match",
    [
        ("bfloat17", ValueError, r"policy: spec='bfloat17' is not a dtype name jnn knows"),
        ("int32", TypeError, r"policy: spec must be a floating dtype .* got int32"),
        (jnp.int8, TypeError, r"policy: spec must be a floating dtype .* got int8"),
        ("params=float32,compute", ValueError, r"cannot read 'compute' in .*key=dtype pairs"),
        ("params=float32,compute=", ValueError, r"cannot read 'compute='"),
        ("weights=float32", ValueError, r"unknown key 'weights'.*'params', 'compute'"),
        ("c=bf16,compute=f32", ValueError, r"sets compute_dtype twice"),
        ("c=uint8", TypeError, r"policy: c must be a floating dtype .* got uint8"),
        ("float32,bfloat16", ValueError, r"cannot read 'float32,bfloat16'"),
        (3, TypeError, r"policy: spec must be a floating dtype .* got 3 \(type int\)"),
    ],
)
def test_policy_bad_input(spec, error, match):
    with pytest.raises(error, match=match):
        mp.policy(spec)


def test_policy_constructor_refuses_non_float():
    with pytest.raises(TypeError, match=r"Policy: output_dtype must be a floating dtype"):
        mp.Policy(output_dtype=jnp.int32)


def test_casts_touch_only_floating_leaves():
    p = mp.policy("bfloat16")
    tree = {"w": jnp.ones(3), "ids": jnp.arange(3), "mask": jnp.ones(3, bool), "s": 2.0}
    out = p.cast_to_compute(tree)
    assert out["w"].dtype == BF16
    assert out["ids"].dtype == tree["ids"].dtype and out["mask"].dtype == jnp.bool_
    assert out["s"] == 2.0 and isinstance(out["s"], float)
    back = p.cast_to_param(out)
    assert back["w"].dtype == F32 and back["ids"].dtype == tree["ids"].dtype
    assert p.cast_to_output(out)["w"].dtype == F32


# ------------------------------------------------------------------------ the wrapper


def _mlp():
    return Sequential([Dense(32), jax.nn.tanh, Dense(32), jax.nn.tanh, Dense(3)])


def test_mixed_precision_dtypes_and_exact_compute(key):
    x = jax.random.normal(key, (8, 5))
    model = mp.MixedPrecision(_mlp(), "bfloat16")
    params, state = model.init(key, x)
    assert all(leaf.dtype == F32 for leaf in jax.tree.leaves(params))
    y, _ = jax.jit(model.apply)(params, state, x)
    assert y.dtype == F32
    # The same as running the plain layer on bfloat16 params and inputs.
    ref, _ = jax.jit(_mlp().apply)(jax.tree.map(lambda a: a.astype(BF16), params), state,
                                   x.astype(BF16))
    assert ref.dtype == BF16
    np.testing.assert_array_equal(np.asarray(y), np.asarray(ref.astype(F32)))
    # Another output dtype, and params stored in bfloat16.
    half_out = mp.MixedPrecision(_mlp(), "p=bf16,c=bf16,o=bf16")
    p16, s16 = half_out.init(key, x)
    assert all(leaf.dtype == BF16 for leaf in jax.tree.leaves(p16))
    assert half_out.apply(p16, s16, x)[0].dtype == BF16
    assert repr(model).endswith("'params=float32,compute=bfloat16,output=float32')")


def test_mixed_precision_leaves_integer_inputs_alone(key):
    ids = jnp.array([[1, 2, 3], [0, 4, 4]])
    model = mp.MixedPrecision(Sequential([Embedding(5, 4), Dense(2)]), "bfloat16")
    params, state = model.init(key, ids)
    y, _ = model.apply(params, state, ids)
    assert y.dtype == F32 and y.shape == (2, 3, 2)


def test_batchnorm_statistics_stay_float32(key):
    x = 3.0 + jax.random.normal(key, (64, 6))
    model = mp.MixedPrecision(BatchNorm(momentum=0.5), "bfloat16")
    params, state = model.init(key, x)
    y, new_state = model.apply(params, state, x, train=True)
    assert y.dtype == F32
    assert all(leaf.dtype == F32 for leaf in jax.tree.leaves(new_state))
    # Statistics of the bfloat16-rounded input, accumulated in float32 (not in bfloat16).
    xr = np.asarray(x.astype(BF16).astype(F32), np.float64)
    np.testing.assert_allclose(new_state["mean"], 0.5 * xr.mean(0), rtol=1e-6)
    np.testing.assert_allclose(new_state["var"], 0.5 + 0.5 * xr.var(0), rtol=1e-6)
    # Evaluation reuses the float32 running statistics and leaves the state unchanged.
    y_eval, same = model.apply(params, new_state, x, train=False)
    assert y_eval.dtype == F32
    assert_trees_close(same, new_state, rtol=0, atol=0)


def test_bfloat16_gradients_close_to_float32(key):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (64, 5))
    labels = jax.random.randint(ky, (64,), 0, 3)

    def grads(model, params):
        def loss(p):
            logits, _ = model.apply(p, [{}] * 5, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        return jax.jit(jax.grad(loss))(params)

    params, _ = _mlp().init(key, x)
    g32 = grads(_mlp(), params)
    g16 = grads(mp.MixedPrecision(_mlp(), "bfloat16"), params)
    assert all(leaf.dtype == F32 for leaf in jax.tree.leaves(g16))
    flat32 = np.concatenate([np.ravel(a) for a in jax.tree.leaves(g32)])
    flat16 = np.concatenate([np.ravel(a) for a in jax.tree.leaves(g16)])
    rel = np.linalg.norm(flat16 - flat32) / np.linalg.norm(flat32)
    assert 0 < rel < BF16_GRAD_RTOL  # > 0: the computation really ran in bfloat16


# ----------------------------------------------------------------------- loss scaling


def test_all_finite_and_select_tree():
    assert bool(mp.all_finite({"a": jnp.ones(3), "b": [jnp.zeros(2)]}))
    assert not bool(mp.all_finite({"a": jnp.ones(3), "b": jnp.array([0.0, jnp.inf])}))
    assert not bool(mp.all_finite([jnp.array([jnp.nan])]))
    assert bool(mp.all_finite({}))
    out = mp.select_tree(jnp.array(False), {"a": jnp.ones(2)}, {"a": jnp.zeros(2)})
    np.testing.assert_array_equal(out["a"], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"select_tree: on_true and on_false must have the same"):
        mp.select_tree(jnp.array(True), {"a": 1.0}, [1.0])


def test_float16_gradients_underflow_without_loss_scaling(key):
    """Small activation gradients (a tiny loss weight, as from a mean over a large batch)
    flush to zero in float16 unless the loss is scaled (Micikevicius et al. 2018, 3.2)."""
    x = 1e-2 * jax.random.uniform(key, (8, 4), minval=0.5, maxval=1.0)
    dense = Dense(4)
    params, state = dense.init(key, x)
    params = {"kernel": jnp.abs(params["kernel"]) + 0.5, "bias": params["bias"]}  # y ~ 0.02

    def grads(model, loss_scale):
        def loss(p):
            y, _ = model.apply(p, state, x)
            return loss_scale.scale(1e-6 * jnp.sum(jnp.square(y)))

        return loss_scale.unscale(jax.jit(jax.grad(loss))(params))

    reference = grads(dense, mp.NoLossScale())  # float32 throughout
    half = mp.MixedPrecision(dense, "float16")
    unscaled = grads(half, mp.NoLossScale())
    assert not np.any(np.asarray(unscaled["kernel"]))  # every kernel gradient underflowed
    for loss_scale in (mp.StaticLossScale(2.0**15), mp.DynamicLossScale()):
        scaled = grads(half, loss_scale)
        assert all(leaf.dtype == F32 for leaf in jax.tree.leaves(scaled))
        assert bool(mp.all_finite(scaled))
        # float16 keeps 11 significant bits (2**-11 ~ 5e-4 per rounding).
        assert_trees_close(scaled, reference, rtol=1e-2, atol=0)


def _numpy_dynamic_rule(flags, scale, interval, growth, backoff, min_scale):
    """The loss-scale rule re-implemented step by step in numpy (float64)."""
    scales, counters, n = [], [], 0
    for finite in flags:
        if not finite:
            scale, n = max(scale * backoff, min_scale), 0
        elif n + 1 == interval:
            scale, n = scale * growth, 0
        else:
            n += 1
        scales.append(scale)
        counters.append(n)
    return np.array(scales), np.array(counters)


def test_dynamic_loss_scale_matches_numpy_rule():
    rng = np.random.default_rng(0)
    flags = rng.random(300) < 0.97  # long finite runs (growth) and occasional overflows
    flags[5:15] = False  # a burst of overflows: the scale reaches its floor
    ls = mp.DynamicLossScale(scale=64.0, growth_interval=7, growth_factor=2.0,
                             backoff_factor=0.5, min_scale=2.0)

    def step(ls, finite):
        ls = ls.adjust(finite)
        return ls, (ls.loss_scale, ls.counter)

    final, (scales, counters) = jax.lax.scan(step, ls, jnp.asarray(flags))
    want_scales, want_counters = _numpy_dynamic_rule(flags, 64.0, 7, 2.0, 0.5, 2.0)
    np.testing.assert_array_equal(np.asarray(scales), want_scales)
    np.testing.assert_array_equal(np.asarray(counters), want_counters)
    assert want_scales.min() == 2.0 and want_scales.max() > 64.0  # both regimes exercised
    assert isinstance(final, mp.DynamicLossScale) and final.growth_interval == 7


def test_dynamic_loss_scale_halves_on_inf_and_nan_and_grows():
    ls = mp.DynamicLossScale(scale=2.0**15, growth_interval=3)
    for bad in (jnp.inf, -jnp.inf, jnp.nan):
        grads = {"w": jnp.array([1.0, bad])}
        assert float(ls.adjust(mp.all_finite(grads)).loss_scale) == 2.0**14
    good = {"w": jnp.ones(2)}
    for expected in (2.0**15, 2.0**15, 2.0**16):
        ls = ls.adjust(mp.all_finite(good))
        assert float(ls.loss_scale) == expected
    # A grown scale that would overflow float32 is not taken.
    top = mp.DynamicLossScale(scale=2.0**127, growth_interval=1).adjust(jnp.array(True))
    assert float(top.loss_scale) == 2.0**127
    assert len(jax.tree.leaves(ls)) == 2  # scale and counter; hyperparameters are static


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: mp.DynamicLossScale(growth_interval=0), r"growth_interval must be a positive"),
        (lambda: mp.DynamicLossScale(backoff_factor=1.5), r"backoff_factor must be in \(0.0, 1.0\]"),
        (lambda: mp.DynamicLossScale(growth_factor=0.5), r"growth_factor must be in \[1.0, inf\)"),
        (lambda: mp.DynamicLossScale(scale=0.0), r"DynamicLossScale: scale must be in \(0.0"),
        (lambda: mp.StaticLossScale(-1.0), r"StaticLossScale: scale must be in \(0.0"),
    ],
)
def test_loss_scale_bad_input(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# ------------------------------------------------------------------- bfloat16 training


def test_bfloat16_training_tracks_float32():
    """Adam on a 3-class problem: the bfloat16 loss curve stays within 0.01 (absolute,
    the loss starting near 0.9) of float32's at every one of 150 steps."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 5)) * 2.0
    labels = rng.integers(0, 3, 256)
    x = (centers[labels] + rng.normal(size=(256, 5))).astype(np.float32)
    opt = optax.adam(1e-2)

    def curve(model):
        params, state = model.init(jax.random.key(1), x)

        def loss(p):
            logits, _ = model.apply(p, state, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        def step(carry, _):
            p, o = carry
            value, g = jax.value_and_grad(loss)(p)
            updates, o = opt.update(g, o, p)
            return (optax.apply_updates(p, updates), o), value

        (p, _), losses = jax.lax.scan(step, (params, opt.init(params)), length=150)
        assert all(leaf.dtype == F32 for leaf in jax.tree.leaves(p))
        return np.asarray(losses)

    l32 = curve(_mlp())
    l16 = curve(mp.MixedPrecision(_mlp(), "bfloat16"))
    assert l32[-1] < 0.5 * l32[0]  # it did train
    assert np.max(np.abs(l16 - l32)) < 0.01
