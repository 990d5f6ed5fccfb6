"""ActivationProbe: a side model that returns the outputs of chosen layers."""

import keras

from linked_neurons.monitoring.data import _to_numpy
from linked_neurons.monitoring.selection import _default_channel_axis, resolve_layers


class ActivationProbe:
    """Runs a model up to chosen layers and returns their outputs.

    Builds, once, a side model ``keras.Model(model.inputs, [layer.output
    ...])`` that shares the weights of ``model``; calling the probe runs it
    in inference mode (dropout off, batch normalisation with its moving
    statistics) and returns NumPy arrays. It never changes the model.

    Args:
        model: A functional or ``Sequential`` Keras model with known inputs.
        layers: Layers to watch, as in :func:`resolve_layers` (default: every
            activation-like layer).
        caller: Name used in error messages.

    Attributes:
        layers: The watched layers.
        names: Their names.
        side_model: The side model.

    Raises:
        ValueError: If the model has no symbolic inputs (a subclassed model
            or a ``Sequential`` model without an ``Input``), or for the
            errors of :func:`resolve_layers`.
    """

    def __init__(self, model, layers=None, caller="ActivationProbe"):
        self.model = model
        self.layers = resolve_layers(model, layers, caller=caller)
        self.names = [layer.name for layer in self.layers]
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        self._single_input = bool(inputs) and len(inputs) == 1
        if inputs and len(inputs) == 1:
            inputs = inputs[0]
        elif inputs:
            try:
                inputs = model.input  # keeps the structure of several inputs (list or dict)
            except (AttributeError, ValueError):
                pass
        if inputs is None or isinstance(inputs, (list, tuple, dict)) and not inputs:
            raise ValueError(
                f"{caller}: model '{model.name}' has no symbolic inputs, so its layers' "
                f"outputs cannot be reached. Use a functional model or a Sequential model "
                f"that starts with keras.Input(shape) (or is built), not a subclassed model."
            )
        try:
            outputs = [layer.output for layer in self.layers]
            self.side_model = keras.Model(inputs, outputs, name=f"{model.name}_probe")
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"{caller}: cannot reach the outputs of {self.names} from the inputs of "
                f"model '{model.name}': {error}"
            ) from error

    def __call__(self, x):
        """Outputs of the watched layers on inputs ``x``, as a dict name -> NumPy array."""
        if self._single_input and isinstance(x, (list, tuple)) and len(x) == 1:
            x = x[0]
        if keras.backend.backend() == "torch":
            import torch

            with torch.no_grad():
                outputs = self.side_model(x, training=False)
        else:
            outputs = self.side_model(x, training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return {name: _to_numpy(y) for name, y in zip(self.names, outputs)}

    def channel_axis(self, name, rank, override=None):
        """Channel axis of layer ``name``'s output of ``rank`` (batch axis included)."""
        if override is not None:
            if not -rank <= override < rank or override % rank == 0:
                raise ValueError(
                    f"invalid channel axis {override} for the output of layer '{name}', which "
                    f"has rank {rank}; expected a non-batch axis."
                )
            return int(override) % rank
        layer = self.layers[self.names.index(name)]
        return _default_channel_axis(layer, rank)
