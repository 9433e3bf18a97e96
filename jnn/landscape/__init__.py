"""Loss landscapes: directions, 1-D/2-D slices, interpolation, trajectories, sharpness.

Everything takes a ``loss(params, batch) -> scalar`` (``jnn.objective(model, loss, state)``
builds one from a model) and directions that are parameter pytrees. A whole grid of points
is one compiled XLA program, evaluated in memory-bounded chunks; plots are in ``jnn.viz``.
"""

from ._directions import cosine_similarity as cosine_similarity
from ._directions import difference as difference
from ._directions import filter_normalize as filter_normalize
from ._directions import filter_normalized_direction as filter_normalized_direction
from ._directions import layer_normalize as layer_normalize
from ._directions import orthogonalize as orthogonalize
from ._directions import random_direction as random_direction
from ._fast import line_fast as line_fast
from ._fast import plane_fast as plane_fast
from ._grid import Landscape as Landscape
from ._grid import NonFiniteLandscapeWarning as NonFiniteLandscapeWarning
from ._interpolate import interpolate as interpolate
from ._interpolate import interpolate_model as interpolate_model
from ._io import load_landscape as load_landscape
from ._io import save_landscape as save_landscape
from ._sharpness import EpsilonSharpness as EpsilonSharpness
from ._sharpness import epsilon_sharpness as epsilon_sharpness
from ._sharpness import hessian_directions as hessian_directions
from ._sharpness import hessian_eigenpairs as hessian_eigenpairs
from ._sharpness import top_hessian_eigenvalue as top_hessian_eigenvalue
from ._slices import line as line
from ._slices import plane as plane
from ._trajectory import TrajectoryPCA as TrajectoryPCA
from ._trajectory import TrajectoryRecorder as TrajectoryRecorder
from ._trajectory import project_trajectory as project_trajectory
from ._trajectory import trajectory_pca as trajectory_pca
