"""Meta-learning of diverse activations and the validation study (SPEC §4).

:func:`meta_learn` learns the K sub-networks of a
:class:`~linked_neurons.layers.NeuralActivation` the DiversityNN
way. Every outer step

1. creates a fresh classifier ``n_in → inner_hidden → n_classes`` (the
   hidden units cut into K blocks, block k activated by ``g_k``) with
   PyTorch-style uniform init;
2. trains it from scratch for ``inner_epochs`` epochs of mini-batches with an
   RMSprop-like update whose square average starts at 1::

       s ← decay · s + (1 − decay) · g²;   w ← w − lr · g / (√s + eps)

3. takes the outer loss as the mean of the inner training losses and its
   gradient with respect to the sub-network weights through the whole
   unrolled inner loop (second order: the inner gradients are themselves
   differentiated) or, with ``first_order=True``, with the inner weights
   treated as constants (only the direct dependence of each loss on the
   activations is differentiated);
4. clips that meta-gradient elementwise to ``±clip`` and applies SGD with
   momentum (``buf ← μ · buf + g``; ``θ ← θ − lr · buf``).

Backends: the unrolled differentiation needs nested automatic
differentiation. It is implemented for TensorFlow (nested
``tf.GradientTape``, the default backend), JAX (``jax.value_and_grad``, the
outer step compiled with ``jax.jit``) and PyTorch
(``torch.autograd.grad(create_graph=True)``); another backend raises a
``NotImplementedError``. The layers themselves work on every backend.

:func:`validate` then compares, over several seeds and with the same
optimizer and epochs, a classifier using all K learned activations (mixed, one
block each), a classifier using each learned activation alone, and the pure
base activation.

The package holds one module per role: ``unrolled`` (the inner training and
its differentiation), ``meta`` (the outer loop and its presets) and
``validation``; every name is importable from here.
"""

from linked_neurons.diversity import meta as _meta
from linked_neurons.diversity.meta import (
    MetaLearningResult,
    meta_gradient,
    meta_learn,
    resolve_preset,
)
from linked_neurons.diversity.unrolled import (
    accuracy,
    classifier_logits,
    cross_entropy,
    init_classifier,
    unrolled_loss,
)
from linked_neurons.diversity.validation import validate, validation_configs
from linked_neurons.layers.diversity import (  # noqa: F401 - the layers this module trains
    InterpolatedActivation,
    NeuralActivation,
)

__all__ = [
    "PAPER_DEFAULTS",
    "PRESETS",
    "MetaLearningResult",
    "accuracy",
    "classifier_logits",
    "cross_entropy",
    "init_classifier",
    "meta_gradient",
    "meta_learn",
    "resolve_preset",
    "unrolled_loss",
    "validate",
    "validation_configs",
]

#: The settings of the DiversityNN paper, used by the ``"paper"`` preset.
PAPER_DEFAULTS = _meta.PAPER_DEFAULTS

#: Settings of :func:`meta_learn` by preset name: ``"paper"`` (SPEC §4, 300
#: outer steps of 5 inner epochs) and ``"quick"`` (20 outer steps of one
#: inner epoch, the rest as in the paper; for examples and smoke runs).
PRESETS = _meta.PRESETS
