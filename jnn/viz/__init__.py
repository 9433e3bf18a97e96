"""Figures for looking inside training: each function returns a matplotlib ``Figure``.

Every plotting function takes an optional ``ax`` (a matplotlib ``Axes`` to draw into;
a new figure when ``None``) and returns the ``Figure``. matplotlib is imported on the
first plot, not by ``import jnn.viz``.

- activations: :func:`plot_activations`, :func:`activation_curves`
- classifiers: :func:`plot_decision_boundary`, :func:`decision_regions`,
  :func:`plot_confusion_matrix`, :func:`confusion_matrix`
- training: :func:`plot_learning_curves`, :func:`plot_curves`, :func:`plot_schedules`
- optimizers: :func:`optimizer_path`, :func:`optimizer_paths`,
  :func:`plot_optimizer_paths` and the test functions :func:`rosenbrock`,
  :func:`ill_conditioned_quadratic`, :func:`shifted_quadratic`, :func:`himmelblau`,
  :func:`saddle`
- curvature: :func:`plot_hessian_spectrum`, :func:`plot_sharpness`
- convolutions and images: :func:`plot_filters`, :func:`plot_feature_maps`,
  :func:`plot_images`
- loss landscapes (:mod:`jnn.landscape`): :func:`plot_landscape_line`,
  :func:`plot_landscape_contour`, :func:`plot_landscape_heatmap`,
  :func:`plot_landscape_surface`, :func:`plot_landscape_trajectory`
"""

from jnn.viz._activations import activation_curves as activation_curves
from jnn.viz._activations import plot_activations as plot_activations
from jnn.viz._confusion import confusion_matrix as confusion_matrix
from jnn.viz._confusion import plot_confusion_matrix as plot_confusion_matrix
from jnn.viz._conv import plot_feature_maps as plot_feature_maps
from jnn.viz._conv import plot_filters as plot_filters
from jnn.viz._conv import plot_images as plot_images
from jnn.viz._curves import plot_curves as plot_curves
from jnn.viz._curves import plot_learning_curves as plot_learning_curves
from jnn.viz._curves import plot_schedules as plot_schedules
from jnn.viz._curves import schedule_values as schedule_values
from jnn.viz._decision import DecisionRegions as DecisionRegions
from jnn.viz._decision import decision_regions as decision_regions
from jnn.viz._decision import plot_decision_boundary as plot_decision_boundary
from jnn.viz._landscape import plot_landscape_contour as plot_landscape_contour
from jnn.viz._landscape import plot_landscape_heatmap as plot_landscape_heatmap
from jnn.viz._landscape import plot_landscape_line as plot_landscape_line
from jnn.viz._landscape import plot_landscape_surface as plot_landscape_surface
from jnn.viz._landscape import plot_landscape_trajectory as plot_landscape_trajectory
from jnn.viz._optimizer_paths import himmelblau as himmelblau
from jnn.viz._optimizer_paths import ill_conditioned_quadratic as ill_conditioned_quadratic
from jnn.viz._optimizer_paths import optimizer_path as optimizer_path
from jnn.viz._optimizer_paths import optimizer_paths as optimizer_paths
from jnn.viz._optimizer_paths import plot_optimizer_paths as plot_optimizer_paths
from jnn.viz._optimizer_paths import rosenbrock as rosenbrock
from jnn.viz._optimizer_paths import saddle as saddle
from jnn.viz._optimizer_paths import shifted_quadratic as shifted_quadratic
from jnn.viz._spectra import plot_hessian_spectrum as plot_hessian_spectrum
from jnn.viz._spectra import plot_sharpness as plot_sharpness
