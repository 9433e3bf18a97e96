"""jnn.activations against closed forms (numpy/scipy, float64), jax.nn and jax.jacobian."""

import doctest
import functools

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
from _util import tol
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import jnn.activations as A

# Constants typed in from Klambauer et al. 2017, eq. 14 (not taken from jax.nn).
PAPER_SELU_ALPHA = 1.6732632423543772848170429916717
PAPER_SELU_LAMBDA = 1.0507009873554804934193349852946


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name -> (jnn function, closed form in numpy)
CLOSED_FORMS = {
    "identity": (A.identity, lambda x: x),
    "step": (A.step, lambda x: np.where(x >= 0, 1.0, 0.0)),
    "step_threshold": (
        functools.partial(A.step, threshold=0.5),
        lambda x: np.where(x >= 0.5, 1.0, 0.0),
    ),
    "sigmoid": (A.sigmoid, np_sigmoid),
    "tanh": (A.tanh, lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))),
    "hard_tanh": (A.hard_tanh, lambda x: np.maximum(-1.0, np.minimum(1.0, x))),
    "relu": (A.relu, lambda x: np.maximum(0.0, x)),
    "leaky_relu": (A.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
    "leaky_relu_0.2": (
        functools.partial(A.leaky_relu, negative_slope=0.2),
        lambda x: np.where(x >= 0, x, 0.2 * x),
    ),
    "elu": (A.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1.0)),
    "elu_0.5": (
        functools.partial(A.elu, alpha=0.5),
        lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1.0)),
    ),
    "selu": (
        A.selu,
        lambda x: PAPER_SELU_LAMBDA * np.where(x > 0, x, PAPER_SELU_ALPHA * (np.exp(x) - 1.0)),
    ),
    "gelu_exact": (
        functools.partial(A.gelu, approximate=False),
        lambda x: x * 0.5 * (1.0 + scipy.special.erf(x / np.sqrt(2.0))),
    ),
    "gelu_tanh": (
        A.gelu,
        lambda x: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3))),
    ),
    "silu": (A.silu, lambda x: x * np_sigmoid(x)),
    "swish": (A.swish, lambda x: x * np_sigmoid(x)),
    "swish_beta2": (functools.partial(A.swish, beta=2.0), lambda x: x * np_sigmoid(2.0 * x)),
    "softplus": (A.softplus, lambda x: np.log1p(np.exp(x))),
    "softmax": (A.softmax, np_softmax),
    "softmax_axis0": (functools.partial(A.softmax, axis=0), lambda x: np_softmax(x, axis=0)),
    "log_softmax": (A.log_softmax, lambda x: np.log(np_softmax(x))),
    "log_softmax_axis0": (
        functools.partial(A.log_softmax, axis=0),
        lambda x: np.log(np_softmax(x, axis=0)),
    ),
}

X = np.linspace(-4.0, 4.0, 24).reshape(4, 6)


def test_matches_closed_form_float64(x64):
    x = jnp.asarray(X, jnp.float64)
    outs = jax.jit(lambda x: {name: fn(x) for name, (fn, _) in CLOSED_FORMS.items()})(x)
    for name, (_, ref) in CLOSED_FORMS.items():
        assert outs[name].dtype == jnp.float64 and outs[name].shape == x.shape, name
        np.testing.assert_allclose(outs[name], ref(X), rtol=1e-12, atol=1e-12, err_msg=name)


JAX_NN = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "hard_tanh": jax.nn.hard_tanh,
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "swish": jax.nn.swish,
    "softplus": jax.nn.softplus,
    "softmax": jax.nn.softmax,
    "log_softmax": jax.nn.log_softmax,
}


def test_eager_jit_and_jax_nn_agree_float32():
    """Eager and jitted calls agree, and each re-export equals its jax.nn function."""
    x = jnp.asarray(X, jnp.float32)
    eager = {name: A.get(name)(x) for name in A.names()}
    jitted = jax.jit(lambda x: {name: A.get(name)(x) for name in A.names()})(x)
    reference = jax.jit(lambda x: {name: fn(x) for name, fn in JAX_NN.items()})(x)
    for name in A.names():
        assert eager[name].dtype == jnp.float32, name
        np.testing.assert_allclose(
            jitted[name], eager[name], rtol=tol(jnp.float32), atol=1e-7, err_msg=name
        )
        if name in JAX_NN:
            np.testing.assert_allclose(
                eager[name],
                reference[name],
                rtol=tol(jnp.float32),
                atol=tol(jnp.float32),
                err_msg=name,
            )


@pytest.mark.parametrize("name", A.names())
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_float_dtype_kept(name, dtype):
    x = jax.ShapeDtypeStruct(X.shape, dtype)
    out = jax.eval_shape(A.get(name), x)
    assert out.dtype == dtype and out.shape == X.shape


def test_selu_constants_are_the_papers():
    assert A.SELU_ALPHA == PAPER_SELU_ALPHA and A.SELU_SCALE == PAPER_SELU_LAMBDA


def test_gelu_approximation_close_to_exact():
    x = jnp.linspace(-5.0, 5.0, 101)
    gap = jnp.max(jnp.abs(A.gelu(x) - A.gelu(x, approximate=False)))
    assert 1e-5 < float(gap) < 1e-3


def test_swish_beta_one_is_silu():
    x = jnp.asarray(X, jnp.float32)
    np.testing.assert_array_equal(A.swish(x), A.silu(x))


# --- step / threshold logic units -----------------------------------------------------

TRUTH_INPUTS = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def test_step_logic_gates():
    """AND, OR and NOT as single step neurons; XOR as a two-layer net of them."""

    def neuron(w, b, x):
        return A.step(x @ jnp.asarray(w) + b)

    and_ = neuron([1.0, 1.0], -1.5, TRUTH_INPUTS)
    or_ = neuron([1.0, 1.0], -0.5, TRUTH_INPUTS)
    nand = neuron([-1.0, -1.0], 1.5, TRUTH_INPUTS)
    xor = neuron([1.0, 1.0], -1.5, jnp.stack([or_, nand], axis=-1))
    assert and_.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert or_.tolist() == [0.0, 1.0, 1.0, 1.0]
    assert xor.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_step_fires_at_threshold_and_accepts_integers():
    assert A.step(jnp.array([0.999, 1.0, 1.5]), threshold=1.0).tolist() == [0.0, 1.0, 1.0]
    out = A.step(jnp.array([-1, 0, 2]))
    assert out.dtype == jnp.float32 and out.tolist() == [0.0, 1.0, 1.0]


def test_step_gradient_is_zero():
    g = jax.grad(lambda x: A.step(x).sum())(jnp.array([-1.0, 0.0, 0.5, 2.0]))
    np.testing.assert_array_equal(g, jnp.zeros(4))


def test_integer_inputs_allowed_where_exact():
    x = jnp.array([-2, 0, 3])
    assert A.relu(x).tolist() == [0, 0, 3]
    assert A.hard_tanh(x).tolist() == [-1, 0, 1]
    assert A.identity(x).tolist() == [-2, 0, 3]


# --- stability at large logits --------------------------------------------------------


def test_softmax_and_log_softmax_stable_at_large_logits():
    z = jnp.array([[1e4, -1e4, 0.0], [1.0, 1000.0, 2.0]])
    s, ls = A.softmax(z), A.log_softmax(z)
    assert bool(jnp.all(jnp.isfinite(s))) and bool(jnp.all(jnp.isfinite(ls)))
    np.testing.assert_allclose(s, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], atol=1e-30)
    np.testing.assert_allclose(ls[0], [0.0, -2e4, -1e4], rtol=1e-7)
    np.testing.assert_allclose(ls[1], [-999.0, 0.0, -998.0], rtol=1e-7)
    g = jax.grad(lambda z: A.log_softmax(z)[:, 0].sum())(z)
    assert bool(jnp.all(jnp.isfinite(g)))


def test_elementwise_stable_at_large_inputs():
    x = jnp.array([-1e4, 1e4])
    np.testing.assert_array_equal(A.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(A.softplus(x), [0.0, 1e4])
    np.testing.assert_array_equal(A.elu(x), [-1.0, 1e4])
    np.testing.assert_array_equal(A.tanh(x), [-1.0, 1.0])
    np.testing.assert_array_equal(A.silu(x), [0.0, 1e4])
    fns = (A.sigmoid, A.softplus, A.elu, A.selu, A.silu, A.gelu, A.tanh)
    grads = jax.jit(lambda x: [jax.vmap(jax.grad(f))(x) for f in fns])(x)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads)


# --- softmax Jacobian -----------------------------------------------------------------


def test_softmax_jacobian_matches_jax_jacobian(x64):
    z = jnp.asarray(X, jnp.float64)  # a batch of 4 logit vectors of 6 classes
    J, reference = jax.jit(lambda z: (A.softmax_jacobian(z), jax.vmap(jax.jacobian(A.softmax))(z)))(
        z
    )
    assert J.shape == (4, 6, 6)
    np.testing.assert_allclose(J, reference, rtol=1e-12, atol=1e-14)
    s = np_softmax(X[0])
    np.testing.assert_allclose(J[0], np.diag(s) - np.outer(s, s), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(J.sum(axis=-1), 0.0, atol=1e-15)
    np.testing.assert_allclose(J, np.swapaxes(J, -1, -2), atol=0)


def test_softmax_jacobian_worked_example():
    # s = (1/2, 1/2): diag(s) - s s^T = [[1/4, -1/4], [-1/4, 1/4]].
    np.testing.assert_array_equal(A.softmax_jacobian(jnp.zeros(2)), [[0.25, -0.25], [-0.25, 0.25]])


# --- gradients ------------------------------------------------------------------------

# Points away from the kinks of elu/leaky_relu/hard_tanh at 0 and +-1.
GRAD_X = np.array([-2.3, -0.7, 0.4, 1.6])

SMOOTH = {
    "sigmoid": A.sigmoid,
    "tanh": A.tanh,
    "hard_tanh": A.hard_tanh,
    "leaky_relu": A.leaky_relu,
    "elu": A.elu,
    "selu": A.selu,
    "gelu_tanh": A.gelu,
    "gelu_exact": functools.partial(A.gelu, approximate=False),
    "swish_beta2": functools.partial(A.swish, beta=2.0),
    "softplus": A.softplus,
    "softmax": A.softmax,
    "log_softmax": A.log_softmax,
}


ELEMENTWISE = [n for n in sorted(SMOOTH) if not n.endswith("softmax")]


def test_check_grads_elementwise_order2(x64):
    """All smooth elementwise activations at once: one compilation, order-2 finite differences."""

    def f(x):
        return jnp.stack([SMOOTH[n](x) for n in ELEMENTWISE])

    # Forward mode to order 2; reverse mode is checked in test_check_grads_softmax_family and
    # through jax.grad against closed forms in the stability tests.
    check_grads(
        jax.jit(f),
        (jnp.asarray(GRAD_X),),
        order=2,
        modes=("fwd",),
        atol=tol(jnp.float64, "grads"),
        rtol=tol(jnp.float64, "grads"),
    )


def test_check_grads_softmax_family(x64):
    def f(z):
        return jnp.concatenate([A.softmax(z), A.log_softmax(z), A.softmax_jacobian(z).ravel()])

    f = jax.jit(f)
    x = jnp.asarray(GRAD_X)
    check_grads(
        f,
        (x,),
        order=2,
        modes=("fwd",),
        atol=tol(jnp.float64, "grads"),
        rtol=tol(jnp.float64, "grads"),
    )
    check_grads(
        f,
        (x,),
        order=1,
        modes=("rev",),
        atol=tol(jnp.float64, "grads"),
        rtol=tol(jnp.float64, "grads"),
    )


# --- jit, layers, registry ------------------------------------------------------------


def test_usable_as_layers_in_sequential(key):
    from jnn.layers import Dense, Sequential

    model = Sequential([Dense(5), A.relu, Dense(4), A.get("tanh"), Dense(3), A.softmax])
    x = jnp.asarray(X[:, :2], jnp.float32)
    params, state = jax.jit(model.init)(key, x)
    assert params[1] == {} and params[3] == {} and params[5] == {}
    y, _ = jax.jit(model.apply)(params, state, x)
    assert y.shape == (4, 3)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-6)


def test_registry_names_and_lookup():
    assert A.names() == sorted(A.names())
    for name in [
        "identity",
        "step",
        "sigmoid",
        "tanh",
        "hard_tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "swish",
        "silu",
        "softplus",
        "softmax",
        "log_softmax",
    ]:
        assert A.get(name) is getattr(A, name)
    assert A.get("linear") is A.identity
    assert A.get("Leaky-ReLU") is A.leaky_relu
    assert A.get(jax.nn.relu) is jax.nn.relu


def test_registry_unknown_name():
    with pytest.raises(
        ValueError,
        match=r"activations.get: unknown activation 'rleu'; valid "
        r"names are elu, gelu, .*relu.*Or pass a function",
    ):
        A.get("rleu")
    with pytest.raises(
        TypeError,
        match=r"activations.get: name must be a string such as "
        r"'relu' or a callable; got 3 \(type int\)",
    ):
        A.get(3)


# --- bad input ------------------------------------------------------------------------

FLOAT_ONLY = [
    "sigmoid",
    "tanh",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softmax",
    "log_softmax",
]


@pytest.mark.parametrize("name", FLOAT_ONLY)
def test_integer_input_rejected(name):
    with pytest.raises(
        TypeError,
        match=rf"activations.{name}: x has dtype int32 but a floating "
        r"dtype is needed. Cast it first, e.g. x.astype\(jnp.float32\)",
    ):
        A.get(name)(jnp.array([1, 2]))


def test_softmax_jacobian_integer_rejected():
    with pytest.raises(TypeError, match=r"activations.softmax_jacobian: x has dtype int32"):
        A.softmax_jacobian(jnp.array([1, 2]))


@pytest.mark.parametrize("name", ["relu", "hard_tanh", "step"])
def test_bool_input_rejected(name):
    with pytest.raises(
        TypeError,
        match=rf"activations.{name}: x has dtype bool but a real "
        r"number dtype is needed",
    ):
        A.get(name)(jnp.array([True, False]))


def test_softmax_bad_axis_and_scalar():
    with pytest.raises(
        ValueError,
        match=r"activations.softmax: axis=2 is out of range for x "
        r"with shape \(4, 6\); use an axis in \[-2, 1\]",
    ):
        A.softmax(jnp.asarray(X), axis=2)
    with pytest.raises(
        ValueError,
        match=r"activations.log_softmax: x must have at least 1 "
        r"dimension \(the classes\); got a scalar",
    ):
        A.log_softmax(jnp.float32(1.0))
    with pytest.raises(TypeError, match=r"activations.softmax: axis must be an int; got \(0, 1\)"):
        A.softmax(jnp.asarray(X), axis=(0, 1))


def test_gelu_approximate_must_be_bool():
    with pytest.raises(
        TypeError,
        match=r"activations.gelu: approximate must be True or False; "
        r"got 'tanh'",
    ):
        A.gelu(jnp.ones(2), approximate="tanh")


# --- properties -----------------------------------------------------------------------

LOGITS = hnp.arrays(np.float32, (3, 5), elements=st.floats(-60, 60, width=32))


@jax.jit
def _softmax_views(z, shift):
    return A.softmax(z), A.softmax(z + shift), A.log_softmax(z)


@settings(max_examples=20, deadline=None)
@given(z=LOGITS, shift=st.floats(-100, 100, width=32))
def test_softmax_properties(z, shift):
    """Sums to 1, is non-negative, ignores a common shift, and exp(log_softmax) = softmax."""
    s, s_shifted, ls = (np.asarray(a) for a in _softmax_views(z, np.float32(shift)))
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-5)
    assert np.all(s >= 0)
    np.testing.assert_allclose(s_shifted, s, atol=2e-5)
    np.testing.assert_allclose(np.exp(ls), s, rtol=1e-5, atol=1e-30)
    visible = s > 1e-30
    np.testing.assert_allclose(ls[visible], np.log(s[visible]), rtol=1e-5, atol=1e-5)


def test_docstring_examples_run():
    result = doctest.testmod(A, extraglobs={"jnp": jnp}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0
