"""``jnn demo``: train a small MLP on the two-arm spirals and report as it goes."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jnn import curvature, data
from jnn._objective import objective
from jnn.layers import Dense, Sequential


def _cross_entropy(logits, labels):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def make_epoch(model, optimizer, state, batch_size: int) -> Callable:
    """One epoch of shuffled minibatch steps as one compiled ``lax.scan``."""

    def loss_fn(params, x, y):
        logits, _ = model.apply(params, state, x)
        return _cross_entropy(logits, y)

    def step(carry, batch):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def epoch(params, opt_state, x, y, key):
        n_batches = x.shape[0] // batch_size
        order = jax.random.permutation(key, x.shape[0])[: n_batches * batch_size]
        xb = x[order].reshape(n_batches, batch_size, *x.shape[1:])
        yb = y[order].reshape(n_batches, batch_size)
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (xb, yb))
        return params, opt_state, jnp.mean(losses)

    return epoch


def run_demo(
    *,
    epochs: int = 30,
    hidden: int = 64,
    learning_rate: float = 1e-2,
    batch_size: int = 64,
    n_train: int = 1000,
    n_test: int = 1000,
    seed: int = 0,
    print_fn: Callable[[str], None] = print,
) -> float:
    """Train a 2-h-h-2 ReLU MLP with Adam on spirals; returns the final test accuracy."""
    key = jax.random.key(seed)
    k_train, k_test, k_init, k_shuffle = jax.random.split(key, 4)
    x_train, y_train = data.spirals(k_train, n_train)
    x_test, y_test = data.spirals(k_test, n_test)

    model = Sequential([Dense(hidden), jax.nn.relu, Dense(hidden), jax.nn.relu, Dense(2)])
    params, state = model.init(k_init, x_train)
    optimizer = optax.adam(learning_rate)
    opt_state = optimizer.init(params)
    epoch_fn = make_epoch(model, optimizer, state, batch_size)

    @jax.jit
    def accuracy(params, x, y):
        logits, _ = model.apply(params, state, x)
        return jnp.mean(jnp.argmax(logits, axis=-1) == y)

    n_params = sum(p.size for p in jax.tree.leaves(params))
    print_fn(f"jnn demo: two-arm spirals, {n_train} train / {n_test} test points")
    print_fn(f"model: {model}  ({n_params:,} params), optax.adam({learning_rate}), "
             f"batch {batch_size}, {epochs} epochs, each one compiled lax.scan")
    start = time.perf_counter()
    losses = []
    for epoch, k in enumerate(jax.random.split(k_shuffle, epochs), start=1):
        params, opt_state, loss = epoch_fn(params, opt_state, x_train, y_train, k)
        losses.append(float(loss))
        train_acc = accuracy(params, x_train, y_train)
        test_acc = accuracy(params, x_test, y_test)
        print_fn(f"epoch {epoch:3d}/{epochs}  loss {float(loss):.4f}  "
                 f"train acc {float(train_acc):.3f}  test acc {float(test_acc):.3f}")
    elapsed = time.perf_counter() - start
    print_fn(f"learning curve (train loss per epoch): {sparkline(losses)}")
    eig = top_hessian_eigenvalue(model, state, params, (x_train, y_train), k_init)
    print_fn(f"top Hessian eigenvalue of the training loss at the solution: {eig:.4g} "
             f"(Lanczos on Hessian-vector products; jnn.curvature)")
    final = float(accuracy(params, x_test, y_test))
    print_fn(f"final test accuracy: {final:.3f}  ({elapsed:.1f} s, including compilation)")
    return final


def sparkline(values) -> str:
    """A one-line text plot, highest value = full block."""
    blocks = "▁▂▃▄▅▆▇█"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(blocks[int((v - low) / span * (len(blocks) - 1))] for v in values)


def top_hessian_eigenvalue(model, state, params, batch, key) -> float:
    """The largest eigenvalue of the full-batch training loss's Hessian, by Lanczos."""
    loss = objective(model, _cross_entropy, state)

    @jax.jit
    def top(params, batch, key):
        matvec = curvature.hvp_operator(loss, params, batch)
        return curvature.top_eigenvalues(matvec, params, 1, key=key).eigenvalues[0]

    return float(top(params, batch, key))
