"""Figures of the meta-learning of diverse activations (:mod:`linked_neurons.diversity`).

- :func:`plot_meta_activations`: the learned activation functions against
  the base they started from.
- :func:`plot_meta_learning`: the outer loss, the inner test accuracy and the
  diversity per outer step.
"""

import numpy as np

from linked_neurons.plotting.saving import finish, new_figure

__all__ = ["plot_meta_activations", "plot_meta_learning"]

_PANELS = (("outer_loss", "outer loss (mean inner training loss)"),
               ("test_accuracy", "inner classifier test accuracy"),
               ("diversity", "diversity (mean pairwise RMS)"))


def plot_meta_activations(grid, curves, base=None, path=None, title=None):
    """Plots learned activation functions, sampled on a grid, against their base.

    Args:
        grid: 1-D array of the inputs the curves are sampled at.
        curves: Array ``(K, len(grid))``: the value of each of the ``K``
            learned activations on ``grid``.
        base: Optional base function drawn dashed: a name of
            ``linked_neurons.layers.diversity.BASE_FUNCTIONS`` (``"sin"``,
            ``"tanh"``, ``"elu"``, ...) or a callable on a tensor.
        path: Optional file to save the figure to.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``; curve ``k`` is labelled ``"learned
        activation k"``.

    Raises:
        ValueError: For curves that do not match the grid, or an unknown
            base name.

    Example:

        >>> import numpy as np
        >>> from linked_neurons.plotting import plot_meta_activations
        >>> grid = np.linspace(-3.0, 3.0, 61)
        >>> figure = plot_meta_activations(grid, [np.sin(grid), np.sin(grid) + 0.1 * grid],
        ...                                base="sin")
        >>> [line.get_label() for line in figure.axes[0].lines]
        ['base: sin(x)', 'learned activation 0', 'learned activation 1']
    """
    from keras import ops

    from linked_neurons.layers.diversity import BASE_FUNCTIONS

    grid = np.asarray(grid, dtype="float64")
    curves = np.atleast_2d(np.asarray(curves, dtype="float64"))
    if grid.ndim != 1 or curves.ndim != 2 or curves.shape[1] != grid.size:
        raise ValueError(
            f"plot_meta_activations: `curves` must have shape (K, {grid.size}) for a 1-D "
            f"`grid` of {grid.size} points, got {curves.shape} and {grid.shape}."
        )
    if isinstance(base, str) and base not in BASE_FUNCTIONS:
        raise ValueError(
            f"plot_meta_activations: unknown `base` {base!r}; valid: {', '.join(BASE_FUNCTIONS)}."
        )
    figure = new_figure(6.4, 4.8)
    ax = figure.subplots()
    if base is not None:
        function = BASE_FUNCTIONS[base] if isinstance(base, str) else base
        name = base if isinstance(base, str) else getattr(base, "__name__", "base")
        values = ops.convert_to_numpy(function(ops.convert_to_tensor(grid, "float32")))
        ax.plot(grid, values, "k--", lw=2, label=f"base: {name}(x)")
    for k, curve in enumerate(curves):
        ax.plot(grid, curve, lw=2, label=f"learned activation {k}")
    ax.set(xlabel="input x", ylabel="activation g(x)")
    ax.grid(alpha=0.3)
    ax.legend()
    return finish(figure, path, title)


def plot_meta_learning(history, path=None, title="Meta-learning history"):
    """Plots a meta-learning history against the outer step, with a moving mean.

    Three panels: the outer loss (the mean inner training loss), the inner
    classifiers' test accuracy and the diversity of the learned activations.
    From 40 steps on, a moving mean over a twentieth of them is drawn
    over the per-step values.

    Args:
        history: Dict of per-step lists with the keys ``outer_loss``,
            ``test_accuracy`` and ``diversity`` (the ``history`` of
            :func:`linked_neurons.diversity.meta_learn`'s result).
        path: Optional file to save the figure to.
        title: Optional title.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: For a history without those keys or without steps.

    Example:

        >>> from linked_neurons.plotting import plot_meta_learning
        >>> history = {"outer_loss": [2.3, 1.9, 1.7], "test_accuracy": [0.2, 0.4, 0.5],
        ...            "diversity": [0.0, 0.1, 0.15]}
        >>> figure = plot_meta_learning(history)
        >>> [ax.get_xlabel() for ax in figure.axes]
        ['outer step', 'outer step', 'outer step']
    """
    missing = [key for key, _ in _PANELS if key not in history]
    if missing or not len(history["outer_loss"]):
        raise ValueError(
            f"plot_meta_learning: `history` needs non-empty lists {[k for k, _ in _PANELS]}; "
            f"it has {sorted(history)}."
        )
    figure = new_figure(12, 4)
    steps = np.arange(1, len(history["outer_loss"]) + 1)
    window = max(1, len(steps) // 20)
    for ax, (key, label) in zip(figure.subplots(1, 3), _PANELS):
        values = np.asarray(history[key], dtype="float64")
        ax.plot(steps, values, color="C0", alpha=0.45 if window > 1 else 1.0, label="per step")
        if window > 1 and np.all(np.isfinite(values)):
            ax.plot(steps[window - 1:], np.convolve(values, np.ones(window) / window, "valid"),
                    color="C1", lw=2, label=f"mean of {window} steps")
        ax.set(xlabel="outer step", ylabel=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return finish(figure, path, title)
