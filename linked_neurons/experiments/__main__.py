"""Command line of the experiments: ``python -m linked_neurons.experiments NAME``.

Every module named in :data:`linked_neurons.experiments.EXPERIMENTS` adds
its sub-command through ``register(subparsers)`` and runs through
``run(args)``.
"""

import argparse
import importlib
import sys

from linked_neurons.experiments import EXPERIMENTS

PROG = "python -m linked_neurons.experiments"


def build_parser():
    """Returns the ``argparse`` parser with one sub-command per experiment."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Run the linked_neurons experiments. Each writes CSV and Markdown tables and "
            "plots; embedded datasets are used by default, so nothing is downloaded."
        ),
    )
    subparsers = parser.add_subparsers(
        dest="experiment", metavar="EXPERIMENT", title="experiments", required=True
    )
    for name in EXPERIMENTS:
        importlib.import_module(f"linked_neurons.experiments.{name}").register(subparsers)
    return parser


def main(argv=None):
    """Parses ``argv`` (default ``sys.argv[1:]``), runs the experiment, returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, ImportError, RuntimeError) as error:
        print(f"{PROG} {args.experiment}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
