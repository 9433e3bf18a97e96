"""Data parallelism on a device mesh: jnn's step vs hand-written NamedSharding and shard_map.

Runs on 8 devices: on a CPU they are forced (``--xla_force_host_platform_device_count=8``,
set below before JAX starts, so all 8 share the machine's cores); on a GPU/TPU host the
real devices are used (``--devices`` picks how many).

Workload: one Adam step (``optax.adam(1e-3)``) of a 784-512-512-10 ReLU MLP, softmax
cross-entropy with integer labels, float32, global batch ``per_device x devices``
(default 128 per device; params and optimizer state replicated, donated each step).

Candidates, all on the same mesh, data and initial params:

- ``raw_named`` (baseline): params a list of ``(W, b)``, a hand-written apply, one
  ``jax.jit`` with explicit ``in_shardings``/``out_shardings`` (``NamedSharding``:
  params replicated, batch split along ``'data'``); XLA inserts the gradient all-reduce.
- ``raw_shard_map``: the same step in ``jax.shard_map``: each device computes the loss and
  gradient of its local shard (params ``pcast`` to device-varying) and ``lax.pmean``
  averages them (the explicit SPMD form, as with ``pmap``).
- ``raw_named_xg``: ``raw_named`` with the kernel gradient written as ``dot(x, g)`` (a
  ``custom_vjp`` matmul): the check of the diagnosis below.
- ``jnn``: ``Sequential([Dense(512), relu, Dense(512), relu, Dense(10)])``, placement with
  ``jnn.parallel.replicate``/``shard_batch`` and ``fit``'s own step
  (``jnn.train._fit._make_step``: the minibatch constrained to ``P('data')``, model
  ``apply(train=True)``, ``jnn.losses.softmax_cross_entropy``, ``optax`` update, the
  non-finite guard), jitted alone.
- ``jnn_shard_map``: the same with ``fit(parallel="shard_map")``'s step.

Whole epochs (what a user runs): ``fit``'s compiled epoch (``jnn.train._fit._make_epoch``,
the function ``fit`` calls once per epoch: shuffle, then a ``lax.scan`` of steps) with
``parallel="sharding"`` (default) and ``parallel="shard_map"``, against hand-written
scanned epochs with the NamedSharding step (``raw_named epoch``, baseline) and the
shard_map + pmean step (``raw_shard_map epoch``): same data, same shuffle, same number of
steps (``--steps``, default 8), interleaved rounds; per-step time = epoch time / steps.

Why the shard_map step is faster on forced CPU devices (same op counts and flops): JAX
differentiates ``x @ W`` into ``dot(g, x)`` of shape (out, in) followed by a transpose.
Under shard_map the whole local backward pass comes before the pmean, so XLA folds the
transpose into the dot and all-reduces (in, out) gradients. Under GSPMD the partitioner
puts the all-reduce right after the dot (where the partial sums arise), the transpose
lands after it, and every optimizer fusion then reads the reduced (out, in) gradient with
a transposed, strided access (the "all-reduced matrices" column shows the layouts). A
NamedSharding step whose kernel gradient is written as ``dot(x, g)`` directly matches the
shard_map step. ``fit(parallel="shard_map")`` gives jnn the shard_map form.

Also printed:

- the three steps' losses and updated params (they must agree to float32 rounding) and
  the compiled programs' op counts (jnn vs raw_named: the same collectives);
- weak scaling: jnn's step on all devices with ``devices x B`` examples vs on one device
  with ``B`` (the overhead factor is ``t_N / (N t_1)`` on a CPU, where all forced devices
  share the same cores, and ``t_N / t_1`` on real devices; 1.0 = no overhead);
- landscape throughput: ``jnn.landscape.plane`` on a ``G x G`` grid of an MLP 784-128-10
  (1,024 samples), points/s with ``mesh=`` (points split over the devices) and without.

Target (issue 9): jnn ≤ 1.05x the hand-written step (paired ratio); for whole epochs,
fit ≤ 1.05x the hand-written epoch of the same form.

    python benchmarks/bench_parallel.py             # full run (minutes on 2 CPU cores)
    python benchmarks/bench_parallel.py --quick     # CI smoke run
    python benchmarks/bench_parallel.py --per-device 256 --rounds 41
"""

from __future__ import annotations

import os
import sys

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    devices_flag = next((a.split("=")[1] for a in sys.argv if a.startswith("--devices=")), "8")
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + f" --xla_force_host_platform_device_count={devices_flag}")

import argparse  # noqa: E402
import collections  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import compare, compiled_stats, is_quick, print_table  # noqa: E402

import jnn  # noqa: E402
import jnn.parallel  # noqa: E402
from jnn.layers import Dense, Sequential  # noqa: E402

SIZES = (784, 512, 512, 10)
LEARNING_RATE = 1e-3


# ------------------------------------------------------------------------------- data


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], n).astype(np.int32)
    return x, y


# ----------------------------------------------------------------------------- raw JAX


def raw_loss(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    logp = jax.nn.log_softmax(h)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


@jax.custom_vjp
def matmul_xg(h, w):
    """``h @ w`` whose kernel gradient is ``dot(h, g)`` contracted over the batch, already
    (in, out): no transpose after the all-reduce (the diagnosis above)."""
    return h @ w


def _matmul_xg_fwd(h, w):
    return h @ w, (h, w)


def _matmul_xg_bwd(res, g):
    h, w = res
    return g @ w.T, jax.lax.dot_general(h, g, (((0,), (0,)), ((), ())))


matmul_xg.defvjp(_matmul_xg_fwd, _matmul_xg_bwd)


def raw_loss_xg(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = matmul_xg(h, w) + b
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    logp = jax.nn.log_softmax(h)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def raw_named_step(mesh, optimizer, loss_fn=raw_loss):
    rep, batch = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step, in_shardings=(rep, rep, batch, batch),
                   out_shardings=(rep, rep, rep), donate_argnums=(0, 1))


def raw_shard_map_step(mesh, optimizer):
    def local(params, opt_state, x, y):
        # The classic data-parallel idiom: each device differentiates its local mean loss
        # (params cast to device-varying, so the gradient stays local), then pmean.
        local_params = jax.lax.pcast(params, "data", to="varying")
        loss, grads = jax.value_and_grad(raw_loss)(local_params, x, y)
        grads, loss = jax.lax.pmean((grads, loss), "data")
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    sharded = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P("data"), P("data")),
                            out_specs=(P(), P(), P()))
    return jax.jit(sharded, donate_argnums=(0, 1))


# --------------------------------------------------------------------------------- jnn


MODEL = Sequential([Dense(SIZES[1]), jax.nn.relu, Dense(SIZES[2]), jax.nn.relu,
                    Dense(SIZES[3])])


def jnn_step(optimizer, mesh, local=False):
    """``jnn.train.fit``'s own step (``jnn.train._fit._make_step``: the body of its scanned
    epoch: the minibatch split over ``'data'``, apply in training mode, loss, optax update,
    the non-finite guard), jitted alone; ``local=True`` is ``fit(parallel="shard_map")``."""
    from jnn.mixed_precision import NoLossScale
    from jnn.train._fit import _make_step

    step = _make_step(MODEL, optimizer, jnn.losses.softmax_cross_entropy, (), None,
                      NamedSharding(mesh, P("data")), False, local)

    def one(params, state, opt_state, x, y):
        carry = (params, state, opt_state, jnp.array(True), NoLossScale())
        (params, state, opt_state, _, _), (loss, _) = step(carry, ((x, y), jax.random.key(0)))
        return params, state, opt_state, loss

    return jax.jit(one, donate_argnums=(0, 1, 2))


def to_raw(params):
    return [(p["kernel"], p["bias"]) for p in params if p]


# ---------------------------------------------------------------------------- helpers


class Stepper:
    """A zero-argument callable running one step in place (donated buffers carried on)."""

    def __init__(self, step, carry, batch, n_carry):
        self.step, self.carry, self.batch, self.n_carry = step, carry, batch, n_carry

    def __call__(self):
        out = self.step(*self.carry, *self.batch)
        self.carry = out[: self.n_carry]
        return out[-1]


COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "collective-permute", "all-to-all")
_COLLECTIVE_RE = re.compile(r"\b(" + "|".join(COLLECTIVES) + r")(?:-start)?\(")


def op_counts(step, *args):
    """Collectives (read from the HLO text: a combined all-reduce returns a tuple, which
    ``compiled_stats`` does not parse), dots and fusions of the optimized program."""
    text = step.lower(*args).compile().as_text()
    found = collections.Counter(_COLLECTIVE_RE.findall(text))
    stats = compiled_stats(step, *args)
    ops = stats["ops"]
    flops = stats["flops"]
    return {**{k: found.get(k, 0) for k in COLLECTIVES}, "dot": ops.get("dot", 0),
            "fusion": ops.get("fusion", 0),
            "GFLOP/device": "?" if flops is None else f"{flops / 1e9:.4f}",
            "all-reduced matrices": all_reduced_matrices(text)}


def all_reduced_matrices(hlo_text):
    """The 2-D operands of the gradient all-reduce, e.g. ``512x784``: a kernel gradient
    reduced as (out, in) is the transpose of the (in, out) kernel, and the optimizer's
    fusions then read it with a transposed (strided) access."""
    for line in hlo_text.splitlines():
        if " all-reduce(" in line or " all-reduce-start(" in line:
            result_type = line.split("=", 1)[1].split("all-reduce", 1)[0]
            return ",".join("x".join(m) for m in re.findall(r"\[(\d+),(\d+)\]", result_type))
    return "-"


# ------------------------------------------------------------------------------ parts


def bench_steps(mesh, per_device, rounds):
    n_dev = mesh.size
    x, y = make_data(per_device * n_dev)
    optimizer = optax.adam(LEARNING_RATE)
    # Host copies: every carry below is placed afresh (its buffers are donated).
    params, state = jax.tree.map(np.asarray, MODEL.init(jax.random.key(0), x[:1]))
    raw = to_raw(params)

    def raw_carry(opt=optimizer):
        p = jnn.parallel.replicate(raw, mesh)
        return [p, jnn.parallel.replicate(opt.init(p), mesh)]

    batch = jnn.parallel.shard_batch((x, y), mesh)
    named, smap, ours = raw_named_step(mesh, optimizer), raw_shard_map_step(mesh, optimizer), \
        jnn_step(optimizer, mesh)
    ours_local = jnn_step(optimizer, mesh, local=True)
    named_xg = raw_named_step(mesh, optimizer, raw_loss_xg)

    def jnn_carry(opt=optimizer):
        p = jnn.parallel.replicate(params, mesh)
        return [p, jnn.parallel.replicate(state, mesh),
                jnn.parallel.replicate(opt.init(p), mesh)]

    # Same start, one SGD step each: the same loss and params to float32 rounding. (SGD,
    # since Adam's first step g / (|g| + eps) magnifies the rounding of tiny gradients.)
    sgd = optax.sgd(0.1)
    p1, _, l1 = raw_named_step(mesh, sgd)(*raw_carry(sgd), *batch)
    p2, _, l2 = raw_shard_map_step(mesh, sgd)(*raw_carry(sgd), *batch)
    p3, _, _, l3 = jnn_step(sgd, mesh)(*jnn_carry(sgd), *batch)
    p4, _, _, l4 = jnn_step(sgd, mesh, local=True)(*jnn_carry(sgd), *batch)
    diff = lambda a, b: max(float(jnp.max(jnp.abs(u - v)))
                            for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    print_table(["check", "value"], [
        ["devices", str(n_dev)],
        ["global batch", str(x.shape[0])],
        ["loss raw_named / shard_map / jnn / jnn_shard_map",
         f"{float(l1):.6f} / {float(l2):.6f} / {float(l3):.6f} / {float(l4):.6f}"],
        ["SGD step: max |params diff| shard_map vs raw_named", f"{diff(p2, p1):.2e}"],
        ["SGD step: max |params diff| jnn vs raw_named", f"{diff(to_raw(p3), p1):.2e}"],
        ["SGD step: max |params diff| jnn_shard_map vs raw_shard_map",
         f"{diff(to_raw(p4), p2):.2e}"],
        ["jnn params sharding", str(p3[0]["kernel"].sharding.spec) + " on "
         + f"{len(p3[0]['kernel'].sharding.device_set)} devices"],
    ], title="one step from the same start")

    stats = {
        "raw_named": op_counts(named, *raw_carry(), *batch),
        "raw_shard_map": op_counts(smap, *raw_carry(), *batch),
        "raw_named_xg": op_counts(named_xg, *raw_carry(), *batch),
        "jnn": op_counts(ours, *jnn_carry(), *batch),
        "jnn_shard_map": op_counts(ours_local, *jnn_carry(), *batch),
    }
    keys = list(next(iter(stats.values())))
    print_table(["candidate", *keys], [[k, *map(str, v.values())] for k, v in stats.items()],
                title="optimized XLA program: op counts")

    results = compare(
        {
            "raw_named": Stepper(named, raw_carry(), batch, 2),
            "raw_shard_map": Stepper(smap, raw_carry(), batch, 2),
            "raw_named_xg": Stepper(named_xg, raw_carry(), batch, 2),
            "jnn": Stepper(ours, jnn_carry(), batch, 3),
            "jnn_shard_map": Stepper(ours_local, jnn_carry(), batch, 3),
        },
        "raw_named",
        rounds=rounds,
        title=f"Adam step, MLP {'-'.join(map(str, SIZES))}, batch {per_device} x {n_dev} "
              "devices",
    )
    return results


# ----------------------------------------------------------- whole epochs (what fit runs)


def raw_epoch(mesh, optimizer, batch_size, local):
    """A hand-written scanned epoch: shuffle into minibatches (``jnn.data.epoch_batches``,
    the same order ``fit`` uses for the same key), then one Adam step per minibatch in a
    ``lax.scan``, with the NamedSharding step (``local=False``: each minibatch constrained
    to ``P('data')``, XLA places the all-reduce) or the shard_map + pmean step."""
    batch = NamedSharding(mesh, P("data"))

    def global_step(carry, xy):
        params, opt_state = carry
        x, y = (jax.lax.with_sharding_constraint(a, batch) for a in xy)
        loss, grads = jax.value_and_grad(raw_loss)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def local_step(carry, x, y):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(raw_loss)(
            jax.lax.pcast(params, "data", to="varying"), x, y)
        grads, loss = jax.lax.pmean((grads, loss), "data")
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    mapped = jax.shard_map(local_step, mesh=mesh, in_specs=(P(), P("data"), P("data")),
                           out_specs=P())
    step = (lambda carry, xy: mapped(carry, *xy)) if local else global_step

    def epoch(params, opt_state, x, y, key):
        shuffle_key, _ = jax.random.split(key)
        xs, ys = jnn.data.epoch_batches(shuffle_key, (x, y), batch_size)
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (xs, ys))
        return params, opt_state, losses

    return jax.jit(epoch, donate_argnums=(0, 1))


class EpochRunner:
    """A zero-argument callable running one epoch in place (donated carry passed on);
    ``fixed`` are the trailing arguments (data, key) and ``n_carry`` the leading outputs
    fed back."""

    def __init__(self, epoch, carry, fixed, n_carry, middle=()):
        self.epoch, self.carry, self.fixed, self.n_carry = epoch, carry, fixed, n_carry
        self.middle = middle  # fit's loss scale: passed after the carry, not donated

    def __call__(self):
        out = self.epoch(*self.carry, *self.middle, *self.fixed)
        self.carry = out[: self.n_carry]
        return out[-1]


def bench_epochs(mesh, per_device, steps, rounds):
    """``fit``'s compiled epoch (both ``parallel=`` modes) vs hand-written scanned epochs."""
    from jnn.mixed_precision import NoLossScale
    from jnn.train._fit import _batch_sharding, _make_epoch

    batch_size = per_device * mesh.size
    x, y = make_data(batch_size * steps, seed=2)
    optimizer = optax.adam(LEARNING_RATE)
    params, state = jax.tree.map(np.asarray, MODEL.init(jax.random.key(0), x[:1]))
    data = jnn.parallel.replicate((x, y), mesh)  # fit replicates the data, then shuffles
    key = jax.random.key(3)
    sharding = _batch_sharding("bench", mesh, "data", batch_size)

    def fit_epoch(local):
        return _make_epoch(MODEL, optimizer, jnn.losses.softmax_cross_entropy, (), batch_size,
                           True, None, sharding, False, local)

    def jnn_carry():
        p = jnn.parallel.replicate(params, mesh)
        return [p, jnn.parallel.replicate(state, mesh),
                jnn.parallel.replicate(optimizer.init(p), mesh)]

    def raw_carry():
        p = jnn.parallel.replicate(to_raw(params), mesh)
        return [p, jnn.parallel.replicate(optimizer.init(p), mesh)]

    candidates = {
        "raw_named epoch": EpochRunner(raw_epoch(mesh, optimizer, batch_size, False),
                                       raw_carry(), (*data, key), 2),
        "raw_shard_map epoch": EpochRunner(raw_epoch(mesh, optimizer, batch_size, True),
                                           raw_carry(), (*data, key), 2),
        "fit epoch": EpochRunner(fit_epoch(False), jnn_carry(), (*data, key), 3,
                                 (NoLossScale(),)),
        "fit epoch shard_map": EpochRunner(fit_epoch(True), jnn_carry(), (*data, key), 3,
                                           (NoLossScale(),)),
    }
    print_table(["candidate", "all-reduced matrices (per step)"], [
        [name, all_reduced_matrices(r.epoch.lower(*r.carry, *r.middle, *r.fixed)
                                    .compile().as_text())]
        for name, r in candidates.items()], title="optimized epoch programs")
    # Same start, same minibatches: the four epochs' losses agree to float32 rounding.
    losses = {name: np.asarray(run()) for name, run in candidates.items()}
    spread = max(float(np.max(np.abs(v - losses["raw_named epoch"]))) for v in losses.values())
    print(f"epoch of {steps} steps: max |step loss - raw_named's| over candidates = "
          f"{spread:.1e}")
    res = compare(candidates, "raw_named epoch", rounds=rounds,
                  title=f"one epoch ({steps} Adam steps, batch {per_device} x {mesh.size}) "
                        "per call: fit's compiled epoch vs hand-written scanned epochs")
    cpu = cpu_time_ratios(candidates, "raw_named epoch", rounds,
                          f"CPU time per epoch ({steps} steps; all threads)")
    for name, r in res.items():
        r["per_step_s"] = r["median_s"] / steps
        r["cpu_s"] = cpu[name]
    print_table(["candidate", "ms per step"],
                [[name, f"{1e3 * r['per_step_s']:.2f}"] for name, r in res.items()],
                title="per step (epoch median / steps)")
    return res


def bench_weak_scaling(mesh, per_device, rounds):
    optimizer = optax.adam(LEARNING_RATE)
    one = jnn.parallel.data_mesh(jax.devices()[:1])
    candidates = {}
    for name, m in (("1 device", one), (f"{mesh.size} devices", mesh)):
        x, y = make_data(per_device * m.size)
        params, state = jax.tree.map(np.asarray, MODEL.init(jax.random.key(0), x[:1]))
        p = jnn.parallel.replicate(params, m)
        carry = [p, jnn.parallel.replicate(state, m),
                 jnn.parallel.replicate(optimizer.init(p), m)]
        candidates[name] = Stepper(jnn_step(optimizer, m), carry,
                                   jnn.parallel.shard_batch((x, y), m), 3)
    res = compare(candidates, "1 device", rounds=rounds,
                  title=f"weak scaling: jnn step, {per_device} examples per device")
    ratio = res[f"{mesh.size} devices"]["ratio_paired"]
    shared = jax.default_backend() == "cpu"
    overhead = ratio / mesh.size if shared else ratio
    formula = f"t_{mesh.size} / ({mesh.size} t_1)" if shared else f"t_{mesh.size} / t_1"
    print(f"weak-scaling overhead {formula} = {overhead:.3f} (1.0 = none; "
          f"{'forced CPU devices share the cores' if shared else 'real devices'})")
    return overhead


def bench_landscape(mesh, grid, rounds):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1024, 784)).astype(np.float32)
    y = rng.integers(0, 10, 1024)
    model = Sequential([Dense(128), jax.nn.relu, Dense(10)])
    params, state = model.init(jax.random.key(0), x[:1])
    loss = jnn.objective(model, jnn.losses.softmax_cross_entropy, state)
    d1 = jnn.landscape.filter_normalized_direction(jax.random.key(1), params)
    d2 = jnn.landscape.filter_normalized_direction(jax.random.key(2), params)
    axis = jnp.linspace(-1.0, 1.0, grid)
    run = lambda m: (lambda: jnn.landscape.plane(loss, params, d1, d2, axis, axis, (x, y),
                                                 mesh=m).loss)
    ref, out = run(None)(), run(mesh)()
    err = float(jnp.max(jnp.abs(ref - out) / jnp.abs(ref)))
    res = compare({"single device": run(None), f"mesh ({mesh.size})": run(mesh)},
                  "single device", rounds=rounds, warmup=1,
                  title=f"landscape plane {grid} x {grid}, MLP 784-128-10, 1024 samples")
    rows = [[name, f"{grid * grid / r['median_s']:.0f}"] for name, r in res.items()]
    rows.append(["max relative difference", f"{err:.1e}"])
    print_table(["candidate", "points/s"], rows, title="landscape throughput")
    return res


def cpu_time_ratios(candidates, baseline, rounds, title):
    """Process CPU time per call (all threads of all forced devices), in shuffled
    interleaved rounds: the work each program does, which other processes on a shared
    machine disturb far less than wall time. Prints the median and the median paired ratio."""
    names, samples = list(candidates), {name: [] for name in candidates}
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        for name in rng.permutation(names):
            t0 = time.process_time()
            jax.block_until_ready(candidates[name]())
            samples[name].append(time.process_time() - t0)
    base = np.asarray(samples[baseline])
    rows = [[name, f"{1e3 * np.median(v):.1f}", f"{np.median(np.asarray(v) / base):.3f}"]
            for name, v in samples.items()]
    print_table(["candidate", "CPU ms per call", "paired ratio"], rows, title=title)
    return {name: np.asarray(v) for name, v in samples.items()}


def cpu_paired(results, name, baseline):
    """Median per-round ratio of CPU times (see :func:`cpu_time_ratios`)."""
    return float(np.median(results[name]["cpu_s"] / results[baseline]["cpu_s"]))


def paired(results, name, baseline):
    """Median of the per-round ratios ``name / baseline`` (rounds were interleaved)."""
    a, b = np.asarray(results[name]["samples_s"]), np.asarray(results[baseline]["samples_s"])
    return float(np.median(a / b))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, small shapes")
    parser.add_argument("--devices", type=int, default=8,
                        help="forced CPU devices (CPU only; write --devices=N)")
    parser.add_argument("--per-device", type=int, default=None, help="examples per device")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--grid", type=int, default=None, help="landscape grid side")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed epoch")
    args = parser.parse_args()
    quick = is_quick() or args.quick
    per_device = args.per_device or (16 if quick else 128)
    rounds = args.rounds or (3 if quick else 21)
    grid = args.grid or (8 if quick else 32)
    steps_per_epoch = args.steps or (2 if quick else 8)

    mesh = jnn.parallel.data_mesh()
    print(f"backend {jax.default_backend()}, {mesh.size} devices: {jax.devices()[0].device_kind}")
    t0 = time.perf_counter()
    steps = bench_steps(mesh, per_device, rounds)
    epochs = bench_epochs(mesh, per_device, steps_per_epoch, rounds)
    overhead = bench_weak_scaling(mesh, per_device, rounds)
    land = bench_landscape(mesh, grid, rounds)
    summary = collections.OrderedDict([
        ("jnn / raw_named (paired)", f"{steps['jnn']['ratio_paired']:.3f}  target <= 1.05"),
        ("jnn / raw_shard_map (paired)", f"{paired(steps, 'jnn', 'raw_shard_map'):.3f}"
                                         "  target <= 1.05"),
        ("jnn_shard_map / raw_shard_map (paired)",
         f"{paired(steps, 'jnn_shard_map', 'raw_shard_map'):.3f}  target <= 1.05"),
        ("fit epoch / raw_named epoch (paired)",
         f"{epochs['fit epoch']['ratio_paired']:.3f}  target <= 1.05"),
        ("fit epoch / raw_shard_map epoch (paired)",
         f"{paired(epochs, 'fit epoch', 'raw_shard_map epoch'):.3f}  target <= 1.05"),
        ("fit epoch shard_map / raw_shard_map epoch (paired)",
         f"{paired(epochs, 'fit epoch shard_map', 'raw_shard_map epoch'):.3f}  target <= 1.05"),
        ("fit epoch shard_map / fit epoch (paired)",
         f"{paired(epochs, 'fit epoch shard_map', 'fit epoch'):.3f}"),
        ("CPU time: fit epoch / raw_shard_map epoch",
         f"{cpu_paired(epochs, 'fit epoch', 'raw_shard_map epoch'):.3f}"),
        ("CPU time: fit epoch shard_map / raw_shard_map epoch",
         f"{cpu_paired(epochs, 'fit epoch shard_map', 'raw_shard_map epoch'):.3f}"),
        ("CPU time: fit epoch shard_map / fit epoch",
         f"{cpu_paired(epochs, 'fit epoch shard_map', 'fit epoch'):.3f}"),
        ("weak-scaling overhead", f"{overhead:.3f}"),
        ("landscape sharded / single throughput",
         f"{1 / land[f'mesh ({mesh.size})']['ratio_paired']:.2f}x"),
    ])
    print_table(["summary", "value"], [[k, v] for k, v in summary.items()],
                title=f"bench_parallel summary ({time.perf_counter() - t0:.0f} s"
                      f"{', quick' if quick else ''})")


if __name__ == "__main__":
    main()
