"""Histograms of layer outputs and the activation statistics logged in training.

- :func:`plot_histograms`: one histogram per layer.
- :func:`plot_histogram_comparison`: the same layers across several runs.
- :func:`plot_statistics`: statistics of ``ActivationHistograms`` against the
  training step.
"""

import numbers

import numpy as np

from linked_neurons.plotting.saving import finish, new_figure

__all__ = ["plot_histogram_comparison", "plot_histograms", "plot_statistics"]


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
    figure = new_figure(3.2 * ncols, 2.5 * nrows)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, array) in zip(axes, values.items()):
        finite = _finite(array)
        _draw_histogram(ax, finite, bins, _range([finite]), log)
        ax.set_title(str(name), fontsize=9)
    for ax in axes[count:]:
        ax.set_visible(False)
    return finish(figure, path, title)


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
    figure = new_figure(2.8 * ncols + 0.6, 2.1 * nrows + 0.4)
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
    return finish(figure, path, title)


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
    figure = new_figure(4.2 * len(statistics), 3.2)
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
    return finish(figure, path, title)
