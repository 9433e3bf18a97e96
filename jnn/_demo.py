"""``jnn demo``: train a small MLP on the two-arm spirals, look at its curvature and landscape."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import curvature, data, landscape, losses, optim
from jnn._objective import objective
from jnn.layers import Dense, Sequential
from jnn.train import evaluate, fit


def sparkline(values) -> str:
    """A one-line text plot, highest value = full block."""
    blocks = "▁▂▃▄▅▆▇█"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(blocks[int((v - low) / span * (len(blocks) - 1))] for v in values)


def top_hessian_eigenvalue(loss, params, batch, key) -> float:
    """The largest eigenvalue of the full-batch training loss's Hessian, by Lanczos."""

    @jax.jit
    def top(params, batch, key):
        matvec = curvature.hvp_operator(loss, params, batch)
        return curvature.top_eigenvalues(matvec, params, 1, key=key).eigenvalues[0]

    return float(top(params, batch, key))


def write_figures(out_dir, model, params, state, history, loss, train, key, print_fn):
    """Decision boundary, learning curves and a filter-normalized 2-D loss landscape."""
    import matplotlib

    matplotlib.use("Agg")
    from jnn import viz
    from jnn.viz._landscape import plot_landscape_contour

    os.makedirs(out_dir, exist_ok=True)
    k1, k2 = jax.random.split(key)
    d1 = landscape.filter_normalized_direction(k1, params)
    d2 = landscape.filter_normalized_direction(k2, params)
    grid = jnp.linspace(-1.0, 1.0, 31)
    surface = landscape.plane(loss, params, d1, d2, grid, grid, train)
    figures = {
        "decision_boundary.png": viz.plot_decision_boundary(model, params, *train, state=state),
        "learning_curves.png": viz.plot_learning_curves(history),
        "loss_landscape.png": plot_landscape_contour(surface),
    }
    for name, figure in figures.items():
        path = os.path.join(out_dir, name)
        figure.savefig(path, dpi=100, bbox_inches="tight")
        matplotlib.pyplot.close(figure)
        print_fn(f"wrote {path}")


def run_demo(
    *,
    epochs: int = 30,
    hidden: int = 64,
    learning_rate: float = 1e-2,
    batch_size: int = 64,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    out_dir: str | None = None,
    print_fn: Callable[[str], None] = print,
) -> float:
    """Train a 2-h-h-2 ReLU MLP with Adam on spirals; returns the final test accuracy."""
    key = jax.random.key(seed)
    k_train, k_test, k_init, k_fit, k_eig, k_plot = jax.random.split(key, 6)
    train = data.spirals(k_train, n_train)
    test = data.spirals(k_test, n_test)

    model = Sequential([Dense(hidden), jax.nn.relu, Dense(hidden), jax.nn.relu, Dense(2)])
    params, state = model.init(k_init, train[0])
    n_params = sum(p.size for p in jax.tree.leaves(params))
    print_fn(f"jnn demo: two-arm spirals, {n_train} train / {n_test} test points")
    print_fn(f"model: {model}  ({n_params:,} params), adam({learning_rate}), "
             f"batch {batch_size}, {epochs} epochs, each one compiled lax.scan")
    start = time.perf_counter()
    params, state, _, history = fit(
        model, params, state, optim.adam(learning_rate), losses.softmax_cross_entropy, train,
        epochs=epochs, batch_size=batch_size, key=k_fit, val_data=test, metrics=["accuracy"],
        progress=False, print_fn=print_fn)
    elapsed = time.perf_counter() - start
    print_fn(f"learning curve (train loss per epoch): {sparkline(history['loss'])}")
    loss = objective(model, losses.softmax_cross_entropy, state)
    eig = top_hessian_eigenvalue(loss, params, train, k_eig)
    print_fn(f"top Hessian eigenvalue of the training loss at the solution: {eig:.4g} "
             f"(Lanczos on Hessian-vector products; jnn.curvature)")
    final = evaluate(model, params, state, losses.softmax_cross_entropy, test,
                     metrics=["accuracy"])["accuracy"]
    if out_dir:
        write_figures(out_dir, model, params, state, history, loss, train, k_plot, print_fn)
    print_fn(f"final test accuracy: {final:.3f}  ({elapsed:.1f} s of training, "
             f"including compilation)")
    return final
