"""Diverse learned activations: meta-learning, validation and Hessians (DiversityNN).

``linked-neurons diversity`` meta-learns K activations ``g_k(x) = base(x) +
0.2 MLP_k(x)`` on MNIST-1D (:func:`linked_neurons.diversity.meta_learn`, once,
before the trainings), trains the classifier 40-200-10 once per seed with all
K mixed (``diverse``), each alone (``single``) and the pure ``base``, and
estimates the loss-Hessian eigenvalue density of each first-seed model
(TensorFlow backend). The run folder also gets ``paired.md`` (minus the base,
seed by seed), ``meta_history.csv``, ``learned_activations.npz``/``.txt``,
``hessian_density.npz`` and their plots. The paper's setting: ``--outer-steps
300 --inner-epochs 5 --seeds 0 1 2 3 4``.
"""

import os

from linked_neurons.experiments import classify, runner
from linked_neurons.experiments.cli import choice, non_negative_int, positive_float, positive_int

__all__ = ["STUDY"]
_META = ("base", "n_activations", "outer_steps", "inner_epochs", "batch_size", "outer_lr", "clip",
         "first_order")


def _grid(options):  # also checks the dataset
    if str(options["dataset"]).lower().replace("-", "").replace("_", "") != "mnist1d":
        raise ValueError(f"diversity: --dataset must be mnist1d (the data of the meta-learning), "
                         f"got {options['dataset']!r}.")
    unknown = sorted(set(options["variants"]) - {"diverse", "single", "base"})
    if unknown:
        raise ValueError(f"diversity: unknown --variants {unknown}; valid: diverse single base.")
    k, names = options["n_activations"], []
    for name in options["variants"]:  # with K = 1 nothing is mixed: no "diverse"
        names += [f"learned{i}" for i in range(k)] if name == "single" else [name] * (
            name == "base" or k > 1)
    return [_parse(name) for name in names]


def _parse(name):
    if name not in ("diverse", "base") and not (name[:7] == "learned" and name[7:].isdigit()):
        raise ValueError(f"diversity: unknown variant {name!r}.")
    return runner.Variant(name, {"diverse": "diverse (all K)", "base": "base"}.get(
        name, f"learned {name[7:]}"))


def _load(options):
    import types

    from linked_neurons import diversity
    from linked_neurons.datasets import load_mnist1d

    data = load_mnist1d(n_samples=5000, validation_split=0.0, seed=options["data_seed"])
    x, y = data.x_train[:options["max_train_samples"]], data.y_train[:options["max_train_samples"]]
    meta = diversity.meta_learn(x, y, data.x_test, data.y_test, preset="quick", verbose=1,
                                seed=options["meta_seed"], **{k: options[k] for k in _META})
    grid, curves = meta.curves()
    configs = diversity.validation_configs(diversity.InterpolatedActivation(curves, x_values=grid),
                                           options["base"])
    return types.SimpleNamespace(x_train=x, y_train=y, x_test=data.x_test, y_test=data.y_test,
                                 meta=meta, grid=grid, curves=curves, configs=configs)


def _train(task):
    import keras
    import numpy as np

    from linked_neurons import diversity, hessian
    from linked_neurons.diversity.validation import _classifier
    from linked_neurons.optimizers import InnerRMSprop
    from linked_neurons.training import build_before_fit

    options, data, key = task.options, task.data, task.variant.key
    tensorflow = keras.backend.backend() == "tensorflow"
    name = {"diverse": f"diverse (K={len(data.curves)})", "base": f"base {options['base']}"}
    factory = data.configs[name.get(key, f"learned {key[7:]}")]
    classes = int(max(data.y_train.max(), data.y_test.max())) + 1
    model = _classifier(data.x_train.shape[1], classes, 200, factory(), task.seed)
    inner = [diversity.PAPER_DEFAULTS[k] for k in ("inner_lr", "inner_decay", "inner_eps")]
    model.compile(optimizer=InnerRMSprop(*inner) if options["validation_optimizer"] == "inner"
                  else keras.optimizers.Adam(options["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile="auto")
    build_before_fit(model, data.x_train, data.y_train)
    history = model.fit(data.x_train, data.y_train, batch_size=options["batch_size"],
                        epochs=options["epochs"], verbose=0, shuffle=True,
                        callbacks=task.callbacks).history
    accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1000, verbose=0)[1]
    if task.seed == options["seeds"][0] and options["lanczos_steps"] and tensorflow:
        op = hessian.HessianOperator(model, model.loss, (data.x_train[:1000], data.y_train[:1000]))
        np.save(os.path.join(task.folder, "models", f"{task.name}_hessian.npy"),
                hessian.density_grid(*hessian.spectral_density(
                    op, n_steps=options["lanczos_steps"], seed=options["meta_seed"])))
    return {"test_accuracy": float(accuracy), "train_loss": float(history["loss"][-1])}, history


def _report(result):
    import numpy as np
    import pandas as pd

    from linked_neurons import hessian, plotting

    folder, data, first = result.folder, result.data, result.options["seeds"][0]
    files = [data.meta.save(os.path.join(folder, "learned_activations.npz")),
             os.path.join(folder, "learned_activations.txt"),
             os.path.join(folder, "meta_history.csv")]
    np.savetxt(files[1], data.curves)
    pd.DataFrame(data.meta.history).rename_axis("step").rename(lambda i: i + 1).to_csv(files[2])
    paths = {label: os.path.join(folder, "models", f"{key}__seed{first}_hessian.npy")
             for key, label in zip(result.runs["variant"], result.runs["label"])}
    densities = {label: np.load(path) for label, path in paths.items() if os.path.isfile(path)}
    if densities:  # per configuration: its grid (row 0) and density (row 1)
        files.append(os.path.join(folder, "hessian_density.npz"))
        np.savez(files[-1], **densities)
    files += classify.paired_tables(result, "base")
    steps = len(data.meta.history["outer_loss"])
    files += [runner.save_plot(os.path.join(folder, "learned_curves.png"),
                               plotting.plot_meta_activations, data.grid, data.curves,
                               result.options["base"], title="Meta-learned activations vs the "
                               f"base ({steps} outer steps)"),
              runner.save_plot(os.path.join(folder, "meta_history.png"),
                               plotting.plot_meta_learning, data.meta.history)]
    if densities:
        files.append(runner.save_plot(os.path.join(folder, "hessian.png"), hessian.plot_density,
                                      densities, title="Loss-Hessian eigenvalue density "
                                      "(first-seed models)"))
    return files


def _arguments(parser):
    for flag, kind, text in (
            ("--base", choice("sin", "tanh", "elu"), "base of the learned activations; sin"),
            ("--n-activations", positive_int, "K, the learned activations (divides 200); 2"),
            ("--data-seed", non_negative_int, "seed of MNIST-1D; 42, the published data"),
            ("--meta-seed", non_negative_int, "seed of the meta-learning and of Lanczos; 0"),
            ("--outer-steps", positive_int, "meta-learning steps, 300 in the paper; 20"),
            ("--inner-epochs", positive_int, "inner epochs per outer step, 5 in the paper; 1"),
            ("--outer-lr", positive_float, "learning rate of the outer steps; 0.4"),
            ("--clip", positive_float, "elementwise clip of the meta-gradient; 0.1"),
            ("--validation-optimizer", choice("adam", "inner"), "adam at --learning-rate, or "
             "inner: the meta-learning's RMSprop-like update at lr 0.01; adam"),
            ("--lanczos-steps", non_negative_int, "steps of the Hessian densities (0: none); 100")):
        text, default = text.rsplit("; ", 1)
        parser.add_argument(flag, type=kind, default=None, help=f"{text} (default: {default})")
    parser.add_argument("--first-order", action="store_true", default=None,
                        help="first-order meta-gradient (default: second order)")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = runner.Study(
    name="diversity",
    summary="meta-learned diverse activations against each alone and the base",
    description=__doc__,
    defaults=dict(dataset="mnist1d", epochs=20, batch_size=200, learning_rate=0.005,
                  seeds=(0, 1, 2), variants=("diverse", "single", "base"), base="sin",
                  n_activations=2, data_seed=42, meta_seed=0, outer_steps=20, inner_epochs=1,
                  outer_lr=0.4, clip=0.1, first_order=False, validation_optimizer="adam",
                  lanczos_steps=100),
    parse_variant=_parse,
    load_data=_load,
    train=_train,
    grid=_grid,
    values=("test_accuracy", "train_loss"),
    columns=(("label", "configuration"), ("test_accuracy", "test acc"),
             ("test_accuracy_min", "test min"), ("test_accuracy_max", "test max"),
             ("train_loss", "final train loss"), ("runs", "seeds")),
    arguments=_arguments,
    notes=lambda options, data: [
        f"MNIST-1D ({len(data.x_train)} train / {len(data.x_test)} test), classifier 40-200-10, "
        "{validation_optimizer} optimizer, {epochs} epochs, batch {batch_size}; {n_activations} "
        "'{base}' activations meta-learned for {outer_steps} outer steps of {inner_epochs} inner "
        f"epochs, final diversity {data.meta.history['diversity'][-1]:.4f}.".format(**options)],
    report=_report,
)
