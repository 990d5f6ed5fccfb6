"""Networks of the activation studies: the SELU-study CNN and the LEAF/AHAF models.

- :func:`selu_cnn`: the CNN of the SELU histogram study, with named
  activation layers for monitoring.
- :func:`learnable_model`: LeNet-5 or KerasNet (:mod:`linked_neurons.models`)
  with a fixed activation, AHAF or LEAF, compiled with the optimizer set-up
  of the LEAF paper (P24Sl: LEAF's ``p2`` and ``p4`` learn more slowly; DSPT:
  double-stage parameter tuning).

Example:

    >>> from linked_neurons.study_models import selu_cnn, learnable_variants
    >>> [l.name for l in selu_cnn((16, 16, 1), 10).layers if l.name.endswith("_act")]
    ['conv1_act', 'conv2_act', 'conv3_act', 'fc1_act', 'fc2_act']
    >>> learnable_variants("tanh")
    ('base', 'leaf_p24sl', 'leaf_dspt_p24sl')
"""

__all__ = ["LEARNABLE_INITS", "LEARNABLE_NETWORKS", "LEARNABLE_VARIANTS", "SELU_LAYER_NAMES",
           "learnable_model", "learnable_variants", "selu_cnn"]

#: Names of the five activation layers of :func:`selu_cnn`, in model order.
SELU_LAYER_NAMES = ("conv1_act", "conv2_act", "conv3_act", "fc1_act", "fc2_act")
#: Networks of :func:`learnable_model`.
LEARNABLE_NETWORKS = ("lenet5", "kerasnet")
#: Activations AHAF and LEAF start from (their ``init``), also the fixed baselines.
LEARNABLE_INITS = ("relu", "silu", "tanh", "sigmoid")
#: Every variant of :func:`learnable_model`, in table order.
LEARNABLE_VARIANTS = ("base", "ahaf", "ahaf_dspt", "leaf_p24sl", "leaf_dspt_p24sl")
_LEARNING_RATES = {"adam": 1e-3, "rmsprop": 1e-4}


def selu_cnn(input_shape, num_classes, activation="selu", batch_norm=False, filters=None,
             dense_units=(160, 40), dropout=0.5):
    """The CNN of the SELU histogram study.

    ``3 x [Conv(F, 5, stride 2, same) -> f -> [BatchNormalization] ->
    Dropout] -> Flatten -> Dense(160) -> f -> Dense(40) -> f ->
    Dense(classes)`` (logits); convolution kernels from a truncated normal of
    standard deviation 0.02, ``Conv1D`` for ``(L, C)`` sequences.

    Args:
        input_shape: ``(H, W, C)`` images or ``(L, C)`` sequences.
        num_classes: Number of classes (size of the logits).
        activation: A name of :mod:`linked_neurons.activations`.
        batch_norm: BatchNormalization (momentum 0.9) after each convolution's activation.
        filters: Filters of the three convolutions (default 32, 64, 128 for
            one input channel, 64, 128, 256 otherwise).
        dense_units: Units of the two hidden dense layers.
        dropout: Dropout rate after each convolution block.

    Returns:
        An uncompiled ``keras.Sequential`` whose activation layers are named
        :data:`SELU_LAYER_NAMES`.

    Raises:
        ValueError: For an input of rank other than 2 or 3, or not 3 filters.
    """
    import keras

    from linked_neurons import activations

    input_shape = tuple(input_shape)
    if len(input_shape) not in (2, 3):
        raise ValueError(f"selu_cnn: expected (H, W, C) images or (L, C) sequences, got "
                         f"input_shape={input_shape}.")
    conv = keras.layers.Conv2D if len(input_shape) == 3 else keras.layers.Conv1D
    filters = tuple(filters or ((32, 64, 128) if input_shape[-1] == 1 else (64, 128, 256)))
    if len(filters) != 3:
        raise ValueError(f"selu_cnn: `filters` needs 3 values, got {filters}.")
    layers = [keras.Input(input_shape)]
    for index, width in enumerate(filters):
        layers += [conv(width, 5, strides=2, padding="same", name=f"conv{index + 1}",
                        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02)),
                   activations.get(activation, name=SELU_LAYER_NAMES[index])]
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=0.9, name=f"bn{index + 1}"))
        layers.append(keras.layers.Dropout(dropout, name=f"dropout{index + 1}"))
    layers.append(keras.layers.Flatten())
    for index, units in enumerate(dense_units):
        layers += [keras.layers.Dense(units, name=f"fc{index + 1}"),
                   activations.get(activation, name=SELU_LAYER_NAMES[3 + index])]
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers, name=f"selu_cnn_{activation}{'_bn' if batch_norm else ''}")


def learnable_variants(init):
    """The variants the LEAF paper trains for an initial activation.

    Raises:
        ValueError: For an unknown ``init``.
    """
    if init in ("relu", "silu"):
        return LEARNABLE_VARIANTS
    if init in ("tanh", "sigmoid"):
        return ("base", "leaf_p24sl", "leaf_dspt_p24sl")
    raise ValueError(f"learnable_variants: unknown init {init!r}; expected one of "
                     f"{', '.join(LEARNABLE_INITS)}.")


def _optimizer(name, learning_rate):
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, rho=0.9, epsilon=1e-7)
    raise ValueError(f"learnable_model: unknown optimizer {name!r}; expected 'adam' or "
                     "'rmsprop'.")


def learnable_model(network, init, variant, input_shape, num_classes, optimizer="adam",
                    learning_rate=None, jit_compile=False):
    """Builds and compiles LeNet-5 or KerasNet with a fixed, AHAF or LEAF activation.

    Args:
        network: ``"lenet5"`` or ``"kerasnet"``.
        init: ``"relu"``, ``"silu"``, ``"tanh"`` or ``"sigmoid"``: the fixed
            activation of ``"base"`` and the start of AHAF and LEAF.
        variant: One of :func:`learnable_variants` of ``init``: ``"base"``,
            ``"ahaf"``, ``"ahaf_dspt"``, ``"leaf_p24sl"``, ``"leaf_dspt_p24sl"``.
        input_shape: Image shape ``(H, W, C)``.
        num_classes: Number of classes.
        optimizer: ``"adam"`` or ``"rmsprop"`` (rho 0.9, epsilon 1e-7).
        learning_rate: Base learning rate (default 1e-3 Adam, 1e-4 RMSprop).
        jit_compile: Passed to ``compile``.

    Returns:
        A compiled model (a :class:`~linked_neurons.training.DSPTModel` for
        the DSPT variants); sparse categorical cross-entropy, accuracy.

    Raises:
        ValueError: For an unknown network, init, variant or optimizer.

    Example:

        >>> from linked_neurons.study_models import learnable_model
        >>> model = learnable_model("lenet5", "relu", "leaf_dspt_p24sl", (28, 28, 1), 10)
        >>> type(model).__name__, len(model.optimizer.optimizers)
        ('DSPTModel', 3)
    """
    import functools

    from linked_neurons import models
    from linked_neurons.layers.learnable import AHAF, LEAF
    from linked_neurons.training import p24sl_optimizer, with_dspt

    if network not in LEARNABLE_NETWORKS:
        raise ValueError(f"learnable_model: unknown network {network!r}; expected one of "
                         f"{', '.join(LEARNABLE_NETWORKS)}.")
    if variant not in learnable_variants(init):
        raise ValueError(f"learnable_model: variant {variant!r} is not trained for init "
                         f"{init!r}; expected one of {', '.join(learnable_variants(init))}.")
    rate = learning_rate if learning_rate is not None else _LEARNING_RATES.get(optimizer)
    activation = init if variant == "base" else functools.partial(
        AHAF if variant.startswith("ahaf") else LEAF, init=init)
    model = getattr(models, network)(input_shape, num_classes, activation=activation,
                                     name=f"{network}_{init}_{variant}")
    settings = dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    jit_compile=jit_compile)
    if "dspt" in variant:
        model = with_dspt(model)
        activation_optimizer = _optimizer(optimizer, rate)
        if variant.endswith("p24sl"):
            activation_optimizer = p24sl_optimizer(model, activation_optimizer)
        model.compile(optimizer=_optimizer(optimizer, rate),
                      activation_optimizer=activation_optimizer, **settings)
    elif variant.endswith("p24sl"):
        model.compile(optimizer=p24sl_optimizer(model, _optimizer(optimizer, rate)), **settings)
    else:
        model.compile(optimizer=_optimizer(optimizer, rate), **settings)
    return model
