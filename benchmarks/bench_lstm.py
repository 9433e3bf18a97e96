"""One training step of an LSTM: jnn vs Flax Linen vs raw ``jax.lax.scan``.

Many-to-one regression: batch 64, length 50, 32 input features, hidden 128, a Dense(1)
head on the last output, mean squared error, one Adam step (value_and_grad + update),
jitted. All candidates have the same parameter count and run on the same data.

    python benchmarks/bench_lstm.py [--rounds 20] [--number 10]

Candidates:
- ``jnn``: ``Sequential([RNN(LSTMCell(128)), Dense(1)])``.
- ``flax_linen``: ``nn.RNN(nn.LSTMCell(128))`` + ``nn.Dense(1)`` (the baseline).
- ``flax_linen_optimized``: the same with ``nn.OptimizedLSTMCell`` (fused gates).
- ``raw_scan``: hand-written ``lax.scan`` with the four gates fused into one product
  for the input and one for the hidden state (what jnn's LSTMCell does).
"""

from __future__ import annotations

import argparse
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, os.path.dirname(__file__))
try:
    from _timing import compare  # the shared harness
except ImportError:  # pragma: no cover - until benchmarks/_timing.py lands
    from _bench_fallback import compare

from jnn.layers import RNN, Dense, LSTMCell, Sequential

BATCH, LENGTH, FEATURES, HIDDEN = 64, 50, 32, 128


def data(key):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (BATCH, LENGTH, FEATURES))
    y = jax.random.normal(ky, (BATCH, 1))
    return x, y


def make_step(predict, optimizer):
    """A jitted Adam step for ``predict(params, x) -> (batch, 1)``."""

    def loss(params, x, y):
        return jnp.mean((predict(params, x) - y) ** 2)

    @jax.jit
    def step(params, opt_state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


def jnn_candidate(key, x):
    model = Sequential([RNN(LSTMCell(HIDDEN)), Dense(1)])
    params, state = model.init(key, x)
    return params, lambda p, x_: model.apply(p, state, x_)[0]


class _FlaxModel(nn.Module):
    cell_type: type = nn.LSTMCell

    @nn.compact
    def __call__(self, x):
        h = nn.RNN(self.cell_type(HIDDEN))(x)
        return nn.Dense(1)(h[:, -1])


def flax_candidate(key, x, cell_type):
    model = _FlaxModel(cell_type)
    params = model.init(key, x)["params"]
    return params, lambda p, x_: model.apply({"params": p}, x_)


def raw_candidate(key, x):
    k1, k2, k3 = jax.random.split(key, 3)
    params = {
        "wi": jax.nn.initializers.lecun_normal()(k1, (FEATURES, 4 * HIDDEN)),
        "wh": jax.nn.initializers.orthogonal()(k2, (HIDDEN, 4 * HIDDEN)),
        "b": jnp.zeros((4 * HIDDEN,)),
        "wo": jax.nn.initializers.lecun_normal()(k3, (HIDDEN, 1)),
        "bo": jnp.zeros((1,)),
    }

    def predict(p, x_):
        def body(carry, x_t):
            c, h = carry
            z = x_t @ p["wi"] + p["b"][None] + h @ p["wh"]
            i, f, g, o = jnp.split(z, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, h), None

        zeros = jnp.zeros((x_.shape[0], HIDDEN))
        (_, h), _ = jax.lax.scan(body, (zeros, zeros), jnp.swapaxes(x_, 0, 1))
        return h @ p["wo"] + p["bo"][None]

    return params, predict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--number", type=int, default=10)
    args = parser.parse_args(argv)

    key = jax.random.key(0)
    x, y = data(key)
    optimizer = optax.adam(1e-3)
    builders = {
        "jnn": lambda: jnn_candidate(key, x),
        "flax_linen": lambda: flax_candidate(key, x, nn.LSTMCell),
        "flax_linen_optimized": lambda: flax_candidate(key, x, nn.OptimizedLSTMCell),
        "raw_scan": lambda: raw_candidate(key, x),
    }
    candidates = {}
    for name, build in builders.items():
        params, predict = build()
        n_params = sum(a.size for a in jax.tree.leaves(params))
        print(f"{name:22s} {n_params} params")
        step = make_step(predict, optimizer)
        opt_state = optimizer.init(params)
        candidates[name] = (
            lambda step=step, params=params, opt_state=opt_state: step(params, opt_state, x, y)
        )
    print(f"device: {jax.devices()[0].device_kind}; batch {BATCH}, length {LENGTH}, "
          f"features {FEATURES}, hidden {HIDDEN}")
    compare(candidates, baseline="flax_linen", rounds=args.rounds, number=args.number)


if __name__ == "__main__":
    main()
