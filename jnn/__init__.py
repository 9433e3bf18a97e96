"""jnn: a functional neural-network library for JAX.

A model is data (a pytree of arrays) plus pure functions. Layers are ``init``/``apply``
pairs; optimizers are optax gradient transformations; curvature and loss landscapes
work on any ``loss(params, batch) -> scalar``.
"""

__version__ = "0.1.0"
