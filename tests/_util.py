"""Test helpers shared by every test file: one tolerance table and tree comparison."""

import jax
import jax.numpy as jnp
import numpy as np

# One tolerance table, as in jax/_src/public_test_util.py.
#   values: forward results compared against a reference.
#   grads:  finite-difference gradient checks.
TOL = {
    "values": {jnp.float32: 1e-6, jnp.float64: 1e-12},
    "grads": {jnp.float32: 2e-3, jnp.float64: 1e-5},
}


def tol(dtype, kind="values"):
    """The tolerance for comparing arrays of ``dtype`` (``kind`` is 'values' or 'grads')."""
    return TOL[kind][jnp.dtype(dtype).type]



def assert_trees_close(a, b, rtol=1e-6, atol=1e-6):
    """Leaf-by-leaf allclose with both structures printed on a mismatch."""
    sa, sb = jax.tree.structure(a), jax.tree.structure(b)
    assert sa == sb, f"tree structures differ:\n  {sa}\n  {sb}"
    for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(la), np.asarray(lb), rtol=rtol, atol=atol)
