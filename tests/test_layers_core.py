"""The layer contract: Dense, Sequential, Parallel, Concat, Lambda, Identity, Flatten, PReLU."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _util import assert_trees_close, tol
from jax.flatten_util import ravel_pytree
from jax.test_util import check_grads

import jnn
from jnn.layers import (
    Concat,
    Dense,
    Flatten,
    Identity,
    Lambda,
    Layer,
    Parallel,
    PReLU,
    Sequential,
)


def mlp():
    return Sequential([Dense(8), jax.nn.relu, Dense(4), jnp.tanh, Dense(1)])


# ---------------------------------------------------------------- references


def test_dense_equals_flax_linen(key):
    x = jax.random.normal(key, (5, 3))
    layer = Dense(4)
    params, state = layer.init(jax.random.key(1), x)
    ours, _ = layer.apply(params, state, x)
    theirs = nn.Dense(4).apply({"params": params}, x)
    np.testing.assert_allclose(ours, theirs, rtol=tol(jnp.float32), atol=tol(jnp.float32))


def test_dense_without_bias_equals_flax_linen(key):
    x = jax.random.normal(key, (2, 7, 3))  # extra leading axes are batch axes
    layer = Dense(2, use_bias=False)
    params, state = layer.init(key, x)
    assert set(params) == {"kernel"}
    ours, _ = layer.apply(params, state, x)
    theirs = nn.Dense(2, use_bias=False).apply({"params": params}, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_dense_default_init_is_lecun_normal_with_zero_bias(key):
    params, _ = Dense(512).init(key, jnp.ones((1, 1024)))
    std = float(jnp.std(params["kernel"]))
    # Var = 1 / fan_in; with 512k samples the sample std is within 1% of 1/32.
    assert abs(std - 1 / 32) < 0.01 / 32
    assert jnp.all(params["bias"] == 0)


def test_sequential_equals_hand_written_composition(key):
    x = jax.random.normal(key, (6, 3))
    model = mlp()
    params, state = model.init(jax.random.key(2), x)
    y, _ = model.apply(params, state, x)
    p0, p2, p4 = params[0], params[2], params[4]
    h = jax.nn.relu(x @ p0["kernel"] + p0["bias"][None])
    h = jnp.tanh(h @ p2["kernel"] + p2["bias"][None])
    expected = h @ p4["kernel"] + p4["bias"][None]
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert params[1] == {} and params[3] == {}
    assert state == [{}] * 5


def test_prelu_closed_form(key):
    x = jax.random.normal(key, (4, 3))
    layer = PReLU(init_alpha=0.1)
    params, state = layer.init(key, x)
    params = {"alpha": jnp.array([0.1, 0.2, 0.3])}
    y, _ = layer.apply(params, state, x)
    xn = np.asarray(x)
    expected = np.maximum(xn, 0) + np.array([0.1, 0.2, 0.3]) * np.minimum(xn, 0)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    shared, _ = PReLU(shared=True).init(key, x)
    assert shared["alpha"].shape == ()


def test_prelu_slope_gets_a_gradient(key):
    x = -jnp.ones((2, 3))
    layer = PReLU()
    params, state = layer.init(key, x)
    g = jax.grad(lambda p: jnp.sum(layer.apply(p, state, x)[0]))(params)
    np.testing.assert_allclose(g["alpha"], [-2.0, -2.0, -2.0])


def test_linear_collapse_without_activations(key):
    """Course A8: two affine maps are one affine map, W = W1 W2, b = b1 W2 + b2."""
    x = jax.random.normal(key, (5, 3))
    model = Sequential([Dense(4), Dense(2)])
    params, state = model.init(jax.random.key(3), x)
    params[0]["bias"] = jnp.array([0.1, -0.2, 0.3, 0.5])  # nonzero b1 shows the W2 b1 term
    y, _ = model.apply(params, state, x)
    w1, b1 = params[0]["kernel"], params[0]["bias"]
    w2, b2 = params[1]["kernel"], params[1]["bias"]
    np.testing.assert_allclose(y, x @ (w1 @ w2) + (b1 @ w2 + b2)[None], rtol=1e-5, atol=1e-6)


# ------------------------------------------------- textbook forward passes


def test_hand_computed_3_4_1_sigmoid_network():
    """A 3-4-1 sigmoid network with given weights, checked by hand.

    x = (1, 0, -1). Hidden pre-activations z = x W1 + b1 with W1 columns
    (0.5, 0.1, -0.3), (-0.2, 0.4, 0.2), (0.3, -0.5, 0.1), (0.1, 0.2, 0.3) and
    b1 = (0.1, -0.1, 0.0, 0.2): z = (0.9, -0.5, 0.2, 0.0).
    Output: sigmoid(h . w2 + b2) with w2 = (1, -1, 0.5, 2), b2 = -0.5.
    """
    model = Sequential([Dense(4), jax.nn.sigmoid, Dense(1), jax.nn.sigmoid])
    x = jnp.array([[1.0, 0.0, -1.0]])
    params, state = model.init(jax.random.key(0), x)
    w1 = jnp.array([[0.5, -0.2, 0.3, 0.1], [0.1, 0.4, -0.5, 0.2], [-0.3, 0.2, 0.1, 0.3]])
    params[0] = {"kernel": w1, "bias": jnp.array([0.1, -0.1, 0.0, 0.2])}
    params[2] = {"kernel": jnp.array([[1.0], [-1.0], [0.5], [2.0]]), "bias": jnp.array([-0.5])}
    y, _ = model.apply(params, state, x)
    sig = lambda v: 1 / (1 + np.exp(-v))
    h = sig(np.array([0.9, -0.5, 0.2, 0.0]))  # by hand: x W1 + b1
    # h = (0.71095, 0.37754, 0.54983, 0.5); h.w2 + b2 = 0.71095-0.37754+0.27492+1-0.5 = 1.10833
    out = sig(h @ np.array([1.0, -1.0, 0.5, 2.0]) - 0.5)
    assert abs(h @ np.array([1.0, -1.0, 0.5, 2.0]) - 0.5 - 1.10833) < 1e-4
    np.testing.assert_allclose(y[0, 0], out, rtol=1e-6)
    np.testing.assert_allclose(y[0, 0], 0.751817, atol=1e-6)


def test_hand_computed_relu_network_with_softmax_head():
    model = Sequential([Dense(2), jax.nn.relu, Dense(3), jax.nn.softmax])
    x = jnp.array([[2.0, -1.0]])
    params, state = model.init(jax.random.key(0), x)
    params[0] = {"kernel": jnp.array([[1.0, -1.0], [1.0, 2.0]]), "bias": jnp.array([0.0, 1.0])}
    # z1 = (2-1, -2-2+1) = (1, -3) -> relu (1, 0)
    params[2] = {"kernel": jnp.array([[1.0, 0.0, -1.0], [5.0, 5.0, 5.0]]),
                 "bias": jnp.array([0.0, 1.0, 0.0])}
    # logits = (1, 1, -1) -> softmax = (e, e, 1/e) / (2e + 1/e)
    y, _ = model.apply(params, state, x)
    e = np.e
    expected = np.array([e, e, 1 / e]) / (2 * e + 1 / e)
    np.testing.assert_allclose(y[0], expected, rtol=1e-6)
    np.testing.assert_allclose(y[0], [0.4683105, 0.4683105, 0.0633789], atol=1e-6)


def step(v):
    return (v >= 0).astype(v.dtype)


@pytest.mark.parametrize(
    "weights, bias, truth",
    [((1.0, 1.0), -1.5, (0, 0, 0, 1)), ((1.0, 1.0), -0.5, (0, 1, 1, 1))],
    ids=["AND", "OR"],
)
def test_and_or_single_step_neurons(weights, bias, truth):
    """Course section 3.1: AND is (1, 1, -1.5), OR is (1, 1, -0.5) with a step activation."""
    neuron = Sequential([Dense(1), step])
    x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    params, state = neuron.init(jax.random.key(0), x)
    params[0] = {"kernel": jnp.array(weights)[:, None], "bias": jnp.array([bias])}
    y, _ = neuron.apply(params, state, x)
    np.testing.assert_array_equal(y[:, 0], truth)


def test_xor_needs_a_hidden_layer():
    """XOR = AND(OR, NAND): a hidden layer of two step neurons solves it."""
    net = Sequential([Dense(2), step, Dense(1), step])
    x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    params, state = net.init(jax.random.key(0), x)
    params[0] = {"kernel": jnp.array([[1.0, -1.0], [1.0, -1.0]]), "bias": jnp.array([-0.5, 1.5])}
    params[2] = {"kernel": jnp.array([[1.0], [1.0]]), "bias": jnp.array([-1.5])}
    y, _ = net.apply(params, state, x)
    np.testing.assert_array_equal(y[:, 0], [0, 1, 1, 0])
    # No single step neuron does: search a grid of weights and biases.
    grid = jnp.linspace(-2, 2, 21)
    w1, w2, b = jnp.meshgrid(grid, grid, grid, indexing="ij")
    out = step(x[:, :1] * w1.ravel()[None] + x[:, 1:] * w2.ravel()[None] + b.ravel()[None])
    assert not jnp.any(jnp.all(out == jnp.array([0, 1, 1, 0.0])[:, None], axis=0))


# ----------------------------------------------------- contract behaviour


@pytest.mark.parametrize("jit", [False, True])
def test_jit_and_no_jit_agree(key, jit):
    x = jax.random.normal(key, (3, 5))
    model = mlp()
    params, state = model.init(key, x)
    apply = jax.jit(model.apply) if jit else model.apply
    y, _ = apply(params, state, x)
    y_ref, _ = model.apply(params, state, x)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-6)


def test_init_is_deterministic_by_key(key):
    x = jnp.ones((2, 3))
    a, _ = mlp().init(key, x)
    b, _ = mlp().init(key, x)
    c, _ = mlp().init(jax.random.key(1), x)
    assert_trees_close(a, b, rtol=0, atol=0)
    assert not np.allclose(a[0]["kernel"], c[0]["kernel"])
    # Sequential splits the key once per child: the two Dense layers differ.
    model = Sequential([Dense(3), Dense(3)])
    p, _ = model.init(key, jnp.ones((1, 3)))
    assert not np.allclose(p[0]["kernel"], p[1]["kernel"])


@pytest.mark.parametrize(
    "model, shape",
    [
        (Dense(3), (2, 5)),
        (Sequential([Dense(4), jax.nn.relu, Dense(2)]), (7, 3)),
        (Sequential([Flatten(), Dense(4)]), (2, 3, 4, 5)),
        (Concat([Dense(2), Identity(), Dense(3)]), (4, 6)),
        (Parallel([Dense(2), Lambda(jnp.sin)]), (4, 6)),
        (PReLU(), (3, 2)),
    ],
)
def test_eval_shape_agrees_with_real_output(key, model, shape):
    x = jax.random.normal(key, shape)
    params, state = model.init(key, x)
    real, _ = model.apply(params, state, x)
    abstract = model.output_shape(jax.ShapeDtypeStruct(shape, jnp.float32))
    assert jax.tree.map(lambda a: (a.shape, a.dtype), real) == jax.tree.map(
        lambda a: (a.shape, a.dtype), abstract
    )
    # init from a ShapeDtypeStruct alone gives params of the same shapes.
    p_abs, s_abs = model.init(key, jax.ShapeDtypeStruct(shape, jnp.float32))
    assert jax.tree.map(jnp.shape, p_abs) == jax.tree.map(jnp.shape, params)


def test_check_grads_through_a_model(x64):
    x = jax.random.normal(jax.random.key(0), (4, 3), dtype=jnp.float64)
    model = Sequential([Dense(5), jnp.tanh, Dense(3), jax.nn.softplus, Dense(1), PReLU()])
    params, state = model.init(jax.random.key(1), x)
    assert params[0]["kernel"].dtype == jnp.float64
    f = jax.jit(lambda p, x_: jnp.sum(model.apply(p, state, x_)[0] ** 2))
    check_grads(f, (params, x), order=2, modes=["rev"], atol=tol(jnp.float64, "grads"),
                rtol=tol(jnp.float64, "grads"))


def test_params_work_with_ravel_hessian_and_vmap(key):
    x = jax.random.normal(key, (4, 2))
    model = Sequential([Dense(3), jnp.tanh, Dense(1)])
    params, state = model.init(key, x)
    flat, unravel = ravel_pytree(params)
    assert flat.shape == (2 * 3 + 3 + 3 + 1,)
    loss = lambda f: jnp.mean(model.apply(unravel(f), state, x)[0] ** 2)
    h = jax.jit(jax.hessian(loss))(flat)
    assert h.shape == (13, 13)
    np.testing.assert_allclose(h, h.T, atol=1e-6)
    ys = jax.vmap(lambda xi: model.apply(params, state, xi)[0])(x)
    np.testing.assert_allclose(ys, model.apply(params, state, x)[0], rtol=1e-6, atol=1e-6)


def test_layers_are_hashable_and_equal_by_hyperparameters():
    a = Sequential([Dense(3), jax.nn.relu, Dense(1)])
    b = Sequential([Dense(3), jax.nn.relu, Dense(1)])
    assert a == b and hash(a) == hash(b)
    assert Dense(3) != Dense(4)
    f = jax.jit(lambda m, x: m.apply(*m.init(jax.random.key(0), x), x)[0], static_argnums=0)
    assert f(a, jnp.ones((1, 2))).shape == (1, 1)
    with pytest.raises(dataclasses_frozen_error()):
        a.layers = ()


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_repr_is_readable():
    model = Sequential([Dense(3, use_bias=False), jax.nn.relu, Concat([Dense(1), Identity()])])
    assert repr(model) == (
        "Sequential([Dense(3, use_bias=False), relu, Concat([Dense(1), Identity()])])"
    )


def test_parallel_and_concat_outputs(key):
    x = jax.random.normal(key, (4, 3))
    model = Concat([Dense(2), Identity()])
    params, state = model.init(key, x)
    y, _ = model.apply(params, state, x)
    np.testing.assert_allclose(y[:, 2:], x)
    np.testing.assert_allclose(y[:, :2], x @ params[0]["kernel"] + params[0]["bias"][None],
                               rtol=1e-6)


def test_apply_key_is_split_per_child():
    seen = []

    class Recorder(Layer):
        def init(self, key, x):
            return {}, {}

        def apply(self, params, state, x, *, key=None, train=False):
            seen.append(key)
            return x, state

    model = Sequential([Recorder(), Recorder()])
    params, state = model.init(jax.random.key(0), jnp.ones(1))
    seen.clear()  # init traces apply for shapes
    model.apply(params, state, jnp.ones(1), key=jax.random.key(7))
    expected = jax.random.split(jax.random.key(7), 2)
    assert len(seen) == 2 and all(jnp.array_equal(jax.random.key_data(a), jax.random.key_data(b))
               for a, b in zip(seen, expected))
    seen.clear()
    model.apply(params, state, jnp.ones(1))
    assert seen == [None, None]


# ------------------------------------------------------------ summary, objective


def test_summary_counts_and_shapes():
    model = Sequential([Dense(16), jax.nn.relu, Concat([Dense(3), Identity()]), PReLU()])
    s = jnn.summary(model, jnp.ones((8, 2)))
    assert s.total_params == (2 * 16 + 16) + (16 * 3 + 3) + 19
    paths = [r.path for r in s.rows]
    assert paths == ["", "0", "1", "2", "2.0", "2.1", "3"]
    assert [r.output_shape for r in s.rows] == [
        "(8, 19)", "(8, 16)", "(8, 16)", "(8, 19)", "(8, 3)", "(8, 16)", "(8, 19)"]
    text = str(s)
    assert "Dense(16)" in text and "total params: 118" in text


def test_objective_matches_manual_loss(key):
    x = jax.random.normal(key, (5, 2))
    t = jnp.ones((5, 1))
    model = mlp()
    params, state = model.init(key, x)
    f = jnn.objective(model, lambda p, y: jnp.mean((p - y) ** 2), state)
    manual = jnp.mean((model.apply(params, state, x)[0] - t) ** 2)
    np.testing.assert_allclose(f(params, (x, t)), manual, rtol=1e-6)
    g = jax.grad(f)(params, (x, t))
    assert jax.tree.structure(g) == jax.tree.structure(params)


# ------------------------------------------------------------------ bad input


def test_dense_rejects_wrong_feature_count(key):
    params, state = Dense(2).init(key, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"x has 5 features but kernel expects 3; re-run init"):
        Dense(2).apply(params, state, jnp.ones((1, 5)))


def test_dense_rejects_params_of_another_layer(key):
    params, state = Dense(2).init(key, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"has shape \(3, 2\) but this layer is Dense\(4\)"):
        Dense(4).apply(params, state, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"params must be a dict with keys \['bias', 'kernel'\]"):
        Dense(2).apply({"w": params["kernel"]}, state, jnp.ones((1, 3)))


@pytest.mark.parametrize("features, exc, msg", [
    (0, ValueError, r"Dense: features must be a positive integer; got 0\. Pass the number"),
    (-3, ValueError, r"features must be a positive integer; got -3"),
    (2.5, TypeError, r"features must be a positive integer; got 2\.5 \(type float\)"),
])
def test_dense_rejects_bad_features(features, exc, msg):
    with pytest.raises(exc, match=msg):
        Dense(features)


def test_rejects_wrong_rank_and_integer_inputs(key):
    with pytest.raises(ValueError, match=r"Dense.init: x must have at least 1 dimensions"):
        Dense(2).init(key, jnp.float32(1.0))
    with pytest.raises(TypeError, match=r"Dense.init: x has dtype int32 but a floating dtype"):
        Dense(2).init(key, jnp.ones((2, 3), jnp.int32))
    params, state = Dense(2).init(key, jnp.ones((2, 3)))
    with pytest.raises(TypeError, match=r"x.astype\(jnp.float32\)"):
        Dense(2).apply(params, state, jnp.ones((2, 3), jnp.int32))


def test_sequential_rejects_mismatched_params_tree(key):
    model = mlp()
    params, state = model.init(key, jnp.ones((1, 2)))
    with pytest.raises(ValueError, match=r"(?s)one entry per layer \(5 layers\); got 3 entries"
                                         r".*params: PyTreeDef.*layers: \[Dense\(8\)"):
        model.apply(params[:3], state, jnp.ones((1, 2)))
    with pytest.raises(ValueError, match=r"state must be a list with one entry per layer"):
        model.apply(params, {}, jnp.ones((1, 2)))


def test_sequential_rejects_bad_layers():
    with pytest.raises(TypeError, match=r"got the class Dense, not a layer; instantiate it"):
        Sequential([Dense, jax.nn.relu])
    with pytest.raises(TypeError, match=r"expected a jnn Layer or a callable"):
        Sequential([Dense(2), 3])
    with pytest.raises(ValueError, match=r"layers is empty"):
        Sequential([])
    with pytest.raises(TypeError, match=r"layers must be a list of layers"):
        Sequential(Dense(2))


def test_concat_rejects_mismatched_branches(key):
    model = Concat([Dense(2), Flatten()])
    x = jnp.ones((2, 3, 4))
    params, state = Parallel([Dense(2), Flatten()]).init(key, x)
    with pytest.raises(ValueError, match=r"branch outputs must have one rank"):
        model.apply(params, state, x)


def test_objective_rejects_bad_batch(key):
    model = Dense(1)
    params, state = model.init(key, jnp.ones((1, 2)))
    f = jnn.objective(model, lambda p, t: jnp.mean(p - t), state)
    with pytest.raises(TypeError, match=r"batch must be a pair \(x, targets\)"):
        f(params, jnp.ones((1, 2)))


def test_prelu_rejects_wrong_features(key):
    params, state = PReLU().init(key, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"PReLU.apply: x has 4 features but alpha has 3"):
        PReLU().apply(params, state, jnp.ones((1, 4)))
