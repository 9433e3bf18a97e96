"""jnn.optim against optax: every optimizer, same math, same step, timed side by side.

Two workloads, float32, each jnn optimizer against optax's optimizer of the same name
with matching hyperparameters (so both compute the same update):

1. **Training step**: a 784-512-512-10 ReLU MLP written in raw JAX (no jnn.layers),
   softmax cross-entropy, batch 128; one jitted step = ``value_and_grad`` + ``update`` +
   ``apply_updates``, params and optimizer state donated.
2. **Optimizer only**: ``update`` + ``apply_updates`` on a 10M-parameter tree with fixed
   gradients (the optimizer's own memory traffic, nothing else).

``adam_mini`` has no optax counterpart and is shown against ``optax.adam``. ``lbfgs``
runs its zoom line search on the full (fixed) batch in both libraries; since the number of
line-search evaluations depends on where a run is, each timed call runs the same
``LBFGS_STEPS`` steps from the same start (one jitted ``lax.scan``), so both libraries
repeat identical work, and the losses they reach are printed. The table at the
end lists every ratio (jnn median / optax median; target <= 1.05) and compares the flops
and bytes accessed of the two optimized XLA programs (deterministic, where timings on a
shared machine are not).

    python benchmarks/bench_optim.py            # full run
    python benchmarks/bench_optim.py --quick    # CI smoke run
    python benchmarks/bench_optim.py adam lion  # a subset
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jnn.optim as jo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import compare, compiled_stats, is_quick, print_table  # noqa: E402

# name -> (jnn optimizer, optax optimizer with the same math)
PAIRS = {
    "sgd": (lambda: jo.sgd(1e-2), lambda: optax.sgd(1e-2)),
    "momentum": (lambda: jo.momentum(1e-2, 0.9), lambda: optax.sgd(1e-2, momentum=0.9)),
    "nesterov": (lambda: jo.nesterov(1e-2, 0.9),
                 lambda: optax.sgd(1e-2, momentum=0.9, nesterov=True)),
    "adagrad": (lambda: jo.adagrad(1e-2, initial_accumulator_value=0.1, eps_in_sqrt=True),
                lambda: optax.adagrad(1e-2)),
    "rmsprop": (lambda: jo.rmsprop(1e-3, eps_in_sqrt=True), lambda: optax.rmsprop(1e-3)),
    "adadelta": (lambda: jo.adadelta(1.0), lambda: optax.adadelta(1.0)),
    "adam": (lambda: jo.adam(1e-3), lambda: optax.adam(1e-3)),
    "nadam": (lambda: jo.nadam(1e-3), lambda: optax.nadam(1e-3)),
    "amsgrad": (lambda: jo.amsgrad(1e-3), lambda: optax.amsgrad(1e-3)),
    "adamw": (lambda: jo.adamw(1e-3, weight_decay=1e-4),
              lambda: optax.adamw(1e-3, weight_decay=1e-4, mask=jo.weights_mask)),
    "lion": (lambda: jo.lion(1e-4, weight_decay=1e-3, mask=None),
             lambda: optax.lion(1e-4, weight_decay=1e-3)),
    "rprop": (lambda: jo.rprop(1e-3), lambda: optax.rprop(1e-3)),
    "adam_mini": (lambda: jo.adam_mini(1e-3), lambda: optax.adam(1e-3)),
    "lbfgs": (lambda: jo.lbfgs(), lambda: optax.lbfgs()),
}
NEEDS_LOSS = {"lbfgs"}


def mlp_params(key, sizes=(784, 512, 512, 10)):
    params = []
    for k, (n_in, n_out) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes, sizes[1:])):
        w = jax.random.normal(k, (n_in, n_out), jnp.float32) * jnp.sqrt(2.0 / n_in)
        params.append({"kernel": w, "bias": jnp.zeros((n_out,), jnp.float32)})
    return params


def mlp_loss(params, x, y):
    h = x
    for layer in params[:-1]:
        h = jax.nn.relu(h @ layer["kernel"] + layer["bias"][None, :])
    logits = h @ params[-1]["kernel"] + params[-1]["bias"][None, :]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def training_step(opt, needs_loss):
    def step(params, state, x, y):
        value, grads = jax.value_and_grad(mlp_loss)(params, x, y)
        if needs_loss:
            updates, state = opt.update(grads, state, params, value=value, grad=grads,
                                        value_fn=mlp_loss, x=x, y=y)
        else:
            updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    return jax.jit(step, donate_argnums=(0, 1))


LBFGS_STEPS = 10


def restarting_steps(opt):
    """``LBFGS_STEPS`` steps from the same start on every call (nothing donated)."""
    step = training_step(opt, needs_loss=True).__wrapped__

    def run(params, state, x, y):
        def body(carry, _):
            p, s = carry
            p, s, value = step(p, s, x, y)
            return (p, s), value

        _, values = jax.lax.scan(body, (params, state), None, length=LBFGS_STEPS)
        return values[-1]

    return jax.jit(run)


def update_only(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def big_tree(key):
    """About 10M float32 parameters in a few leaves of MLP-like shapes."""
    shapes = {"w1": (2048, 2048), "w2": (2048, 2048), "w3": (1024, 1600), "b1": (2048,),
              "b2": (2048,), "b3": (1600,)}
    keys = jax.random.split(key, len(shapes))
    return {n: jax.random.normal(k, s, jnp.float32) * 0.01
            for k, (n, s) in zip(keys, sorted(shapes.items()))}


class Runner:
    """Holds donated params/state between calls of a jitted step."""

    def __init__(self, step, params, state, *args):
        self.step, self.args = step, args
        self.params = jax.tree.map(jnp.copy, params)
        # optax.lbfgs's init shares one zero buffer between two fields: copy every leaf
        # so that donation never sees the same buffer twice.
        self.state = jax.tree.map(jnp.copy, state)

    def __call__(self):
        out = self.step(self.params, self.state, *self.args)
        self.params, self.state = out[0], out[1]
        return out


def cost(step, params, state, *args):
    """(flops, bytes accessed) of the optimized XLA program: deterministic, unlike timings."""
    stats = compiled_stats(step, params, state, *args)
    return stats["flops"], stats["bytes_accessed"]


def describe(jnn_cost, optax_cost):
    parts = []
    for what, a, b in zip(("flops", "bytes"), jnn_cost, optax_cost):
        parts.append(f"{what} same" if a == b else f"{what} x{a / b:.2f}")
    return ", ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=sorted(PAIRS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--skip-big", action="store_true", help="skip the 10M-param workload")
    args = parser.parse_args()
    quick = is_quick()
    print(f"jax {jax.__version__}, optax {optax.__version__}, backend {jax.default_backend()}, "
          f"devices {jax.devices()}")

    key = jax.random.key(0)
    k_params, k_x, k_y, k_big = jax.random.split(key, 4)
    params = mlp_params(k_params)
    x = jax.random.normal(k_x, (128, 784), jnp.float32)
    y = jax.random.randint(k_y, (128,), 0, 10)
    big = big_tree(k_big)
    big_grads = jax.tree.map(lambda p: 0.1 * jnp.sin(p * 100.0), big)
    n_big = sum(p.size for p in jax.tree.leaves(big))

    summary = []
    for name in args.names:
        make_jnn, make_optax = PAIRS[name]
        needs_loss = name in NEEDS_LOSS
        row = [name]
        for workload in ("train", "update"):
            if workload == "update" and (args.skip_big or needs_loss):
                row += ["-", "-"]
                continue
            runners, fl = {}, {}
            for lib, make in (("jnn", make_jnn), ("optax", make_optax)):
                opt = make()
                if workload == "train" and needs_loss:
                    step = restarting_steps(opt)
                    state = opt.init(params)
                    fl[lib] = cost(step, params, state, x, y)
                    runners[lib] = functools.partial(step, params, state, x, y)
                    print(f"{name} ({lib}): loss after {LBFGS_STEPS} steps "
                          f"{float(runners[lib]()):.6f}")
                elif workload == "train":
                    step = training_step(opt, needs_loss)
                    state = opt.init(params)
                    fl[lib] = cost(step, params, state, x, y)
                    runners[lib] = Runner(step, params, state, x, y)
                else:
                    step = update_only(opt)
                    state = opt.init(big)
                    fl[lib] = cost(step, big, state, big_grads)
                    runners[lib] = Runner(step, big, state, big_grads)
            what = ("MLP 784-512-512-10 training step, batch 128" if workload == "train"
                    else f"update only, {n_big / 1e6:.1f}M params")
            title = f"{name}: {what}"
            res = compare(runners, "optax", title=title, rounds=args.rounds, quick=quick)
            ratio = res["jnn"]["ratio"]
            paired = f"{res['jnn']['ratio_q1']:.3f}-{res['jnn']['ratio_q3']:.3f}"
            row += [f"{ratio:.3f} ({paired})", describe(fl["jnn"], fl["optax"])]
        summary.append(row)

    print_table(
        ["optimizer", "MLP step ratio (paired IQR)", "MLP program (jnn/optax)",
         "10M update ratio", "10M program (jnn/optax)"],
        summary,
        title="jnn / optax, median time ratio (target <= 1.05); adam_mini is vs optax.adam",
    )
    worst = [r for r in summary if r[1] != "-" and float(r[1].split()[0]) > 1.05]
    if worst:
        print("above 1.05 on the MLP step:", ", ".join(r[0] for r in worst))
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
