"""The study runner: seeds, progress, run folders, resume, tables and plots.

Every experiment is a :class:`Study`: it declares its variants, its data,
how to train one variant with one seed and which metrics it reports. The
runner (:func:`run`) owns everything else:

- **seeds and repeats**: every variant is trained once per seed, interleaved
  (every variant with the first seed, then with the second, ...) so that a
  slow period of the machine affects all alike; ``keras.utils.set_random_seed``
  runs before each training, ``keras.backend.clear_session`` after it.
- **the run folder** ``<output_dir>/<study>/<name>/`` (``name`` defaults to a
  timestamp), created and checked for writing before any data is loaded:
  ``config.json`` (every option, the seeds, versions, hardware and the
  command that reproduces the run), ``status.json`` (``running``,
  ``complete`` or ``interrupted``), ``models/<variant>__seed<k>.json`` (the
  result row and history of each training, written as soon as it finishes)
  and ``.csv`` (its epochs, by ``keras.callbacks.CSVLogger``), and at the end
  ``runs.csv``, ``summary.csv``, ``summary.md`` (median, minimum and maximum
  over the seeds) and the plots.
- **interrupts**: Ctrl-C (or any error) leaves the folder coherent: the
  finished models stay, the tables are written for them and the status says
  ``interrupted``; ``resume`` (``--resume FOLDER``) trains the rest with the
  run's own options, giving the same tables as an uninterrupted run.
- **progress**: in a terminal, a tqdm bar over all epochs (with the time
  left) and one per model; otherwise a line per epoch with the overall count
  and the estimated time left.

Example:

    >>> from linked_neurons.experiments import runner
    >>> result = runner.run("compare", epochs=1, variants=["relu", "lkrelu"],
    ...                     output_dir="/tmp/results", verbose=0)  # doctest: +SKIP
    >>> result.status, list(result.summary["label"])  # doctest: +SKIP
    ('complete', ['ReLU', 'LK-ReLU'])
"""

import dataclasses
import datetime
import importlib
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from linked_neurons._backend import versions

__all__ = [
    "Study",
    "StudyResult",
    "Task",
    "Variant",
    "load_study",
    "resolve_options",
    "run",
    "save_plot",
]

#: Options every study understands, with their default where the study gives none.
SHARED_DEFAULTS = {"dataset": "digits", "seeds": (0,), "epochs": 10, "batch_size": 32,
                   "learning_rate": 1e-3, "max_train_samples": None}


class Variant(NamedTuple):
    """One model of a study: ``key`` names it in files, ``label`` in tables and plots."""

    key: str
    label: str


@dataclasses.dataclass(frozen=True)
class Study:
    """What one experiment declares; the runner does the rest.

    Attributes:
        name: Command name and folder name, e.g. ``"depth"``.
        summary: One line for the command list.
        description: The command's ``--help`` text.
        defaults: The default of every option of the study (shared ones
            such as ``epochs`` and ``seeds``, and its own).
        presets: Overrides of ``defaults`` selected by ``--dataset``, e.g.
            ``{"cifar10": {"epochs": 200}}`` (the original's settings).
        parse_variant: Name -> :class:`Variant` (or any object with ``key``
            and ``label``); raises ``ValueError`` for unknown names.
        load_data: ``load_data(options)`` -> the data every training uses
            (any object; the runner passes it on in :class:`Task`).
        train: ``train(task)`` -> ``(row, history)``: a dict of scalar
            results and a dict of per-epoch lists. Keras ``fit`` calls pass
            ``task.callbacks`` on; custom loops call ``task.epoch_end``.
        values: Row keys summarised over seeds (median, ``_min``, ``_max``).
        columns: ``(key, header)`` pairs of ``summary.md``.
        arguments: ``arguments(parser)`` adds the study's own flags (their
            defaults must be None: the runner fills them from ``defaults``).
        check: Optional ``check(options)`` that raises ``ValueError`` for
            bad combinations, called before the folder is made.
        notes: Optional ``notes(options, data)`` -> lines under the table.
        report: Optional ``report(result)`` -> paths of further files
            (plots, tables), called when the tables are written.
        expected_seconds: Optional ``expected_seconds(options, data, n)``:
            the time ``n`` trainings should take on two CPU cores.
        primary: The metric drawn in the bar plot of the summary.
        intercept: Optional ``intercept(options, verbose, folder)`` -> exit
            code or None; a mode of the command that trains nothing (e.g.
            ``depth --diagnose``, which writes its tables to ``folder``)
            returns its code and skips the run.
        grid: Optional ``grid(options)`` -> the variants to train, for
            studies whose models cross the variants with another option
            (e.g. ``width``: activations x widths); default: ``parse_variant``
            of each of ``options["variants"]``.
    """

    name: str
    summary: str
    description: str
    defaults: dict
    parse_variant: Callable
    load_data: Callable
    train: Callable
    values: tuple
    columns: tuple
    presets: dict = dataclasses.field(default_factory=dict)
    arguments: Callable | None = None
    check: Callable | None = None
    notes: Callable | None = None
    report: Callable | None = None
    expected_seconds: Callable | None = None
    primary: str = "test_accuracy"
    intercept: Callable | None = None
    grid: Callable | None = None


@dataclasses.dataclass
class Task:
    """One training of a study: a variant with a seed.

    Attributes:
        variant: The parsed variant (``key``, ``label``, study-specific fields).
        seed: Its seed (already set with ``keras.utils.set_random_seed``).
        options: The resolved options of the run.
        data: What the study's ``load_data`` returned.
        callbacks: Keras callbacks for ``fit``: progress and the epoch CSV.
        folder: The run folder (for study-specific files of this training).
        epoch_end: ``epoch_end(epoch, logs)`` for trainings without ``fit``.
    """

    variant: Any
    seed: int
    options: dict
    data: Any
    callbacks: list
    folder: str
    epoch_end: Callable

    @property
    def name(self):
        """``<variant key>__seed<seed>``: the file stem of this training."""
        return f"{self.variant.key}__seed{self.seed}"


@dataclasses.dataclass
class StudyResult:
    """What :func:`run` returns.

    Attributes:
        study: The :class:`Study`.
        folder: The run folder.
        status: ``"complete"`` or ``"interrupted"``.
        options: The resolved options.
        runs: ``pandas.DataFrame``, one row per finished training.
        summary: ``pandas.DataFrame``, one row per variant (medians, ``_min``, ``_max``, ``runs``).
        histories: ``{variant label: [history of each seed]}``.
        data: The study's data.
        files: Paths written at the end (tables and plots).
    """

    study: Study
    folder: str
    status: str
    options: dict
    runs: Any
    summary: Any
    histories: dict
    data: Any
    files: list


#: The studies, in the order the command line lists them.
STUDIES = ("compare", "selu", "leaf", "depth", "width", "params", "shift", "speed", "diversity")


def load_study(name):
    """The :class:`Study` named ``name`` (its module's ``STUDY``)."""
    if name not in STUDIES:
        raise ValueError(f"Unknown study {name!r}; valid: {', '.join(STUDIES)}.")
    return importlib.import_module(f"linked_neurons.experiments.{name}").STUDY


def resolve_options(study, given):
    """The study's options: ``given`` (None values left out) over the preset over the defaults.

    Raises:
        ValueError: For an option the study does not have, or unknown variants.
    """
    given = {k: v for k, v in given.items() if v is not None}
    defaults = {**SHARED_DEFAULTS, **study.defaults}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{study.name}: unknown option(s) {unknown}; valid: "
                         f"{', '.join(sorted(defaults))}.")
    dataset = str(given.get("dataset", defaults["dataset"]))
    preset = study.presets.get(dataset.lower().replace("-", "").replace("_", ""), {})
    options = {**defaults, **preset, **given}
    options["seeds"] = tuple(int(s) for s in options["seeds"])
    if not options["seeds"] or len(set(options["seeds"])) != len(options["seeds"]):
        raise ValueError(f"{study.name}: `seeds` must be distinct, got {options['seeds']}.")
    if any(s < 0 for s in options["seeds"]):
        raise ValueError(f"{study.name}: `seeds` must be >= 0, got {options['seeds']}.")
    options["variants"] = tuple(options["variants"])
    keys = [v.key for v in _variants(study, options)]
    if not keys or len(set(keys)) != len(keys):
        raise ValueError(f"{study.name}: expected distinct variants, got {options['variants']}.")
    return options


def _variants(study, options):
    """The variants to train: ``study.grid(options)``, or each of ``options["variants"]`` parsed."""
    if study.grid:
        return list(study.grid(options))
    return [study.parse_variant(v) for v in options["variants"]]


def _write_json(path, value):
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        json.dump(value, handle, indent=1, default=_jsonable)
    os.replace(temporary, path)


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def _read_json(path):
    with open(path) as handle:
        return json.load(handle)


def command_line(study, options):
    """The ``linked-neurons`` command that reruns a study with ``options``."""
    parts = ["linked-neurons", study.name]
    defaults = {**SHARED_DEFAULTS, **study.defaults}
    for key, value in options.items():
        if key == "dataset" or value != defaults.get(key) or key in ("seeds", "epochs"):
            if value is None:
                continue
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                parts.append(flag if value else "--no-" + key.replace("_", "-"))
            elif isinstance(value, (tuple, list)):
                parts += [flag, *map(str, value)]
            else:
                parts += [flag, str(value)]
    return shlex.join(parts)


def _prepare_folder(study, options, given, output_dir, name, resume):
    """Creates (or reopens) the run folder and returns ``(folder, options)``.

    On resume, only the options the user gave (``given``) must match the run's.
    """
    if resume:
        config_path = os.path.join(resume, "config.json")
        if not os.path.isfile(config_path):
            raise ValueError(f"{study.name}: cannot resume {resume!r}: no config.json there.")
        config = _read_json(config_path)
        if config.get("study") != study.name:
            raise ValueError(f"{study.name}: {resume!r} holds a {config.get('study')!r} run.")
        saved = resolve_options(study, config["options"])
        same = json.loads(json.dumps(saved, default=_jsonable))
        asked = json.loads(json.dumps(options, default=_jsonable))
        differ = {k: options[k] for k in given if k in same and same[k] != asked[k]}
        if differ:
            raise ValueError(f"{study.name}: --resume continues the run with its own options; "
                             f"these differ from it: {differ}.")
        return resume, saved
    name = name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = os.path.join(output_dir, study.name, name)
    if os.path.isdir(folder) and os.listdir(folder):
        raise ValueError(f"{study.name}: the run folder {folder!r} exists; continue it with "
                         "--resume or choose another --name.")
    try:
        os.makedirs(os.path.join(folder, "models"), exist_ok=True)
        config = {"study": study.name, "options": options, "seeds": options["seeds"],
                  "command": command_line(study, options), "argv": sys.argv,
                  "started": datetime.datetime.now().isoformat(timespec="seconds"),
                  "versions": versions()}
        _write_json(os.path.join(folder, "config.json"), config)
    except OSError as error:
        raise ValueError(f"{study.name}: cannot write the run folder {folder!r}: "
                         f"{error.strerror or error}.") from None
    return folder, options


def _status(folder, status, finished, total, **extra):
    _write_json(os.path.join(folder, "status.json"), {
        "status": status, "finished": finished, "total": total,
        "updated": datetime.datetime.now().isoformat(timespec="seconds"), **extra})


def _clock(seconds):
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class _Progress:
    """Overall and per-model progress, with the time left from the epochs done so far."""

    def __init__(self, study, trainings, epochs, verbose):
        self.total, self.epochs, self.verbose = trainings * epochs, epochs, verbose
        self.done, self.seconds, self.bar = 0, 0.0, None
        self.tty = verbose >= 2 and sys.stderr.isatty()
        if self.tty:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.tty = False
            else:
                self.bar = tqdm(total=self.total, desc=study.name, unit="epoch", position=0)

    def start(self, task, position, csv_path):
        """Gives ``task`` its callbacks (progress, epoch CSV, its own bar) and ``epoch_end``."""
        import keras

        progress = self

        class EpochLog(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                progress.epoch_end(task, position, epoch, logs, time.perf_counter() - self.start)

        log = EpochLog()
        task.callbacks = [log, keras.callbacks.CSVLogger(csv_path)]
        if self.tty:
            from tqdm.keras import TqdmCallback

            task.callbacks.append(TqdmCallback(epochs=self.epochs, verbose=0, leave=False,
                                               position=1,
                                               desc=f"{task.variant.label} seed {task.seed}"))
        task.epoch_end = lambda epoch, logs: (log.on_epoch_end(epoch, logs),
                                              log.on_epoch_begin(epoch + 1))
        log.on_epoch_begin(0)

    def epoch_end(self, task, position, epoch, logs, seconds):
        self.done += 1
        self.seconds += seconds
        if self.bar is not None:
            self.bar.update(1)
        elif self.verbose >= 2:
            left = (self.total - self.done) * self.seconds / self.done
            shown = " ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items()
                             if k in ("loss", "accuracy", "val_loss", "val_accuracy"))
            print(f"[{position} | {self.done}/{self.total} epochs, {_clock(left)} left] "
                  f"{task.variant.label} seed {task.seed} epoch {epoch + 1}/{self.epochs} "
                  f"{shown} ({seconds:.2f}s)", flush=True)

    def skip(self):
        self.total -= self.epochs
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _markdown(frame, columns):
    present = [(k, h) for k, h in columns if k in frame]
    shown = frame[[k for k, _ in present]].rename(columns=dict(present))
    return shown.to_markdown(index=False, floatfmt=".4f", intfmt=",")


def _write_tables(study, folder, options, rows, histories, data, status, verbose):
    import pandas as pd

    from linked_neurons.stats import summarize

    runs = pd.DataFrame(rows)
    files = []
    if not len(runs):
        return runs, pd.DataFrame(), files
    flat = runs.apply(lambda col: col.map(lambda v: " ".join(map(str, v))
                                          if isinstance(v, (list, tuple)) else v))
    flat.to_csv(os.path.join(folder, "runs.csv"), index=False)
    summary = summarize(runs, study.values)
    summary.to_csv(os.path.join(folder, "summary.csv"), index=False)
    table = _markdown(summary, study.columns)
    notes = list(study.notes(options, data)) if study.notes else []
    config = _read_json(os.path.join(folder, "config.json"))
    notes += [f"Seeds {', '.join(map(str, options['seeds']))}; medians, with min and max "
              "over the seeds.",
              f"Hardware: {config['versions']['hardware']}; Keras {config['versions']['keras']},"
              f" backend {config['versions']['backend']} {config['versions']['backend_version']}.",
              f"Reproduce: `{config['command']}`"]
    if status != "complete":
        notes.insert(0, f"**Incomplete run ({status})**: {len(runs)} trainings finished.")
    path = os.path.join(folder, "summary.md")
    with open(path, "w") as handle:
        handle.write(f"# {study.name}: {study.summary}\n\n{table}\n\n" + "\n\n".join(notes) + "\n")
    files += [os.path.join(folder, f) for f in ("runs.csv", "summary.csv", "summary.md")]
    result = StudyResult(study, folder, status, options, runs, summary, histories, data, files)
    from linked_neurons import plotting

    if study.primary in summary:
        files.append(save_plot(os.path.join(folder, f"{study.primary}.png"), plotting.plot_bars,
                               summary, "label", study.primary, title=study.summary, dpi=90))
    curves = {label: _median_history(h) for label, h in histories.items() if h}
    metrics = [m for m in ("val_accuracy", "val_loss") if any(m in h for h in curves.values())]
    if "val_accuracy" in metrics:
        files.append(save_plot(os.path.join(folder, "curves.png"), plotting.plot_learning_curves,
                               curves, metrics, title=study.summary))
    if study.report and status == "complete":
        files += list(study.report(result) or ())
    if verbose:
        print(f"\n{table}\n\n" + "\n".join(n for n in notes if "Hardware" not in n), flush=True)
        shown = [f for f in files if f]
        print("wrote " + ", ".join(shown), flush=True)
        if None in files:
            print('matplotlib is not installed: no plots (pip install -e ".[experiments]").')
    result.files = [f for f in files if f]
    return runs, summary, result.files


def save_plot(path, plot, *args, dpi=100, **kwargs):
    """Saves the figure ``plot(*args, **kwargs)`` returns to ``path``, if matplotlib is there.

    Args:
        path: The file (see :func:`linked_neurons.plotting.save_figure`).
        plot: A function that returns a matplotlib ``Figure``, e.g. one of
            :mod:`linked_neurons.plotting`.
        *args: Its arguments.
        dpi: Resolution of the file.
        **kwargs: Its keyword arguments.

    Returns:
        ``path``, or None without matplotlib (the runner then says so).
    """
    from linked_neurons.plotting import save_figure

    try:
        return save_figure(plot(*args, **kwargs), path, dpi=dpi)
    except ImportError:
        return None


def _median_history(histories):
    import numpy as np

    keys = [k for k in histories[0] if all(k in h and len(h[k]) == len(histories[0][k])
                                           for h in histories)]
    return {k: [float(v) for v in np.median([h[k] for h in histories], axis=0)] for k in keys}


def run(study, *, output_dir="results", name=None, resume=None, verbose=2, **options):
    """Runs ``study`` with ``options`` in a new run folder (or resumes one).

    Args:
        study: A :class:`Study` or the name of one (see :data:`STUDIES`).
        output_dir: Parent of the study's run folders.
        name: Folder name (default: the start time, ``YYYYmmdd-HHMMSS``).
        resume: An existing run folder to continue: its finished models are
            kept and the others trained with the folder's own options.
        verbose: 0 silent, 1 a line per model and the table, 2 per-epoch
            progress too.
        **options: The study's options (see its ``defaults``); unset ones
            come from the preset of ``dataset`` and the defaults.

    Returns:
        A :class:`StudyResult`.

    Raises:
        ValueError: For bad options or an unwritable or existing folder,
            before anything is trained.
        KeyboardInterrupt: Re-raised after the folder is marked ``interrupted``.
    """
    if isinstance(study, str):
        study = load_study(study)
    given = [k for k, v in options.items() if v is not None]
    options = resolve_options(study, options)
    if study.check:
        study.check(options)
    if study.intercept:
        stamp = name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        code = study.intercept(options, verbose, os.path.join(output_dir, study.name, stamp))
        if code is not None:
            return code
    folder, options = _prepare_folder(study, options, given, output_dir, name, resume)
    variants = _variants(study, options)
    tasks = [(seed, v) for seed in options["seeds"] for v in variants]
    models = os.path.join(folder, "models")
    done = {}
    for seed, variant in tasks:
        path = os.path.join(models, f"{variant.key}__seed{seed}.json")
        if os.path.isfile(path):
            done[(seed, variant.key)] = _read_json(path)
    _status(folder, "running", len(done), len(tasks))

    import keras

    try:
        data = study.load_data(options)
    except BaseException as error:
        _status(folder, "interrupted", len(done), len(tasks), reason=repr(error))
        raise
    if verbose:
        print(f"{study.name}: {len(variants)} variants x {len(options['seeds'])} seeds x "
              f"{options['epochs']} epochs -> {folder}" + (f" ({len(done)} trainings already "
                                                          "finished)" if done else ""), flush=True)
        if study.expected_seconds:
            seconds = study.expected_seconds(options, data, len(tasks) - len(done))
            print(f"{study.name}: expected time about {_clock(seconds)} on 2 idle CPU cores "
                  "(longer on a busy machine)", flush=True)
    progress = _Progress(study, len(tasks), options["epochs"], verbose)
    status, reason = "complete", None
    try:
        for index, (seed, variant) in enumerate(tasks, 1):
            if (seed, variant.key) in done:
                progress.skip()
                continue
            position = f"{index}/{len(tasks)}"
            task = Task(variant, seed, options, data, [], folder, None)
            progress.start(task, position, os.path.join(models, f"{task.name}.csv"))
            keras.utils.set_random_seed(seed)
            row, history = study.train(task)
            keras.backend.clear_session()
            history = {k: [float(x) for x in v] for k, v in (history or {}).items()}
            record = {"row": {"variant": variant.key, "label": variant.label, "seed": seed,
                              **row}, "history": history}
            _write_json(os.path.join(models, f"{task.name}.json"), record)
            done[(seed, variant.key)] = record
            _status(folder, "running", len(done), len(tasks))
            if verbose == 1 or (verbose and not progress.tty):
                shown = ", ".join(f"{k} {row[k]:.4f}" for k in study.values[:2]
                                  if isinstance(row.get(k), float))
                print(f"{study.name} [{position}] {variant.label} seed {seed}: {shown}",
                      flush=True)
    except BaseException as error:
        status = "interrupted"
        reason = "KeyboardInterrupt" if isinstance(error, KeyboardInterrupt) else repr(error)
        raise
    finally:
        progress.close()
        ordered = [done[(s, v.key)] for s, v in tasks if (s, v.key) in done]
        rows = [record["row"] for record in ordered]
        histories = {v.label: [done[(s, v.key)]["history"] for s in options["seeds"]
                               if (s, v.key) in done] for v in variants}
        _status(folder, status, len(done), len(tasks), **({"reason": reason} if reason else {}))
        runs, summary, files = _write_tables(study, folder, options, rows, histories, data,
                                             status, verbose)
        if status != "complete" and verbose:
            print(f"{study.name}: interrupted ({reason}) after {len(done)} of {len(tasks)} "
                  f"trainings; continue with: linked-neurons {study.name} --resume {folder}",
                  file=sys.stderr, flush=True)
    return StudyResult(study, folder, status, options, runs, summary, histories, data, files)
