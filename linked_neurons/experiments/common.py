"""Pieces shared by the experiments: arguments, progress, tables and plots.

An experiment module uses them to keep its own file about the experiment:
:func:`add_common_arguments` for the command line, :class:`EpochProgress` to
time epochs and show progress, :func:`write_tables` for the CSV and Markdown
results and :func:`plot_curves` for learning curves.
"""

import argparse
import csv
import dataclasses
import math
import os
import sys
import time

import keras

from linked_neurons import datasets

__all__ = [
    "EpochProgress",
    "add_common_arguments",
    "load_dataset",
    "markdown_table",
    "plot_curves",
    "progress_level",
    "write_history",
    "write_tables",
]


def add_common_arguments(parser, output_dir, epochs, batch_size=32, dataset="digits"):
    """Adds the options every experiment shares to an ``argparse`` parser.

    Args:
        parser: The experiment's sub-parser.
        output_dir: Default of ``--output-dir``.
        epochs: Default of ``--epochs``.
        batch_size: Default of ``--batch-size``.
        dataset: Default of ``--dataset``.
    """
    parser.add_argument(
        "--dataset",
        default=dataset,
        help=(
            f"dataset name (default: {dataset}); embedded, no download: "
            f"{', '.join(datasets.available(embedded_only=True))}; through keras.datasets "
            "(cached files or network needed): "
            f"{', '.join(n for n in datasets.available() if n not in datasets.available(True))}"
        ),
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=epochs, help=f"epochs (default: {epochs})"
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=batch_size,
        help=f"batch size (default: {batch_size})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of keras.utils.set_random_seed (default: 0)"
    )
    parser.add_argument(
        "--output-dir",
        default=output_dir,
        help=f"folder for the tables and plots (default: {output_dir})",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no per-epoch progress; the result table and file names are still printed",
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def progress_level(verbose):
    """Maps ``verbose`` (bool or 0/1/2) to 0 silent, 1 summary, 2 per-epoch."""
    if isinstance(verbose, bool):
        return 2 if verbose else 0
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be a bool or 0, 1, 2, got {verbose!r}.")
    return verbose


def load_dataset(name, seed=0, shape="conv"):
    """Loads a dataset by name in the layout a model needs.

    Args:
        name: A name from :func:`linked_neurons.datasets.available`, or a
            :class:`~linked_neurons.datasets.Dataset`.
        seed: Seed of the split (and of generated data).
        shape: ``"conv"`` for inputs with a channel axis (images stay
            ``(H, W, C)``, vectors become ``(L, 1)`` sequences), ``"flat"``
            for vectors.

    Returns:
        A :class:`~linked_neurons.datasets.Dataset`.
    """
    if shape not in ("conv", "flat"):
        raise ValueError(f"`shape` must be 'conv' or 'flat', got {shape!r}.")
    data = name if isinstance(name, datasets.Dataset) else datasets.load(name, seed=seed)

    def layout(x):
        if shape == "flat":
            return x.reshape(len(x), -1)
        return x[..., None] if x.ndim == 2 else x

    return dataclasses.replace(
        data, x_train=layout(data.x_train), x_val=layout(data.x_val), x_test=layout(data.x_test)
    )


class EpochProgress(keras.callbacks.Callback):
    """Times every epoch and reports progress.

    Shows a tqdm bar (one per model) when tqdm is installed and stderr is a
    terminal, and one printed line per epoch otherwise.

    Args:
        label: Name shown in front of the progress.
        epochs: Number of epochs, for the bar and the ``k/N`` counter.
        verbose: Whether to show progress; epochs are timed either way.

    Attributes:
        durations: Wall-clock seconds of each finished epoch.
    """

    def __init__(self, label, epochs, verbose=True):
        super().__init__()
        self.label = label
        self.epochs = epochs
        self.verbose = verbose
        self.durations = []
        self._bar = None
        self._start = None

    def on_train_begin(self, logs=None):
        self.durations = []
        if self.verbose and sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self.epochs, desc=self.label, unit="epoch", leave=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self._start)
        if not self.verbose:
            return
        logs = logs or {}
        shown = {k: logs[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in logs}
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=False)
            self._bar.update(1)
        else:
            values = " ".join(f"{k} {v:.4f}" for k, v in shown.items())
            print(
                f"[{self.label}] epoch {epoch + 1}/{self.epochs} {values} "
                f"({self.durations[-1]:.2f}s)",
                flush=True,
            )

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @property
    def seconds_per_epoch(self):
        """Mean epoch time, leaving out the first epoch (tracing) when there are more."""
        steady = self.durations[1:] or self.durations
        return sum(steady) / len(steady) if steady else math.nan


def _format(value, digits=4):
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(rows, columns):
    """Formats ``rows`` (dicts) as a Markdown table.

    Args:
        rows: A list of dicts.
        columns: ``(key, header)`` pairs, in order. Floats get 4 decimals.

    Returns:
        The table as a string, one line per row after the header.
    """
    header = [title for _, title in columns]
    body = [[_format(row.get(key, "")) for key, _ in columns] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(cells) for cells in body)])


def write_tables(rows, stem, columns, title=None, notes=()):
    """Writes ``rows`` to ``stem + ".csv"`` and ``stem + ".md"``.

    The CSV has every key of the rows, in the rows' order; the Markdown
    file has ``columns`` only, with an optional title and notes below the
    table.

    Args:
        rows: A list of dicts with the same keys.
        stem: Path without extension; its folder is created if needed.
        columns: ``(key, header)`` pairs for the Markdown table.
        title: Optional Markdown heading.
        notes: Lines written after the table.

    Returns:
        ``(csv_path, markdown_path)``.
    """
    folder = os.path.dirname(stem)
    if folder:
        os.makedirs(folder, exist_ok=True)
    keys = list(dict.fromkeys(key for row in rows for key in row))
    csv_path = f"{stem}.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    md_path = f"{stem}.md"
    with open(md_path, "w") as handle:
        if title:
            handle.write(f"# {title}\n\n")
        handle.write(markdown_table(rows, columns) + "\n")
        if notes:
            handle.write("\n" + "\n".join(notes) + "\n")
    return csv_path, md_path


def write_history(histories, path):
    """Writes per-epoch metrics in long format (``label, epoch, metric...``).

    Args:
        histories: Dict from label to a dict of per-epoch lists (as
            ``keras.callbacks.History.history``).
        path: CSV file to write.

    Returns:
        ``path``.
    """
    metrics = list(dict.fromkeys(m for history in histories.values() for m in history))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "epoch", *metrics])
        for label, history in histories.items():
            epochs = max((len(v) for v in history.values()), default=0)
            for epoch in range(epochs):
                values = [
                    history.get(m, [])[epoch] if epoch < len(history.get(m, [])) else ""
                    for m in metrics
                ]
                writer.writerow([label, epoch + 1, *values])
    return path


def plot_curves(histories, path, metrics=("val_accuracy", "val_loss"), title=None, dashed=(),
                chance=None):
    """Plots metrics against epochs, one line per label, one panel per metric.

    Needs matplotlib (``pip install -e ".[experiments]"``); without
    it nothing is written and None is returned.

    Args:
        histories: Dict from label to a dict of per-epoch lists.
        path: Image file to write (PNG by extension).
        metrics: Metric names, one panel each.
        title: Optional figure title.
        dashed: Labels drawn with dashed lines (e.g. the baselines).
        chance: Optional chance accuracy, drawn as a labelled line on the
            accuracy panels when it lies within their range.

    Returns:
        ``path``, or None when matplotlib is missing.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    figure = Figure(figsize=(5.0 * len(metrics), 4.0), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axis, metric in zip(axes, metrics):
        for label, history in histories.items():
            values = history.get(metric, [])
            axis.plot(
                range(1, len(values) + 1),
                values,
                label=label,
                linestyle="--" if label in dashed else "-",
                marker="." if len(values) < 3 else None,
            )
        if chance is not None and metric.endswith("accuracy"):
            low, high = axis.get_ylim()
            if low <= chance <= high:
                axis.axhline(chance, color="k", linestyle=":", label=f"chance ({chance:.2f})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric.replace("_", " "))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    if title:
        figure.suptitle(title)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
