"""One training step of an LSTM: jnn vs Flax Linen vs raw ``jax.lax.scan``.

Many-to-one regression: batch 64, length 50, 32 input features, hidden 128, a Dense(1)
head on the last output, mean squared error, one Adam step (value_and_grad + update),
jitted. Every candidate starts from the same parameter values (jnn's, mapped with
``jnn.layers.to_linen_params`` for Flax) and runs on the same data; the script first
checks that they compute the same loss and gradients, then compares the optimized XLA
programs, compile times, and step times (``_timing.compare``, interleaved rounds).

    python benchmarks/bench_lstm.py [--quick] [--rounds N] [--batch B] [--length T]

Candidates:
- ``jnn``: ``Sequential([RNN(LSTMCell(128)), Dense(1)])``.
- ``flax_linen``: ``nn.RNN(nn.LSTMCell(128))`` + ``nn.Dense(1)`` (the baseline).
- ``flax_linen_optimized``: the same with ``nn.OptimizedLSTMCell`` (fused gates).
- ``raw_scan``: hand-written ``lax.scan``, one product per gate from fused param arrays
  (what jnn's LSTMCell does). On XLA:CPU, one fused product for all four gates and a
  split measured about 15% slower than per-gate products (and than Flax), so jnn
  computes per gate.

Target: jnn <= 1.05x flax_linen.
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
from _timing import (  # noqa: E402
    compare,
    compile_time,
    compiled_stats,
    is_quick,
    print_compile_times,
    print_table,
)

from jnn.layers import RNN, Dense, LSTMCell, Sequential, to_linen_params  # noqa: E402

FEATURES, HIDDEN = 32, 128


class _FlaxModel(nn.Module):
    cell_type: type = nn.LSTMCell

    @nn.compact
    def __call__(self, x):
        h = nn.RNN(self.cell_type(HIDDEN, parent=None), name="rnn")(x)
        return nn.Dense(1, name="head")(h[:, -1])


def build(x):
    """name -> (params, predict(params, x) -> (batch, 1)), all from the same values."""
    model = Sequential([RNN(LSTMCell(HIDDEN)), Dense(1)])
    params, state = model.init(jax.random.key(0), x)
    candidates = {"jnn": (params, lambda p, x_: model.apply(p, state, x_)[0])}

    linen_params = {
        "rnn": to_linen_params(model.layers[0], params[0])["params"],
        "head": to_linen_params(model.layers[1], params[1])["params"],
    }
    for name, cell_type in [("flax_linen", nn.LSTMCell),
                            ("flax_linen_optimized", nn.OptimizedLSTMCell)]:
        flax_model = _FlaxModel(cell_type)
        reference = flax_model.init(jax.random.key(0), x)["params"]
        assert jax.tree.structure(reference) == jax.tree.structure(linen_params)
        candidates[name] = (
            linen_params, lambda p, x_, m=flax_model: m.apply({"params": p}, x_)
        )

    raw = {
        "wi": params[0]["input_kernel"], "wh": params[0]["recurrent_kernel"],
        "b": params[0]["bias"], "wo": params[1]["kernel"], "bo": params[1]["bias"],
    }

    def raw_predict(p, x_):
        wi = jnp.split(p["wi"], 4, axis=-1)
        wh = jnp.split(p["wh"], 4, axis=-1)
        b = jnp.split(p["b"], 4)

        def body(carry, x_t):
            c, h = carry
            i, f, g, o = (x_t @ wi[k] + b[k][None] + h @ wh[k] for k in range(4))
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, h), None

        zeros = jnp.zeros((x_.shape[0], HIDDEN), x_.dtype)
        (_, h), _ = jax.lax.scan(body, (zeros, zeros), jnp.swapaxes(x_, 0, 1))
        return h @ p["wo"] + p["bo"][None]

    candidates["raw_scan"] = (raw, raw_predict)
    return candidates


class Stepper:
    """A jitted Adam step with its arguments; calling it runs one step."""

    def __init__(self, params, predict, x, y, optimizer):
        def loss(p, x_, y_):
            return jnp.mean((predict(p, x_) - y_) ** 2)

        def step(p, opt_state, x_, y_):
            value, grads = jax.value_and_grad(loss)(p, x_, y_)
            updates, opt_state = optimizer.update(grads, opt_state, p)
            return optax.apply_updates(p, updates), opt_state, value, grads

        self.step = jax.jit(step)
        self.params, self.opt_state, self.x, self.y = params, optimizer.init(params), x, y

    def args(self):
        return self.params, self.opt_state, self.x, self.y

    def __call__(self):
        return self.step(*self.args())


def check_same_values(steppers):
    rows = []
    base = steppers["flax_linen"]()
    base_norm = optax.global_norm(base[3])
    for name, s in steppers.items():
        _, _, value, grads = s()
        rows.append([name, f"{float(value):.6f}",
                     f"{abs(float(optax.global_norm(grads) - base_norm)):.2e}"])
    print_table(["candidate", "loss", "| |grad| - |grad linen| |"], rows,
                title="same values in, same values out?")


def check_same_computation(steppers):
    stats = {name: compiled_stats(s.step, *s.args()) for name, s in steppers.items()}
    names = list(stats)
    ops = ("dot", "fusion", "dynamic-slice", "dynamic-update-slice", "copy")
    rows = [[op, *(str(stats[n]["ops"][op]) for n in names)] for op in ops]
    rows.append(["TOTAL ops", *(str(sum(stats[n]["ops"].values())) for n in names)])
    rows.append(["flops", *(f"{stats[n]['flops']:.4g}" for n in names)])
    print_table(["optimized HLO", *names], rows, title="optimized XLA programs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny shapes, 3 rounds")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 64)")
    parser.add_argument("--length", type=int, default=None, help="sequence length (default 50)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (21)")
    args = parser.parse_args(argv)
    quick = args.quick or is_quick([])
    batch = args.batch or (8 if quick else 64)
    length = args.length or (5 if quick else 50)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs; "
          f"LSTM batch {batch}, length {length}, features {FEATURES}, hidden {HIDDEN}"
          f"{' [quick]' if quick else ''}")

    kx, ky = jax.random.split(jax.random.key(1))
    x = jax.random.normal(kx, (batch, length, FEATURES))
    y = jax.random.normal(ky, (batch, 1))
    optimizer = optax.adam(1e-3)
    steppers = {name: Stepper(p, f, x, y, optimizer) for name, (p, f) in build(x).items()}

    check_same_values(steppers)
    check_same_computation(steppers)
    print_compile_times({n: compile_time(s.step, *s.args()) for n, s in steppers.items()})
    res = compare(steppers, "flax_linen", rounds=args.rounds, quick=quick,
                  title=f"LSTM training step, batch {batch}, length {length} (ms/step)")
    rows = [[name, f"{r['median_s'] * 1e3:.2f} ms", f"{r['ratio']:.3f}",
             f"{r['ratio_paired']:.3f} [{r['ratio_q1']:.3f}-{r['ratio_q3']:.3f}]"]
            for name, r in res.items()]
    print_table(["candidate", "per step", "ratio to flax_linen", "paired ratio [IQR]"], rows,
                title="summary (target: jnn <= 1.05x flax_linen)")
    return res


if __name__ == "__main__":
    main()
