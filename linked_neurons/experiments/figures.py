"""Figures of the studies: learning curves, bar charts, learned activations, meta-learning.

All need matplotlib (the ``experiments`` extra) and return None without it.
"""

__all__ = ["plot_bars", "plot_curves", "plot_learned_activations", "plot_meta_learning"]


def plot_curves(histories, path, metrics=("val_accuracy", "val_loss"), title=None,
                xlabel="epoch"):
    """Metrics against epochs (or ``xlabel``), one line per label (linked ones solid).

    Returns ``path``, or None without matplotlib.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    metrics = [m for m in metrics if any(m in h for h in histories.values())]
    figure = Figure(figsize=(5.0 * len(metrics), 4.0), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axis, metric in zip(axes, metrics):
        for label, history in histories.items():
            values = history.get(metric, [])
            axis.plot(range(1, len(values) + 1), values, label=label,
                      linestyle="-" if label.startswith("LK") else "--",
                      marker="." if len(values) < 3 else None)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(metric.replace("_", " "))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100)
    return path


def plot_bars(summary, path, group, value, series=None, title=None, reference=None):
    """Bars of the median ``value`` per ``group`` (and ``series``), min-max error bars.

    Returns ``path``, or None without matplotlib.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    import numpy as np

    rows = summary.to_dict("records")
    groups = list(dict.fromkeys(str(r[group]) for r in rows))
    names = list(dict.fromkeys(str(r[series]) for r in rows)) if series else [None]
    figure = Figure(figsize=(max(5.0, 0.5 * len(groups) * len(names) + 2), 4.0),
                    layout="constrained")
    axis = figure.subplots()
    width = 0.8 / len(names)
    for s_index, name in enumerate(names):
        chosen = [r for r in rows if series is None or str(r[series]) == name]
        xs = [groups.index(str(r[group])) + (s_index - (len(names) - 1) / 2) * width
              for r in chosen]
        ys = np.array([float(r[value]) for r in chosen])
        low = np.array([float(r.get(f"{value}_min", y)) for r, y in zip(chosen, ys)])
        high = np.array([float(r.get(f"{value}_max", y)) for r, y in zip(chosen, ys)])
        axis.bar(xs, ys, width=width, label=name, capsize=2,
                 yerr=np.nan_to_num(np.array([ys - low, high - ys])))
    if reference is not None:
        axis.axhline(reference, color="grey", linestyle="--", linewidth=1)
    axis.set_xticks(range(len(groups)))
    axis.set_xticklabels(groups, rotation=45 if len(groups) > 4 else 0,
                         ha="right" if len(groups) > 4 else "center")
    axis.set_ylabel(f"{value.replace('_', ' ')} (median, min-max)")
    axis.grid(alpha=0.3, axis="y")
    if series:
        axis.legend(fontsize="small")
    if title:
        axis.set_title(title)
    figure.savefig(path, dpi=90)
    return path


def plot_learned_activations(model, base, path, title=None, units=5, x_range=(-10.0, 4.0)):
    """One panel per LEAF or AHAF layer of ``model``: ``units`` of its curves and ``base``.

    Returns ``path``, or None without matplotlib or without such layers.
    """
    import numpy as np

    from linked_neurons import plotting
    from linked_neurons.layers.learnable import AHAF, LEAF

    layers = [layer for layer in model._flatten_layers() if isinstance(layer, (LEAF, AHAF))]
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    if not layers:
        return None
    figure = Figure(figsize=(3.6 * len(layers), 4.5), layout="constrained")
    for number, (axis, layer) in enumerate(zip(figure.subplots(1, len(layers), squeeze=False)[0],
                                               layers), start=1):
        plotting.plot_activation_curves({layer.name: layer}, base=base, units=units, ax=axis,
                                        x=np.linspace(*x_range, 281))
        axis.set_title(f"activation layer {number}")
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100)
    return path


def plot_meta_learning(grid, curves, base, history, densities, folder):
    """The meta-learned activations against ``base``, the meta-learning history, the densities.

    Writes ``learned_curves.png``, ``meta_history.png`` (outer loss, inner
    test accuracy and diversity per outer step) and, with ``densities``
    (``{name: (grid, density)}``), ``hessian.png`` into ``folder``.

    Returns:
        The written paths (none without matplotlib).
    """
    import os

    import numpy as np

    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return []
    from keras import ops

    from linked_neurons import hessian
    from linked_neurons.layers.diversity import BASE_FUNCTIONS

    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    axis = figure.subplots()
    if base in BASE_FUNCTIONS:
        axis.plot(grid, ops.convert_to_numpy(BASE_FUNCTIONS[base](grid)), "k--", lw=2,
                  label=f"base: {base}(x)")
    for k, curve in enumerate(curves):
        axis.plot(grid, curve, lw=2, label=f"learned activation {k}")
    axis.set(xlabel="input x", ylabel="activation g(x)", title="Meta-learned activations vs "
             f"the base ({len(history['outer_loss'])} outer steps)")
    axis.grid(alpha=0.3)
    axis.legend()
    paths = [os.path.join(folder, "learned_curves.png")]
    figure.savefig(paths[-1], dpi=100)
    figure = Figure(figsize=(12, 4), layout="constrained")
    steps = np.arange(1, len(history["outer_loss"]) + 1)
    window = max(1, len(steps) // 20)
    for axis, (key, label) in zip(figure.subplots(1, 3), (
            ("outer_loss", "outer loss (mean inner training loss)"),
            ("test_accuracy", "inner classifier test accuracy"),
            ("diversity", "diversity (mean pairwise RMS)"))):
        values = np.asarray(history[key], dtype="float64")
        axis.plot(steps, values, color="C0", alpha=0.45 if window > 1 else 1.0, label="per step")
        if window > 1 and np.all(np.isfinite(values)):
            axis.plot(steps[window - 1:], np.convolve(values, np.ones(window) / window, "valid"),
                      color="C1", lw=2, label=f"mean of {window} steps")
        axis.set(xlabel="outer step", ylabel=label)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle("Meta-learning history")
    paths.append(os.path.join(folder, "meta_history.png"))
    figure.savefig(paths[-1], dpi=100)
    if densities:
        figure = Figure(figsize=(6.4, 4.8), layout="constrained")
        axis = figure.subplots()
        hessian.plot_density(densities, ax=axis, title="Loss-Hessian eigenvalue density "
                             "(first-seed models)")
        axis.legend()
        paths.append(os.path.join(folder, "hessian.png"))
        figure.savefig(paths[-1], dpi=100)
    return paths
