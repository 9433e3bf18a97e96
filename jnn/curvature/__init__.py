"""Curvature of a loss over parameter pytrees: Hessian-vector products, Hessians, spectra.

Everything takes a ``loss(params, batch) -> scalar`` (or a linear operator ``v -> H v`` built
from one) and works under ``jax.jit``.
"""

from ._hvp import hvp as hvp
from ._hvp import hvp_operator as hvp_operator
