"""Activation curves: the values of activations (names, callables or layers) on a grid.

- :func:`activation_curve`: an activation evaluated on a 1-D grid, one curve
  per distinct neuron (both halves of a linked activation, every unit of a
  learned one); it needs only Keras.
- :func:`plot_activation_curves`: curves of activations against a base one.
- :func:`plot_learned_activations`: the learned activation layers (LEAF,
  AHAF) of a model, one panel each.

Example:

    >>> import numpy as np
    >>> from linked_neurons.plotting import activation_curve
    >>> activation_curve("lkrelu", np.array([-1.0, 0.0, 2.0])).tolist()
    [[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]]
"""

import numbers

import keras
import numpy as np

from linked_neurons.plotting.saving import finish, new_figure

__all__ = ["activation_curve", "plot_activation_curves", "plot_learned_activations"]


def _as_callable(activation):
    """A layer or function for ``activation`` (name, callable or layer)."""
    if isinstance(activation, keras.layers.Layer):
        return activation
    if isinstance(activation, str):
        from linked_neurons import activations as ln_activations

        return ln_activations.get(activation)
    if callable(activation):
        return activation
    raise TypeError(
        f"activation_curve: expected an activation name, a callable or a layer, got "
        f"{activation!r} of type {type(activation).__name__}."
    )


def _layer_input_shape(layer):
    """Per-sample input shape of a built layer, or None when it is unknown."""
    try:
        return tuple(layer.input.shape[1:])
    except (AttributeError, ValueError):
        pass
    shapes = getattr(layer, "_build_shapes_dict", None) or {}
    if len(shapes) == 1:
        shape = next(iter(shapes.values()))
        if shape is not None and len(shape) >= 2:
            return tuple(shape[1:])
    return None


def activation_curve(activation, x, units=None, input_shape=None):
    """Evaluates an activation on a 1-D grid of inputs.

    Every element of the activation's input gets the same value ``x[i]``, so
    each output element (each neuron of a layer with per-neuron or per-channel
    weights, such as a learned activation, and each half of a linked one)
    gives one curve.

    Args:
        activation: A name of :mod:`linked_neurons.activations` (or any
            ``keras.activations`` name), a callable, or a layer (trained or
            not).
        x: 1-D array of input values.
        units: None for every distinct curve; an int ``k`` for the first
            ``k`` distinct ones (identical curves, e.g. the positions of a
            layer that shares its weights per channel, are dropped).
        input_shape: Per-sample input shape to evaluate a layer on; by
            default the shape the layer was built for (or ``(1,)`` for an
            unbuilt layer or a function).

    Returns:
        A float64 array of shape ``(len(x), curves)``.

    Raises:
        ValueError: If ``x`` is not 1-D or ``units`` is not a positive int.

    Example:

        >>> import numpy as np
        >>> from linked_neurons.plotting import activation_curve
        >>> curve = activation_curve("selu", np.array([-1.0, 1.0]))
        >>> np.round(curve[:, 0], 4).tolist()
        [-1.1113, 1.0507]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"activation_curve: `x` must be a non-empty 1-D array, got {x.shape}.")
    if units is not None and (
        isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1
    ):
        raise ValueError(f"activation_curve: `units` must be None or an int >= 1, got {units!r}.")
    fn = _as_callable(activation)
    shape = input_shape
    dtype = "float32"
    if isinstance(fn, keras.layers.Layer):
        if shape is None and fn.built:
            shape = _layer_input_shape(fn)
        if fn.compute_dtype in ("float16", "bfloat16", "float32", "float64"):
            dtype = fn.compute_dtype
    shape = tuple(int(d) for d in (shape or (1,)))
    inputs = np.broadcast_to(x.reshape((-1,) + (1,) * len(shape)), (x.size, *shape))
    outputs = fn(keras.ops.convert_to_tensor(np.ascontiguousarray(inputs), dtype=dtype))
    curves = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32")))
    curves = curves.astype(np.float64).reshape(x.size, -1) + 0.0  # no negative zeros
    _, first = np.unique(curves.T, axis=0, return_index=True)
    curves = curves[:, np.sort(first)]
    return curves if units is None else curves[:, :units]


def _label_of(activation):
    if isinstance(activation, str):
        return activation
    if isinstance(activation, keras.layers.Layer):
        return activation.name
    return getattr(activation, "__name__", type(activation).__name__)


def plot_activation_curves(
    activations,
    base=None,
    x=None,
    units=5,
    path=None,
    title=None,
    ax=None,
):
    """Plots activation curves, optionally against a base activation.

    Args:
        activations: One activation (name, callable or layer) or a dict from
            label to activation. A layer with learned per-neuron or
            per-channel weights (LEAF, AHAF, LK-PReLU, ...) draws up to
            ``units`` of its curves (see :func:`activation_curve`).
        base: Optional reference activation drawn as a dashed black line
            (e.g. ``"relu"`` for a LEAF initialised as ReLU).
        x: 1-D grid of inputs (default ``linspace(-5, 5, 401)``).
        units: Curves drawn per activation (None for all).
        path: Optional file to save the figure to.
        title: Optional title.
        ax: Optional matplotlib ``Axes`` to draw into (then the figure of
            ``ax`` is returned and saved).

    Returns:
        The matplotlib ``Figure``.

    Example:

        >>> from linked_neurons.plotting import plot_activation_curves
        >>> figure = plot_activation_curves({"SELU": "selu", "Mish": "mish"}, base="relu")
        >>> [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
        ['relu (base)', 'SELU', 'Mish']
    """
    x = np.linspace(-5.0, 5.0, 401) if x is None else np.asarray(x, dtype=np.float64)
    if not isinstance(activations, dict):
        activations = {_label_of(activations): activations}
    if ax is None:
        figure = new_figure(6.0, 4.0)
        ax = figure.add_subplot()
    else:
        figure = ax.figure
    if base is not None:
        ax.plot(x, activation_curve(base, x, units=1)[:, 0], "k--", lw=1.2,
                label=f"{_label_of(base)} (base)")
    colors = [f"C{i}" for i in range(10)]
    for index, (label, activation) in enumerate(activations.items()):
        curves = activation_curve(activation, x, units=units)
        for j in range(curves.shape[1]):
            ax.plot(
                x,
                curves[:, j],
                color=colors[index % 10],
                alpha=1.0 if j == 0 else 0.55,
                lw=1.6 if j == 0 else 1.0,
                label=label if j == 0 else None,
            )
    ax.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0.0, color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return finish(figure, path, title)


def plot_learned_activations(model, base=None, units=5, x=None, path=None, title=None):
    """Plots the learned activation layers of ``model``, one panel each.

    Every LEAF or AHAF layer of the model (nested ones included) gets a
    panel with up to ``units`` of its curves (see :func:`activation_curve`)
    and, optionally, the activation it started from.

    Args:
        model: A Keras model (trained or not).
        base: Optional reference activation drawn dashed in every panel
            (e.g. the initialisation ``"relu"`` or ``"tanh"``).
        units: Curves drawn per layer (None for all).
        x: 1-D grid of inputs (default ``linspace(-10, 4, 281)``).
        path: Optional file to save the figure to.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``; panel ``k`` is titled
        ``"activation layer k"``.

    Raises:
        ValueError: If ``model`` has no LEAF or AHAF layer.

    Example:

        >>> import keras
        >>> from linked_neurons import LEAF
        >>> from linked_neurons.plotting import plot_learned_activations
        >>> model = keras.Sequential([keras.Input((3,)), LEAF(init="relu"),
        ...                           keras.layers.Dense(2), LEAF(init="tanh")])
        >>> figure = plot_learned_activations(model, base="relu")
        >>> [ax.get_title() for ax in figure.axes]
        ['activation layer 1', 'activation layer 2']
    """
    from linked_neurons.layers.learnable import AHAF, LEAF

    layers = [layer for layer in model._flatten_layers() if isinstance(layer, (LEAF, AHAF))]
    if not layers:
        raise ValueError(
            f"plot_learned_activations: the model {model.name!r} has no LEAF or AHAF layer."
        )
    x = np.linspace(-10.0, 4.0, 281) if x is None else x
    figure = new_figure(3.6 * len(layers), 4.5)
    axes = figure.subplots(1, len(layers), squeeze=False)[0]
    for number, (ax, layer) in enumerate(zip(axes, layers), start=1):
        plot_activation_curves({layer.name: layer}, base=base, units=units, ax=ax, x=x)
        ax.set_title(f"activation layer {number}")
    return finish(figure, path, title)
