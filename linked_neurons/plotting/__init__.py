"""Plots of activations, activation histograms and training results.

Every function returns a ``matplotlib.figure.Figure`` and, given a ``path``,
saves it in the format its extension names (``.png``, ``.svg`` or
``.pdf``). Figures are created without ``pyplot``, so no GUI backend is
needed or touched: the functions work in scripts, notebooks, on servers and
in threads. matplotlib is an optional dependency, imported only when a plot
is drawn (``pip install -e ".[monitoring]"``);
:func:`activation_curve` needs only Keras.

Activations (``linked_neurons.plotting.curves``):

- :func:`activation_curve`: an activation's values on a grid.
- :func:`plot_activation_curves`: curves of activations (names, callables or
  layers, learned ones included) against a base activation.
- :func:`plot_learned_activations`: the LEAF and AHAF layers of a model.

Histograms and statistics (``linked_neurons.plotting.histograms``):

- :func:`plot_histograms`: one histogram per layer, from
  :func:`linked_neurons.monitoring.layer_outputs` or
  :attr:`ActivationHistograms.last_outputs
  <linked_neurons.callbacks.ActivationHistograms>`.
- :func:`plot_histogram_comparison`: the same layers across several runs,
  side by side (for example ReLU, leaky ReLU and SELU networks).
- :func:`plot_statistics`: statistics logged by ``ActivationHistograms``
  against the training step.

Training results (``linked_neurons.plotting.training``):

- :func:`plot_learning_curves`: metrics of one or more Keras histories.
- :func:`plot_bars`: medians of a summary table with min-max error bars.

Meta-learning (``linked_neurons.plotting.meta_learning``):

- :func:`plot_meta_activations`: meta-learned activations against their base.
- :func:`plot_meta_learning`: the history of a meta-learning run.

Files (``linked_neurons.plotting.saving``): :func:`save_figure` and
:data:`FORMATS`.

Example:

    >>> import numpy as np
    >>> from linked_neurons.plotting import activation_curve
    >>> activation_curve("lkrelu", np.array([-1.0, 0.0, 2.0])).tolist()
    [[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]]
"""

from linked_neurons.plotting.curves import (
    activation_curve,
    plot_activation_curves,
    plot_learned_activations,
)
from linked_neurons.plotting.histograms import (
    plot_histogram_comparison,
    plot_histograms,
    plot_statistics,
)
from linked_neurons.plotting.meta_learning import plot_meta_activations, plot_meta_learning
from linked_neurons.plotting.saving import FORMATS, save_figure
from linked_neurons.plotting.training import plot_bars, plot_learning_curves

__all__ = [
    "FORMATS",
    "activation_curve",
    "plot_activation_curves",
    "plot_bars",
    "plot_histogram_comparison",
    "plot_histograms",
    "plot_learned_activations",
    "plot_learning_curves",
    "plot_meta_activations",
    "plot_meta_learning",
    "plot_statistics",
    "save_figure",
]
