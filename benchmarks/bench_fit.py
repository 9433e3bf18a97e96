"""``jnn.train.fit`` against hand-written training loops (issue 8's performance goals).

Two workloads, every candidate on the same data and the same ``adam(1e-3)``:

1. **Dispatch-bound**: a 2-32-32-1 tanh MLP, sigmoid binary cross-entropy, 2,048 spiral
   points in batches of 32 (64 steps per epoch), several epochs per timed call.
   Candidates: ``raw_loop`` (baseline: a jitted step in a Python loop over pre-batched
   arrays), ``jnn_fit`` (``fit`` with shuffling; whole epochs as one ``lax.scan``),
   ``flax_nnx`` (idiomatic ``nnx.jit`` step with ``nnx.Optimizer``), ``equinox``
   (``eqx.filter_jit`` step), ``torch_eager`` (PyTorch CPU, a plain eager loop).
   Targets: fit ≥ 1.15× the raw loop's steps/s, ≥ 7× NNX, ≥ 3× Equinox, ≥ 5× PyTorch.
2. **Compute-bound**: a 784-512-512-10 ReLU MLP, batch 128, softmax cross-entropy,
   16 steps per epoch: ``raw_loop`` vs ``jnn_fit`` per step. Target fit ≤ 1.05×.

3. **Per-epoch overhead** of logging and of a checkpoint every epoch (asynchronous, the
   default, and synchronous) on the compute-bound MLP with 128 steps per epoch
   (target ≤ 3% per epoch), plus how long each ``save`` blocks the training loop.

    python benchmarks/bench_fit.py            # full run
    python benchmarks/bench_fit.py --quick    # smoke run
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import compare, is_quick  # noqa: E402

import jnn  # noqa: E402
from jnn.layers import Dense, Sequential  # noqa: E402
from jnn.train import Checkpoint, Checkpointer, fit  # noqa: E402

QUICK = is_quick()


def bce(logits, y):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y))


def cross_entropy(logits, y):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def raw_loop_candidate(model, params, state, loss, x, y, batch_size, epochs):
    """A jitted step in a Python loop; each epoch reshuffles the data (one jitted gather),
    as ``fit`` does, so both train on the same kind of minibatches."""
    tx = optax.adam(1e-3)

    def apply(p, xb):
        return model.apply(p, state, xb)[0]

    @jax.jit
    def step(p, o, xb, yb):
        value, g = jax.value_and_grad(lambda p_: loss(apply(p_, xb), yb))(p)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, value

    steps = x.shape[0] // batch_size

    @jax.jit
    def shuffle(key):
        order = jax.random.permutation(key, x.shape[0])[: steps * batch_size]
        return (x[order].reshape(steps, batch_size, *x.shape[1:]),
                y[order].reshape(steps, batch_size, *y.shape[1:]))

    p0, o0 = params, tx.init(params)

    def run():
        p, o = p0, o0
        for e in range(epochs):
            xs, ys = shuffle(jax.random.key(e))
            for i in range(steps):
                p, o, v = step(p, o, xs[i], ys[i])
        return v

    return run


def fit_candidate(model, params, state, loss, x, y, batch_size, epochs, **kw):
    tx = optax.adam(1e-3)

    kw = {"verbose": 0} | kw

    def run():
        return fit(model, params, state, tx, loss, (x, y), epochs=epochs,
                   batch_size=batch_size, key=jax.random.key(0), **kw)[3]

    return run


def nnx_candidate(x, y, batch_size, epochs):
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(2, 32, rngs=rngs)
            self.l2 = nnx.Linear(32, 32, rngs=rngs)
            self.l3 = nnx.Linear(32, 1, rngs=rngs)

        def __call__(self, x):
            return self.l3(jnp.tanh(self.l2(jnp.tanh(self.l1(x)))))

    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, xb, yb):
        def loss_fn(model):
            return bce(model(xb), yb)

        value, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return value

    steps = x.shape[0] // batch_size
    xs = x[: steps * batch_size].reshape(steps, batch_size, 2)
    ys = y[: steps * batch_size].reshape(steps, batch_size, 1)

    def run():
        for _ in range(epochs):
            for i in range(steps):
                v = step(model, optimizer, xs[i], ys[i])
        return v

    return run


def equinox_candidate(x, y, batch_size, epochs):
    import equinox as eqx

    model = eqx.nn.MLP(2, 1, 32, 2, activation=jnp.tanh, key=jax.random.key(0))
    tx = optax.adam(1e-3)
    opt_state = tx.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def step(model, opt_state, xb, yb):
        def loss_fn(m):
            return bce(jax.vmap(m)(xb), yb)

        value, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, value

    steps = x.shape[0] // batch_size
    xs = x[: steps * batch_size].reshape(steps, batch_size, 2)
    ys = y[: steps * batch_size].reshape(steps, batch_size, 1)

    def run():
        m, o = model, opt_state
        for _ in range(epochs):
            for i in range(steps):
                m, o, v = step(m, o, xs[i], ys[i])
        return v

    return run


def torch_candidate(x, y, batch_size, epochs):
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32),
                              torch.nn.Tanh(), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    steps = x.shape[0] // batch_size
    xt = torch.tensor(np.asarray(x)[: steps * batch_size]).reshape(steps, batch_size, 2)
    yt = torch.tensor(np.asarray(y)[: steps * batch_size]).reshape(steps, batch_size, 1)

    def run():
        for _ in range(epochs):
            for i in range(steps):
                opt.zero_grad()
                loss = loss_fn(net(xt[i]), yt[i])
                loss.backward()
                opt.step()
        return jnp.asarray(loss.item())

    return run


def dispatch_bound():
    n, batch_size, epochs = 2048, 32, (2 if QUICK else 5)
    x, y = jnn.data.spirals(jax.random.key(0), n)
    y = y.astype(jnp.float32)[:, None]
    model = Sequential([Dense(32), jnp.tanh, Dense(32), jnp.tanh, Dense(1)])
    params, state = model.init(jax.random.key(1), x)
    steps = epochs * (n // batch_size)
    candidates = {
        "raw_loop": raw_loop_candidate(model, params, state, bce, x, y, batch_size, epochs),
        "jnn_fit": fit_candidate(model, params, state, bce, x, y, batch_size, epochs),
        "flax_nnx": nnx_candidate(x, y, batch_size, epochs),
        "equinox": equinox_candidate(x, y, batch_size, epochs),
        "torch_eager": torch_candidate(x, y, batch_size, epochs),
    }
    results = compare(candidates, "raw_loop", rounds=3 if QUICK else 9, number=1,
                      title=f"dispatch-bound: 2-32-32-1 tanh MLP, {steps} steps per call")
    base = results["jnn_fit"]["median_s"]
    print("steps/s of jnn_fit relative to each candidate (higher is better for jnn):")
    for name, r in results.items():
        if name != "jnn_fit":
            print(f"  fit vs {name:12s} {r['median_s'] / base:6.2f}x")


def compute_bound():
    batch_size, epochs = 128, 1
    n = batch_size * (4 if QUICK else 16)
    x = jax.random.normal(jax.random.key(0), (n, 784))
    y = jax.random.randint(jax.random.key(1), (n,), 0, 10)
    model = Sequential([Dense(512), jax.nn.relu, Dense(512), jax.nn.relu, Dense(10)])
    params, state = model.init(jax.random.key(2), x)
    candidates = {
        "raw_loop": raw_loop_candidate(model, params, state, cross_entropy, x, y, batch_size,
                                       epochs),
        "jnn_fit": fit_candidate(model, params, state, cross_entropy, x, y, batch_size, epochs),
    }
    compare(candidates, "raw_loop", rounds=3 if QUICK else 11, number=1,
            title=f"compute-bound: 784-512-512-10 MLP, batch {batch_size}, "
                  f"{n // batch_size} steps per call")


class _TimedCheckpoint(Checkpoint):
    """The Checkpoint callback, recording how long each save blocks the training loop."""

    def __init__(self, checkpointer, blocked):
        super().__init__(checkpointer)
        self.blocked = blocked

    def on_epoch_end(self, epoch, logs, ctx):
        t0 = time.perf_counter()
        super().on_epoch_end(epoch, logs, ctx)
        self.blocked.append(time.perf_counter() - t0)


def overhead():
    """Per-epoch cost of logging (metrics, a line per epoch) and of a checkpoint every
    epoch, on the compute-bound MLP with a realistic epoch (16,384 examples, 128 steps of
    batch 128; about a second per epoch on a 2-core CPU; quick mode: 16 steps)."""
    batch_size, epochs = 128, (2 if QUICK else 4)
    n = batch_size * (16 if QUICK else 128)
    x = jax.random.normal(jax.random.key(0), (n, 784))
    y = jax.random.randint(jax.random.key(1), (n,), 0, 10)
    model = Sequential([Dense(512), jax.nn.relu, Dense(512), jax.nn.relu, Dense(10)])
    params, state = model.init(jax.random.key(2), x)
    blocked = {"async": [], "sync": []}

    tx = optax.adam(1e-3)

    def with_checkpoints(mode):
        def run():  # a fresh directory per training run, as in real use
            with Checkpointer(tempfile.mkdtemp(), max_to_keep=2,
                              async_save=mode == "async") as checkpointer:
                return fit(model, params, state, tx, cross_entropy, (x, y), epochs=epochs,
                           batch_size=batch_size, key=jax.random.key(0),
                           metrics=["accuracy"], verbose=1, print_fn=lambda s: None,
                           progress=False,
                           callbacks=[_TimedCheckpoint(checkpointer, blocked[mode])])[3]

        return run

    candidates = {
        "fit_silent": fit_candidate(model, params, state, cross_entropy, x, y, batch_size,
                                    epochs),
        "fit_logging": fit_candidate(model, params, state, cross_entropy, x, y, batch_size,
                                     epochs, metrics=["accuracy"], verbose=1,
                                     print_fn=lambda s: None, progress=False),
        "fit_log_ckpt_async": with_checkpoints("async"),
        "fit_log_ckpt_sync": with_checkpoints("sync"),
    }
    results = compare(candidates, "fit_silent", rounds=3 if QUICK else 5, number=1,
                      title=f"per-epoch overhead: logging and a checkpoint every epoch "
                            f"({epochs} epochs of {n // batch_size} steps)")
    epoch_s = results["fit_silent"]["median_s"] / epochs
    print(f"epoch time (fit_silent): {epoch_s * 1e3:.0f} ms; overhead per epoch (paired "
          f"median ratio - 1; target <= 3%):")
    for name in ("fit_logging", "fit_log_ckpt_async", "fit_log_ckpt_sync"):
        print(f"  {name:20s} {100 * (results[name]['ratio_paired'] - 1):+6.1f}%")
    for mode, times in blocked.items():
        print(f"  save() blocks the loop ({mode:5s}): median {np.median(times) * 1e3:6.1f} ms "
              f"= {100 * np.median(times) / epoch_s:4.1f}% of an epoch")


if __name__ == "__main__":
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; quick={QUICK}")
    dispatch_bound()
    compute_bound()
    overhead()
