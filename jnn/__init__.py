"""jnn: a functional neural-network library for JAX.

A model is data (a pytree of arrays) plus pure functions. Layers are ``init``/``apply``
pairs; optimizers are optax gradient transformations; curvature and loss landscapes
work on any ``loss(params, batch) -> scalar``.
"""

from jnn import layers as layers
from jnn._objective import objective as objective
from jnn._summary import Summary as Summary
from jnn._summary import summary as summary

__version__ = "0.1.0"
