"""Curvature of a loss over parameter pytrees: Hessian-vector products, Hessians, spectra.

Everything takes a ``loss(params, batch) -> scalar`` (or a linear operator ``v -> H v`` built
from one) and works under ``jax.jit``.
"""

from ._density import SpectralDensity as SpectralDensity
from ._density import spectral_density as spectral_density
from ._eigen import ConditionNumber as ConditionNumber
from ._eigen import Eigenpairs as Eigenpairs
from ._eigen import condition_number as condition_number
from ._eigen import smallest_eigenvalues as smallest_eigenvalues
from ._eigen import top_eigenvalues as top_eigenvalues
from ._estimators import TraceEstimate as TraceEstimate
from ._estimators import diag_hutchinson as diag_hutchinson
from ._estimators import trace as trace
from ._gauss_newton import ggn_matrix as ggn_matrix
from ._gauss_newton import ggn_operator as ggn_operator
from ._gauss_newton import ggn_vp as ggn_vp
from ._hessian import hessian as hessian
from ._hessian import hessian_diag as hessian_diag
from ._hvp import hvp as hvp
from ._hvp import hvp_operator as hvp_operator
from ._power import PowerIteration as PowerIteration
from ._power import power_iteration as power_iteration
