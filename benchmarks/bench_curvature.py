"""Curvature benchmarks: HVP cost, chunked Hessian, Lanczos vs power iteration, vs PyTorch.

Problem (the issue's): a tanh MLP 32-w-w-10 with mean softmax cross-entropy on 512 samples
(inputs N(0, 1), labels from a random teacher network), LeCun-normal weights, float32,
written in raw JAX (params a list of ``{"kernel", "bias"}``). ``d = w^2 + 44 w + 10``:

    w = 17 -> d = 1,047      w = 53 -> d = 5,151      w = 80 -> d = 9,930
    w = 296 -> d = 100,650   w = 979 -> d = 1,001,547

Sections (each prints ratios; targets from issue 6 in brackets):

1. ``hvp``: ``jnn.curvature.hvp`` vs a standalone ``value_and_grad`` [<= 2.3x], and the
   amortized cost per product inside ``top_eigenvalues`` (Lanczos, the gradient linearized
   once, reorthogonalization included) [<= 1.9x]; the other exact formulations
   (reverse-over-forward, reverse-over-reverse, linearize then apply), and the flops XLA
   counts in each optimized program (``compiled_stats``): their ratio to value_and_grad is
   the arithmetic floor of the time ratio.
2. ``hessian``: chunked ``jnn.curvature.hessian`` vs ``jax.hessian`` of the flattened
   params at d ~ 5k: time [>= 1.5x faster] and temporary memory from the compiled
   ``memory_analysis()`` [<= 0.15x].
3. ``eig``: top eigenvalue to a true relative error of 1e-4: HVPs of Lanczos vs PyHessian's
   power iteration (stop when |dlambda| < 1e-4 |lambda|) [>= 3x fewer], and wall time at
   d ~ 1M [<= 0.7x]. The truth is a 200-step Lanczos run.
4. ``torch``: jnn vs PyTorch double-backward with graph reuse as PyHessian does
   (``create_graph=True`` once, then ``autograd.grad(g, params, v, retain_graph=True)``)
   [jnn no slower at d >= 10k, >= 1.5x faster at d ~ 1k], two ways: 20 normalized HVPs
   (power iteration), jnn's in one compiled loop as its solvers run them vs torch's Python
   loop as PyHessian runs them (both include building the graph/linearization once); and
   one HVP per call (``jnn_operator``: a stored linearization; ``jnn_hvp``: a full product).

    python benchmarks/bench_curvature.py                   # everything (long on 2 cores)
    python benchmarks/bench_curvature.py --section eig     # one section
    python benchmarks/bench_curvature.py --quick           # CI smoke run (small d only)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _curvature_problem import loss, problem  # noqa: E402
from _timing import compare, compiled_stats, is_quick, print_table  # noqa: E402

from jnn.curvature import (  # noqa: E402
    hessian,
    hvp,
    hvp_operator,
    power_iteration,
    top_eigenvalues,
)
from jnn.curvature._flat import flatten_operator  # noqa: E402
from jnn.curvature._lanczos import lanczos_tridiagonal  # noqa: E402

WIDTHS = {"1k": 17, "5k": 53, "10k": 80, "100k": 296, "1M": 979}


# ------------------------------------------------------------------------- problem


def dim(params):
    return ravel_pytree(params)[0].size


def random_like(params, seed=1):
    flat, unravel = ravel_pytree(params)
    return unravel(jax.random.normal(jax.random.key(seed), flat.shape))


# ------------------------------------------------------------------ 1. HVP cost


OTHER_FORMS = ("rev_over_fwd", "rev_over_rev", "linearize_apply")


def _hvp_formulations():
    """Exact HVP programs (every one a full product at a new point, no stored linearization)."""
    grad = lambda p, b: jax.grad(loss)(p, b)

    def inner(x, y):
        return sum(jnp.vdot(a, c) for a, c in zip(jax.tree.leaves(x), jax.tree.leaves(y)))

    return {
        "hvp": lambda p, v, b: hvp(loss, p, v, b),  # jnn: forward over reverse
        "rev_over_fwd": lambda p, v, b: jax.grad(
            lambda q: jax.jvp(lambda r: loss(r, b), (q,), (v,))[1]
        )(p),
        "rev_over_rev": lambda p, v, b: jax.grad(lambda q: inner(grad(q, b), v))(p),
        "linearize_apply": lambda p, v, b: jax.linearize(lambda q: grad(q, b), p)[1](v),
    }


def section_hvp(sizes, rounds):
    vg = jax.jit(jax.value_and_grad(loss))
    forms = {k: jax.jit(f) for k, f in _hvp_formulations().items()}
    apply_op = jax.jit(lambda op, v: op(v))
    rows, flop_rows = [], []
    for name in sizes:
        params, batch = problem(WIDTHS[name])
        v = random_like(params)
        m = 20

        @jax.jit
        def lanczos(p, b):
            op = hvp_operator(loss, p, b)
            return top_eigenvalues(op, p, 1, key=jax.random.key(0), num_iters=m, tol=0)

        @jax.jit
        def lanczos_partial(p, b):  # opt-in partial reorthogonalization
            op = hvp_operator(loss, p, b)
            return top_eigenvalues(op, p, 1, key=jax.random.key(0), num_iters=m, tol=0,
                                   reorthogonalize="partial")

        @jax.jit
        def op_loop(p, v, b):  # m products of the linearized operator, nothing else
            op = hvp_operator(loss, p, b)
            return jax.lax.fori_loop(0, m, lambda i, u: op(u), v)

        op = jax.jit(lambda p, b: hvp_operator(loss, p, b))(params, batch)
        cands = {
            "value_and_grad": lambda: vg(params, batch),
            f"lanczos_{m}": lambda: lanczos(params, batch),
            f"lanczos_partial_{m}": lambda: lanczos_partial(params, batch),
            f"op_loop_{m}": lambda: op_loop(params, v, batch),
            "operator_apply": lambda: apply_op(op, v),
        }
        cands.update({k: (lambda f=f: f(params, v, batch)) for k, f in forms.items()})
        res = compare(cands, "value_and_grad", rounds=rounds, title=f"HVP cost, d={dim(params):,}")
        med = {k: r["median_s"] for k, r in res.items()}
        mins = {k: r["min_s"] for k, r in res.items()}
        base, lz, loop = "value_and_grad", f"lanczos_{m}", f"op_loop_{m}"
        lzp = f"lanczos_partial_{m}"
        rows.append(
            [
                f"{dim(params):,}",
                f"{med['hvp'] / med[base]:.2f} ({mins['hvp'] / mins[base]:.2f})",
                f"{med[lz] / m / med[base]:.2f} ({mins[lz] / m / mins[base]:.2f})",
                f"{med[lzp] / m / med[base]:.2f} ({mins[lzp] / m / mins[base]:.2f})",
                f"{med[loop] / m / med[base]:.2f} ({mins[loop] / m / mins[base]:.2f})",
                " / ".join(f"{med[k] / med[base]:.2f}" for k in OTHER_FORMS),
            ]
        )
        # XLA's own flop count of each optimized program: the arithmetic floor of the ratios
        flops = {"value_and_grad": compiled_stats(vg, params, batch)["flops"]}
        flops.update({k: compiled_stats(f, params, v, batch)["flops"] for k, f in forms.items()})
        flops["operator_apply"] = compiled_stats(apply_op, op, v)["flops"]
        flop_rows.append(
            [f"{dim(params):,}", f"{flops['value_and_grad']:.3g}"]
            + [f"{flops[k] / flops['value_and_grad']:.2f}" for k in [*forms, "operator_apply"]]
        )
    print_table(
        [
            "d",
            "hvp / v&g [<=2.3]",
            "Lanczos per HVP / v&g [<=1.9]",
            "same, partial reorth.",
            "operator loop per HVP",
            "rev-over-fwd / rev-over-rev / linearize+apply",
        ],
        rows,
        title="HVP cost ratios: median (min) times; value_and_grad = 1",
    )
    print_table(
        ["d", "v&g flops", "hvp (fwd-over-rev)", "rev-over-fwd", "rev-over-rev",
         "linearize+apply", "linearized operator"],
        flop_rows,
        title="flops of the optimized XLA programs (compiled cost_analysis), over value_and_grad",
    )


# ------------------------------------------------------- 2. chunked Hessian vs jax.hessian


def section_hessian(rounds, chunk_sizes=(32, 64, 128)):
    params, batch = problem(WIDTHS["5k"])
    flat, unravel = ravel_pytree(params)
    d = flat.size
    reference = jax.jit(lambda f, b: jax.hessian(lambda g: loss(unravel(g), b))(f))
    ours = {c: jax.jit(lambda p, b, c=c: hessian(loss, p, b, chunk_size=c)[0]) for c in chunk_sizes}
    temp = {"jax.hessian": reference.lower(flat, batch).compile().memory_analysis()}
    for c, f in ours.items():
        temp[f"jnn chunk={c}"] = f.lower(params, batch).compile().memory_analysis()
    H_ref = reference(flat, batch)
    for c, f in ours.items():
        err = float(jnp.max(jnp.abs(f(params, batch) - H_ref)) / jnp.max(jnp.abs(H_ref)))
        print(f"chunk={c}: max |H - H_ref| / max |H_ref| = {err:.2e}")
    del H_ref
    cands = {"jax.hessian": lambda: reference(flat, batch)}
    cands.update({f"jnn chunk={c}": (lambda f=f: f(params, batch)) for c, f in ours.items()})
    res = compare(cands, "jax.hessian", rounds=rounds, number=1, title=f"Hessian, d={d:,}")
    base_temp = temp["jax.hessian"].temp_size_in_bytes
    rows = []
    for name, mem in temp.items():
        rows.append(
            [
                name,
                f"{res[name]['median_s']:.2f}",
                f"{1 / res[name]['ratio']:.2f}",
                f"{mem.temp_size_in_bytes / 2**20:,.1f}",
                f"{mem.temp_size_in_bytes / base_temp:.3f}",
                f"{mem.output_size_in_bytes / 2**20:,.1f}",
            ]
        )
    print_table(
        ["candidate", "s", "speed-up [>=1.5]", "temp MiB", "temp ratio [<=0.15]", "output MiB"],
        rows,
        title=f"dense Hessian at d={d:,} (temp = compiled memory_analysis().temp_size_in_bytes)",
    )


# ------------------------------------------------- 3. Lanczos vs power iteration


def _ritz_history(params, batch, steps, seed):
    """Top Ritz value after each of ``steps`` Lanczos steps (one run, leading blocks of T)."""

    @jax.jit
    def run(p, b):
        flat_mv, flat, _ = flatten_operator(hvp_operator(loss, p, b), p)
        k0, k1 = jax.random.split(jax.random.key(seed))
        tri = lanczos_tridiagonal(flat_mv, jax.random.normal(k0, flat.shape), steps, k1)
        return tri.alpha, tri.beta

    alpha, beta = (np.asarray(a, np.float64) for a in run(params, batch))
    out = []
    for j in range(1, steps + 1):
        T = np.diag(alpha[:j]) + np.diag(beta[: j - 1], 1) + np.diag(beta[: j - 1], -1)
        out.append(np.linalg.eigvalsh(T)[-1])
    return np.asarray(out)


def _power_history(params, batch, steps):
    """Rayleigh quotient after each power-iteration step, from power_iteration's start vector."""

    @jax.jit
    def run(p, b):
        flat_mv, flat, _ = flatten_operator(hvp_operator(loss, p, b), p)
        v = jax.random.normal(jax.random.key(0), flat.shape)

        def step(v, _):
            w = flat_mv(v)
            return w / jnp.linalg.norm(w), jnp.vdot(w, v)

        return jax.lax.scan(step, v / jnp.linalg.norm(v), None, length=steps)[1]

    return np.asarray(run(params, batch), np.float64)


def _first_within(history, truth, rel):
    ok = np.nonzero(np.abs(history - truth) <= rel * abs(truth))[0]
    return int(ok[0]) + 1 if ok.size else -1


def section_eig(sizes, rounds, rel=1e-4):
    rows, timing_rows = [], []
    for name in sizes:
        params, batch = problem(WIDTHS[name])
        d = dim(params)
        truth = _ritz_history(params, batch, min(d, 120), seed=123)[-1]

        @jax.jit
        def power(p, b):
            op = hvp_operator(loss, p, b)
            return power_iteration(op, p, key=jax.random.key(0), num_iters=1000, tol=rel)

        @jax.jit
        def lanczos(p, b):
            op = hvp_operator(loss, p, b)
            return top_eigenvalues(op, p, 1, key=jax.random.key(0), tol=rel, check_every=1)

        @jax.jit
        def lanczos_partial(p, b):  # opt-in: Simon's partial reorthogonalization
            op = hvp_operator(loss, p, b)
            return top_eigenvalues(op, p, 1, key=jax.random.key(0), tol=rel, check_every=1,
                                   reorthogonalize="partial")

        pw, lz = power(params, batch), lanczos(params, batch)
        lp = lanczos_partial(params, batch)
        lp_err = abs(float(lp.eigenvalues[0]) - truth) / abs(truth)
        print(f"d={d:,}: partial reorthogonalization stops after {int(lp.num_matvecs)} HVPs "
              f"(true rel err {lp_err:.1e}); full after {int(lz.num_matvecs)}")
        oracle = _first_within(_ritz_history(params, batch, min(d, 80), seed=0), truth, rel)
        pw_steps = 300 if d > 200_000 else 1000
        pw_oracle = _first_within(_power_history(params, batch, pw_steps), truth, rel)
        pw_err = abs(float(pw.eigenvalue) - truth) / abs(truth)
        lz_err = abs(float(lz.eigenvalues[0]) - truth) / abs(truth)
        rows.append(
            [
                f"{d:,}",
                f"{truth:.5f}",
                f"{int(pw.num_matvecs)} ({pw_err:.1e})",
                f"{int(lz.num_matvecs)} ({lz_err:.1e})",
                f"{oracle}",
                f"{int(pw.num_matvecs) / int(lz.num_matvecs):.1f}",
                f"{int(pw.num_matvecs) / oracle:.1f}" if oracle > 0 else "-",
                f"{pw_oracle}" if pw_oracle > 0 else f">{pw_steps}",
                f"{pw_oracle / oracle:.1f}" if pw_oracle > 0 and oracle > 0 else "-",
            ]
        )
        if name in ("1M",) or (is_quick() and name == sizes[-1]):
            steps = max(oracle, 2)

            @jax.jit
            def lanczos_fixed(p, b):  # exactly the steps that reach a true 1e-4
                op = hvp_operator(loss, p, b)
                return top_eigenvalues(op, p, 1, key=jax.random.key(0), num_iters=steps, tol=0)

            res = compare(
                {
                    "power_iteration": lambda: power(params, batch),
                    "lanczos_own_stop": lambda: lanczos(params, batch),
                    f"lanczos_{steps}_steps": lambda: lanczos_fixed(params, batch),
                    "lanczos_partial_own_stop": lambda: lanczos_partial(params, batch),
                },
                "power_iteration",
                rounds=rounds,
                number=1,
                title=f"top eigenvalue to 1e-4, wall time, d={d:,}",
            )
            timing_rows.append(
                [
                    f"{d:,}",
                    f"{res['lanczos_own_stop']['ratio']:.2f}",
                    f"{res[f'lanczos_{steps}_steps']['ratio']:.2f}",
                    f"{res['power_iteration']['median_s'] / int(pw.num_matvecs):.3f}",
                    f"{res['lanczos_own_stop']['median_s'] / int(lz.num_matvecs):.3f}",
                    f"{res['lanczos_partial_own_stop']['ratio']:.2f}",
                ]
            )
    print_table(
        [
            "d",
            "lambda_max (truth)",
            "power HVPs (true rel err)",
            "Lanczos HVPs, own stop (err)",
            "Lanczos HVPs to true 1e-4",
            "ratio own stop [>=3]",
            "ratio to true 1e-4",
            "power HVPs to true 1e-4",
            "ratio, both to true 1e-4",
        ],
        rows,
        title="top Hessian eigenvalue, relative error 1e-4",
    )
    if timing_rows:
        print_table(
            [
                "d",
                "Lanczos own stop / power [<=0.7]",
                "Lanczos to true 1e-4 / power",
                "s per power step",
                "s per Lanczos step",
                "partial reorth. own stop / power",
            ],
            timing_rows,
            title="wall time (power iteration with PyHessian's stop = 1)",
        )


# ------------------------------------------------------------------- 4. PyTorch


def _torch_problem(params, batch):
    import torch

    ps = []
    for layer in params:
        ps.append(torch.tensor(np.asarray(layer["kernel"]), requires_grad=True))
        ps.append(torch.tensor(np.asarray(layer["bias"]), requires_grad=True))
    x = torch.tensor(np.asarray(batch[0]))
    y = torch.tensor(np.asarray(batch[1]), dtype=torch.long)

    def torch_loss():
        h = x
        for i in range(0, len(ps) - 2, 2):
            h = torch.tanh(h @ ps[i] + ps[i + 1])
        return torch.nn.functional.cross_entropy(h @ ps[-2] + ps[-1], y)

    return ps, torch_loss


LOOP_HVPS = 20


def section_torch(sizes, rounds, threads=None):
    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    for name in sizes:
        params, batch = problem(WIDTHS[name])
        d = dim(params)
        v = random_like(params)
        ps, torch_loss = _torch_problem(params, batch)
        vt = [torch.tensor(np.asarray(a)) for layer in v for a in (layer["kernel"], layer["bias"])]
        grads = torch.autograd.grad(torch_loss(), ps, create_graph=True)  # built once, reused

        def torch_reuse():
            return torch.autograd.grad(grads, ps, grad_outputs=vt, retain_graph=True)

        def torch_fresh():
            g = torch.autograd.grad(torch_loss(), ps, create_graph=True)
            return torch.autograd.grad(g, ps, grad_outputs=vt)

        one_hvp = jax.jit(lambda p, v, b: hvp(loss, p, v, b))
        op = jax.jit(lambda p, b: hvp_operator(loss, p, b))(params, batch)
        apply_op = jax.jit(lambda op, v: op(v))
        n = LOOP_HVPS

        def torch_loop():  # PyHessian's power iteration: graph once, n HVPs in a Python loop
            g = torch.autograd.grad(torch_loss(), ps, create_graph=True)
            u = vt
            for _ in range(n):
                hu = torch.autograd.grad(g, ps, grad_outputs=u, retain_graph=True)
                norm = torch.sqrt(sum(torch.sum(h * h) for h in hu))
                u = [h / norm for h in hu]
            return u

        @jax.jit
        def jnn_loop(p, v, b):  # the same n normalized HVPs in one compiled loop, as jnn's
            flat_mv, flat, unravel = flatten_operator(hvp_operator(loss, p, b), p)  # solvers

            def step(i, u):
                w = flat_mv(u)
                return w / jnp.linalg.norm(w)

            return unravel(jax.lax.fori_loop(0, n, step, ravel_pytree(v)[0]))

        # same numbers from both frameworks
        hv = one_hvp(params, v, batch)
        ours = np.concatenate([np.ravel(layer[k]) for layer in hv for k in ("kernel", "bias")])
        flat_t = np.concatenate([g.detach().numpy().ravel() for g in torch_reuse()])
        rel_diff = np.max(np.abs(ours - flat_t)) / np.max(np.abs(flat_t))
        res = compare(
            {
                "torch_reuse": torch_reuse,
                "torch_fresh": torch_fresh,
                "jnn_hvp": lambda: one_hvp(params, v, batch),
                "jnn_operator": lambda: apply_op(op, v),
                f"torch_loop_{n}": torch_loop,
                f"jnn_loop_{n}": lambda: jnn_loop(params, v, batch),
            },
            "torch_reuse",
            rounds=rounds,
            title=f"one HVP, d={d:,} (max rel diff jnn vs torch {rel_diff:.1e})",
        )
        t = {k: r["median_s"] for k, r in res.items()}
        tmin = {k: r["min_s"] for k, r in res.items()}
        loop_t, loop_j = f"torch_loop_{n}", f"jnn_loop_{n}"
        rows.append(
            [
                f"{d:,}",
                f"{t[loop_t] / t[loop_j]:.2f} ({tmin[loop_t] / tmin[loop_j]:.2f})",
                f"{t['torch_reuse'] / t['jnn_operator']:.2f}",
                f"{t['torch_reuse'] / t['jnn_hvp']:.2f}",
                f"{t['torch_fresh'] / t['jnn_hvp']:.2f}",
                f"{tmin['torch_reuse'] / tmin['jnn_operator']:.2f}",
                f"{tmin['torch_reuse'] / tmin['jnn_hvp']:.2f}",
            ]
        )
    print_table(
        [
            "d",
            f"loop of {LOOP_HVPS} HVPs: torch Python loop / jnn compiled loop (min)",
            "per call: torch reuse / jnn operator",
            "torch reuse / jnn hvp",
            "torch fresh / jnn hvp",
            "same, min times: reuse / operator",
            "reuse / hvp",
        ],
        rows,
        title=f"speed-up of jnn over PyTorch {torch.__version__} "
        f"({torch.get_num_threads()} threads) [>=1.5 at 1k, >=1 at >=10k]",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--section", choices=["hvp", "hessian", "eig", "torch", "all"], default="all"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=None, help="default: torch's own")
    parser.add_argument("--sizes", nargs="*", default=None, help=f"from {list(WIDTHS)}")
    args = parser.parse_args()
    quick = is_quick()
    rounds = 3 if quick else 9
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cpus")
    t0 = time.time()
    if args.section in ("hvp", "all"):
        section_hvp(args.sizes or (["1k"] if quick else ["1k", "10k", "100k", "1M"]), rounds)
    if args.section in ("hessian", "all") and not quick:
        section_hessian(rounds=5)
    if args.section in ("eig", "all"):
        section_eig(args.sizes or (["1k"] if quick else ["1k", "10k", "100k", "1M"]), 3)
    if args.section in ("torch", "all"):
        sizes = args.sizes or (["1k"] if quick else ["1k", "10k", "100k"])
        section_torch(sizes, rounds, args.torch_threads)
    print(f"\ntotal {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
