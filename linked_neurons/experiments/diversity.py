"""Diverse learned activations: meta-learning, validation and Hessians (SPEC §4).

``python -m linked_neurons.experiments diversity`` runs, on MNIST-1D built
locally by the ``mnist1d`` package's generator
(:func:`linked_neurons.datasets.load_mnist1d`: seed 42, 5,000 samples, 4,000
for training and 1,000 for testing, no download):

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
- ``diversity_hessian_density.npz`` (the densities on their grids);
- ``diversity_curves.png`` (learned curves vs the base),
  ``diversity_outer_loss.png`` (outer loss, inner test accuracy and
  diversity per outer step) and ``diversity_hessian.png`` (log density);
  :func:`replot` redraws them from the files.

Two presets (:data:`CLI_PRESETS`) set the scale; any option given explicitly
wins. ``--preset quick`` (default) takes 20 outer steps of one inner epoch
(20 unrolled inner steps) and validates over seeds 0, 1, 2; ``--preset
paper`` is SPEC §4's setting, 300 outer steps of 5 inner epochs (100
unrolled steps of batch 200), validated over seeds 0 to 4:

.. code-block:: console

   python -m linked_neurons.experiments diversity --preset paper

Example:

    >>> from linked_neurons.experiments.diversity import build_parser_defaults
    >>> defaults = build_parser_defaults()
    >>> defaults["preset"], defaults["outer_steps"], defaults["data_seed"]
    ('quick', None, 42)
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
            "(SPEC section 4). --preset paper: 300 outer steps of 5 inner epochs."
        ),
    )
    _add_arguments(parser)
    parser.set_defaults(run=run)


#: The command's settings for each preset, ``quick`` (default) and ``paper``.
CLI_PRESETS = {
    "quick": {"samples": 5000, "outer_steps": 20, "inner_epochs": 1, "batch_size": 200,
              "epochs": 20, "seeds": [0, 1, 2]},
    "paper": {"samples": 5000, "outer_steps": 300, "inner_epochs": 5, "batch_size": 200,
              "epochs": 20, "seeds": [0, 1, 2, 3, 4]},
}


def _add_arguments(parser):
    parser.add_argument("--preset", choices=sorted(CLI_PRESETS), default="quick",
                        help="quick (default): 20 outer steps of 1 inner epoch, 3 validation "
                             "seeds; paper: 300 outer steps of 5 inner epochs, 5 seeds")
    parser.add_argument("--base", default="sin", help="base activation: sin, tanh, elu (sin)")
    parser.add_argument("--n-activations", type=int, default=2, help="K (default 2)")
    parser.add_argument("--samples", type=int, default=None,
                        help="MNIST-1D samples, 80%% train / 20%% test (preset: 5000)")
    parser.add_argument("--data-seed", type=int, default=42,
                        help="seed of the MNIST-1D generator (42: the published dataset)")
    parser.add_argument("--outer-steps", type=int, default=None,
                        help="outer steps (preset: quick 20, paper 300)")
    parser.add_argument("--inner-epochs", type=int, default=None,
                        help="inner epochs (preset: quick 1, paper 5)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size (200)")
    parser.add_argument("--outer-lr", type=float, default=None, help="outer lr (0.4)")
    parser.add_argument("--clip", type=float, default=None,
                        help="elementwise clip of the meta-gradient (0.1)")
    parser.add_argument("--first-order", action="store_true",
                        help="first-order meta-gradient (default: second order)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the validation training (preset: 20)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="validation seeds (preset: quick 0 1 2, paper 0 1 2 3 4)")
    parser.add_argument("--validation-optimizer", choices=("adam", "inner"), default="adam",
                        help="optimizer of the validation training: adam (lr 0.005, default) "
                             "or inner (the meta-learning's RMSprop-like update, lr 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="meta-learning seed")
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
        preset=args.preset, base=args.base, n_activations=args.n_activations,
        samples=args.samples, data_seed=args.data_seed, outer_steps=args.outer_steps,
        inner_epochs=args.inner_epochs, batch_size=args.batch_size, outer_lr=args.outer_lr,
        clip=args.clip, first_order=args.first_order, epochs=args.epochs, seeds=args.seeds,
        seed=args.seed, lanczos_steps=args.lanczos_steps, output_dir=args.output_dir,
        validation_optimizer=args.validation_optimizer,
        verbose=0 if args.quiet else 1, plots=not args.no_plots,
    )
    return 0


def run_diversity(preset="quick", base="sin", n_activations=2, samples=None, data_seed=42,
                  outer_steps=None, inner_epochs=None, batch_size=None, outer_lr=None,
                  clip=None, first_order=False, epochs=None, seeds=None, seed=0,
                  lanczos_steps=100, output_dir=DEFAULT_OUTPUT_DIR, verbose=1, plots=True,
                  validation_optimizer="adam"):
    """Meta-learning, validation study and Hessian densities; see the module docstring.

    Settings left at ``None`` come from ``preset`` (:data:`CLI_PRESETS`).

    Returns:
        Dict with ``"summary"`` (validation rows), ``"history"`` (meta
        history), ``"files"`` (written paths) and ``"seconds"``.
    """
    from linked_neurons import diversity, hessian
    from linked_neurons.datasets import load_mnist1d
    from linked_neurons.experiments import common

    if preset not in CLI_PRESETS:
        raise ValueError(f"run_diversity: `preset` must be one of {sorted(CLI_PRESETS)}, "
                         f"got {preset!r}.")
    given = {"samples": samples, "outer_steps": outer_steps, "inner_epochs": inner_epochs,
             "batch_size": batch_size, "epochs": epochs, "seeds": seeds}
    settings = {k: (CLI_PRESETS[preset][k] if v is None else v) for k, v in given.items()}
    samples, outer_steps, inner_epochs, batch_size, epochs, seeds = settings.values()
    start = time.perf_counter()
    cpu_start = os.times()
    os.makedirs(output_dir, exist_ok=True)
    data = load_mnist1d(n_samples=samples, validation_split=0.0, seed=data_seed)
    if verbose:
        print(f"MNIST-1D: {len(data.x_train)} train, {len(data.x_test)} test samples; "
              f"meta-learning K={n_activations} '{base}' activations "
              f"({'first' if first_order else 'second'} order)", flush=True)
    result = diversity.meta_learn(
        data.x_train, data.y_train, data.x_test, data.y_test, base=base,
        n_activations=n_activations, outer_steps=outer_steps, inner_epochs=inner_epochs,
        batch_size=batch_size, outer_lr=outer_lr, clip=clip, first_order=first_order,
        seed=seed, verbose=verbose, preset="paper" if preset == "paper" else "quick",
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
        optimizer=validation_optimizer,
    )
    for row in summary:
        row["test accuracy"] = f"{row['mean']:.4f} ± {row['std']:.4f}"
    notes = [
        f"MNIST-1D ({len(data.x_train)} train / {len(data.x_test)} test), classifier 40-200-10, "
        f"{'Adam lr 0.005' if validation_optimizer == 'adam' else 'inner RMSprop lr 0.01'}, "
        f"{epochs} epochs, batch {batch_size}, seeds {list(seeds)}; activations "
        f"meta-learned for {outer_steps} outer steps of {inner_epochs} inner "
        f"epoch{'s' if inner_epochs != 1 else ''} "
        f"({'first' if first_order else 'second'}-order meta-gradient, preset {preset}). "
        f"Final diversity "
        f"{result.history['diversity'][-1]:.4f}.",
    ]
    stem = os.path.join(output_dir, "diversity_validation")
    files.extend(common.write_tables(
        summary, stem, [("config", "configuration"), ("test accuracy", "test accuracy"),
                        ("runs", "runs")],
        title="Diverse vs single learned vs base activations", notes=notes))
    if len(seeds) > 1:
        from linked_neurons.stats import paired_table

        paired = paired_table(rows, f"base {base}", "test_accuracy")
        for row in paired:
            row["ci"] = f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
        files.extend(common.write_tables(
            paired, f"{stem}_paired",
            [("config", "configuration"), ("baseline", "minus"), ("seeds", "seeds"),
             ("mean_difference", "mean diff."), ("ci", "95% CI"), ("p_value", "p (paired t)"),
             ("verdict", "verdict")],
            title="Test accuracy minus the base's, paired by seed", notes=notes))
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

    if densities:
        density_path = os.path.join(output_dir, "diversity_hessian_density.npz")
        np.savez(density_path, names=np.array(list(densities)),
                 grid=np.stack([g for g, _ in densities.values()]),
                 density=np.stack([d for _, d in densities.values()]))
        files.append(density_path)
    if plots:
        files.extend(_plots(output_dir, grid, curves, base, result.history, densities))
    print(common.markdown_table(summary, [("config", "configuration"),
                                          ("test accuracy", "test accuracy")]))
    for path in files:
        print(f"wrote {path}")
    seconds = time.perf_counter() - start
    cpu = os.times()
    cpu_seconds = (cpu.user - cpu_start.user) + (cpu.system - cpu_start.system)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"diversity experiment done in {seconds:.0f} s wall, {cpu_seconds:.0f} s user+sys "
          f"CPU; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return {"summary": summary, "history": result.history, "files": files, "seconds": seconds,
            "cpu_seconds": cpu_seconds, "meta": result}


def _plots(output_dir, grid, curves, base, history, densities):
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return []
    from linked_neurons.layers.diversity import BASE_FUNCTIONS

    files = []
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")  # 512 x 384 px at 80 dpi
    ax = fig.subplots()
    if base in BASE_FUNCTIONS:
        from keras import ops

        ax.plot(grid, ops.convert_to_numpy(BASE_FUNCTIONS[base](grid)), "k--", lw=2,
                label=f"base: {base}(x)")
    for k, curve in enumerate(curves):
        ax.plot(grid, curve, lw=2, label=f"learned activation {k}")
    ax.set_xlabel("input x")
    ax.set_ylabel("activation g(x)")
    ax.set_title(f"Meta-learned activations vs the base ({len(history['outer_loss'])} "
                 "outer steps)")
    ax.grid(alpha=0.3)
    ax.legend()
    path = os.path.join(output_dir, "diversity_curves.png")
    fig.savefig(path, dpi=100)
    files.append(path)

    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, 3)
    steps = np.arange(1, len(history["outer_loss"]) + 1)
    window = max(1, len(steps) // 20)
    series = [("outer_loss", "outer loss (mean inner training loss)"),
              ("test_accuracy", "inner classifier test accuracy"),
              ("diversity", "diversity (mean pairwise RMS)")]
    for ax, (key, label) in zip(axes, series):
        values = np.asarray(history[key], dtype="float64")
        ax.plot(steps, values, color="C0", alpha=0.45 if window > 1 else 1.0, label="per step")
        if window > 1 and np.all(np.isfinite(values)):
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1:], smooth, color="C1", lw=2,
                    label=f"mean of {window} steps")
        if key == "test_accuracy":
            ax.axhline(0.1, color="k", ls=":", label="chance (10 classes)")
        ax.set_xlabel("outer step")
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("Meta-learning history")
    path = os.path.join(output_dir, "diversity_outer_loss.png")
    fig.savefig(path, dpi=100)
    files.append(path)

    if densities:
        fig = Figure(figsize=(6.4, 4.8), layout="constrained")
        ax = fig.subplots()
        from linked_neurons import hessian

        hessian.plot_density(densities, ax=ax,
                             title="Loss-Hessian eigenvalue density (first-seed models)")
        ax.legend()
        path = os.path.join(output_dir, "diversity_hessian.png")
        fig.savefig(path, dpi=100)
        files.append(path)
    return files


def replot(output_dir=DEFAULT_OUTPUT_DIR, base="sin"):
    """Redraws the plots of a finished run from the files it wrote.

    Returns:
        The written PNG paths.
    """
    learned = np.load(os.path.join(output_dir, "learned_activations.npz"))
    grid, curves = learned["x_values"], learned["y_values"]
    with open(os.path.join(output_dir, "diversity_meta_history.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    history = {k: [float(r[k]) for r in rows] for k in rows[0] if k != "step"}
    densities = {}
    density_path = os.path.join(output_dir, "diversity_hessian_density.npz")
    if os.path.exists(density_path):
        stored = np.load(density_path)
        names = [str(n) for n in stored["names"]]
        densities = {n: (stored["grid"][i], stored["density"][i]) for i, n in enumerate(names)}
    return _plots(output_dir, grid, curves, base, history, densities)
