"""Diverse learned activations: meta-learning, validation and Hessians (SPEC §4).

``python -m linked_neurons.experiments diversity`` runs, on MNIST-1D generated
locally by :func:`linked_neurons.datasets.load_mnist1d` (no download):

1. meta-learning (:func:`linked_neurons.diversity.meta_learn`) of K
   sub-network activations ``g_k(x) = base(x) + 0.2 · MLP_k(x)`` on a
   40 → 200 → 10 classifier trained from scratch in every outer step;
2. the validation study (:func:`linked_neurons.diversity.validate`): the same
   classifier trained with all K learned activations mixed (one block of the
   hidden layer each), with each learned activation alone and with the pure
   base, over several seeds, with the same optimizer (Adam) and epochs;
3. the loss-Hessian eigenvalue density (stochastic Lanczos quadrature,
   :mod:`linked_neurons.hessian`) of each configuration's first-seed model
   on 1000 training samples.

It writes, under ``results/diversity``:

- ``diversity_validation.csv`` / ``.md``: mean ± std test accuracy per
  configuration; ``diversity_validation_runs.csv``: every seed;
- ``diversity_meta_history.csv``: per outer step the outer loss (mean inner
  training loss), inner test accuracy, meta-gradient norm and diversity;
- ``learned_activations.npz`` (curves, x grid and metadata) and
  ``learned_activations.txt`` (the DiversityNN text format);
- ``diversity_curves.png`` (learned curves vs the base),
  ``diversity_outer_loss.png`` and ``diversity_hessian.png`` (log density).

The defaults are reduced so that the run takes a few minutes on 2 CPU cores
(2500 samples: 2000 for training, 500 for testing; 40 outer steps of 5
inner epochs of 10 batches, i.e. 50 unrolled inner steps). The paper's
setting (4000 training samples, 300 outer steps, 5 inner epochs, batch 200)
is:

.. code-block:: console

   python -m linked_neurons.experiments diversity --samples 5000 \\
       --outer-steps 300 --inner-epochs 5 --batch-size 200 --seeds 0 1 2 3 4

Example:

    >>> from linked_neurons.experiments.diversity import build_parser_defaults
    >>> defaults = build_parser_defaults()
    >>> defaults["outer_steps"], defaults["inner_epochs"], defaults["batch_size"]
    (40, 5, 200)
"""

import argparse
import csv
import os
import time

import numpy as np

NAME = "diversity"
DEFAULT_OUTPUT_DIR = os.path.join("results", "diversity")


def register(subparsers):
    """Adds the ``diversity`` sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="meta-learned diverse activations vs single and base (DiversityNN)",
        description=(
            "Meta-learns K sub-network activations on MNIST-1D, compares all K mixed vs each "
            "alone vs the pure base over seeds, and plots the Hessian eigenvalue densities "
            "(SPEC section 4). Paper setting: --samples 5000 --outer-steps 300 "
            "--inner-epochs 5 --batch-size 200."
        ),
    )
    _add_arguments(parser)
    parser.set_defaults(run=run)


def _add_arguments(parser):
    parser.add_argument("--base", default="sin", help="base activation: sin, tanh, elu (sin)")
    parser.add_argument("--n-activations", type=int, default=2, help="K (default 2)")
    parser.add_argument("--samples", type=int, default=2500,
                        help="MNIST-1D samples, 80%% train / 20%% test (default 2500)")
    parser.add_argument("--outer-steps", type=int, default=40, help="outer steps (default 40)")
    parser.add_argument("--inner-epochs", type=int, default=5, help="inner epochs (default 5)")
    parser.add_argument("--batch-size", type=int, default=200, help="batch size (default 200)")
    parser.add_argument("--first-order", action="store_true",
                        help="first-order meta-gradient (default: second order)")
    parser.add_argument("--epochs", type=int, default=20,
                        help="epochs of the validation training (default 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="validation seeds (default 0 1 2)")
    parser.add_argument("--seed", type=int, default=0, help="data and meta-learning seed")
    parser.add_argument("--lanczos-steps", type=int, default=100,
                        help="Lanczos steps of the Hessian density (default 100; 0 skips it)")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                        help=f"output folder (default {DEFAULT_OUTPUT_DIR})")
    parser.add_argument("--quiet", action="store_true", help="no per-step progress")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def build_parser_defaults():
    """The default option values, as a dict of argument names."""
    parser = argparse.ArgumentParser()
    _add_arguments(parser)
    return vars(parser.parse_args([]))


def run(args):
    """Runs the experiment from parsed arguments; returns the exit code."""
    run_diversity(
        base=args.base, n_activations=args.n_activations, samples=args.samples,
        outer_steps=args.outer_steps, inner_epochs=args.inner_epochs,
        batch_size=args.batch_size, first_order=args.first_order, epochs=args.epochs,
        seeds=args.seeds, seed=args.seed, lanczos_steps=args.lanczos_steps,
        output_dir=args.output_dir, verbose=0 if args.quiet else 1, plots=not args.no_plots,
    )
    return 0


def run_diversity(base="sin", n_activations=2, samples=2500, outer_steps=40, inner_epochs=5,
                  batch_size=200, first_order=False, epochs=20, seeds=(0, 1, 2), seed=0,
                  lanczos_steps=100, output_dir=DEFAULT_OUTPUT_DIR, verbose=1, plots=True):
    """Meta-learning, validation study and Hessian densities; see the module docstring.

    Returns:
        Dict with ``"summary"`` (validation rows), ``"history"`` (meta
        history), ``"files"`` (written paths) and ``"seconds"``.
    """
    from linked_neurons import diversity, hessian
    from linked_neurons.datasets import load_mnist1d
    from linked_neurons.experiments import common

    start = time.perf_counter()
    os.makedirs(output_dir, exist_ok=True)
    data = load_mnist1d(n_samples=samples, validation_split=0.0, test_split=0.2, seed=seed)
    if verbose:
        print(f"MNIST-1D: {len(data.x_train)} train, {len(data.x_test)} test samples; "
              f"meta-learning K={n_activations} '{base}' activations "
              f"({'first' if first_order else 'second'} order)", flush=True)
    result = diversity.meta_learn(
        data.x_train, data.y_train, data.x_test, data.y_test, base=base,
        n_activations=n_activations, outer_steps=outer_steps, inner_epochs=inner_epochs,
        batch_size=batch_size, first_order=first_order, seed=seed, verbose=verbose,
    )
    files = []
    npz = os.path.join(output_dir, "learned_activations.npz")
    files.append(result.save(npz))
    grid, curves = result.curves()
    txt = os.path.join(output_dir, "learned_activations.txt")
    np.savetxt(txt, curves)
    files.append(txt)
    history_path = os.path.join(output_dir, "diversity_meta_history.csv")
    with open(history_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        keys = list(result.history)
        writer.writerow(["step", *keys])
        for i in range(len(result.history["outer_loss"])):
            writer.writerow([i + 1, *(result.history[k][i] for k in keys)])
    files.append(history_path)

    interp = diversity.InterpolatedActivation(curves, x_values=grid)
    rows, summary, models = diversity.validate(
        interp, data.x_train, data.y_train, data.x_test, data.y_test, base=base, seeds=seeds,
        epochs=epochs, batch_size=batch_size, verbose=verbose, return_models=True,
    )
    for row in summary:
        row["test accuracy"] = f"{row['mean']:.4f} ± {row['std']:.4f}"
    notes = [
        f"MNIST-1D ({len(data.x_train)} train / {len(data.x_test)} test), classifier 40-200-10, "
        f"Adam lr 0.005, {epochs} epochs, batch {batch_size}, seeds {list(seeds)}; activations "
        f"meta-learned for {outer_steps} outer steps of {inner_epochs} inner epochs "
        f"({'first' if first_order else 'second'}-order meta-gradient). Final diversity "
        f"{result.history['diversity'][-1]:.4f}.",
    ]
    stem = os.path.join(output_dir, "diversity_validation")
    files.extend(common.write_tables(
        summary, stem, [("config", "configuration"), ("test accuracy", "test accuracy"),
                        ("runs", "runs")],
        title="Diverse vs single learned vs base activations", notes=notes))
    runs_path = f"{stem}_runs.csv"
    with open(runs_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    files.append(runs_path)

    densities = {}
    if lanczos_steps > 0:
        import keras

        if keras.backend.backend() == "tensorflow":
            n = min(1000, len(data.x_train))
            batch = (data.x_train[:n], data.y_train[:n])
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            for name, model in models.items():
                op = hessian.HessianOperator(model, loss, batch)
                nodes, weights = hessian.spectral_density(op, n_steps=lanczos_steps, seed=seed)
                densities[name] = hessian.density_grid(nodes, weights)
                if verbose:
                    print(f"Hessian {name}: largest eigenvalue ~ {nodes.max():.4f}", flush=True)
        elif verbose:
            print("Hessian densities skipped: they need the TensorFlow backend.", flush=True)

    if plots:
        files.extend(_plots(output_dir, grid, curves, base, result.history, densities))
    print(common.markdown_table(summary, [("config", "configuration"),
                                          ("test accuracy", "test accuracy")]))
    for path in files:
        print(f"wrote {path}")
    seconds = time.perf_counter() - start
    print(f"diversity experiment done in {seconds:.0f} s")
    return {"summary": summary, "history": result.history, "files": files, "seconds": seconds}


def _plots(output_dir, grid, curves, base, history, densities):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return []
    from linked_neurons.layers.diversity import BASE_FUNCTIONS

    files = []
    fig = Figure(figsize=(5, 3.6), layout="constrained")
    ax = fig.subplots()
    if base in BASE_FUNCTIONS:
        from keras import ops

        ax.plot(grid, ops.convert_to_numpy(BASE_FUNCTIONS[base](grid)), "k--", label=f"{base}")
    for k, curve in enumerate(curves):
        ax.plot(grid, curve, label=f"learned {k}")
    ax.set_xlabel("x")
    ax.set_ylabel("activation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    path = os.path.join(output_dir, "diversity_curves.png")
    fig.savefig(path, dpi=80)
    files.append(path)

    fig = Figure(figsize=(8, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    steps = np.arange(1, len(history["outer_loss"]) + 1)
    left.plot(steps, history["outer_loss"])
    left.set_xlabel("outer step")
    left.set_ylabel("outer loss")
    right.plot(steps, history["diversity"])
    right.set_xlabel("outer step")
    right.set_ylabel("diversity (mean pairwise RMS)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    path = os.path.join(output_dir, "diversity_outer_loss.png")
    fig.savefig(path, dpi=80)
    files.append(path)

    if densities:
        fig = Figure(figsize=(5, 3.6), layout="constrained")
        ax = fig.subplots()
        from linked_neurons import hessian

        hessian.plot_density(densities, ax=ax, title="Hessian eigenvalue density")
        path = os.path.join(output_dir, "diversity_hessian.png")
        fig.savefig(path, dpi=80)
        files.append(path)
    return files
