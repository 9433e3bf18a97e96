"""``jnn.train.fit`` against hand-written training loops (issue 8's performance goals).

Three workloads, every candidate on the same data and the same ``adam(1e-3)``:

1. **Dispatch-bound**: a 2-32-32-1 tanh MLP, sigmoid binary cross-entropy, 2,048 spiral
   points in batches of 32 (64 steps per epoch), several epochs per timed call.
   Candidates: ``raw_loop`` (baseline: a jitted step in a Python loop over pre-batched
   arrays), ``jnn_fit`` (``fit`` with shuffling; whole epochs as one ``lax.scan``),
   ``flax_nnx`` (idiomatic ``nnx.jit`` step with ``nnx.Optimizer``), ``equinox``
   (``eqx.filter_jit`` step), ``torch_eager`` (PyTorch CPU, a plain eager loop).
   Targets: fit ≥ 1.15× the raw loop's steps/s, ≥ 7× NNX, ≥ 3× Equinox, ≥ 5× PyTorch.
2. **Compute-bound**: a 784-512-512-10 ReLU MLP, batch 128, softmax cross-entropy,
   16 steps per epoch: ``raw_loop`` vs ``jnn_fit`` per step. Target fit ≤ 1.05×.

3. **Per-epoch overhead** of logging (a line per epoch), the tqdm progress bar and a
   checkpoint every epoch (asynchronous, the default, and synchronous), each alone, on
   the compute-bound MLP at batch 128, for epochs of 16,384 examples (128 steps) and of
   60,000 (MNIST's training set, 469 steps). Target: each adds <= 3% per epoch. Reported
   per added epoch ("steady": epoch end to epoch end, from the second epoch on) and per
   whole ``fit`` run, plus how long each ``save`` blocks the loop. See ``overhead``.

    python benchmarks/bench_fit.py            # full run
    python benchmarks/bench_fit.py --quick    # smoke run
"""

from __future__ import annotations

import contextlib
import io
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
from jnn.train import Callback, Checkpoint, Checkpointer, fit  # noqa: E402

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


class _EpochClock(Callback):
    """Records when training starts and when each epoch ends, in wall-clock and in the
    process's CPU time (all threads); first in the callback list, so an epoch's interval
    includes the previous epoch's save and its background write."""

    def __init__(self):
        self.runs = []

    def on_train_begin(self, ctx):
        self.runs.append([(time.perf_counter(), time.process_time())])

    def on_epoch_end(self, epoch, logs, ctx):
        self.runs[-1].append((time.perf_counter(), time.process_time()))


class _TimedCheckpoint(Checkpoint):
    """The Checkpoint callback, recording how long each save blocks the training loop."""

    def __init__(self, checkpointer, blocked):
        super().__init__(checkpointer)
        self.blocked = blocked

    def on_epoch_end(self, epoch, logs, ctx):
        t0 = time.perf_counter()
        super().on_epoch_end(epoch, logs, ctx)
        self.blocked.append(time.perf_counter() - t0)


def overhead_problem(n):
    """The compute-bound MLP (784-512-512-10, Adam) on ``n`` random MNIST-shaped examples."""
    x = jax.random.normal(jax.random.key(0), (n, 784))
    y = jax.random.randint(jax.random.key(1), (n,), 0, 10)
    model = Sequential([Dense(512), jax.nn.relu, Dense(512), jax.nn.relu, Dense(10)])
    params, state = model.init(jax.random.key(2), x)
    return model, params, state, x, y


def overhead_candidates(problem, epochs, batch_size=128, checkpointers=None):
    """name -> (run, clock, blocked): ``fit`` alone (``silent``: metrics computed, nothing
    shown) and with one addition each: ``logging`` (a line per epoch), ``progress`` (the
    tqdm bar, written to a buffer), ``ckpt_async`` / ``ckpt_sync`` (a checkpoint every
    epoch into a fresh directory per run, opened and closed inside the run;
    ``ckpt_async_nice0``: the background writer at normal CPU priority), and ``all``
    (bar + asynchronous checkpoint). ``checkpointers`` maps more ``ckpt_*`` names to
    Checkpointer factories ``(directory) -> checkpointer``."""
    model, params, state, x, y = problem
    tx = optax.adam(1e-3)
    factories = {
        "ckpt_async": lambda d: Checkpointer(d, max_to_keep=2),
        "ckpt_async_nice0": lambda d: Checkpointer(d, max_to_keep=2, background_priority=0),
        "ckpt_sync": lambda d: Checkpointer(d, max_to_keep=2, async_save=False),
    } | dict(checkpointers or {})

    def make(bar=False, lines=False, factory=None):
        clock, blocked = _EpochClock(), []

        def run():
            kw = dict(epochs=epochs, batch_size=batch_size, key=jax.random.key(0),
                      metrics=["accuracy"], verbose=int(lines), print_fn=lambda s: None,
                      progress=bar)
            with contextlib.redirect_stderr(io.StringIO()), contextlib.ExitStack() as stack:
                callbacks = [clock]
                if factory is not None:
                    ckpt = stack.enter_context(factory(tempfile.mkdtemp()))
                    callbacks.append(_TimedCheckpoint(ckpt, blocked))
                return fit(model, params, state, tx, cross_entropy, (x, y),
                           callbacks=callbacks, **kw)[3]

        return run, clock, blocked

    out = {"silent": make(), "logging": make(lines=True), "progress": make(bar=True)}
    out |= {name: make(factory=f) for name, f in factories.items()}
    out["all"] = make(bar=True, factory=factories["ckpt_async"])
    return out


WRITERS = {"packed, idle": {}, "one array per leaf, idle": {"pack": False},
           "packed, nice 19": {"background_priority": 19}}


def overhead_alternating(sizes=None, epochs=None, repeats=None, writers=None):
    """Checkpoint cost per epoch from ONE training run that saves every other epoch.

    Adjacent epochs run under the same machine conditions, so pairing each epoch that
    follows a save (its interval includes ``save()`` and the background write) with the
    epoch before it, which follows no save, removes most of the drift that makes
    separate runs noisy on a shared machine. Prints the median of the paired ratios - 1
    and its IQR over all pairs of ``repeats`` runs, for each of ``writers`` (name:
    Checkpointer options; default ``WRITERS``: packed arrays or one array per leaf,
    writer at ``SCHED_IDLE`` or nice 19), the runs alternating between them.
    """
    writers = writers or WRITERS
    sizes = sizes or ((2048,) if QUICK else (16_384, 60_000))
    repeats = repeats or (1 if QUICK else 3)
    tx = optax.adam(1e-3)
    for n in sizes:
        model, params, state, x, y = overhead_problem(n)
        n_epochs = epochs or (6 if QUICK else (12 if n >= 50_000 else 30))
        ratios = {w: [] for w in writers}
        epoch_s = {w: [] for w in writers}
        for run in range(repeats + 1):  # the first run compiles
            for writer, options in writers.items():
                clock = _EpochClock()
                with contextlib.redirect_stderr(io.StringIO()), \
                        Checkpointer(tempfile.mkdtemp(), max_to_keep=2, **options) as ckpt:
                    fit(model, params, state, tx, cross_entropy, (x, y), epochs=n_epochs,
                        batch_size=128, key=jax.random.key(0), metrics=["accuracy"],
                        verbose=0, progress=True,
                        callbacks=[clock, Checkpoint(ckpt, every=2)])
                t = np.array(clock.runs[-1])[:, 0]
                interval = np.diff(t)  # interval[k]: epoch k (0-based), incl. what ran after k-1
                # saves run after epochs 1, 3, 5, ...: epochs 2, 4, ... follow a save
                after_save = interval[2::2]
                before = interval[1:-1:2][: len(after_save)]
                if run:
                    ratios[writer].append(after_save / before)
                    epoch_s[writer].append(before)
        for writer in writers:
            r = np.concatenate(ratios[writer]) - 1
            print(f"{n:,} examples, {n_epochs} epochs x {repeats} runs, {writer}, a save "
                  f"every other epoch: epoch after a save vs the epoch "
                  f"before it: median {np.median(r):+.1%} [IQR {np.percentile(r, 25):+.1%}, "
                  f"{np.percentile(r, 75):+.1%}] over {r.size} pairs; epoch "
                  f"{np.median(np.concatenate(epoch_s[writer])) * 1e3:.0f} ms "
                  f"(target <= 3%)")


def save_cost(rounds=None):
    """CPU time (all threads) and wall time of one synchronous ``Checkpointer.save``:
    the benchmark MLP's params + Adam state (19 arrays, 8 MB), the same 19 arrays with
    one element each, and one array of one element, packed (the default: one array per
    dtype) and one array per leaf; shows what a save's cost is made of (a fixed part, a
    part per array, a part per byte). CPU time is what a background
    write takes from training when no core is idle."""
    model, params, state, x, _ = overhead_problem(128)
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda a: jnp.asarray(rng.standard_normal(a.shape, np.float32)),
                          params)
    opt_state = optax.adam(1e-3).init(params)
    opt_state = jax.tree.map(lambda a: a + 0.1 if a.ndim else a, opt_state)
    small = jax.tree.map(lambda a: a.reshape(-1)[:1], (params, state, opt_state))
    trees = {"mlp_8MB_19_arrays": ((params, state, opt_state), True),
             "(same, one per leaf)": ((params, state, opt_state), False),
             "19_arrays_of_1": (small, True),
             "(same, one per leaf)_": (small, False),
             "1_array_of_1": (({"w": jnp.ones(1)}, {}, ()), True)}
    rounds = rounds or (3 if QUICK else 15)
    times = {k: [] for k in trees}
    with contextlib.ExitStack() as stack:
        ckpts = {k: stack.enter_context(Checkpointer(tempfile.mkdtemp(), max_to_keep=2,
                                                     async_save=False, pack=pack))
                 for k, (_, pack) in trees.items()}
        for step in range(rounds + 2):
            for name, (tree, _) in trees.items():
                c0, t0 = time.process_time(), time.perf_counter()
                ckpts[name].save(step, *tree)
                if step >= 2:  # two warmup saves
                    times[name].append((time.process_time() - c0, time.perf_counter() - t0))
    print("one synchronous save (median over rounds): CPU time of all threads, wall time")
    for name, t in times.items():
        cpu, wall = np.median(np.array(t), axis=0) * 1e3
        print(f"  {name.rstrip('_'):20s} CPU {cpu:6.1f} ms   wall {wall:6.1f} ms")
    return times


def host_costs(number=2000):
    """Seconds per epoch that fit's host side spends on a log line and on the progress
    bar: the same formatting and calls as ``fit`` (with five logged values), timed alone,
    which a loaded machine barely disturbs."""
    from tqdm.auto import tqdm

    logs = {"loss": 0.123456, "accuracy": 0.9876, "val_loss": 0.2345, "val_accuracy": 0.95,
            "lr": 1e-3}
    sink = io.StringIO()

    def line(epoch):
        text = "  ".join(f"{k} {v:.4f}" for k, v in logs.items())
        print(f"epoch {epoch + 1:3d}/{number}  {text}", file=sink)

    bar = tqdm(total=number, unit="epoch", leave=True, file=sink)

    def progress(epoch):
        bar.set_postfix_str("  ".join(f"{k} {v:.4f}" for k, v in logs.items()))
        bar.update(1)

    out = {}
    for name, fn in (("logging", line), ("progress", progress)):
        t0 = time.perf_counter()
        for epoch in range(number):
            fn(epoch)
        out[name] = (time.perf_counter() - t0) / number
    bar.close()
    return out


def overhead(sizes=None, rounds=None, checkpointers=None):
    """Per-epoch cost of logging, the progress bar and a checkpoint every epoch (all
    three: the goal is <= 3% each), on the compute-bound MLP at batch 128 with Adam.

    Epochs of 16,384 examples (128 steps, about a second on a 2-core CPU) and of 60,000
    (MNIST's training set, 469 steps); quick mode: 2,048 (16 steps). Two figures:

    - **steady**: the mean time from one epoch's end to the next, epochs 2 onwards, over
      the same in the silent run (paired per round): what each added epoch costs,
      including the previous epoch's save and its background write;
    - **per run**: the whole ``fit`` call (including opening the checkpoint directory,
      the first epoch, waiting for the last write and closing), over the silent run;
      the fixed part of it shrinks with more epochs.

    Plus how long ``save()`` blocks the loop (median over all saves).
    """
    sizes = sizes or ((2048,) if QUICK else (16_384, 60_000))
    rounds = rounds or (3 if QUICK else 5)
    summary = {}
    for n in sizes:
        epochs = 3 if n >= 50_000 else 4
        cands = overhead_candidates(overhead_problem(n), epochs, checkpointers=checkpointers)
        results = compare({k: v[0] for k, v in cands.items()}, "silent", rounds=rounds,
                          number=1, title=f"per-epoch overhead: {epochs} epochs of {n:,} "
                                           f"examples ({n // 128} steps of batch 128)")
        steady, cpu = {}, {}
        for name, (_, clock, _) in cands.items():
            runs = np.array(clock.runs[-rounds:])  # the timed rounds (warmups come first)
            steady[name] = np.diff(runs[:, :, 0], axis=1)[:, 1:].mean(axis=1)
            cpu[name] = np.diff(runs[:, :, 1], axis=1)[:, 1:].mean(axis=1)
        epoch_s = float(np.median(steady["silent"]))
        print(f"{n:,} examples: epoch {epoch_s * 1e3:.0f} ms, {np.median(cpu['silent']):.2f} "
              f"CPU-s (silent, steady). Overhead, median of per-round paired ratios - 1 "
              f"[IQR]; target <= 3%. 'CPU' = extra CPU time per epoch (all threads) over "
              f"the silent epoch's wall time: the cost if none of it ran on idle cores.")
        print(f"  {'':12s} {'steady per epoch':>24s} {'per run':>24s}  {'CPU':>7s}  "
              f"save() blocks")
        for name in cands:
            if name == "silent":
                continue
            ratio = steady[name] / steady["silent"]
            q1, med, q3 = 100 * (np.percentile(ratio, [25, 50, 75]) - 1)
            r = results[name]
            run_pct = [100 * (r[k] - 1) for k in ("ratio_paired", "ratio_q1", "ratio_q3")]
            blocked = cands[name][2]
            block = (f"{np.median(blocked) * 1e3:6.1f} ms" if blocked else "")
            extra_cpu = 100 * (np.median(cpu[name]) - np.median(cpu["silent"])) / epoch_s
            print(f"  {name:12s} {med:+7.1f}% [{q1:+5.1f}, {q3:+5.1f}]   "
                  f"{run_pct[0]:+7.1f}% [{run_pct[1]:+5.1f}, {run_pct[2]:+5.1f}]  "
                  f"{extra_cpu:+6.1f}%  {block}")
            summary[(n, name)] = (med, run_pct[0])
        for name, seconds in host_costs().items():
            print(f"  host work of {name} alone: {seconds * 1e6:.0f} us per epoch = "
                  f"{100 * seconds / epoch_s:.3f}% of an epoch")
    return summary


if __name__ == "__main__":
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; quick={QUICK}")
    dispatch_bound()
    compute_bound()
    overhead()
    overhead_alternating()
    save_cost()
