"""``python -m linked_neurons.experiments``: the same command as ``linked-neurons``."""

import sys

from linked_neurons.experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
