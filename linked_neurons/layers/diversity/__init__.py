"""Diverse learnable activations: NeuralActivation and InterpolatedActivation.

Both layers apply K elementwise activations ``g_0 .. g_{K-1}`` to an input
whose channel axis is cut into groups: channel ``c`` uses activation
``assignment[c]``. With ``assignment="blocks"`` (default) the C channels form
K contiguous blocks of ``C / K`` channels, so channel ``c`` uses
``g_{c // (C / K)}``; an explicit integer array gives any other assignment.
All K activations are evaluated together in one batched op: the per-channel
weights are gathered from the K weight sets once, then broadcast over the
input, so there is no Python loop over K or over the channels.

The package holds one module per role: ``common`` (what both layers share),
``neural``, ``interpolated`` and ``files`` (saved curves); every name is
importable from here. The layers are documented with :mod:`linked_neurons.layers`.
"""

from linked_neurons.layers.diversity import common as _common
from linked_neurons.layers.diversity.common import block_assignment, curve_diversity, resolve_base
from linked_neurons.layers.diversity.files import load_curves, save_curves
from linked_neurons.layers.diversity.interpolated import (  # noqa: F401 - the layer's own path
    InterpolatedActivation,
    interpolate,
)
from linked_neurons.layers.diversity.neural import (  # noqa: F401 - the layer's own path
    NeuralActivation,
    neural_activation,
    neural_residual,
)

__all__ = [
    "BASE_FUNCTIONS",
    "HIDDEN_ACTIVATIONS",
    "block_assignment",
    "curve_diversity",
    "interpolate",
    "load_curves",
    "neural_activation",
    "neural_residual",
    "resolve_base",
    "save_curves",
]

#: Base activations given as functions; any other name is looked up in the
#: activation registry (through :func:`linked_neurons.layers.base.lookup_name`)
#: at build time.
BASE_FUNCTIONS = _common.BASE_FUNCTIONS

#: Hidden activations of the sub-networks, with their derivatives (used by
#: the fused backward pass).
HIDDEN_ACTIVATIONS = _common.HIDDEN_ACTIVATIONS
