"""Newton steps: matrix-free ``newton_cg`` against the dense Hessian + Cholesky ``newton``.

Problem (issue 6's): a tanh MLP 32-w-w-10 with mean softmax cross-entropy on 512 samples
(inputs N(0, 1), labels from a random teacher network), LeCun-normal weights, float32;
``d = w^2 + 44 w + 10`` (w = 17 -> d = 1,047; w = 53 -> d = 5,151).

At a random initialization this Hessian is strongly indefinite (at d = 1,047 its
spectrum is about [-0.27, 0.38]), so the Newton system is only meaningful with damping.
Both methods get the same :math:`\\lambda = -\\lambda_{\\min} + 0.01 (\\lambda_{\\max} -
\\lambda_{\\min})`, which makes :math:`H + \\lambda I` positive definite with condition
number about 100 (the edges come from ``jnn.curvature`` Lanczos runs). Candidates, each
one jitted ``update`` from the gradient at the point (the gradient itself is not timed):

- ``dense``: ``jnn.optim.newton(damping=λ)``: the d x d Hessian from d chunked
  Hessian-vector products, a Cholesky factorization and two triangular solves.
- ``dense: H only``: the Hessian alone (``jnn.curvature.hessian``), to show where the
  dense step's time goes.
- ``cg tol=τ``: ``jnn.optim.newton_cg(damping=λ, tol=τ)``: CG on Hessian-vector products
  of the gradient linearized once, stopped at relative residual τ.

"Equal residual": the dense step's true relative residual ``||(H + λI) p - g|| / ||g||``
is measured with one more Hessian-vector product, and CG is run with ``tol`` equal to it
(``cg =dense``), besides the looser tolerances truncated Newton normally uses. The table
gives CG's iterations, its true residual, its relative distance to the dense step, and
the time ratio dense / CG (targets from issue 6: >= 5x at d ~ 1k, >= 20x at d ~ 5k).

    python benchmarks/bench_newton.py                 # d ~ 1k and 5k (minutes on 2 cores)
    python benchmarks/bench_newton.py --sizes 1k      # one size
    python benchmarks/bench_newton.py --quick         # CI smoke run (d ~ 1k, 3 rounds)
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _curvature_problem import loss, problem  # noqa: E402
from _timing import compare, is_quick, print_table  # noqa: E402

from jnn.curvature import (  # noqa: E402
    hessian,
    hvp,
    hvp_operator,
    smallest_eigenvalues,
    top_eigenvalues,
)
from jnn.optim import newton, newton_cg  # noqa: E402

WIDTHS = {"1k": 17, "5k": 53}


def spectrum_edges(params, batch):
    @jax.jit
    def edges(p):
        op = hvp_operator(loss, p, batch)
        top = top_eigenvalues(op, p, 1, key=jax.random.key(1), num_iters=120, tol=1e-5)
        low = smallest_eigenvalues(op, p, 1, key=jax.random.key(2), num_iters=120, tol=1e-5)
        return low.eigenvalues[0], low.error_bounds[0], top.eigenvalues[0]

    return [float(v) for v in edges(params)]


def relative_residual(params, batch, grads, step, lam):
    """||(H + λI) p - g|| / ||g|| for the direction p = -step (float32, one HVP)."""
    p = jax.tree.map(jnp.negative, step)
    Hp = hvp(loss, params, p, batch)
    r = jax.tree.map(lambda a, b, g: a + lam * b - g, Hp, p, grads)
    return float(jnp.linalg.norm(ravel_pytree(r)[0]) / jnp.linalg.norm(ravel_pytree(grads)[0]))


def run_size(name, rounds, tolerances):
    params, batch = problem(WIDTHS[name])
    d = ravel_pytree(params)[0].size
    grads = jax.grad(loss)(params, batch)
    low, low_err, high = spectrum_edges(params, batch)
    lam = -low + 0.01 * (high - low)
    print(
        f"\nd = {d:,}: Hessian spectrum in [{low:.4f} (+-{low_err:.1e}), {high:.4f}]; "
        f"damping {lam:.4f}, condition number of H + λI ~ {(high + lam) / (low + lam):.0f}"
    )

    def jitted(opt):
        state = opt.init(params)
        return jax.jit(lambda p, g: opt.update(g, state, p, value_fn=loss, batch=batch))

    dense = jitted(newton(damping=lam, max_tries=1))
    dense_step, dense_state = dense(params, grads)
    assert not bool(dense_state.fell_back), "H + λI should be positive definite"
    dense_res = relative_residual(params, batch, grads, dense_step, lam)
    dense_flat = ravel_pytree(dense_step)[0]

    # the part of the dense step spent building H (the rest is the Cholesky solve)
    build = jax.jit(lambda p: hessian(loss, p, batch)[0])
    candidates = {"dense": lambda: dense(params, grads), "dense: H only": lambda: build(params)}
    info = {}
    for label, tol in [
        *(("cg tol=" + f"{t:.0e}", t) for t in tolerances),
        ("cg =dense", dense_res),
    ]:
        cg = jitted(newton_cg(damping=lam, tol=tol, maxiter=5 * d))
        step, state = cg(params, grads)
        gap = float(
            jnp.linalg.norm(ravel_pytree(step)[0] - dense_flat) / jnp.linalg.norm(dense_flat)
        )
        info[label] = (
            tol,
            int(state.num_iterations),
            float(state.residual),
            gap,
            bool(state.negative_curvature),
        )
        candidates[label] = lambda cg=cg: cg(params, grads)

    res = compare(
        candidates,
        "dense",
        rounds=rounds,
        number=1,
        title=f"Newton step at d={d:,} (ratio = time / dense time)",
    )
    rows = [
        [
            f"{d:,}",
            "dense",
            f"{dense_res:.1e}",
            "-",
            "-",
            "-",
            f"{res['dense']['median_s'] * 1e3:.1f}",
            "1.00",
        ]
    ]
    rows.append(
        [
            f"{d:,}",
            "dense: H only",
            "-",
            "-",
            "-",
            "-",
            f"{res['dense: H only']['median_s'] * 1e3:.1f}",
            f"{1 / res['dense: H only']['ratio_paired']:.1f}",
        ]
    )
    for label, (_, iters, residual, gap, negative) in info.items():
        speedup = 1 / res[label]["ratio_paired"]
        rows.append(
            [
                f"{d:,}",
                label,
                f"{residual:.1e}",
                str(iters),
                f"{gap:.1e}",
                "yes" if negative else "no",
                f"{res[label]['median_s'] * 1e3:.1f}",
                f"{speedup:.1f}",
            ]
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(WIDTHS), default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    quick = args.quick or is_quick()
    sizes = args.sizes or (["1k"] if quick else ["1k", "5k"])
    rounds = args.rounds or (3 if quick else 7)
    rows = []
    for name in sizes:
        rows += run_size(name, rounds, (1e-2, 1e-4))
    print_table(
        [
            "d",
            "method",
            "true residual",
            "CG iters",
            "gap to dense",
            "neg. curv.",
            "ms",
            "dense / this",
        ],
        rows,
        title="newton_cg vs dense newton (targets: >= 5x at d ~ 1k, >= 20x at d ~ 5k)",
    )


if __name__ == "__main__":
    main()
