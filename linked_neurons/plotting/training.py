"""Training results: learning curves and summaries of several runs.

- :func:`plot_learning_curves`: metrics of one or more Keras histories
  against the epoch.
- :func:`plot_bars`: a summary table's medians as bars with min-max error
  bars, by group and series.
"""

import numpy as np

from linked_neurons.plotting.saving import finish, new_figure

__all__ = ["plot_bars", "plot_learning_curves"]


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


def plot_learning_curves(histories, metrics=None, path=None, title=None, xlabel="epoch"):
    """Plots metrics against epochs for one or more training runs.

    Args:
        histories: A ``keras.callbacks.History`` (what ``model.fit``
            returns), a dict of per-epoch lists (``History.history``), or a
            dict from run label to either.
        metrics: Metric names, one panel each (default: every metric without
            the ``val_`` prefix). A metric's ``val_`` counterpart, when
            present, is drawn in the same panel with a dashed line, and the
            lines of a panel that shows both are labelled ``"<run> (train)"``
            and ``"<run> (validation)"`` (otherwise by run).
        path: Optional file to save the figure to.
        title: Optional title.
        xlabel: Label of the x axis, whose values count from 1 (e.g.
            ``"activation layer"`` for per-layer values).

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
    figure = new_figure(4.6 * len(metrics), 3.4)
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        mixed = not metric.startswith("val_") and any(
            len(h.get(f"val_{metric}", ())) for h in runs.values())
        for index, (label, history) in enumerate(runs.items()):
            color = f"C{index % 10}"
            pairs = [(metric, "-", "train"), (f"val_{metric}", "--", "validation")]
            if metric.startswith("val_"):
                pairs = [(metric, "-", "validation")]
            for key, style, suffix in pairs:
                values = history.get(key)
                if values is None or len(values) == 0:
                    continue
                name = f"{label} ({suffix})" if label and mixed else label or suffix
                ax.plot(range(1, len(values) + 1), values, style, color=color, label=name,
                        marker="." if len(values) < 3 else None)
        ax.set_xlabel(xlabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return finish(figure, path, title)


def plot_bars(summary, group, value, series=None, reference=None, path=None, title=None):
    """Plots the medians of ``value`` as bars, with min-max error bars.

    One bar per row of ``summary``: grouped on the x axis by ``group`` and,
    within a group, side by side by ``series``. The error bar of a row spans
    its ``<value>_min`` and ``<value>_max`` columns when present (the tables
    of :func:`linked_neurons.stats.summarize`).

    Args:
        summary: A ``pandas.DataFrame`` (one row per configuration).
        group: Column whose values label the x axis.
        value: Column of the bar heights.
        series: Optional column whose values are the bars of each group
            (with a legend).
        reference: Optional height of a dashed horizontal line (e.g. chance).
        path: Optional file to save the figure to.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: For a column ``summary`` lacks.

    Example:

        >>> import pandas as pd
        >>> from linked_neurons.plotting import plot_bars
        >>> summary = pd.DataFrame({"activation": ["relu", "relu", "lkrelu", "lkrelu"],
        ...                         "width": [8, 16, 8, 16], "accuracy": [0.8, 0.9, 0.85, 0.92],
        ...                         "accuracy_min": [0.7, 0.88, 0.8, 0.9],
        ...                         "accuracy_max": [0.82, 0.93, 0.9, 0.95]})
        >>> figure = plot_bars(summary, "activation", "accuracy", series="width")
        >>> [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
        ['relu', 'lkrelu']
        >>> [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
        ['8', '16']
    """
    missing = [c for c in (group, value, series) if c is not None and c not in summary]
    if missing:
        raise ValueError(
            f"plot_bars: `summary` has no column {missing[0]!r}; it has {list(summary)}."
        )
    rows = summary.to_dict("records")
    groups = list(dict.fromkeys(str(r[group]) for r in rows))
    names = list(dict.fromkeys(str(r[series]) for r in rows)) if series else [None]
    figure = new_figure(max(5.0, 0.5 * len(groups) * len(names) + 2), 4.0)
    ax = figure.subplots()
    width = 0.8 / len(names)
    for index, name in enumerate(names):
        chosen = [r for r in rows if series is None or str(r[series]) == name]
        xs = [groups.index(str(r[group])) + (index - (len(names) - 1) / 2) * width
              for r in chosen]
        ys = np.array([float(r[value]) for r in chosen])
        low = np.array([float(r.get(f"{value}_min", y)) for r, y in zip(chosen, ys)])
        high = np.array([float(r.get(f"{value}_max", y)) for r, y in zip(chosen, ys)])
        ax.bar(xs, ys, width=width, label=name, capsize=2,
               yerr=np.nan_to_num(np.array([ys - low, high - ys])))
    if reference is not None:
        ax.axhline(reference, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=45 if len(groups) > 4 else 0,
                       ha="right" if len(groups) > 4 else "center")
    ax.set_ylabel(f"{value.replace('_', ' ')} (median, min-max)")
    ax.grid(alpha=0.3, axis="y")
    if series:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return finish(figure, path, None)
