"""The "P24Sl" setup of the LEAF paper: a slower learning rate for LEAF's p2 and p4."""

import numbers

import keras

from linked_neurons.layers.learnable import LEAF
from linked_neurons.optimizers._common import learning_rate_or_error
from linked_neurons.training.grouped import GroupedOptimizer, _clone_optimizer, _get_optimizer
from linked_neurons.training.parameters import _all_layers, activation_parameters

#: Default ratio of the slow (p2, p4) to the base learning rate, per optimizer class
#: name: base/1000 with the Adam family, base/10 with RMSprop (the LEAF paper's setup).
P24SL_FACTORS = {"adam": 1e-3, "adamw": 1e-3, "adamax": 1e-3, "nadam": 1e-3, "rmsprop": 1e-1}


def _slow_rate_or_error(rate):
    try:
        return learning_rate_or_error("p24sl_optimizer", rate)
    except (TypeError, ValueError) as err:
        raise type(err)(str(err).replace("`learning_rate`", "`slow_learning_rate`").replace(
            "received learning_rate=", "received slow_learning_rate=")) from None


def p24sl_optimizer(
    model, optimizer="adam", learning_rate=None, slow_learning_rate=None, name="p24sl"
):
    """The "P24Sl" optimizer setup: a slower learning rate for LEAF's p2 and p4.

    LEAF used as ReLU is unstable when ``p2`` drifts (its slope at 0 is about
    ``p2 * p3 / 4`` with ``p3 = 2**16``); the LEAF paper trains ``p2`` and
    ``p4`` of every :class:`~linked_neurons.layers.learnable.LEAF` layer with
    their own, slower learning rate: base/1000 with Adam (1e-3 -> 1e-6),
    base/10 with RMSprop (1e-4 -> 1e-5). Everything else (``p1``, ``p3``,
    every other weight) keeps the base rate.

    Args:
        model: The model (built or not: its LEAF parameters are looked up
            when the optimizer is built).
        optimizer: Base optimizer: a name (``"adam"``, ``"rmsprop"``, ...),
            config or instance. Its copy with the slow rate updates p2/p4.
        learning_rate: Base learning rate when ``optimizer`` is a name or
            config (default: Keras' default of that optimizer).
        slow_learning_rate: Learning rate (or schedule) of p2 and p4.
            Default: the base rate times :data:`P24SL_FACTORS` of the
            optimizer class; other optimizers need it given.
        name: Name of the returned optimizer.

    Returns:
        A :class:`GroupedOptimizer` with one group (p2/p4 of every LEAF
        layer) and the base optimizer as default. Pass it to
        ``model.compile``, or as ``activation_optimizer`` of a DSPT model.

    Raises:
        ValueError: If the slow rate cannot be derived, or the model is
            built and has no LEAF layer.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import LEAF
        >>> from linked_neurons.training import p24sl_optimizer
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), LEAF()])
        >>> optimizer = p24sl_optimizer(model, "rmsprop", learning_rate=1e-4)
        >>> model.compile(optimizer=optimizer, loss="mse")
        >>> [round(float(o.learning_rate), 9) for o in optimizer.optimizers]  # p2/p4, the rest
        [1e-05, 0.0001]
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"p24sl_optimizer: expected a Keras model, got {type(model).__name__}.")
    if learning_rate is not None:
        learning_rate = learning_rate_or_error("p24sl_optimizer", learning_rate)
    if slow_learning_rate is not None:
        slow_learning_rate = _slow_rate_or_error(slow_learning_rate)
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None:
            raise ValueError(
                "p24sl_optimizer: `learning_rate` is only for an optimizer given by name or "
                "config; set it on the optimizer instance."
            )
        base = _get_optimizer(optimizer, "p24sl_optimizer")
    else:
        base = _get_optimizer(optimizer, "p24sl_optimizer")
        if learning_rate is not None:
            base = _clone_optimizer(base, learning_rate=learning_rate)
    if slow_learning_rate is None:
        kind = type(base).__name__.lower()
        factor = P24SL_FACTORS.get(kind)
        rate = base.get_config().get("learning_rate")
        if factor is None:
            raise ValueError(
                f"p24sl_optimizer: no default slow learning rate for {type(base).__name__} "
                f"(known: {', '.join(sorted(P24SL_FACTORS))}); pass `slow_learning_rate`."
            )
        if not isinstance(rate, numbers.Real):
            raise ValueError(
                "p24sl_optimizer: the base learning rate is a schedule; pass "
                "`slow_learning_rate` (a number or a schedule)."
            )
        slow_learning_rate = float(rate) * factor
    slow = _clone_optimizer(base, learning_rate=slow_learning_rate, name=f"{base.name}_p24")

    def select():
        return activation_parameters(model, names=("p2", "p4"), layer_types=(LEAF,))

    if model.built and not any(isinstance(layer, LEAF) for layer in _all_layers(model)):
        raise ValueError("p24sl_optimizer: the model has no LEAF layer.")
    return GroupedOptimizer(base, [(slow, select)], name=name)
