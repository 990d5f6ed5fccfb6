"""The command line of the studies: ``linked-neurons STUDY [options]``.

``python -m linked_neurons.experiments`` is the same command. Every study
takes the same flags for the same things (``--dataset``, ``--variants``,
``--seeds``, ``--epochs``, ``--batch-size``, ``--learning-rate``,
``--max-train-samples``, ``--output-dir``, ``--name``, ``--resume``,
``--quiet``) plus its own; each value is checked by its ``argparse`` type,
so a bad one stops the command with a message naming the flag before
anything is imported or trained. ``--help`` imports no backend.
"""

import argparse
import math
import sys

from linked_neurons.experiments import runner

__all__ = ["build_parser", "choice", "finite_float", "main", "non_negative_int", "positive_float",
           "positive_int"]

PROG = "linked-neurons"
_SHARED_HELP = {
    "dataset": "dataset: digits (embedded 8x8 images, no download), mnist1d, or mnist, "
               "fashion_mnist, cifar10 through keras.datasets",
    "variants": "the variants to train",
    "seeds": "seeds, one training of every variant each (e.g. --seeds 0 1 2)",
    "epochs": "training epochs of every model",
    "batch_size": "training batch size",
    "learning_rate": "learning rate of the optimizer",
    "max_train_samples": "use at most this many training examples",
}


def _int_type(low, name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return value

    parse.__name__, parse.__qualname__ = name, name
    parse.__doc__ = f"``argparse`` type: an integer >= {low}."
    return parse


positive_int = _int_type(1, "positive_int")
non_negative_int = _int_type(0, "non_negative_int")


def finite_float(text):
    """``argparse`` type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text):
    """``argparse`` type: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def choice(*allowed):
    """``argparse`` type: one of ``allowed`` (case-insensitive), named in the error."""

    def parse(text):
        value = text.strip().lower()
        if value not in allowed:
            raise argparse.ArgumentTypeError(
                f"expected one of {', '.join(allowed)}, got {text!r}")
        return value

    parse.__name__ = "choice"
    return parse


def _describe(default):
    if isinstance(default, (tuple, list)):
        return " ".join(map(str, default))
    return "all" if default is None else str(default)


def _add_study(subparsers, study):
    parser = subparsers.add_parser(study.name, help=study.summary, description=study.description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = {**runner.SHARED_DEFAULTS, **study.defaults}
    cifar = study.presets.get("cifar10", {})

    def shown(key):
        text = f"default: {_describe(defaults[key])}"
        if key in cifar and cifar[key] != defaults[key]:
            text += f"; {_describe(cifar[key])} with --dataset cifar10"
        return text

    shared = parser.add_argument_group("options every study shares")
    for key, kind in (("dataset", str), ("epochs", positive_int), ("batch_size", positive_int),
                      ("learning_rate", positive_float), ("max_train_samples", positive_int)):
        if key in defaults:
            shared.add_argument("--" + key.replace("_", "-"), type=kind, default=None,
                                help=f"{_SHARED_HELP[key]} ({shown(key)})")
    shared.add_argument("--variants", nargs="+", metavar="NAME", default=None,
                        help=f"{_SHARED_HELP['variants']} ({shown('variants')})")
    shared.add_argument("--seeds", nargs="+", type=non_negative_int, metavar="SEED",
                        default=None, help=f"{_SHARED_HELP['seeds']} ({shown('seeds')})")
    shared.add_argument("--output-dir", default="results", metavar="DIR",
                        help=f"runs go to DIR/{study.name}/NAME/ (default: results)")
    shared.add_argument("--name", default=None,
                        help="name of the run folder (default: the start time, YYYYmmdd-HHMMSS)")
    shared.add_argument("--resume", metavar="FOLDER", default=None,
                        help="continue an interrupted run: train only the models that its "
                        "folder does not hold yet, with the run's own options")
    shared.add_argument("--quiet", action="store_true",
                        help="no per-epoch progress: one line per model and the tables")
    if study.arguments:
        study.arguments(parser.add_argument_group(f"options of {study.name}"))
    parser.set_defaults(study=study)


def build_parser(only=None):
    """The ``argparse`` parser with one sub-command per study (or only the study ``only``)."""
    from linked_neurons import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run the studies of linked_neurons: every run goes to its own folder "
        "(config.json, status.json, per-model results written as they finish, tables and "
        "plots) and can be resumed with --resume. Embedded data by default: no download.",
    )
    parser.add_argument("--version", action="version", version=f"linked_neurons {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="STUDY", title="studies",
                                       required=True)
    for name in [only] if only else runner.STUDIES:
        _add_study(subparsers, runner.load_study(name))
    return parser


def main(argv=None):
    """Parses ``argv`` (default ``sys.argv[1:]``), runs the study, returns the exit code.

    0 when the run completes, 2 for bad options (nothing trained), 130 after
    Ctrl-C (the run folder is marked ``interrupted`` and can be resumed).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in runner.STUDIES else None)
    args = vars(parser.parse_args(argv))
    study = args.pop("study")
    args.pop("command")
    settings = {k: args.pop(k) for k in ("output_dir", "name", "resume")}
    verbose = 1 if args.pop("quiet") else 2
    import linked_neurons

    linked_neurons._load()  # the backend and every layer, deferred while parsing
    try:
        result = runner.run(study, verbose=verbose, **settings, **args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, TypeError, ImportError, OSError) as error:
        print(f"{PROG} {study.name}: error: {error}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
