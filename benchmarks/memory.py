"""Resident memory kept per model: build, fit and clear_session, 16 times.

Each configuration runs in its own process: it builds a small model, compiles
it (with an accuracy metric), fits it for one epoch on random data, calls
``keras.backend.clear_session()`` and ``gc.collect()``, and records the
resident set size (RSS, from /proc). The growth per cycle over the second
half is what the process keeps per model; the library's layers should keep no
more than Keras' own for a train graph of the same size.

    python benchmarks/memory.py                     # every configuration
    python benchmarks/memory.py --cycles 16 --layers library --optimizer lookahead

Layers: ``keras`` (ReLU, BatchNormalization, swish, mish), ``keras-x2`` (the
same convolutional block twice: about as many variables and graph nodes as
the library model) and ``library`` (LKReLU, IEBN, Swish with a trainable beta,
Mish, LEAF). Optimizers: ``adam`` (Keras' Adam) and ``lookahead`` (the
library's ``Lookahead(RAdam)``), each also ``-prebuilt``: the model's
optimizer and metrics built before ``fit`` by
:func:`linked_neurons.training.build_before_fit`. On TensorFlow (without a
distribution strategy) Keras otherwise creates that state while it traces the
train function; the trace then runs twice, and TensorFlow keeps every traced
train function's graph after ``clear_session()`` (a gradient function
registered process-wide by its all-reduce closes over it), so what a model
leaves behind follows the size of its train graph. The ``graph nodes`` column
counts the nodes of the functions the first cycle added to TensorFlow's
function library.
"""

import argparse
import gc
import json
import os
import subprocess
import sys

import numpy as np
from tabulate import tabulate

LAYERS = ("keras", "keras-x2", "library")
OPTIMIZERS = ("adam", "adam-prebuilt", "lookahead", "lookahead-prebuilt")


def _rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _model(layers, fused=None):
    import keras

    L = keras.layers
    if layers.startswith("keras"):
        mish = "mish" if hasattr(keras.activations, "mish") else "elu"
        def block():
            return [L.Conv2D(32, 3, padding="same"), L.ReLU(), L.BatchNormalization(),
                    L.Conv2D(32, 3, padding="same"), L.Activation("swish")]

        blocks = block() + (block() if layers == "keras-x2" else [])
        return keras.Sequential([keras.Input((8, 8, 3)), *blocks, L.GlobalAveragePooling2D(),
                                 L.Dense(32), L.Activation(mish), L.Dense(10)])
    from linked_neurons import IEBN, LEAF, LKReLU, Mish, Swish

    # LKReLU doubles the channels: the same 32 features follow it as after ReLU.
    return keras.Sequential([
        keras.Input((8, 8, 3)), L.Conv2D(16, 3, padding="same"), LKReLU(fused=fused), IEBN(),
        L.Conv2D(32, 3, padding="same"), Swish(trainable_beta=True, fused=fused),
        L.GlobalAveragePooling2D(), L.Dense(32), Mish(fused=fused),
        L.Reshape((1, 1, 32)), LEAF(shared_axes="spatial", fused=fused), L.Flatten(),
        L.Dense(10),
    ])


def _optimizer(name):
    import keras

    if name.startswith("adam"):
        return keras.optimizers.Adam(1e-3)
    from linked_neurons.optimizers import Lookahead, RAdam

    return Lookahead(RAdam(1e-3))


def _function_names():
    import keras

    if keras.backend.backend() != "tensorflow":
        return set()
    from tensorflow.python.eager import context

    return set(context.context().list_function_names())


def _graph_nodes(names):
    if not names:
        return 0
    from tensorflow.python.eager import context

    return sum(len(context.context().get_function_def(n).node_def) for n in names)


def run_one(layers, optimizer, cycles, fused=None):
    """``(rss, variables, nodes)``: RSS (MB) after each of ``cycles``
    build/fit/clear cycles in this process, the model's trainable variables and
    the graph nodes its first cycle added (TensorFlow; 0 elsewhere)."""
    import keras

    from linked_neurons.training import build_before_fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 10, size=64)
    rss, variables, nodes = [], 0, 0
    for cycle in range(cycles):
        before = _function_names()
        model = _model(layers, fused)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=_optimizer(optimizer), loss=loss, metrics=["accuracy"])
        if optimizer.endswith("-prebuilt"):
            build_before_fit(model, x, y)
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        if cycle == 0:
            variables = len(model.trainable_variables)
            nodes = _graph_nodes(_function_names() - before)
        del model
        keras.backend.clear_session()
        gc.collect()
        rss.append(_rss_mb())
    return rss, variables, nodes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=16)
    parser.add_argument("--layers", choices=LAYERS)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--fused", choices=("default", "on", "off"), default="default",
                        help="the library layers' fused argument (None, True, False)")
    args = parser.parse_args(argv)
    if args.cycles < 4:
        parser.error("--cycles must be at least 4")
    fused = {"default": None, "on": True, "off": False}[args.fused]
    if args.layers and args.optimizer:
        print(json.dumps(run_one(args.layers, args.optimizer, args.cycles, fused)))
        return
    rows = []
    for optimizer in OPTIMIZERS:
        for layers in LAYERS:
            out = subprocess.run(
                [sys.executable, __file__, "--cycles", str(args.cycles), "--layers", layers,
                 "--optimizer", optimizer, "--fused", args.fused],
                capture_output=True, text=True, check=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            ).stdout
            rss, variables, nodes = json.loads(out.strip().splitlines()[-1])
            half = len(rss) // 2
            per_model = (rss[-1] - rss[half]) / (len(rss) - 1 - half)
            rows.append([layers, optimizer, variables, nodes, f"{rss[0]:.0f}",
                         f"{rss[-1]:.0f}", f"{rss[-1] - rss[0]:.0f}", f"{per_model:.2f}",
                         f"{1000 * per_model / nodes:.2f}" if nodes else "-"])
            print(rows[-1], flush=True)
    print(tabulate(rows, tablefmt="github", headers=[
        "layers", "optimizer", "variables", "graph nodes", "RSS after 1 (MB)",
        f"after {args.cycles}", "growth", "MB / model (2nd half)", "MB / 1000 nodes"]))


if __name__ == "__main__":
    main()
