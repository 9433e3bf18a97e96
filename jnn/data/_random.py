"""One random draw per dataset: uniforms and standard normals from a single threefry call.

Each ``jax.random`` call compiles its own copy of the threefry hash, which dominates the
compile time of a small generator. The generators therefore draw one uniform block and
derive everything from it: normals by the inverse CDF (as ``jax.random.normal`` does) and
a uniformly random permutation as the argsort of i.i.d. uniforms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def uniform_and_normal(
    key: jax.Array, n: int, n_uniform: int, n_normal: int, dtype
) -> tuple[jax.Array, jax.Array]:
    """``(u, z)``: ``u: (n, n_uniform)`` in ``(0, 1)``, ``z: (n, n_normal)`` standard normal."""
    tiny = jnp.finfo(dtype).tiny
    u = jax.random.uniform(key, (n, n_uniform + n_normal), dtype, minval=tiny, maxval=1.0)
    z = jnp.sqrt(jnp.asarray(2.0, dtype)) * jax.lax.erf_inv(2 * u[:, n_uniform:] - 1)
    return u[:, :n_uniform], z


def balanced_labels(u: jax.Array, n_classes: int) -> jax.Array:
    """Labels whose counts differ by at most one, in uniformly random order.

    ``argsort`` of i.i.d. uniforms ``u: (n,)`` is a uniformly random permutation ``p``, so
    ``p % n_classes`` puts each class on a random subset of rows.
    """
    return (jnp.argsort(u) % n_classes).astype(jnp.int32)


def host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by the key's bits, for host-side work (splits, folds).

    Splits run once on concrete data; drawing their permutations on the host avoids
    compiling a new XLA permutation for every dataset size. The same key gives the same
    generator, and keys from ``split``/``fold_in`` give independent ones.
    """
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
