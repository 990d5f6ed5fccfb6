"""The studies of linked_neurons, runnable from the command line.

``linked-neurons STUDY [options]`` (or ``python -m linked_neurons.experiments
STUDY``) runs one; ``linked-neurons --help`` lists them and ``linked-neurons
STUDY --help`` shows its options. Each study trains on embedded data by
default (no download) and writes a run folder
``results/<study>/<name>/`` that a later ``--resume`` can continue (see
:mod:`~linked_neurons.experiments.runner`).

Studies (:data:`~linked_neurons.experiments.runner.STUDIES`):

- ``compare``: one small network per activation (:mod:`~linked_neurons.experiments.compare`).
- ``selu``: activation histograms of the SELU-study CNN (:mod:`~linked_neurons.experiments.selu`).
- ``leaf``: LEAF and AHAF against fixed activations (:mod:`~linked_neurons.experiments.leaf`).
- ``depth``, ``width``, ``params``, ``shift``, ``speed``: the linked-neurons
  paper's studies, with the original's settings in
  :mod:`~linked_neurons.experiments.presets`.
- ``diversity``: meta-learned diverse activations (:mod:`~linked_neurons.experiments.diversity`).

Adding a study: write ``linked_neurons/experiments/NAME.py`` with a
module-level ``STUDY = runner.Study(...)`` (its variants, data, training and
metrics; import Keras inside its functions, so ``--help`` stays fast) and add
``NAME`` to :data:`~linked_neurons.experiments.runner.STUDIES`.
"""

from linked_neurons.experiments.runner import STUDIES, Study, StudyResult, run

__all__ = ["STUDIES", "Study", "StudyResult", "run"]
