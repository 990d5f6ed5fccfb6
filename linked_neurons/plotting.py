"""Plots of activations, activation histograms and training curves.

Every function returns a ``matplotlib.figure.Figure`` and, given a ``path``,
saves it in the format its extension names (``.png``, ``.svg`` or
``.pdf``). Figures are created without ``pyplot``, so no GUI backend is
needed or touched: the functions work in scripts, notebooks, on servers and
in threads. matplotlib is an optional dependency, imported only when a plot
is drawn (``pip install -e ".[monitoring]"``);
:func:`activation_curve` needs only Keras.

- :func:`plot_activation_curves`: curves of activations (names, callables or
  layers, learned ones included) against a base activation.
- :func:`plot_histograms`: one histogram per layer, from
  :func:`linked_neurons.monitoring.layer_outputs` or
  :attr:`ActivationHistograms.last_outputs
  <linked_neurons.callbacks.ActivationHistograms>`.
- :func:`plot_histogram_comparison`: the same layers across several runs,
  side by side (for example ReLU, leaky ReLU and SELU networks).
- :func:`plot_statistics`: statistics logged by ``ActivationHistograms``
  against the training step.
- :func:`plot_learning_curves`: metrics of one or more Keras histories.

Example:

    >>> import numpy as np
    >>> from linked_neurons.plotting import activation_curve
    >>> activation_curve("lkrelu", np.array([-1.0, 0.0, 2.0])).tolist()
    [[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]]
"""

import numbers
import os

import keras
import numpy as np

__all__ = [
    "FORMATS",
    "activation_curve",
    "plot_activation_curves",
    "plot_histogram_comparison",
    "plot_histograms",
    "plot_learning_curves",
    "plot_statistics",
    "save_figure",
]

#: File extensions :func:`save_figure` accepts.
FORMATS = (".png", ".svg", ".pdf")


def _figure(width, height):
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "linked_neurons.plotting needs matplotlib: pip install matplotlib, or "
            'pip install -e ".[monitoring]".'
        ) from error
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(figure, path, dpi=120):
    """Saves ``figure`` to ``path``, in the format of its extension.

    Args:
        figure: A matplotlib ``Figure``.
        path: File name ending in ``.png``, ``.svg`` or ``.pdf``; missing
            folders are created.
        dpi: Resolution of raster formats.

    Returns:
        ``path``.

    Raises:
        ValueError: For another extension.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise ValueError(
            f"save_figure: unsupported file extension {extension or '(none)'!r} in {path!r}; "
            f"expected one of {', '.join(FORMATS)}."
        )
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path


def _finish(figure, path, title):
    if title:
        figure.suptitle(title)
    if path is not None:
        save_figure(figure, path)
    return figure


# ------------------------------------------------------------------ activations
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
        figure = _figure(6.0, 4.0)
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
    return _finish(figure, path, title)


# ------------------------------------------------------------------- histograms
def _finite(values):
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _check_bins(bins, caller):
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"{caller}: `bins` must be an int >= 1, got {bins!r}.")


def _draw_histogram(ax, values, bins, value_range, log, color="C0"):
    ax.hist(values, bins=bins, range=value_range, color=color, alpha=0.85, log=log)
    if values.size:
        text = (
            f"mean {values.mean():.3g}\nstd {values.std():.3g}\n"
            f"zeros {np.mean(values == 0):.0%}"
        )
        ax.text(0.97, 0.95, text, transform=ax.transAxes, ha="right", va="top", fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"})
    ax.tick_params(labelsize=7)


def _range(arrays):
    data = [a for a in arrays if a.size]
    if not data:
        return None
    low = min(float(a.min()) for a in data)
    high = max(float(a.max()) for a in data)
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def plot_histograms(values, path=None, bins=50, ncols=None, log=False, title=None):
    """Draws one histogram per layer in a grid.

    Args:
        values: Dict from layer name to an array of its outputs (e.g.
            :func:`linked_neurons.monitoring.layer_outputs`).
        path: Optional file to save the figure to.
        bins: Number of bins per histogram.
        ncols: Columns of the grid (default: up to 4).
        log: Logarithmic count axis.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``; each panel shows the mean, standard
        deviation and fraction of zeros.

    Raises:
        ValueError: For an empty ``values`` or invalid ``bins``/``ncols``.
    """
    if not isinstance(values, dict) or not values:
        raise ValueError("plot_histograms: `values` must be a non-empty dict name -> array.")
    _check_bins(bins, "plot_histograms")
    count = len(values)
    if ncols is None:
        ncols = min(4, count)
    if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"plot_histograms: `ncols` must be an int >= 1, got {ncols!r}.")
    nrows = -(-count // ncols)
    figure = _figure(3.2 * ncols, 2.5 * nrows)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, array) in zip(axes, values.items()):
        finite = _finite(array)
        _draw_histogram(ax, finite, bins, _range([finite]), log)
        ax.set_title(str(name), fontsize=9)
    for ax in axes[count:]:
        ax.set_visible(False)
    return _finish(figure, path, title)


def plot_histogram_comparison(
    runs, path=None, bins=50, layers=None, share_range=True, log=False, title=None
):
    """Draws the histograms of several runs side by side, one row per layer.

    Columns are the runs (e.g. ``"ReLU"``, ``"Leaky ReLU"``, ``"SELU"``),
    rows the layers. When every run has the same layer names the rows follow
    the names; otherwise the i-th layer of each run goes in row i.

    Args:
        runs: Dict from run label to a dict from layer name to an array of
            its outputs.
        path: Optional file to save the figure to.
        bins: Number of bins per histogram.
        layers: Optional row labels (default: the layer names, or
            ``"layer 1"``, ``"layer 2"``, ... when the runs' names differ).
        share_range: Use the same value range in every panel of a row, so the
            runs compare at a glance.
        log: Logarithmic count axis.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: For no runs, runs without layers, or ``layers`` of the
            wrong length.

    Example:

        >>> import numpy as np
        >>> from linked_neurons.plotting import plot_histogram_comparison
        >>> rng = np.random.default_rng(0)
        >>> runs = {"ReLU": {"a": np.maximum(rng.normal(size=100), 0)},
        ...         "SELU": {"a": rng.normal(size=100)}}
        >>> figure = plot_histogram_comparison(runs)
        >>> [ax.get_title() for ax in figure.axes]
        ['ReLU', 'SELU']
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("plot_histogram_comparison: `runs` must be a non-empty dict.")
    _check_bins(bins, "plot_histogram_comparison")
    keys = [list(layer_values) for layer_values in runs.values()]
    if any(not k for k in keys):
        raise ValueError("plot_histogram_comparison: every run needs at least one layer.")
    same_names = all(k == keys[0] for k in keys)
    nrows = max(len(k) for k in keys)
    if layers is None:
        layers = keys[0] if same_names else [f"layer {i + 1}" for i in range(nrows)]
    elif len(layers) != nrows:
        raise ValueError(
            f"plot_histogram_comparison: {len(layers)} row labels for {nrows} layers."
        )
    ncols = len(runs)
    figure = _figure(2.8 * ncols + 0.6, 2.1 * nrows + 0.4)
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for row in range(nrows):
        cells = []
        for col, layer_values in enumerate(runs.values()):
            names = list(layer_values)
            name = names[row] if row < len(names) else None
            cells.append((col, name, None if name is None else _finite(layer_values[name])))
        value_range = _range([c[2] for c in cells if c[2] is not None]) if share_range else None
        for col, name, finite in cells:
            ax = axes[row, col]
            if finite is None:
                ax.set_visible(False)
                continue
            _draw_histogram(
                ax, finite, bins, value_range if share_range else _range([finite]), log,
                color=f"C{col % 10}",
            )
            if row == 0:
                ax.set_title(list(runs)[col], fontsize=10)
            if col == 0:
                ax.set_ylabel(str(layers[row]), fontsize=9)
            if not same_names:
                ax.text(0.02, 0.95, str(name), transform=ax.transAxes, va="top", fontsize=6,
                        color="0.4")
    return _finish(figure, path, title)


def plot_statistics(records, statistics=("mean", "std", "dead_fraction"), path=None, title=None):
    """Plots logged activation statistics against the training step.

    Args:
        records: The ``records`` of an
            :class:`~linked_neurons.callbacks.ActivationHistograms` callback
            (or the callback itself): dicts with ``step``, ``layer`` and
            statistics.
        statistics: Statistics to draw, one panel each.
        path: Optional file to save the figure to.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``, one line per layer in each panel.

    Raises:
        ValueError: For no records or a statistic the records lack.
    """
    records = getattr(records, "records", records)
    records = list(records)
    if not records:
        raise ValueError("plot_statistics: no records to plot.")
    if isinstance(statistics, str):
        statistics = (statistics,)
    missing = [s for s in statistics if s not in records[0]]
    if missing:
        raise ValueError(
            f"plot_statistics: the records have no {missing}; they have "
            f"{sorted(k for k in records[0] if k not in ('step', 'layer'))}."
        )
    layer_names = list(dict.fromkeys(r["layer"] for r in records))
    figure = _figure(4.2 * len(statistics), 3.2)
    axes = figure.subplots(1, len(statistics), squeeze=False)[0]
    for ax, statistic in zip(axes, statistics):
        for name in layer_names:
            rows = sorted((r["step"], r[statistic]) for r in records if r["layer"] == name)
            steps, values = zip(*rows)
            ax.plot(steps, values, marker="." if len(rows) < 20 else None, label=name)
        ax.set_xlabel("step")
        ax.set_ylabel(statistic.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return _finish(figure, path, title)


# -------------------------------------------------------------- learning curves
def _history_dict(history):
    history = getattr(history, "history", history)
    if not isinstance(history, dict):
        raise TypeError(
            "plot_learning_curves: expected a keras History or a dict of per-epoch lists, "
            f"got {type(history).__name__}."
        )
    return history


def _is_metrics_dict(obj):
    return isinstance(obj, dict) and obj and all(
        isinstance(v, (list, tuple, np.ndarray)) for v in obj.values()
    )


def plot_learning_curves(histories, metrics=None, path=None, title=None):
    """Plots metrics against epochs for one or more training runs.

    Args:
        histories: A ``keras.callbacks.History`` (what ``model.fit``
            returns), a dict of per-epoch lists (``History.history``), or a
            dict from run label to either.
        metrics: Metric names, one panel each (default: every metric without
            the ``val_`` prefix). A metric's ``val_`` counterpart, when
            present, is drawn in the same panel with a dashed line.
        path: Optional file to save the figure to.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: For empty histories or metrics none of them has.

    Example:

        >>> from linked_neurons.plotting import plot_learning_curves
        >>> history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}
        >>> figure = plot_learning_curves(history)
        >>> [line.get_label() for line in figure.axes[0].lines]
        ['train', 'validation']
    """
    if hasattr(histories, "history") or _is_metrics_dict(histories):
        runs = {"": _history_dict(histories)}
    elif isinstance(histories, dict) and histories:
        runs = {str(label): _history_dict(h) for label, h in histories.items()}
    else:
        raise ValueError("plot_learning_curves: `histories` is empty.")
    if metrics is None:
        metrics = list(
            dict.fromkeys(m for h in runs.values() for m in h if not m.startswith("val_"))
        )
    elif isinstance(metrics, str):
        metrics = [metrics]
    available = {m for h in runs.values() for m in h}
    missing = [m for m in metrics if m not in available and f"val_{m}" not in available]
    if not metrics or missing:
        raise ValueError(
            f"plot_learning_curves: no values for metrics {missing or metrics}; the histories "
            f"have {sorted(available)}."
        )
    figure = _figure(4.6 * len(metrics), 3.4)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        for index, (label, history) in enumerate(runs.items()):
            color = f"C{index % 10}"
            pairs = [(metric, "-", "train"), (f"val_{metric}", "--", "validation")]
            if metric.startswith("val_"):
                pairs = [(metric, "-", "validation")]
            for key, style, suffix in pairs:
                values = history.get(key)
                if values is None or len(values) == 0:
                    continue
                name = f"{label} ({suffix})" if label else suffix
                ax.plot(range(1, len(values) + 1), values, style, color=color, label=name,
                        marker="." if len(values) < 3 else None)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return _finish(figure, path, title)
