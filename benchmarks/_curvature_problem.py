"""The curvature benchmarks' problem (issue 6): a tanh MLP 32-w-w-10 with mean softmax
cross-entropy on 512 samples (inputs N(0, 1), labels from a random teacher network),
LeCun-normal weights, float32, in raw JAX; ``d = w^2 + 44 w + 10``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

N_SAMPLES, D_IN, CLASSES = 512, 32, 10


def init_mlp(key, width):
    sizes = [D_IN, width, width, CLASSES]
    params = []
    for k, (a, b) in zip(jax.random.split(key, 3), zip(sizes[:-1], sizes[1:])):
        params.append({"kernel": jax.random.normal(k, (a, b)) / np.sqrt(a), "bias": jnp.zeros(b)})
    return params


def apply_mlp(params, x):
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["kernel"] + layer["bias"][None])
    return x @ params[-1]["kernel"] + params[-1]["bias"][None]


def loss(params, batch):
    x, y = batch
    logp = jax.nn.log_softmax(apply_mlp(params, x))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def problem(width, seed=0):
    """``(params, (x, y))`` for hidden width ``width``."""
    kx, kt, kp = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(kx, (N_SAMPLES, D_IN))
    y = jnp.argmax(apply_mlp(init_mlp(kt, 64), x), axis=1)
    return init_mlp(kp, width), (x, y)
