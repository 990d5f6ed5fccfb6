"""Creating and saving the figures of :mod:`linked_neurons.plotting`.

Figures are made with ``matplotlib.figure.Figure``, never ``pyplot``, so no
GUI backend is needed or touched.
"""

import os

__all__ = ["FORMATS", "save_figure"]

#: File extensions :func:`save_figure` accepts.
FORMATS = (".png", ".svg", ".pdf")


def new_figure(width, height):
    """A constrained-layout ``Figure`` of ``width`` x ``height`` inches.

    Raises:
        ImportError: Without matplotlib, naming how to install it.
    """
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

    Example:

        >>> import os, tempfile
        >>> from linked_neurons.plotting import plot_learning_curves, save_figure
        >>> figure = plot_learning_curves({"loss": [1.0, 0.5]})
        >>> path = save_figure(figure, os.path.join(tempfile.mkdtemp(), "loss.svg"))
        >>> os.path.basename(path)
        'loss.svg'
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


def finish(figure, path, title):
    """Gives ``figure`` its ``title`` and saves it to ``path`` (when not None)."""
    if title:
        figure.suptitle(title)
    if path is not None:
        save_figure(figure, path)
    return figure
