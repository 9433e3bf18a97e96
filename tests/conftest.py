"""Shared fixtures: a key, float64 on request, rank promotion as an error."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
# Eight CPU devices, so data-parallel code is tested on a real mesh (no effect on GPU/TPU).
jax.config.update("jax_num_cpu_devices", 8)


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def x64():
    """Run the test with 64-bit floats enabled."""
    with jax.enable_x64(True):
        yield
