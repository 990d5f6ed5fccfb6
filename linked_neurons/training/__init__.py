"""Training procedures for learnable activations (SPEC §3).

Three pieces, usable with any Keras model, not only with the experiments:

- :func:`activation_parameters` lists a model's activation parameters (the
  weights of :class:`~linked_neurons.layers.learnable.LEAF`,
  :class:`~linked_neurons.layers.learnable.AHAF` and the other activation
  layers).
- :class:`GroupedOptimizer` routes each variable to one of several Keras
  optimizers; :func:`p24sl_optimizer` builds the "P24Sl" setup of the LEAF
  paper with it: LEAF's ``p2`` and ``p4`` get their own, slower learning rate.
- :class:`DSPTMixin` (with the ready-made :class:`DSPTModel` and
  :class:`DSPTSequential`, and :func:`with_dspt`) trains with double-stage
  parameter tuning ("DSPT"): on every batch, a first forward/backward pass
  updates only the activation parameters, a second one on the same batch
  updates only the other weights, each with its own optimizer.
- :func:`build_before_fit` creates a compiled model's optimizer and metric
  state before ``fit``, so that TensorFlow traces the train function once
  (what a process that trains many models keeps per model).

All of it works with ``model.fit`` on the TensorFlow, JAX and PyTorch
backends, under ``tf.distribute`` strategies and mixed precision, and is
saved and restored with the model (``.keras`` files keep the optimizers'
state).

Example:

    >>> import keras
    >>> from linked_neurons.layers.learnable import LEAF
    >>> from linked_neurons import training
    >>> model = training.DSPTSequential([
    ...     keras.Input((4,)), keras.layers.Dense(3), LEAF(init="tanh"), keras.layers.Dense(1)])
    >>> [v.name for v in training.activation_parameters(model)]
    ['p1', 'p2', 'p3', 'p4']
    >>> model.compile(optimizer="adam",
    ...               activation_optimizer=training.p24sl_optimizer(model, "adam"),
    ...               loss="mse")
    >>> [type(o).__name__ for o in model.optimizer.optimizers]
    ['Adam', 'Adam', 'Adam']
    >>> [round(float(o.learning_rate), 9) for o in model.optimizer.optimizers]
    [1e-06, 0.001, 0.001]
"""

from linked_neurons.training import p24sl as _p24sl
from linked_neurons.training import parameters as _parameters
from linked_neurons.training.build import build_before_fit
from linked_neurons.training.dspt import DSPTMixin, DSPTModel, DSPTSequential, with_dspt
from linked_neurons.training.grouped import GroupedOptimizer
from linked_neurons.training.p24sl import p24sl_optimizer
from linked_neurons.training.parameters import activation_parameters, count_activation_parameters

__all__ = [
    "ACTIVATION_LAYER_TYPES",
    "DSPTMixin",
    "DSPTModel",
    "DSPTSequential",
    "GroupedOptimizer",
    "P24SL_FACTORS",
    "activation_parameters",
    "build_before_fit",
    "count_activation_parameters",
    "p24sl_optimizer",
    "with_dspt",
]

#: Layer types whose trainable weights are "activation parameters" by default.
ACTIVATION_LAYER_TYPES = _parameters.ACTIVATION_LAYER_TYPES

#: Default ratio of the slow (p2, p4) to the base learning rate, per optimizer class
#: name: base/1000 with the Adam family, base/10 with RMSprop (the LEAF paper's setup).
P24SL_FACTORS = _p24sl.P24SL_FACTORS
