"""Depth study of the linked-neurons paper: a deep, thin plain network per activation.

``linked-neurons depth`` trains :func:`linked_neurons.paper_models.depth_net`
(a 7x7 stride-2 convolution, then 50 of 3x3, all of width 4, each followed
by the activation, no batch normalization) per activation, with the
original's Adam (1e-3, epsilon 1e-8), batch 32, no shuffling and
``glorot_uniform`` kernels. The digits are resized to 32x32 (the stem leaves
16x16 maps, as on CIFAR-10); ``--dataset cifar10`` adds Swish, LK-Swish and
the √2-widened baselines and trains 200 epochs, as the original. After
training it counts the dead units of every activation layer
(:func:`linked_neurons.monitoring.dead_units`): the table gives the layers
with dead units and the first one, ``dead_units.csv`` / ``.png`` the median
fraction per layer.

``--diagnose`` trains nothing: on the untrained networks and the first
``--batch-size`` training images it prints the gradient RMS of the kernels
and the second moment of the activations (:mod:`linked_neurons.signal`),
medians over the seeds: whether Adam can move the deep layers at all.

The paper's claim (CIFAR-10): plain ReLU, PReLU and Swish nets this deep and
thin stay at chance (.10) with dead units from about layer 7; LK-ReLU (.56),
LK-PReLU (.52), SELU (.56) and LK-SELU (.57) train without batch
normalization; ReLU+BN reaches .51.
"""

import math
import os

from linked_neurons.experiments import classify, runner

__all__ = ["STUDY", "diagnose"]


def _net(options, data, v):
    from linked_neurons.paper_models import depth_net

    return depth_net(data.input_shape, data.num_classes, v.activation, depth=options["depth"],
                     width=options["width"], batch_norm=v.batch_norm, sqrt2=v.sqrt2,
                     kernel_initializer=options["kernel_initializer"])


def _train(task):
    row, history = classify.fit_task(task, _net(task.options, task.data, task.variant), "adam",
                                     dead_units=True)
    dead = [i + 1 for i, f in enumerate(row["dead_fraction"]) if f > 0]
    return {**row, "dead_layers": len(dead), "first_dead_layer": dead[0] if dead else math.nan}, \
        history


def _report(result):
    import pandas as pd

    from linked_neurons import plotting

    runs = result.runs.explode("dead_fraction")
    runs["layer"] = runs.groupby(["variant", "seed"]).cumcount() + 1
    dead = runs.groupby(["label", "layer"], sort=False)["dead_fraction"].median().reset_index()
    path = os.path.join(result.folder, "dead_units.csv")
    dead.to_csv(path, index=False)
    curves = {label: {"dead_fraction": list(pd.to_numeric(group["dead_fraction"]))}
              for label, group in dead.groupby("label", sort=False)}
    return [path, runner.save_plot(os.path.join(result.folder, "dead_units.png"),
                                   plotting.plot_learning_curves, curves, "dead_fraction",
                                   title="Dead units after training", xlabel="activation layer")]


def diagnose(options, data=None):
    """Gradient sizes and activation second moments of the untrained depth network.

    For every variant and seed, builds the network and measures on the first
    ``batch_size`` training images (the original's first, unshuffled batch)
    the RMS of the cross-entropy gradient of every convolution kernel and
    the second moment ``E[a^2]`` of every activation layer's output.

    Args:
        options: The study's resolved options (``runner.resolve_options``).
        data: The dataset (default: loaded from ``options``).

    Returns:
        ``(summary, layers)``: ``pandas.DataFrame`` s, one row per variant
        (medians over the seeds, with ``deep_over_eps``: the RMS of all
        kernels after the stem over Adam's epsilon) and one per variant, seed
        and layer.
    """
    import keras
    import numpy as np
    import pandas as pd

    from linked_neurons import signal
    from linked_neurons.stats import summarize

    data = data if data is not None else classify.load_images(options)
    x, y = data.x_train[: options["batch_size"]], data.y_train[: options["batch_size"]]
    rows, layers, depth = [], [], options["depth"]
    for v in map(classify.parse_variant, options["variants"]):
        for seed in options["seeds"]:
            keras.utils.set_random_seed(seed)
            model = _net(options, data, v)
            rms = signal.kernel_gradient_rms(model, x, y)[:depth]  # the Dense kernel left out
            moments = signal.second_moments(model, x)
            layers += [{"label": v.label, "seed": seed, "layer": i + 1, "kernel_grad_rms": g,
                        "second_moment": m} for i, (g, m) in enumerate(zip(rms, moments))]
            rows.append({"variant": v.key, "label": v.label, "seed": seed,  # equal-size kernels
                         "grad_rms_deep": float(np.sqrt(np.mean(np.square(rms[1:] or [0.0])))),
                         "grad_rms_mid": rms[(depth - 1) // 2], "grad_rms_last": rms[-1],
                         "moment_1": moments[0], "moment_mid": moments[(depth - 1) // 2],
                         "moment_last": moments[-1]})
            keras.backend.clear_session()
    values = [k for k in rows[0] if k.startswith(("grad", "moment"))]
    summary = summarize(rows, values)
    summary["deep_over_eps"] = summary["grad_rms_deep"] / (options["epsilon"] or 1e-7)
    return summary, pd.DataFrame(layers)


def _intercept(options, verbose, folder):
    if not options["diagnose"]:
        return None
    os.makedirs(folder, exist_ok=True)  # before the measurements: fail early when unwritable
    summary, layers = diagnose(options)
    shown = ["label", "grad_rms_deep", "deep_over_eps", "grad_rms_mid", "grad_rms_last",
             "moment_1", "moment_mid", "moment_last", "runs"]
    o = options
    text = (summary[shown].to_markdown(index=False, floatfmt=".3g") + "\n\n"
            f"Untrained depth {o['depth']} x width {o['width']}, {o['kernel_initializer']}, "
            f"image size {o['image_size']}; first {o['batch_size']} training images; medians "
            f"over seeds {list(o['seeds'])}; mid = layer {(o['depth'] + 1) // 2}; deep = all "
            "kernels after the stem.\n")
    summary.to_csv(os.path.join(folder, "diagnose.csv"), index=False)
    layers.to_csv(os.path.join(folder, "diagnose_layers.csv"), index=False)
    with open(os.path.join(folder, "diagnose.md"), "w") as handle:
        handle.write(text)
    if verbose:
        print(text + f"wrote {folder}/diagnose.md, diagnose.csv, diagnose_layers.csv (every layer)")
    return 0


def _arguments(parser):
    classify.paper_arguments(parser, "depth", "epsilon", "shuffle", "kernel_initializer",
                             "image_size", "depth", "width")
    parser.add_argument("--diagnose", action="store_true", default=None,
                        help="train nothing: gradient RMS of every kernel and second moment of "
                        "every activation at initialisation, medians over the seeds")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = classify.paper_study(
    "depth", "Adam", extra={"diagnose": False}, description=__doc__, train=_train,
    summary="deep thin plain network per activation, dead units (paper)", report=_report,
    arguments=_arguments, intercept=_intercept,
    values=("best_val_accuracy", "test_accuracy", "paper_best_test_accuracy",
            "seconds_per_epoch", "dead_layers", "first_dead_layer"),
    columns=(("label", "variant"), *classify.PAPER_COLUMNS, ("dead_layers", "layers with dead "
             "units"), ("first_dead_layer", "first dead layer"), ("params", "params"),
             ("seconds_per_epoch", "s/epoch"), ("runs", "seeds")),
    extra_notes=["Dead unit: a channel that is zero for every one of up to 512 training images at "
           "every position, after training."],
)
