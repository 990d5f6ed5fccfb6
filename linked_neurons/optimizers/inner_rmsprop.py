"""The RMSprop-like update of DiversityNN's inner loop as a Keras optimizer."""

import keras
from keras import ops

from linked_neurons.optimizers._common import check_number, outside_trace


@keras.saving.register_keras_serializable(package="linked_neurons")
class InnerRMSprop(keras.optimizers.Optimizer):
    """RMSprop whose square average starts at 1 (DiversityNN's inner update).

    For every variable ``w`` with gradient ``g``::

        s ← decay · s + (1 − decay) · g²    (s starts at 1)
        w ← w − learning_rate · g / (√s + epsilon)

    This is the update :func:`linked_neurons.diversity.meta_learn` unrolls
    in its inner loop (SPEC §4). ``keras.optimizers.RMSprop`` starts its
    average at 0 and so takes much larger first steps; this optimizer lets a
    classifier be trained exactly as in the meta-learning, e.g. to validate
    learned activations in the regime they were learned for.

    Args:
        learning_rate: Step size (0.01).
        decay: Decay of the square average, in [0, 1) (0.8).
        epsilon: Added to the root of the square average (1e-8).
        name: Name of the optimizer.
        **kwargs: Other ``keras.optimizers.Optimizer`` arguments.

    Example:

        >>> import numpy as np, keras
        >>> from linked_neurons.optimizers import InnerRMSprop
        >>> w = keras.Variable(np.array([1.0, -2.0], "float32"))
        >>> opt = InnerRMSprop(learning_rate=0.1)
        >>> _ = opt.apply_gradients([(keras.ops.convert_to_tensor([0.5, 0.5]), w)])
        >>> np.round(keras.ops.convert_to_numpy(w), 4)  # s = 0.8 + 0.2 * 0.25 = 0.85
        array([ 0.9458, -2.0542], dtype=float32)

    Reference:
        Choudhary et al., "Neural networks embrace diversity", Sci. Rep. 13
        (2023), arXiv:2204.04348.
    """

    def __init__(self, learning_rate=0.01, decay=0.8, epsilon=1e-8, name="inner_rmsprop",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.decay = check_number("InnerRMSprop", "decay", decay, 0.0, 1.0, high_open=True)
        self.epsilon = check_number("InnerRMSprop", "epsilon", epsilon, 0.0)

    def build(self, var_list):
        if self.built:
            return
        with outside_trace():
            super().build(var_list)
            self._squares = [self.add_variable_from_reference(v, "square", initializer="ones")
                             for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        square = self._squares[self._get_variable_index(variable)]
        self.assign(square, self.decay * square + (1.0 - self.decay) * ops.square(gradient))
        self.assign_sub(variable, lr * gradient / (ops.sqrt(square) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"decay": self.decay, "epsilon": self.epsilon})
        return config
