"""Recurrent cells, RNN, Bidirectional, generate and Embedding.

Cells are checked against flax.linen on the same (mapped) params; RNN against a Python
loop over the cell; padded batches against the unpadded sequences.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _util import tol
from jax.test_util import check_grads

from jnn.layers import (
    RNN,
    Bidirectional,
    Dense,
    Embedding,
    Frozen,
    GRUCell,
    LSTMCell,
    Sequential,
    SimpleRNNCell,
    WeightNoise,
    generate,
    to_linen_params,
)
from jnn.mixed_precision import MixedPrecision

B, T, F, H = 3, 6, 4, 5

CELLS = {
    "simple": (SimpleRNNCell(H), nn.SimpleCell(H)),
    "lstm": (LSTMCell(H), nn.LSTMCell(H)),
    "gru": (GRUCell(H), nn.GRUCell(H)),
}

def _randn(shape, dtype=np.float32, seed=0):
    """Standard normal test data from numpy: no XLA compilation per shape."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype))



def _randomize(seed, params):
    """Non-zero biases everywhere, so every param is exercised by the comparisons."""
    leaves, treedef = jax.tree.flatten(params)
    return jax.tree.unflatten(
        treedef, [0.5 * _randn(a.shape, a.dtype, seed=seed + n) for n, a in enumerate(leaves)]
    )


@pytest.fixture(scope="module")
def seq():
    return _randn((B, T, F), seed=2)


# ---------------------------------------------------------------- cells vs flax.linen


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_step_and_sequence_match_flax(name, seq):
    cell, ref_cell = CELLS[name]
    params = _randomize(200, cell.init(jax.random.key(0), seq[:, 0]))
    variables = to_linen_params(cell, params)
    carry = jax.tree.map(lambda a: a + 0.3, cell.initial_carry((B,)))

    new_carry, y = cell.apply(params, carry, seq[:, 0])
    ref_carry, ref_y = ref_cell.apply(variables, carry, seq[:, 0])
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(new_carry), jax.tree.leaves(ref_carry)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    rnn = RNN(cell, return_sequences=True)
    ys, _ = jax.jit(lambda p, x: rnn.apply(p, {}, x))(params, seq)
    ref_ys = jax.jit(nn.RNN(ref_cell).apply)(to_linen_params(rnn, params), seq)
    np.testing.assert_allclose(ys, ref_ys, rtol=1e-5, atol=1e-5)


def test_lstm_equals_hand_written_equations(seq):
    """The LSTM equations in numpy, gate order i, f, g, o, float64."""
    cell = LSTMCell(H)
    p = _randomize(300, cell.init(jax.random.key(0), seq[:, 0]))
    pn = {k: np.asarray(v, np.float64) for k, v in p.items()}
    x = np.asarray(seq, np.float64)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c = h = np.zeros((B, H))
    for t in range(T):
        z = x[:, t] @ pn["input_kernel"] + h @ pn["recurrent_kernel"] + pn["bias"]
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
    y, _ = RNN(cell).apply(p, {}, seq)
    np.testing.assert_allclose(y, h, rtol=1e-5, atol=1e-6)


def test_lstm_forget_bias_init(seq):
    p = LSTMCell(H, forget_bias=1.0).init(jax.random.key(0), seq[:, 0])
    np.testing.assert_array_equal(p["bias"], np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
    assert p["input_kernel"].shape == (F, 4 * H) and p["recurrent_kernel"].shape == (H, 4 * H)
    # Each gate's recurrent block is orthogonal.
    u = np.asarray(p["recurrent_kernel"][:, :H])
    np.testing.assert_allclose(u.T @ u, np.eye(H), atol=1e-5)


# ---------------------------------------------------------------- RNN options


@pytest.mark.parametrize("name", sorted(CELLS))
def test_rnn_reverse_equals_forward_on_flipped_input(name, seq):
    cell = CELLS[name][0]
    params, _ = RNN(cell).init(jax.random.key(0), seq)
    fwd, _ = RNN(cell, return_sequences=True).apply(params, {}, seq[:, ::-1])
    bwd, _ = RNN(cell, return_sequences=True, reverse=True).apply(params, {}, seq)
    np.testing.assert_allclose(bwd, fwd[:, ::-1], rtol=1e-5, atol=1e-6)
    last, _ = RNN(cell, reverse=True).apply(params, {}, seq)
    np.testing.assert_allclose(last, bwd[:, 0], rtol=1e-6)


def test_rnn_return_state_and_initial_carry(seq):
    cell = LSTMCell(H)
    rnn = RNN(cell, return_state=True)
    params, _ = rnn.init(jax.random.key(0), seq)
    (y, carry), _ = rnn.apply(params, {}, seq)
    np.testing.assert_allclose(y, carry[1])
    # Running the two halves in turn, passing the carry on, equals one run.
    (_, mid), _ = rnn.apply(params, {}, seq[:, :3])
    (y2, carry2), _ = rnn.apply(params, {}, seq[:, 3:], initial_carry=mid)
    np.testing.assert_allclose(y2, y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry2[0], carry[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,reverse", [("lstm", False), ("gru", True)])
def test_padded_sequences_with_lengths_equal_unpadded(name, reverse, seq):
    cell = CELLS[name][0]
    lengths = np.array([6, 2, 4])
    padded = seq * (np.arange(T)[None, :, None] < lengths[:, None, None])  # zeros past the end
    padded = padded + 7.0 * (np.arange(T)[None, :, None] >= lengths[:, None, None])  # junk
    params, _ = RNN(cell).init(jax.random.key(0), seq)
    seq_rnn = RNN(cell, return_sequences=True, return_state=True, reverse=reverse)
    last_rnn = RNN(cell, reverse=reverse)
    (ys, carry), _ = jax.jit(lambda p, x, n: seq_rnn.apply(p, {}, x, lengths=n))(
        params, padded, lengths
    )
    last, _ = last_rnn.apply(params, {}, padded, lengths=jnp.asarray(lengths))
    for b, n in enumerate(lengths):
        (ref_ys, ref_carry), _ = seq_rnn.apply(params, {}, seq[b:b + 1, :n])
        np.testing.assert_allclose(ys[b, :n], ref_ys[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(ys[b, n:], 0.0)
        for a, r in zip(jax.tree.leaves(carry), jax.tree.leaves(ref_carry)):
            np.testing.assert_allclose(a[b], r[0], rtol=1e-5, atol=1e-6)
        ref_last, _ = last_rnn.apply(params, {}, seq[b:b + 1, :n])
        np.testing.assert_allclose(last[b], ref_last[0], rtol=1e-5, atol=1e-6)


def test_bidirectional_concatenates_forward_and_backward(seq):
    bi = Bidirectional(RNN(GRUCell(H), return_sequences=True))
    params, state = bi.init(jax.random.key(0), seq)
    assert set(params) == {"forward", "backward"}
    y, _ = bi.apply(params, state, seq)
    fwd, _ = RNN(GRUCell(H), return_sequences=True).apply(params["forward"], {}, seq)
    bwd, _ = RNN(GRUCell(H), return_sequences=True, reverse=True).apply(
        params["backward"], {}, seq
    )
    np.testing.assert_allclose(y, jnp.concatenate([fwd, bwd], axis=-1), rtol=1e-6)
    # With lengths, each sequence equals its unpadded self.
    lengths = jnp.array([6, 3, 1])
    y_pad, _ = bi.apply(params, state, seq, lengths=lengths)
    for b in range(2):
        n = int(lengths[b])
        ref, _ = bi.apply(params, state, seq[b:b + 1, :n])
        np.testing.assert_allclose(y_pad[b, :n], ref[0], rtol=1e-5, atol=1e-6)
    # return_state gives both final carries.
    bi_state = Bidirectional(RNN(GRUCell(H), return_sequences=True, return_state=True))
    (y_s, (carry_f, carry_b)), _ = bi_state.apply(params, state, seq)
    np.testing.assert_allclose(y_s, y, rtol=1e-6)
    np.testing.assert_allclose(carry_f, fwd[:, -1], rtol=1e-6)
    np.testing.assert_allclose(carry_b, bwd[:, 0], rtol=1e-6)
    # Many-to-one: forward's last output with backward's output at t = 0.
    bi_last = Bidirectional(RNN(GRUCell(H)), merge="sum")
    y_last, _ = bi_last.apply(params, state, seq)
    np.testing.assert_allclose(y_last, fwd[:, -1] + bwd[:, 0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the three I/O patterns


def _train(loss, params, steps, lr=0.02):
    opt = optax.adam(lr)

    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(loss)(p)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        (params, _), values = jax.lax.scan(step, (params, opt.init(params)), None, steps)
        return params, values

    return run(params)


def test_many_to_one_learns_the_sequence_mean():
    key = jax.random.key(4)
    x = _randn((64, 8, 1), seed=3)
    target = x.mean(axis=(1, 2))[:, None]
    model = Sequential([RNN(LSTMCell(16)), Dense(1)])
    params, state = model.init(key, x)

    def loss(p):
        return jnp.mean((model.apply(p, state, x)[0] - target) ** 2)

    _, values = _train(loss, params, 150)
    assert values[-1] < 0.1 * values[0]


def test_many_to_many_learns_the_running_sum():
    key = jax.random.key(5)
    x = _randn((64, 8, 1), seed=4)
    target = jnp.cumsum(x, axis=1)
    model = Sequential([RNN(GRUCell(16), return_sequences=True), Dense(1)])
    params, state = model.init(key, x)
    assert model.apply(params, state, x)[0].shape == (64, 8, 1)

    def loss(p):
        return jnp.mean((model.apply(p, state, x)[0] - target) ** 2)

    _, values = _train(loss, params, 150)
    assert values[-1] < 0.1 * values[0]


def test_one_to_many_generate_rotation_closed_form():
    """A linear Elman cell whose input weight is a rotation generates cos/sin."""
    theta = 0.3
    rot = jnp.array([[jnp.cos(theta), jnp.sin(theta)], [-jnp.sin(theta), jnp.cos(theta)]])
    cell = SimpleRNNCell(2, activation=lambda z: z)
    params = {"input_kernel": rot, "recurrent_kernel": jnp.zeros((2, 2)), "bias": jnp.zeros(2)}
    x0 = jnp.array([[1.0, 0.0]])
    carry, ys = generate(
        lambda c, x: cell.apply(params, c, x), cell.initial_carry((1,)), x0, length=20
    )
    angles = theta * np.arange(1, 21)
    np.testing.assert_allclose(ys[0], np.stack([np.cos(angles), np.sin(angles)], 1), atol=1e-5)
    np.testing.assert_allclose(carry, ys[:, -1])


def test_one_to_many_generate_with_readout_equals_python_loop():
    cell, readout = LSTMCell(8), Dense(3)
    x0 = _randn((2, 3), seed=5)
    p_cell = cell.init(jax.random.key(0), x0)
    p_out, _ = readout.init(jax.random.key(1), jnp.ones((2, 8)))

    def step(carry, x):
        carry, h = cell.apply(p_cell, carry, x)
        return carry, jnp.tanh(readout.apply(p_out, {}, h)[0])

    _, ys = generate(step, cell.initial_carry((2,)), x0, length=5)
    carry, x = cell.initial_carry((2,)), x0
    step_jit = jax.jit(step)
    for t in range(5):
        carry, x = step_jit(carry, x)
        np.testing.assert_allclose(ys[:, t], x, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- Embedding


def test_embedding_lookup_matches_table_and_flax():
    emb = Embedding(7, 4)
    ids = jnp.array([[0, 3, 6], [2, 2, 1]])
    params, state = emb.init(jax.random.key(0), ids)
    y, _ = emb.apply(params, state, ids)
    np.testing.assert_array_equal(y, np.asarray(params["embedding"])[np.asarray(ids)])
    ref = nn.Embed(7, 4).apply(to_linen_params(emb, params), ids)
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_allclose(emb.attend(params, y[0]), y[0] @ params["embedding"].T)
    # The gradient of a lookup scatters into the rows used (id 2 twice).
    g = jax.grad(lambda p: emb.apply(p, state, ids)[0].sum())(params)["embedding"]
    np.testing.assert_array_equal(g[:, 0], [1, 1, 2, 1, 0, 0, 1])


def test_embedding_check_grads_and_eval_shape(x64):
    emb = Embedding(6, 3, param_dtype=jnp.float64)
    ids = jnp.array([[0, 5], [2, 2]])
    params, state = emb.init(jax.random.key(0), ids)
    assert emb.output_shape(ids).shape == (2, 2, 3)
    eps = tol(jnp.float64, "grads")
    check_grads(lambda p: emb.apply(p, state, ids)[0] ** 2, (params,), order=2,
                modes=["rev"], atol=eps, rtol=eps)


def test_embedding_out_of_range():
    emb = Embedding(5, 2)
    params, state = emb.init(jax.random.key(0), jnp.array([0]))
    with pytest.raises(ValueError, match=r"Embedding.apply: ids must lie in \[0, 5\).*"
                                         r"from 0 to 5"):
        emb.apply(params, state, jnp.array([0, 5]))
    with pytest.raises(ValueError, match=r"got values from -1 to 1"):
        emb.apply(params, state, np.array([-1, 1]))
    # Under jit values cannot raise: bad ids give NaN rows instead of a clamped row.
    y, _ = jax.jit(lambda x: emb.apply(params, state, x))(jnp.array([1, 9]))
    assert np.isfinite(y[0]).all() and np.isnan(y[1]).all()


def test_embedding_then_rnn_text_classifier():
    ids = jax.random.randint(jax.random.key(7), (4, 6), 0, 20)
    model = Sequential([Embedding(20, 8), RNN(LSTMCell(8)), Dense(2)])
    params, state = model.init(jax.random.key(0), ids)
    assert jax.jit(lambda p: model.apply(p, state, ids)[0])(params).shape == (4, 2)


# ---------------------------------------------------------------- shapes and gradients


@pytest.mark.parametrize(
    "layer,out_shape",
    [
        (RNN(LSTMCell(H)), (B, H)),
        (RNN(GRUCell(H), return_sequences=True), (B, T, H)),
        (RNN(SimpleRNNCell(H), reverse=True), (B, H)),
        (Bidirectional(RNN(LSTMCell(H), return_sequences=True)), (B, T, 2 * H)),
    ],
)
def test_eval_shape_agrees(layer, out_shape, seq):
    params, state = layer.init(jax.random.key(0), seq)
    y, _ = layer.apply(params, state, seq)
    assert y.shape == out_shape
    assert layer.output_shape(seq).shape == out_shape
    abstract = jax.eval_shape(lambda p, x: layer.apply(p, state, x)[0], params, seq)
    assert abstract.shape == out_shape and abstract.dtype == y.dtype


@pytest.mark.parametrize("name", sorted(CELLS))
def test_check_grads_through_rnn(x64, name):
    cell = CELLS[name][0]
    x = _randn((2, 3, 2), jnp.float64, seed=6)
    rnn = RNN(cell, return_sequences=True)
    params, _ = rnn.init(jax.random.key(0), x)
    lengths = jnp.array([3, 2])

    @jax.jit
    def f(p, x_):
        return rnn.apply(p, {}, x_, lengths=lengths)[0]

    eps = tol(jnp.float64, "grads")
    check_grads(f, (params, x), order=1, modes=["rev"], atol=eps, rtol=eps)


# ---------------------------------------------------------------- bad input


def test_sequence_without_time_axis_is_refused(seq):
    rnn = RNN(LSTMCell(H))
    with pytest.raises(ValueError, match=r"RNN.init: x must have 3 dimensions \(batch, time, "
                                         r"features\); got shape \(3, 4\).*without a time axis"):
        rnn.init(jax.random.key(0), seq[:, 0])
    params, _ = rnn.init(jax.random.key(0), seq)
    with pytest.raises(ValueError, match=r"RNN.apply: x must have 3 dimensions"):
        rnn.apply(params, {}, seq[0, 0])
    with pytest.raises(ValueError, match=r"the input has 7 features but input_kernel expects 4"):
        rnn.apply(params, {}, jnp.ones((B, T, 7)))
    with pytest.raises(TypeError, match=r"RNN.init: x has dtype int32.*Embedding"):
        rnn.init(jax.random.key(0), jnp.ones((B, T, F), jnp.int32))


def test_bad_lengths_and_carry(seq):
    rnn = RNN(GRUCell(H))
    params, _ = rnn.init(jax.random.key(0), seq)
    with pytest.raises(ValueError, match=r"lengths must have shape \(batch,\) = \(3,\).*"
                                         r"mask.sum\(axis=1\)"):
        rnn.apply(params, {}, seq, lengths=jnp.ones((B, T), jnp.int32))
    with pytest.raises(TypeError, match=r"lengths must be integers; got dtype float32"):
        rnn.apply(params, {}, seq, lengths=jnp.ones((B,)))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 6\].*from 1 to 9"):
        rnn.apply(params, {}, seq, lengths=jnp.array([1, 9, 2]))
    with pytest.raises(ValueError, match=r"initial_carry must look like cell.initial_carry"):
        rnn.apply(params, {}, seq, initial_carry=jnp.zeros((B, H + 1)))
    lstm_params = LSTMCell(H).init(jax.random.key(0), seq[:, 0])
    with pytest.raises(ValueError, match=r"RNN.apply: params must be a dict with keys "
                                         r"\['bias', 'input_kernel', 'recurrent_bias', "
                                         r"'recurrent_kernel'\]"):
        rnn.apply(lstm_params, {}, seq)


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match=r"LSTMCell: features must be a positive integer; got 0"):
        LSTMCell(0)
    with pytest.raises(TypeError, match=r"GRUCell: features must be a positive integer; got 2.5"):
        GRUCell(2.5)
    with pytest.raises(TypeError, match=r"RNN: cell must be a recurrent cell.*"
                                        r"RNN\(LSTMCell\(64\)\)"):
        RNN(LSTMCell)
    with pytest.raises(TypeError, match=r"RNN: cell must be a recurrent cell"):
        RNN(Dense(3))
    with pytest.raises(ValueError, match=r"Bidirectional: forward_rnn and backward_rnn must "
                                         r"agree on return_sequences"):
        Bidirectional(RNN(GRUCell(2)), RNN(GRUCell(2), return_sequences=True, reverse=True))
    with pytest.raises(ValueError, match=r"must run in opposite directions"):
        Bidirectional(RNN(GRUCell(2)), RNN(GRUCell(2)))
    with pytest.raises(ValueError, match=r"Bidirectional: merge must be one of"):
        Bidirectional(RNN(GRUCell(2)), merge="max")
    with pytest.raises(ValueError, match=r"Embedding: num_embeddings must be a positive integer"):
        Embedding(0, 3)
    with pytest.raises(TypeError, match=r"Embedding.init: x must hold integer ids; got dtype "
                                        r"float32"):
        Embedding(3, 2).init(jax.random.key(0), jnp.ones((2,)))


def test_generate_refuses_an_output_that_cannot_be_fed_back():
    cell = LSTMCell(4)
    x0 = jnp.ones((2, 3))
    params = cell.init(jax.random.key(0), x0)
    with pytest.raises(ValueError, match=r"generate: step's output y_t is fed back.*"
                                         r"Add a readout"):
        generate(lambda c, x: cell.apply(params, c, x), cell.initial_carry((2,)), x0, 3)
    with pytest.raises(ValueError, match=r"generate: length must be a positive integer"):
        generate(lambda c, x: (c, x), 0.0, x0, 0)


def test_reprs():
    assert repr(RNN(LSTMCell(8), return_sequences=True)) == (
        "RNN(LSTMCell(8), return_sequences=True)"
    )
    assert repr(Bidirectional(RNN(GRUCell(4)))) == "Bidirectional(RNN(GRUCell(4)))"
    assert hash(RNN(LSTMCell(8))) == hash(RNN(LSTMCell(8)))


# ------------------------------------------------------- keywords through containers


def test_sequential_forwards_lengths_to_rnns_on_a_padded_batch():
    """Embedding -> RNN -> Dense on a right-padded batch: Sequential passes lengths= to
    the RNN only, and the result equals running the three layers by hand."""
    ids = jnp.array([[3, 1, 4, 1, 5, 9], [2, 6, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]])
    lengths = jnp.array([6, 3, 1])
    layers = [Embedding(10, 4), RNN(GRUCell(H)), Dense(2)]
    model = Sequential(layers)
    params, state = model.init(jax.random.key(0), ids)
    run = jax.jit(lambda p, s, i, n: model.apply(p, s, i, lengths=n))
    y, new_state = run(params, state, ids, lengths)
    h, _ = layers[0].apply(params[0], state[0], ids)
    h, _ = layers[1].apply(params[1], state[1], h, lengths=lengths)
    want, _ = layers[2].apply(params[2], state[2], h)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    # Padding is ignored: other tokens in the padded positions give the same outputs.
    other = ids.at[1, 3:].set(8).at[2, 1:].set(9)
    np.testing.assert_allclose(run(params, state, other, lengths)[0], y, rtol=1e-6, atol=1e-6)
    assert model.accepts_keyword("lengths") and not Sequential(layers[::2]).accepts_keyword(
        "lengths")


def test_nested_containers_forward_lengths_to_every_rnn(seq):
    x = seq
    lengths = jnp.array([T, 2, 4])
    inner = Sequential([Dense(F), RNN(LSTMCell(H), return_sequences=True)])
    model = Sequential([inner, Bidirectional(RNN(GRUCell(H))), jax.nn.tanh])
    params, state = model.init(jax.random.key(1), x)
    y, _ = model.apply(params, state, x, lengths=lengths)
    h, _ = inner.layers[0].apply(params[0][0], {}, x)
    h, _ = inner.layers[1].apply(params[0][1], {}, h, lengths=lengths)
    h, _ = model.layers[1].apply(params[1], {}, h, lengths=lengths)
    np.testing.assert_allclose(y, jnp.tanh(h), rtol=1e-6, atol=1e-6)


def test_wrappers_forward_lengths(seq):
    """Frozen, WeightNoise (in evaluation) and MixedPrecision pass lengths= through."""
    lengths = jnp.array([T, 1, 3])
    rnn = RNN(SimpleRNNCell(H))
    params, _ = rnn.init(jax.random.key(2), seq)
    want, _ = rnn.apply(params, {}, seq, lengths=lengths)
    fparams, fstate = Frozen(rnn).from_params(params, {})
    for model, p, s in [
        (Sequential([Frozen(rnn)]), [fparams], [fstate]),
        (Sequential([WeightNoise(rnn, 0.1)]), [params], [{}]),
        (Sequential([MixedPrecision(rnn, "float32")]), [params], [{}]),
    ]:
        assert model.accepts_keyword("lengths")
        np.testing.assert_allclose(model.apply(p, s, seq, lengths=lengths)[0], want,
                                   rtol=1e-6, atol=1e-6)


def test_a_keyword_no_layer_takes_is_refused(seq):
    model = Sequential([Dense(3), jax.nn.relu])
    params, state = model.init(jax.random.key(0), seq)
    with pytest.raises(TypeError, match=r"Sequential.apply: no layer here takes the keyword "
                                        r"argument lengths=; .*RNN and Bidirectional"):
        model.apply(params, state, seq, lengths=jnp.array([1, 2, 3]))
    with pytest.raises(TypeError, match=r"Sequential.apply: no layer here takes the keyword "
                                        r"argument lenghts="):
        Sequential([RNN(GRUCell(H))]).apply([params[0]], [{}], seq, lenghts=None)
