"""One Adam training step of an MLP: jnn vs raw JAX vs Flax Linen vs Flax NNX.

Two workloads, every candidate on the same data, dtype (float32) and ``optax.adam(1e-3)``:

1. **Compute-bound**: a 784-512-512-10 ReLU MLP, softmax cross-entropy with integer
   labels, one jitted step (``value_and_grad`` + ``adam`` update), batch 128 and 1024.
2. **Dispatch-bound**: a 2-32-32-1 tanh MLP on 256 two-arm-spiral points, sigmoid binary
   cross-entropy, 1000 steps of a jitted step in a Python loop (reported per step).

Candidates:

- ``raw_jax`` (baseline): params a list of ``(W, b)``, hand-written apply, ``jax.jit``.
- ``jnn``: ``Sequential([Dense(512), relu, Dense(512), relu, Dense(10)])``, ``jax.jit``.
- ``flax_linen``: an ``nn.Dense`` stack, ``module.apply``, ``jax.jit``.
- ``flax_nnx``: ``nnx.Linear`` stack, ``nnx.Optimizer``, ``nnx.jit`` step (the idiom of
  the Flax docs).
- ``flax_nnx_split``: the same module, ``nnx.split`` once, then a ``jax.jit`` step that
  ``nnx.merge``-s and re-``split``-s inside (the functional style for speed).

Params and optimizer state are donated in every ``jax.jit`` step (``nnx.jit`` updates the
module in place). The benchmark also checks that the jnn and raw steps compile to the same
computation (op counts and flops of the optimized XLA program) and give the same loss
and gradients for the same parameter values.

    python benchmarks/bench_mlp_step.py            # full run (a few minutes on 2 cores)
    python benchmarks/bench_mlp_step.py --quick    # CI smoke run (seconds)
"""

from __future__ import annotations

import argparse
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import (  # noqa: E402
    compare,
    compile_time,
    compiled_stats,
    is_quick,
    print_compile_times,
    print_table,
)

from jnn.layers import Dense, Sequential  # noqa: E402

LEARNING_RATE = 1e-3
CHUNK = 100  # steps per timed call in the dispatch-bound loop
BIG = (784, 512, 512, 10)
TINY = (2, 32, 32, 1)


# ------------------------------------------------------------------------------- data


def mnist_like(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, BIG[0])).astype(np.float32)
    y = rng.integers(0, BIG[-1], size=batch).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def spirals(n: int = 256, seed: int = 0):
    """Two interleaved spiral arms in the plane; labels 0/1 (float, for BCE)."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n // 2)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + 0.02 * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n // 2), np.ones(n // 2)])
    return jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)


# ------------------------------------------------------------------------------ losses


def softmax_xent(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def sigmoid_bce(logits, y):
    return optax.sigmoid_binary_cross_entropy(logits[:, 0], y).mean()


# ------------------------------------------------------------------------- candidates


def functional_step(predict, loss_fn, optimizer):
    """A donated, jitted Adam step for ``predict(params, x) -> logits``."""

    def loss(params, x, y):
        return loss_fn(predict(params, x), y)

    def step(params, opt_state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return jax.jit(step, donate_argnums=(0, 1))


def raw_init(key, sizes):
    params = []
    for k, (m, n) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append((jax.random.normal(k, (m, n)) / np.sqrt(m), jnp.zeros((n,))))
    return params


def raw_predict(activation):
    def predict(params, x):
        for w, b in params[:-1]:
            x = activation(x @ w + b)
        w, b = params[-1]
        return x @ w + b

    return predict


def jnn_model(sizes, activation):
    layers = []
    for n in sizes[1:-1]:
        layers += [Dense(n), activation]
    return Sequential([*layers, Dense(sizes[-1])])


class LinenMLP(nn.Module):
    sizes: tuple[int, ...]
    activation: object

    @nn.compact
    def __call__(self, x):
        for n in self.sizes[1:-1]:
            x = self.activation(nn.Dense(n)(x))
        return nn.Dense(self.sizes[-1])(x)


class NnxMLP(nnx.Module):
    def __init__(self, sizes, activation, rngs):
        self.layers = nnx.List(
            [nnx.Linear(m, n, rngs=rngs) for m, n in zip(sizes[:-1], sizes[1:])]
        )
        self.activation = activation

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


class Stepper:
    """Holds (params, opt_state) and advances them one jitted step per call."""

    def __init__(self, step, params, opt_state, x, y):
        self.step, self.params, self.opt_state, self.x, self.y = step, params, opt_state, x, y

    def __call__(self):
        self.params, self.opt_state, loss = self.step(self.params, self.opt_state, self.x, self.y)
        return loss  # all outputs of one executable are ready together

    def args(self):
        return self.params, self.opt_state, self.x, self.y


def build(sizes, activation, loss_fn, x, y, key, detail=False):
    """Every candidate for one workload: name -> Stepper (or an NNX callable).

    With ``detail``, also ``raw_jax_dicts``: the raw step with each layer's params in a
    ``{"kernel", "bias"}`` dict instead of a tuple (jnn's container types, without jnn).
    """
    optimizer = optax.adam(LEARNING_RATE)
    out = {}

    p = raw_init(key, sizes)
    out["raw_jax"] = Stepper(
        functional_step(raw_predict(activation), loss_fn, optimizer), p, optimizer.init(p), x, y
    )
    if detail:
        dict_predict = raw_predict(activation)
        p = [{"kernel": w, "bias": b} for w, b in raw_init(key, sizes)]
        out["raw_jax_dicts"] = Stepper(
            functional_step(
                lambda p, x: dict_predict([(d["kernel"], d["bias"]) for d in p], x), loss_fn,
                optimizer,
            ),
            p, optimizer.init(p), x, y,
        )

    model = jnn_model(sizes, activation)
    p, state = model.init(key, x)
    out["jnn"] = Stepper(
        functional_step(lambda p, x: model.apply(p, state, x)[0], loss_fn, optimizer),
        p, optimizer.init(p), x, y,
    )

    module = LinenMLP(tuple(sizes), activation)
    p = module.init(key, x)["params"]
    out["flax_linen"] = Stepper(
        functional_step(lambda p, x: module.apply({"params": p}, x), loss_fn, optimizer),
        p, optimizer.init(p), x, y,
    )

    nnx_model = NnxMLP(sizes, activation, nnx.Rngs(0))
    nnx_opt = nnx.Optimizer(nnx_model, optimizer, wrt=nnx.Param)

    @nnx.jit
    def nnx_step(model, opt, x, y):
        def loss(model):
            return loss_fn(model(x), y)

        value, grads = nnx.value_and_grad(loss)(model)
        opt.update(model, grads)
        return value

    out["flax_nnx"] = lambda: nnx_step(nnx_model, nnx_opt, x, y)

    split_model = NnxMLP(sizes, activation, nnx.Rngs(0))
    graphdef, nnx_state = nnx.split((split_model, nnx.Optimizer(split_model, optimizer,
                                                                 wrt=nnx.Param)))

    def split_step(nnx_state, _unused, x, y):
        model, opt = nnx.merge(graphdef, nnx_state)
        value, grads = nnx.value_and_grad(lambda m: loss_fn(m(x), y))(model)
        opt.update(model, grads)
        return nnx.split((model, opt))[1], _unused, value

    out["flax_nnx_split"] = Stepper(
        jax.jit(split_step, donate_argnums=(0,)), nnx_state, None, x, y
    )
    return out


# ------------------------------------------------------------------- same computation


def check_same_computation(steppers, sizes, activation, loss_fn, x, y, key):
    """Optimized-HLO op counts / flops of raw vs jnn, and equal loss+grads on equal params."""
    raw, ours = steppers["raw_jax"], steppers["jnn"]
    s_raw = compiled_stats(raw.step, *raw.args())
    s_jnn = compiled_stats(ours.step, *ours.args())
    ops = sorted(set(s_raw["ops"]) | set(s_jnn["ops"]))
    rows = [[op, str(s_raw["ops"][op]), str(s_jnn["ops"][op])] for op in ops]
    rows.append(["TOTAL ops", str(sum(s_raw["ops"].values())), str(sum(s_jnn["ops"].values()))])
    rows.append(["flops", f"{s_raw['flops']:.4g}", f"{s_jnn['flops']:.4g}"])
    print_table(["optimized HLO", "raw_jax", "jnn"], rows,
                title=f"same computation? {'-'.join(map(str, sizes))}, batch {x.shape[0]}")
    same = s_raw["ops"] == s_jnn["ops"] and s_raw["flops"] == s_jnn["flops"]
    print(f"identical op counts and flops: {same}")

    # Same values: jnn params copied into the raw layout give the same loss and grads.
    model = jnn_model(sizes, activation)
    params, state = model.init(key, x)
    raw_params = [(p["kernel"], p["bias"]) for p in params if p]
    lv_j, g_j = jax.value_and_grad(lambda p: loss_fn(model.apply(p, state, x)[0], y))(params)
    lv_r, g_r = jax.value_and_grad(lambda p: loss_fn(raw_predict(activation)(p, x), y))(
        raw_params
    )
    g_j = [(g["kernel"], g["bias"]) for g in g_j if g]
    err = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(g_j),
                                                                jax.tree.leaves(g_r)))
    print(f"same params -> loss {float(lv_j):.6f} (jnn) vs {float(lv_r):.6f} (raw), "
          f"max |grad diff| = {err:.2e}")
    return same


# ------------------------------------------------------------------- dispatch detail


def pytree_detail(steppers, quick, rounds):
    """What the per-call pytree work costs: flatten + unflatten of (params, opt_state).

    ``jax.jit`` flattens the arguments and unflattens the results on every call (in C++),
    so this is the part of the dispatch cost that depends on the params' container types.
    ``jnn_no_empty`` is jnn's tree with the ``{}`` entries of the activations removed;
    ``raw_jax_dicts`` the raw tree with ``{"kernel", "bias"}`` dicts instead of tuples.
    """
    optimizer = optax.adam(LEARNING_RATE)
    trees = {n: (s.params, s.opt_state) for n, s in steppers.items() if isinstance(s, Stepper)}
    no_empty = [p for p in steppers["jnn"].params if p]
    trees["jnn_no_empty"] = (no_empty, optimizer.init(no_empty))

    def round_trip(tree):
        leaves, treedef = jax.tree.flatten(tree)
        return lambda: jax.tree.unflatten(treedef, jax.tree.leaves(tree))

    rows = []
    for name, tree in trees.items():
        leaves, treedef = jax.tree.flatten(tree)
        rows.append([name, str(len(leaves)), str(treedef.num_nodes)])
    print_table(["tree", "leaves", "nodes"], rows, title="(params, opt_state) trees")
    return compare(
        {n: round_trip(t) for n, t in trees.items()}, "raw_jax", rounds=rounds, quick=quick,
        target_sample_s=0.01,
        title="flatten + unflatten of (params, opt_state), as jax.jit does per call",
    )


# ------------------------------------------------------------------------------- main


def select(steppers, names):
    if not names:
        return steppers
    unknown = set(names) - set(steppers)
    if unknown:
        raise SystemExit(f"unknown candidates {sorted(unknown)}; choose from {sorted(steppers)}")
    keep = {"raw_jax", "jnn", "raw_jax_dicts", *names}
    return {n: s for n, s in steppers.items() if n in keep}


def time_compiles(steppers, title):
    times = {}
    for name, s in steppers.items():
        if isinstance(s, Stepper):
            times[name] = compile_time(s.step, *s.args())
    print_compile_times(times, title=title)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run (few rounds)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--batches", type=int, nargs="+", default=None,
                        help="batch sizes of the big MLP (default 128 1024; quick: 128)")
    parser.add_argument("--tiny-steps", type=int, default=None, help="steps per loop (1000)")
    parser.add_argument("--tiny-rounds", type=int, default=None,
                        help="rounds for the tiny loop (default: --rounds)")
    parser.add_argument("--detail", action="store_true",
                        help="also time the per-call pytree work of each params layout")
    parser.add_argument("--candidates", nargs="+", default=None,
                        help="time only these (raw_jax and jnn are always included)")
    parser.add_argument("--chunk", type=int, default=CHUNK,
                        help="steps per timed call in the tiny loop")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-tiny", action="store_true")
    args = parser.parse_args(argv)
    quick = args.quick or is_quick([])
    key = jax.random.key(0)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, "
          f"{os.cpu_count()} CPUs{' [quick]' if quick else ''}")
    summary = []

    if not args.skip_big:
        for batch in args.batches or ([128] if quick else [128, 1024]):
            x, y = mnist_like(batch)
            steppers = select(build(BIG, jax.nn.relu, softmax_xent, x, y, key), args.candidates)
            check_same_computation(steppers, BIG, jax.nn.relu, softmax_xent, x, y, key)
            if not quick:
                time_compiles(steppers, f"compile time, batch {batch} (nnx.jit not listed)")
            res = compare(
                steppers, "raw_jax", rounds=args.rounds, quick=quick,
                title=f"784-512-512-10 ReLU MLP, one Adam step, batch {batch} (ms/step)",
            )
            summary.append((f"MLP step, batch {batch}", res))

    if not args.skip_tiny:
        steps = args.tiny_steps or (100 if quick else 1000)
        chunk = min(steps, args.chunk)
        x, y = spirals()
        steppers = select(build(TINY, jnp.tanh, sigmoid_bce, x, y, key, args.detail),
                          args.candidates)
        check_same_computation(steppers, TINY, jnp.tanh, sigmoid_bce, x, y, key)

        def loop(fn):
            def run():
                for _ in range(chunk):
                    out = fn()
                return out

            return run

        # One sample = `steps` steps in a Python loop (blocking every CHUNK steps, which
        # costs nothing measurable); flax_nnx is ~10x slower, so it gets one chunk only.
        number = {n: (1 if n == "flax_nnx" else steps // chunk) for n in steppers}
        res = compare(
            {name: loop(fn) for name, fn in steppers.items()}, "raw_jax",
            rounds=args.tiny_rounds or args.rounds, quick=quick, number=number,
            title=f"2-32-32-1 tanh MLP on spirals, {steps} jitted steps in a Python loop "
            f"(ms per {chunk} steps)",
        )
        for r in res.values():
            r["per_step_us"] = r["median_s"] / chunk * 1e6
        summary.append((f"tiny MLP loop ({steps} steps)", res))
        if args.detail:
            pytree_detail(steppers, quick, args.rounds)

    rows = []
    for label, res in summary:
        for name, r in res.items():
            per = (f"{r['per_step_us']:.1f} us" if "per_step_us" in r
                   else f"{r['median_s'] * 1e3:.3f} ms")
            rows.append([label, name, per, f"{r['ratio']:.3f}",
                         f"{r['ratio_paired']:.3f} [{r['ratio_q1']:.3f}-{r['ratio_q3']:.3f}]"])
    print_table(["workload", "candidate", "per step", "ratio to raw", "paired ratio [IQR]"],
                rows,
                title="summary (targets: jnn <= 1.05x at batch 1024, <= 1.10x at 128 and tiny)")
    return summary


if __name__ == "__main__":
    main()
