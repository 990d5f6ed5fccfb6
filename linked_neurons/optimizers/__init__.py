"""Optimizers for Keras 3: :class:`RAdam`, the :class:`Lookahead` wrapper and
:class:`InnerRMSprop` (the inner update of the diversity meta-learning).

Both are ``keras.optimizers.Optimizer`` subclasses that run on the
TensorFlow, JAX and PyTorch backends. They are registered with Keras on
import, under ``"linked_neurons>RAdam"`` and ``"linked_neurons>Lookahead"``
(what ``keras.optimizers.serialize`` and saved ``.keras`` files use) and
under the short names ``"radam"`` and ``"lookahead"``, so that after
``import linked_neurons.optimizers`` the strings work wherever Keras takes
an optimizer name: ``keras.optimizers.get("radam")``,
``model.compile(optimizer="radam")``, ``Lookahead("radam")``. Like Keras' own
optimizer names they are case-insensitive (``"RAdam"``, ``"Lookahead"``).

Example:

    >>> import keras
    >>> import linked_neurons.optimizers
    >>> type(keras.optimizers.get("radam")).__name__
    'RAdam'
    >>> type(keras.optimizers.get("RAdam")).__name__
    'RAdam'
    >>> ranger = keras.optimizers.get("lookahead")  # Lookahead(Adam())
    >>> type(ranger.inner_optimizer).__name__, ranger.sync_period
    ('Adam', 5)
    >>> config = keras.optimizers.serialize(linked_neurons.optimizers.Lookahead("radam"))
    >>> type(keras.optimizers.deserialize(config).inner_optimizer).__name__
    'RAdam'
"""

import keras

from linked_neurons.optimizers.inner_rmsprop import InnerRMSprop
from linked_neurons.optimizers.lookahead import Lookahead
from linked_neurons.optimizers.radam import RAdam

__all__ = ["InnerRMSprop", "Lookahead", "RAdam"]

# keras.optimizers.get resolves a bare string through the global custom objects.
keras.saving.get_custom_objects().update({"radam": RAdam, "lookahead": Lookahead})
# keras.optimizers.deserialize lower-cases a class name found in its own table
# (what makes "Adam" and "ADAM" work); adding ours there makes "RAdam" work too.
try:
    from keras.src import optimizers as _keras_optimizers

    for _name, _cls in (("radam", RAdam), ("lookahead", Lookahead)):
        _keras_optimizers.ALL_OBJECTS_DICT.setdefault(_name, _cls)
except (ImportError, AttributeError):  # a Keras without the table: lower-case names only
    pass
