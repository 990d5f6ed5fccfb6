"""Diverse learned activations: meta-learning, validation and Hessians (DiversityNN).

``linked-neurons diversity`` meta-learns, on MNIST-1D generated locally
(seed 42: the published 4,000 training and 1,000 test signals), K activations
``g_k(x) = base(x) + 0.2 MLP_k(x)`` (:func:`linked_neurons.diversity.meta_learn`,
once, before the trainings), then trains the classifier 40-200-10 once per
seed with all K mixed (``diverse``), each alone (``single``: learned 0, 1,
...) and with the pure ``base``, and estimates the loss-Hessian eigenvalue
density (:mod:`linked_neurons.hessian`, TensorFlow backend) of each
first-seed model. Besides the runner's tables the run folder gets
``paired.csv``/``.md`` (minus the base, seed by seed), ``meta_history.csv``,
``learned_activations.npz``/``.txt``, ``hessian_density.npz`` and the plots
``learned_curves.png``, ``meta_history.png``, ``hessian.png``. The default
meta-learns 20 outer steps of one inner epoch; the paper's setting is
``--outer-steps 300 --inner-epochs 5 --seeds 0 1 2 3 4``.
"""

import os

from linked_neurons.experiments import classify, figures, runner
from linked_neurons.experiments.cli import choice, non_negative_int, positive_float, positive_int

__all__ = ["STUDY"]


def _expand(options):
    unknown = sorted(set(options["variants"]) - {"diverse", "single", "base"})
    if unknown:
        raise ValueError(f"diversity: unknown --variants {unknown}; valid: diverse single base.")
    k, names = options["n_activations"], []
    for name in options["variants"]:  # K = 1: "diverse" is the single one
        names += [f"learned{i}" for i in range(k)] if name == "single" else [name] * (
            name == "base" or k > 1)
    return names


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
    meta = diversity.meta_learn(
        x, y, data.x_test, data.y_test, base=options["base"], preset="quick",
        n_activations=options["n_activations"], outer_steps=options["outer_steps"],
        inner_epochs=options["inner_epochs"], batch_size=options["batch_size"],
        outer_lr=options["outer_lr"], clip=options["clip"], first_order=options["first_order"],
        seed=options["meta_seed"], verbose=1)
    grid, curves = meta.curves()
    configs = diversity.validation_configs(diversity.InterpolatedActivation(curves, x_values=grid),
                                           options["base"])
    return types.SimpleNamespace(x_train=x, y_train=y, x_test=data.x_test, y_test=data.y_test,
                                 meta=meta, grid=grid, curves=curves, configs=configs)


def _train(task):
    import keras
    import numpy as np

    from linked_neurons import diversity, hessian
    from linked_neurons.optimizers import InnerRMSprop

    options, data, key = task.options, task.data, task.variant.key
    name = {"diverse": f"diverse (K={len(data.curves)})", "base": f"base {options['base']}"}
    factory = data.configs[name.get(key, f"learned {key[7:]}")]
    classes = int(max(data.y_train.max(), data.y_test.max())) + 1
    model = diversity._classifier(data.x_train.shape[1], classes, 200, factory(), task.seed)
    inner = [diversity.PAPER_DEFAULTS[k] for k in ("inner_lr", "inner_decay", "inner_eps")]
    model.compile(optimizer=InnerRMSprop(*inner) if options["validation_optimizer"] == "inner"
                  else keras.optimizers.Adam(options["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile="auto")
    history = model.fit(data.x_train, data.y_train, batch_size=options["batch_size"],
                        epochs=options["epochs"], verbose=0, shuffle=True,
                        callbacks=task.callbacks).history
    accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1000, verbose=0)[1]
    if (task.seed == options["seeds"][0] and options["lanczos_steps"]
            and keras.backend.backend() == "tensorflow"):
        n = min(1000, len(data.x_train))
        op = hessian.HessianOperator(model, keras.losses.SparseCategoricalCrossentropy(
            from_logits=True), (data.x_train[:n], data.y_train[:n]))
        nodes, weights = hessian.spectral_density(op, n_steps=options["lanczos_steps"],
                                                  seed=options["meta_seed"])
        grid, density = hessian.density_grid(nodes, weights)
        np.savez(os.path.join(task.folder, "models", f"{task.name}_hessian.npz"), grid=grid,
                 density=density)
    return {"test_accuracy": float(accuracy), "train_loss": float(history["loss"][-1])}, history


def _report(result):
    import numpy as np
    import pandas as pd

    folder, data, first = result.folder, result.data, result.options["seeds"][0]
    files = [data.meta.save(os.path.join(folder, "learned_activations.npz")),
             os.path.join(folder, "learned_activations.txt"),
             os.path.join(folder, "meta_history.csv")]
    np.savetxt(files[1], data.curves)
    pd.DataFrame(data.meta.history).rename_axis("step").rename(lambda i: i + 1).to_csv(files[2])
    densities = {}
    for key, label in dict(zip(result.runs["variant"], result.runs["label"])).items():
        path = os.path.join(folder, "models", f"{key}__seed{first}_hessian.npz")
        if os.path.isfile(path):
            densities[label] = tuple(np.load(path)[k] for k in ("grid", "density"))
    if densities:
        files.append(os.path.join(folder, "hessian_density.npz"))
        np.savez(files[-1], names=np.array(list(densities)),
                 grid=np.stack([g for g, _ in densities.values()]),
                 density=np.stack([d for _, d in densities.values()]))
    files += classify.paired_tables(result, "base")
    return files + figures.plot_meta_learning(data.grid, data.curves, result.options["base"],
                                              data.meta.history, densities, folder)


def _check(options):
    if str(options["dataset"]).lower().replace("-", "").replace("_", "") != "mnist1d":
        raise ValueError(f"diversity: --dataset must be mnist1d (the data of the meta-learning), "
                         f"got {options['dataset']!r}.")


def _arguments(parser):
    parser.add_argument("--base", type=choice("sin", "tanh", "elu"), default=None,
                        help="base activation of the learned ones (default: sin)")
    parser.add_argument("--n-activations", type=positive_int, default=None, metavar="K",
                        help="K, the learned activations (default: 2; must divide 200)")
    parser.add_argument("--data-seed", type=non_negative_int, default=None,
                        help="seed of the MNIST-1D generator (default: 42, the published data)")
    parser.add_argument("--meta-seed", type=non_negative_int, default=None,
                        help="seed of the meta-learning and of the Lanczos vectors (default: 0)")
    parser.add_argument("--outer-steps", type=positive_int, default=None,
                        help="meta-learning steps (default: 20; the paper: 300)")
    parser.add_argument("--inner-epochs", type=positive_int, default=None,
                        help="epochs of the inner training in every outer step (default: 1; "
                        "the paper: 5)")
    parser.add_argument("--outer-lr", type=positive_float, default=None,
                        help="learning rate of the outer steps (default: 0.4)")
    parser.add_argument("--clip", type=positive_float, default=None,
                        help="elementwise clip of the meta-gradient (default: 0.1)")
    parser.add_argument("--first-order", action="store_true", default=None,
                        help="first-order meta-gradient (default: second order)")
    parser.add_argument("--validation-optimizer", type=choice("adam", "inner"), default=None,
                        help="adam (at --learning-rate, default) or inner: the meta-learning's "
                        "own RMSprop-like update (lr 0.01)")
    parser.add_argument("--lanczos-steps", type=non_negative_int, default=None,
                        help="Lanczos steps of the Hessian densities (default: 100; 0: none)")


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
    expand=_expand,
    check=_check,
    values=("test_accuracy", "train_loss"),
    columns=(("label", "configuration"), ("test_accuracy", "test acc"),
             ("test_accuracy_min", "test min"), ("test_accuracy_max", "test max"),
             ("train_loss", "final train loss"), ("runs", "seeds")),
    arguments=_arguments,
    notes=lambda options, data: [
        f"MNIST-1D ({len(data.x_train)} train / {len(data.x_test)} test), classifier 40-200-10, "
        f"{options['validation_optimizer']} optimizer, {options['epochs']} epochs, batch "
        f"{options['batch_size']}; {options['n_activations']} '{options['base']}' activations "
        f"meta-learned for {options['outer_steps']} outer steps of {options['inner_epochs']} "
        f"inner epochs, final diversity {data.meta.history['diversity'][-1]:.4f}."],
    report=_report,
)
