"""The papers' experiments, runnable from the command line.

``python -m linked_neurons.experiments NAME [options]`` runs experiment
``NAME``; ``python -m linked_neurons.experiments --help`` lists them and
``python -m linked_neurons.experiments NAME --help`` shows an experiment's
options. Each experiment trains on embedded data by default (no download),
prints its progress and writes CSV and Markdown tables plus plots under
``results/NAME``.

Experiments:

- ``compare``: one small network trained with ReLU, ReLU+BN, SELU, LK-ReLU,
  LK-PReLU, LK-SELU, LK-Swish and Mish (:func:`~linked_neurons.experiments.compare.run_compare`).
- ``selu``: activation histograms of the SELU-study CNN with ReLU, leaky ReLU,
  SELU and linked activations (:func:`linked_neurons.experiments.selu.run_selu`).
- ``leaf``: LEAF and AHAF against fixed activations on LeNet-5 and KerasNet,
  with the P24Sl and DSPT training procedures
  (:func:`linked_neurons.experiments.leaf.run_leaf`).
- ``depth``, ``width``, ``params``, ``shift``, ``speed``: the studies of the
  linked-neurons paper (a 51-layer width-4 network with dead units per layer,
  one-layer width, parameter-matched single/√2/linked networks, covariate
  shift without batch normalization, and time per epoch / to a target
  accuracy against batch normalization and SELU); shared pieces in
  :mod:`linked_neurons.experiments.paper`.
- ``diversity``: meta-learned diverse activations vs each alone vs the base,
  with Hessian spectral densities (:mod:`linked_neurons.experiments.diversity`).

Adding an experiment: write a module ``linked_neurons/experiments/NAME.py``
with ``register(subparsers)``, which adds its ``argparse`` sub-parser and
calls ``parser.set_defaults(run=run)``, and ``run(args)``, which returns the
exit code; then add ``NAME`` to :data:`EXPERIMENTS`. Shared options, progress,
tables and plots are in :mod:`linked_neurons.experiments.common`.
"""

from linked_neurons.experiments.compare import run_compare

#: Experiment modules, in the order ``--help`` lists them.
EXPERIMENTS = ("compare", "selu", "leaf", "depth", "width", "params", "shift", "speed",
               "diversity")

__all__ = ["EXPERIMENTS", "run_compare"]
