"""One training step of ResNet-20 on CIFAR-shaped data: jnn vs Flax Linen vs raw ``jax.lax``.

The workload: ``jnn.models.ResNet20()`` (3 stages of 3 basic blocks, 16/32/64 channels,
BatchNorm with momentum 0.9, 1x1 projection shortcuts when downsampling), random
32x32x3 images and 10-class integer labels, softmax cross-entropy, and one jitted step:
``value_and_grad`` through the model in training mode (batch statistics; the new running
averages are returned), then an ``optax.sgd(0.1, momentum=0.9)`` update. Params, state and
optimizer state are donated in every candidate.

Candidates (all with the same architecture, initial values, data and optimizer):

- ``flax_linen`` (baseline): the same network written as Flax Linen modules
  (``nn.Conv``, ``nn.BatchNorm``, ``nn.Dense``), ``mutable=["batch_stats"]``.
- ``jnn``: ``ResNet20().apply(params, state, x, train=True)``.
- ``raw_jax``: hand-written ``jax.lax.conv_general_dilated`` and batch norm on plain
  dicts (the Flax variables), the lower bound of what any library can do. Its batch
  variance is one-pass, ``max(mean(x^2) - mean^2, 0)``, as in jnn's ``BatchNorm`` and
  Flax's ``nn.BatchNorm`` by default (``fast_variance`` / ``use_fast_variance``).
- ``raw_jax_two_pass`` (with ``--detail``): the same with the two-pass variance
  ``mean((x - mean)^2)`` (jnn's ``BatchNorm(fast_variance=False)``), to show what the
  variance algorithm costs.

Before timing, the benchmark checks that the three give the same loss and gradients for
the same values, and prints the op counts and flops of the optimized XLA programs.

    python benchmarks/bench_resnet.py              # batch 128, 5 rounds (minutes on 2 cores)
    python benchmarks/bench_resnet.py --batch 128 --detail --rounds 41   # the reported ratio
    python benchmarks/bench_resnet.py --batch 32   # smaller batch
    python benchmarks/bench_resnet.py --quick      # smoke run: batch 8, 3 rounds

Measured (2 shared CPU cores, jax 0.10.2, ``--batch 128 --detail --rounds 41``), paired
ratio to flax_linen [IQR]: jnn 1.007 [0.931-1.101], raw_jax 1.028 [0.933-1.124],
raw_jax_two_pass 1.102 [0.981-1.183]. Before ``BatchNorm`` computed the one-pass
variance by default, jnn (then two-pass) measured 1.06-1.15x.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import (  # noqa: E402
    compare,
    compile_time,
    compiled_stats,
    is_quick,
    print_compile_times,
    print_table,
)

from jnn.models import ResNet20  # noqa: E402

NUM_CLASSES = 10
WIDTH = 16
MOMENTUM = 0.9  # BatchNorm running-average decay, the same in all three
EPSILON = 1e-5
he_normal = jax.nn.initializers.he_normal()


# ------------------------------------------------------------------------------ data


def cifar_like(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, NUM_CLASSES, size=batch).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def xent(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


# ------------------------------------------------------------------------ Flax Linen


class LinenBlock(nn.Module):
    features: int
    strides: int

    @nn.compact
    def __call__(self, x, train):
        norm = lambda name: nn.BatchNorm(use_running_average=not train, momentum=MOMENTUM,
                                         epsilon=EPSILON, name=name)
        conv = lambda f, k, s, name: nn.Conv(f, (k, k), (s, s), padding=k // 2, use_bias=False,
                                             kernel_init=he_normal, name=name)
        y = nn.relu(norm("bn1")(conv(self.features, 3, self.strides, "conv1")(x)))
        y = norm("bn2")(conv(self.features, 3, 1, "conv2")(y))
        if self.strides != 1 or x.shape[-1] != self.features:
            x = norm("proj_bn")(conv(self.features, 1, self.strides, "proj")(x))
        return nn.relu(y + x)


class LinenResNet20(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Conv(WIDTH, (3, 3), padding=1, use_bias=False, kernel_init=he_normal,
                    name="stem_conv")(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=MOMENTUM,
                                 epsilon=EPSILON, name="stem_bn")(x))
        for i, (features, strides) in enumerate(block_plan()):
            x = LinenBlock(features, strides, name=f"block{i}")(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(NUM_CLASSES, name="head")(x)


def block_plan():
    """(features, strides) of the nine blocks of ResNet-20."""
    return [(WIDTH * 2**i, 2 if i > 0 and j == 0 else 1) for i in range(3) for j in range(3)]


# ---------------------------------------------------------------- jnn -> Flax layout


def to_linen(params, state):
    """jnn ResNet20 params/state (nested lists) -> Flax {"params", "batch_stats"} dicts."""
    p = {"stem_conv": params[0], "stem_bn": params[1], "head": params[13]}
    s = {"stem_bn": state[1]}
    for i in range(9):
        block_p, block_s = params[3 + i][0], state[3 + i][0]
        body, short = block_p["block"], block_p["shortcut"]
        p[f"block{i}"] = {"conv1": body[0], "bn1": body[1], "conv2": body[3], "bn2": body[4]}
        s[f"block{i}"] = {"bn1": block_s["block"][1], "bn2": block_s["block"][4]}
        if short:
            p[f"block{i}"] |= {"proj": short[0], "proj_bn": short[1]}
            s[f"block{i}"]["proj_bn"] = block_s["shortcut"][1]
    return {"params": p, "batch_stats": s}


# ---------------------------------------------------------------------------- raw lax


def raw_conv(x, w, stride):
    k = w.shape[0] // 2
    return jax.lax.conv_general_dilated(x, w, (stride, stride), ((k, k), (k, k)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def raw_bn(x, p, s, one_pass=True):
    """Training-mode batch norm: batch statistics out, updated running averages back.

    The variance is one-pass, ``mean(x^2) - mean^2`` clipped at 0 (the default of jnn's
    ``BatchNorm`` and of Flax's), or without ``one_pass`` two-pass, ``mean((x - mean)^2)``.
    """
    mean = jnp.mean(x, axis=(0, 1, 2))
    if one_pass:
        var = jnp.maximum(jnp.mean(jnp.square(x), axis=(0, 1, 2)) - jnp.square(mean), 0.0)
    else:
        var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
    y = (x - mean) * jax.lax.rsqrt(var + EPSILON) * p["scale"] + p["bias"]
    new = {"mean": MOMENTUM * s["mean"] + (1 - MOMENTUM) * mean,
           "var": MOMENTUM * s["var"] + (1 - MOMENTUM) * var}
    return y, new


def raw_forward(params, stats, x, one_pass=True):
    bn = lambda x_, p, s: raw_bn(x_, p, s, one_pass)
    new = {}
    x, new["stem_bn"] = bn(raw_conv(x, params["stem_conv"]["kernel"], 1), params["stem_bn"],
                           stats["stem_bn"])
    x = jax.nn.relu(x)
    for i, (_, strides) in enumerate(block_plan()):
        p, s, n = params[f"block{i}"], stats[f"block{i}"], {}
        y, n["bn1"] = bn(raw_conv(x, p["conv1"]["kernel"], strides), p["bn1"], s["bn1"])
        y, n["bn2"] = bn(raw_conv(jax.nn.relu(y), p["conv2"]["kernel"], 1), p["bn2"], s["bn2"])
        if "proj" in p:
            x, n["proj_bn"] = bn(raw_conv(x, p["proj"]["kernel"], strides), p["proj_bn"],
                                 s["proj_bn"])
        x, new[f"block{i}"] = jax.nn.relu(y + x), n
    logits = jnp.mean(x, axis=(1, 2)) @ params["head"]["kernel"] + params["head"]["bias"]
    return logits, new


# ------------------------------------------------------------------------- the steps


def make_step(loss_with_state, optimizer):
    """A donated, jitted SGD-momentum step for ``loss_with_state(params, state, x, y)``."""

    def step(params, state, opt_state, x, y):
        (loss, state), grads = jax.value_and_grad(loss_with_state, has_aux=True)(
            params, state, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    return jax.jit(step, donate_argnums=(0, 1, 2))


model = ResNet20(num_classes=NUM_CLASSES, width=WIDTH)
linen = LinenResNet20()


def jnn_loss(params, state, x, y):
    logits, state = model.apply(params, state, x, train=True)
    return xent(logits, y), state


def linen_loss(params, stats, x, y):
    logits, updates = linen.apply({"params": params, "batch_stats": stats}, x, train=True,
                                  mutable=["batch_stats"])
    return xent(logits, y), updates["batch_stats"]


def raw_loss(params, stats, x, y):
    logits, stats = raw_forward(params, stats, x)
    return xent(logits, y), stats


def raw_two_pass_loss(params, stats, x, y):
    logits, stats = raw_forward(params, stats, x, one_pass=False)
    return xent(logits, y), stats


LOSSES = {"flax_linen": linen_loss, "jnn": jnn_loss, "raw_jax": raw_loss,
          "raw_jax_two_pass": raw_two_pass_loss}


class Stepper:
    """Holds (params, state, opt_state) and advances them one jitted step per call."""

    def __init__(self, step, params, state, opt_state, x, y):
        self.step = step
        self.params, self.state, self.opt_state, self.x, self.y = params, state, opt_state, x, y

    def __call__(self):
        self.params, self.state, self.opt_state, loss = self.step(*self.args())
        return loss

    def args(self):
        return self.params, self.state, self.opt_state, self.x, self.y


def initial_values(x):
    """One set of initial values, in jnn's layout and in Flax's (shared by raw_jax)."""
    params, state = jax.jit(model.init)(jax.random.key(0), x)
    variables = to_linen(params, state)
    # The mapping must cover Flax's own init exactly (same names, same shapes).
    reference = jax.eval_shape(lambda k, x_: linen.init(k, x_, train=False), jax.random.key(0), x)
    same = jax.tree.map(lambda a, b: a.shape == b.shape, variables, reference)
    assert all(jax.tree.leaves(same)), "jnn -> Flax mapping does not match Flax's init"
    return params, state, variables


def copy(tree):
    return jax.tree.map(jnp.array, tree)  # fresh buffers: each candidate donates its own


def build(x, y):
    optimizer = optax.sgd(0.1, momentum=0.9)
    params, state, variables = initial_values(x)
    out = {}
    for name, loss in LOSSES.items():
        if name == "jnn":
            p, s = copy(params), copy(state)
        else:
            p, s = copy(variables["params"]), copy(variables["batch_stats"])
        out[name] = Stepper(make_step(loss, optimizer), p, s, optimizer.init(p), x, y)
    return out, (params, state, variables)


# ------------------------------------------------------------------- same computation


def check_same_values(values, x, y, names):
    """Same loss, gradients and new statistics for the same values, in every candidate."""
    params, state, variables = values
    results = {}
    for name in names:
        loss = LOSSES[name]
        args = (params, state) if name == "jnn" else (variables["params"],
                                                      variables["batch_stats"])
        (value, new_state), grads = jax.jit(
            jax.value_and_grad(loss, has_aux=True))(*args, x, y)
        if name == "jnn":
            converted = to_linen(grads, new_state)
            grads, new_state = converted["params"], converted["batch_stats"]
        results[name] = (value, grads, new_state)
    rows = []
    base_value, base_grads, base_state = results["flax_linen"]
    for name, (value, grads, new_state) in results.items():
        g_err = max(float(jnp.max(jnp.abs(a - b)))
                    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(base_grads)))
        s_err = max(float(jnp.max(jnp.abs(a - b)))
                    for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(base_state)))
        rows.append([name, f"{float(value):.6f}", f"{g_err:.2e}", f"{s_err:.2e}"])
    print_table(["candidate", "loss", "max |grad - linen|", "max |stats - linen|"], rows,
                title="same values in, same values out?")


def check_same_computation(steppers):
    stats = {name: compiled_stats(s.step, *s.args()) for name, s in steppers.items()}
    ops = sorted(set().union(*(s["ops"] for s in stats.values())))
    names = list(stats)
    rows = [[op, *(str(stats[n]["ops"][op]) for n in names)] for op in ops]
    rows.append(["TOTAL ops", *(str(sum(stats[n]["ops"].values())) for n in names)])
    rows.append(["flops", *(f"{stats[n]['flops']:.4g}" for n in names)])
    print_table(["optimized HLO", *names], rows, title="optimized XLA programs")


# ------------------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 8, 3 rounds")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 128)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (5)")
    parser.add_argument("--skip-raw", action="store_true", help="leave out raw_jax")
    parser.add_argument("--detail", action="store_true",
                        help="also time raw_jax_two_pass (two-pass BN variance)")
    args = parser.parse_args(argv)
    quick = args.quick or is_quick([])
    batch = args.batch or (8 if quick else 128)
    rounds = args.rounds or (3 if quick else 5)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs, "
          f"ResNet-20, batch {batch}{' [quick]' if quick else ''}")

    x, y = cifar_like(batch)
    steppers, values = build(x, y)
    if args.skip_raw:
        del steppers["raw_jax"]
    if not args.detail:
        del steppers["raw_jax_two_pass"]
    check_same_values(values, x, y, list(steppers))
    check_same_computation(steppers)
    print_compile_times({n: compile_time(s.step, *s.args()) for n, s in steppers.items()},
                        title="compile time (separate from the step times)")
    res = compare(steppers, "flax_linen", rounds=rounds, number=1, quick=quick,
                  title=f"ResNet-20 training step, batch {batch} (ms/step)")
    rows = [[name, f"{r['median_s'] * 1e3:.1f} ms", f"{r['ratio']:.3f}",
             f"{r['ratio_q1']:.3f}-{r['ratio_q3']:.3f}"] for name, r in res.items()]
    print_table(["candidate", "per step", "ratio to flax_linen", "paired IQR"], rows,
                title="summary (target: jnn <= 1.05x flax_linen)")
    return res


if __name__ == "__main__":
    main()
