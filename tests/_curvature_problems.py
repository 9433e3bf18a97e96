"""Small problems shared by the curvature tests (not a test module)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


def mlp_apply(params, x):
    h = jnp.tanh(x @ params[0]["kernel"] + params[0]["bias"][None])
    return h @ params[1]["kernel"] + params[1]["bias"][None]


def cross_entropy(logits, y):
    return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * y, axis=-1))


def mlp_loss(params, batch):
    x, y = batch
    return cross_entropy(mlp_apply(params, x), y)


def mlp_problem(key, n=16, d_in=4, width=5, classes=3, dtype=jnp.float64):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    params = [
        {
            "kernel": jax.random.normal(k1, (d_in, width), dtype),
            "bias": 0.1 * jnp.ones(width, dtype),
        },
        {
            "kernel": jax.random.normal(k2, (width, classes), dtype),
            "bias": jnp.zeros(classes, dtype),
        },
    ]
    x = jax.random.normal(k3, (n, d_in), dtype)
    y = jax.nn.one_hot(jax.random.randint(k4, (n,), 0, classes), classes, dtype=dtype)
    return params, (x, y)


@functools.cache
def mlp_reference(seed=0):
    """``(params, batch, H, flat, unravel)`` of the small float64 MLP problem, computed once.

    ``H`` is the dense ``jax.hessian`` of the flattened params (numpy, float64).
    """
    with jax.enable_x64(True):
        params, batch = mlp_problem(jax.random.key(seed))
        flat, unravel = ravel_pytree(params)
        H = jax.jit(jax.hessian(lambda f, b: mlp_loss(unravel(f), b)))(flat, batch)
        return params, batch, np.asarray(H), flat, unravel


def known_spectrum(eigenvalues, seed=0):
    """A symmetric matrix Q diag(eigenvalues) Q^T with a random orthogonal Q (numpy, float64)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(lam.size, lam.size)))
    q = q * np.sign(np.diag(r))[None]
    return (q * lam[None]) @ q.T, q


def spectrum_operator(eigenvalues, seed=0, reflections=3):
    """Matrix-free A = Q diag(eigenvalues) Q^T with Q a product of Householder reflections.

    Returns ``(matvec, eigenvector)``: ``matvec(v) = A v`` (jnp, O(d)) and ``eigenvector(i)``
    (numpy) the unit eigenvector ``Q e_i`` of ``eigenvalues[i]``.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    rng = np.random.default_rng(seed)
    us = [u / np.linalg.norm(u) for u in rng.normal(size=(reflections, lam.size))]

    def reflect(x, u, xp):
        return x - 2.0 * u * (u @ x)

    def q(x, xp=np):
        for u in us:
            x = reflect(x, xp.asarray(u), xp)
        return x

    def qt(x, xp=np):
        for u in reversed(us):
            x = reflect(x, xp.asarray(u), xp)
        return x

    matvec = lambda v: q(jnp.asarray(lam, v.dtype) * qt(v, jnp), jnp)
    eigenvector = lambda i: q(np.eye(lam.size)[i])
    return matvec, eigenvector


def matrix_operator(A):
    """v -> A v on a flat vector (a 'params' of shape (d,))."""
    A = jnp.asarray(A)
    return lambda v: A @ v
