"""Hessian spectra: eigenvalue densities, top eigenvalues, sharpness over training."""

from __future__ import annotations

from typing import Any

import numpy as np

from jnn import _checks
from jnn.viz._common import as_numpy, figure_and_axes


def _density_arrays(where: str, density: Any) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(density, "grid") and hasattr(density, "density"):
        grid, values = density.grid, density.density
    elif isinstance(density, (tuple, list)) and len(density) == 2:
        grid, values = density
    else:
        raise TypeError(
            f"{where}: density must be a jnn.curvature.SpectralDensity or a pair (grid, "
            f"density); got {type(density).__name__}."
        )
    grid = as_numpy(where, "density grid", grid, 1, "(num_points,)").astype(np.float64)
    values = as_numpy(where, "density values", values, 1, "(num_points,)").astype(np.float64)
    if grid.shape != values.shape:
        raise ValueError(f"{where}: the density's grid {grid.shape} and values {values.shape} "
                         f"must have the same shape.")
    return grid, values


def _eigen_array(where: str, name: str, values: Any) -> np.ndarray:
    values = getattr(values, "eigenvalues", values)  # an Eigenpairs result
    return as_numpy(where, name, values, (0, 1), "(k,)").astype(np.float64).reshape(-1)


def plot_hessian_spectrum(
    density: Any = None,
    *,
    eigenvalues: Any = None,
    top: Any = None,
    ax: Any = None,
    log: bool = True,
    bins: int = 60,
    title: str | None = None,
):
    r"""The eigenvalue spectrum of a Hessian: a smoothed density, a histogram, the top values.

    Give any of:

    - ``density``: the stochastic-Lanczos estimate :math:`\phi_\sigma(t)` from
      :func:`jnn.curvature.spectral_density` (or a pair ``(grid, density)``), drawn as a
      curve, on a log scale by default (Ghorbani et al. 2019) so the few outliers beside
      the bulk near zero stay visible;
    - ``eigenvalues``: all eigenvalues (``jnp.linalg.eigvalsh(H)`` of a small model), drawn
      as a normalized histogram;
    - ``top``: a few extreme eigenvalues (an array, or the ``Eigenpairs`` from
      :func:`jnn.curvature.top_eigenvalues`), marked by dashed vertical lines.

    Negative eigenvalues (directions of negative curvature) lie left of the dotted zero
    line.

    Args:
        density, eigenvalues, top: see above; at least one is needed.
        ax: a matplotlib Axes; a new figure when ``None``.
        log: logarithmic density axis.
        bins: histogram bins for ``eigenvalues``.
        title: the axes title.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> import jax, jax.numpy as jnp, jnn
        >>> A = jnp.diag(jnp.linspace(-1.0, 10.0, 300))
        >>> res = jnn.curvature.spectral_density(lambda v: A @ v, jnp.zeros(300),
        ...                                      key=jax.random.key(0))
        >>> fig = plot_hessian_spectrum(res, top=[10.0])  # doctest: +SKIP
    """
    where = "jnn.viz.plot_hessian_spectrum"
    if density is None and eigenvalues is None and top is None:
        raise ValueError(f"{where}: give density=, eigenvalues= or top=; got none of them.")
    bins = _checks.positive_int(where, "bins", bins)
    fig, ax = figure_and_axes(ax, (5.5, 3.8))
    if eigenvalues is not None:
        values = _eigen_array(where, "eigenvalues", eigenvalues)
        ax.hist(values, bins=bins, density=True, color="C0", alpha=0.5,
                label=f"all {values.size} eigenvalues")
    if density is not None:
        grid, values = _density_arrays(where, density)
        if log:
            positive = values[values > 0]
            floor = positive.max() * 1e-8 if positive.size else 1e-12
            values = np.maximum(values, floor)
        ax.plot(grid, values, color="C1", lw=1.5, label="density (SLQ)")
    if top is not None:
        for i, value in enumerate(_eigen_array(where, "top", top)):
            ax.axvline(value, color="C3", ls="--", lw=1.0,
                       label="top eigenvalues" if i == 0 else None)
    ax.axvline(0.0, color="0.5", ls=":", lw=0.8)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(r"eigenvalue $\lambda$")
    ax.set_ylabel("density")
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def plot_sharpness(
    steps: Any,
    top_eigenvalues: Any,
    *,
    learning_rate: float | None = None,
    loss: Any = None,
    log_loss: bool = True,
    ax: Any = None,
    title: str | None = None,
):
    r"""The top Hessian eigenvalue (sharpness) over training, against :math:`2/\eta`.

    Gradient descent with step :math:`\eta` on a quadratic is stable only while
    :math:`\lambda_{\max} < 2/\eta`. Cohen et al. (2021) observed that full-batch
    gradient descent on neural networks first raises :math:`\lambda_{\max}`
    (progressive sharpening) until it reaches :math:`2/\eta`, and then hovers there
    while the loss keeps falling, non-monotonically (the edge of stability).

    Args:
        steps: ``(n,)`` the training steps at which the eigenvalue was measured.
        top_eigenvalues: ``(n,)`` :math:`\lambda_{\max}` at those steps.
        learning_rate: :math:`\eta`; draws the line :math:`2/\eta`.
        loss: ``(n,)`` training loss at the same steps, drawn on a second y axis.
        log_loss: logarithmic scale for that axis (when the losses are positive).
        ax: a matplotlib Axes; a new figure when ``None``.
        title: the axes title.

    Returns:
        The matplotlib ``Figure``.

    References:
        Cohen, Kaur, Li, Kolter, Talwalkar, "Gradient Descent on Neural Networks
        Typically Occurs at the Edge of Stability", ICLR 2021.
        https://arxiv.org/abs/2103.00065
    """
    where = "jnn.viz.plot_sharpness"
    steps = as_numpy(where, "steps", steps, 1, "(n,)")
    sharp = as_numpy(where, "top_eigenvalues", top_eigenvalues, 1, "(n,)")
    if steps.shape != sharp.shape:
        raise ValueError(f"{where}: steps {steps.shape} and top_eigenvalues {sharp.shape} "
                         f"must have the same length.")
    fig, ax = figure_and_axes(ax, (5.5, 3.8))
    ax.plot(steps, sharp, color="C0", label=r"$\lambda_{\max}$")
    if learning_rate is not None:
        _checks.number_in_range(where, "learning_rate", learning_rate, 0.0,
                                low_inclusive=False)
        ax.axhline(2.0 / learning_rate, color="C3", ls="--",
                   label=rf"$2/\eta = {2.0 / learning_rate:.3g}$")
    ax.set_xlabel("step")
    ax.set_ylabel(r"top Hessian eigenvalue $\lambda_{\max}$")
    if loss is not None:
        loss = as_numpy(where, "loss", loss, 1, "(n,)")
        if loss.shape != steps.shape:
            raise ValueError(f"{where}: loss {loss.shape} must have the length of steps "
                             f"{steps.shape}.")
        twin = ax.twinx()
        twin.plot(steps, loss, color="C2", alpha=0.8, label="training loss")
        twin.set_ylabel("training loss")
        if log_loss and np.all(loss > 0):
            twin.set_yscale("log")
        twin.legend(loc="lower right", fontsize="small")
    ax.legend(loc="upper left", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return fig
