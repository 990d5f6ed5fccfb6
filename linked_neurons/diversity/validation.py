"""The validation study: learned activations against the base one, over seeds."""

import math

import keras
import numpy as np

from linked_neurons.diversity.meta import PAPER_DEFAULTS
from linked_neurons.layers.diversity import InterpolatedActivation, NeuralActivation
from linked_neurons.training.build import build_before_fit


def _classifier(n_in, n_classes, hidden, activation, seed):
    init = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform", seed=seed)
    return keras.Sequential([
        keras.Input((n_in,)),
        keras.layers.Dense(hidden, kernel_initializer=init,
                           bias_initializer=keras.initializers.RandomUniform(
                               -1 / math.sqrt(n_in), 1 / math.sqrt(n_in), seed=seed + 1)),
        activation,
        keras.layers.Dense(n_classes, kernel_initializer=init),
    ])


def validation_configs(curves, base="sin", include_base=True):
    """The activation layers the validation study compares, by name.

    Args:
        curves: An :class:`~linked_neurons.layers.InterpolatedActivation` with the K learned curves
            (e.g. ``result.layer.to_interpolated()`` or ``from_file``).
        base: The base activation name.
        include_base: Add the pure base activation.

    Returns:
        Dict from configuration name (``"diverse (K=..)"``, ``"learned 0"``,
        ..., ``"base sin"``) to a factory returning a new layer.
    """
    y = curves.current_y_values()
    x = curves.x_values
    k = y.shape[0]
    configs = {}
    if k > 1:
        configs[f"diverse (K={k})"] = lambda: InterpolatedActivation(
            y, x_values=x, extrapolation=curves.extrapolation)
    for i in range(k):
        configs[f"learned {i}"] = lambda i=i: InterpolatedActivation(
            y, x_values=x, select=i, extrapolation=curves.extrapolation)
    if include_base:
        def pure_base():
            layer = NeuralActivation(1, hidden_units=1, base=base,
                                     kernel_initializer="zeros", bias_initializer="zeros",
                                     output_kernel_initializer="zeros",
                                     output_bias_initializer="zeros", trainable=False)
            return layer

        configs[f"base {base}"] = pure_base
    return configs


def validate(curves, x_train, y_train, x_test, y_test, base="sin", seeds=(0, 1, 2), epochs=5,
             batch_size=200, hidden=200, learning_rate=0.005, verbose=1, return_models=False,
             jit_compile="auto", optimizer="adam"):
    """Validation study: all K learned activations mixed vs each alone vs the base.

    Each configuration trains the same classifier ``d → hidden → classes``
    (the activation after the hidden layer; K blocks in the mixed case) for
    ``epochs`` epochs, once per seed (``jit_compile`` is passed to
    ``Model.compile``), with ``optimizer``: ``"adam"`` (Adam at
    ``learning_rate``), ``"inner"`` (the meta-learning's own update,
    :class:`~linked_neurons.optimizers.InnerRMSprop` with the paper's lr 0.01
    and decay 0.8, the regime the activations were learned in) or a
    callable returning a new Keras optimizer.

    Returns:
        ``(rows, summary)``: ``rows`` a list of dicts
        ``{"config", "seed", "test_accuracy", "train_loss"}``; ``summary`` a
        list of dicts ``{"config", "mean", "std", "runs"}`` (std with
        ``ddof=0``), in the order of :func:`validation_configs`. With
        ``return_models=True`` also a dict from configuration name to its
        trained model of the first seed (e.g. for :mod:`linked_neurons.hessian`).
    """
    x_train = np.asarray(x_train, "float32")
    x_test = np.asarray(x_test, "float32")
    n_classes = int(max(np.max(y_train), np.max(y_test))) + 1
    rows = []
    models = {}
    if optimizer == "adam":
        make_optimizer = lambda: keras.optimizers.Adam(learning_rate)  # noqa: E731
    elif optimizer == "inner":
        from linked_neurons.optimizers import InnerRMSprop

        make_optimizer = lambda: InnerRMSprop(  # noqa: E731
            PAPER_DEFAULTS["inner_lr"], PAPER_DEFAULTS["inner_decay"], PAPER_DEFAULTS["inner_eps"])
    elif callable(optimizer):
        make_optimizer = optimizer
    else:
        raise ValueError(f"validate: `optimizer` must be 'adam', 'inner' or a callable, got "
                         f"{optimizer!r}.")
    configs = validation_configs(curves, base)
    for name, factory in configs.items():
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = _classifier(x_train.shape[1], n_classes, hidden, factory(), seed)
            model.compile(optimizer=make_optimizer(),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"], jit_compile=jit_compile)
            build_before_fit(model, x_train, y_train)  # one train graph per model kept
            hist = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0,
                             shuffle=True)
            _, acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
            models.setdefault(name, model)
            rows.append({"config": name, "seed": seed, "test_accuracy": float(acc),
                         "train_loss": float(hist.history["loss"][-1])})
            if verbose:
                print(f"validate {name} seed {seed}: test acc {acc:.4f}", flush=True)
    summary = []
    for name in configs:
        accs = np.array([r["test_accuracy"] for r in rows if r["config"] == name])
        summary.append({"config": name, "mean": float(accs.mean()), "std": float(accs.std()),
                        "runs": len(accs)})
    return (rows, summary, models) if return_models else (rows, summary)
