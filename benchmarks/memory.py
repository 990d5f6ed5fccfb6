"""Resident memory kept per model: build, fit and clear_session, 16 times.

Each configuration runs in its own process: it builds a small model, fits it
for one epoch on random data, calls ``keras.backend.clear_session()`` and
``gc.collect()``, and records the resident set size (RSS, from
/proc). The growth from cycle 1 to cycle N is what the process keeps per
model; the library's layers should keep no more than Keras' own.

    python benchmarks/memory.py                     # every configuration
    python benchmarks/memory.py --cycles 16 --layers library --optimizer lookahead

Optimizers: ``adam`` (Keras' Adam) and ``lookahead`` (the library's
``Lookahead(RAdam)``), each also ``-built``: built with
``model.optimizer.build(model.trainable_variables)`` before ``fit``. On
TensorFlow (without a distribution strategy) Keras builds an optimizer that is
not built yet while it traces the train function; the trace then runs twice,
and TensorFlow keeps every traced train function's graph after
``clear_session()`` (a gradient function registered process-wide by its
all-reduce closes over it), so what a model leaves behind grows with the size
of its train graph.
"""

import argparse
import gc
import json
import os
import subprocess
import sys

import numpy as np
from tabulate import tabulate

LAYERS = ("keras", "library")
OPTIMIZERS = ("adam", "adam-built", "lookahead", "lookahead-built")


def _rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _model(layers, fused=True):
    import keras

    if layers == "keras":
        acts = [keras.layers.ReLU(), keras.layers.Activation("swish"),
                keras.layers.Activation("mish" if hasattr(keras.activations, "mish") else "elu")]
        norm = keras.layers.BatchNormalization()
        width = 32
    else:
        from linked_neurons import IEBN, LEAF, LKReLU, Mish, Swish

        acts = [LKReLU(fused=fused), Swish(trainable_beta=True, fused=fused), Mish(fused=fused)]
        norm = IEBN()
        width = 16  # LKReLU doubles the channels: the same 32 features follow it
        acts.append(LEAF(shared_axes="spatial", fused=fused))
    layers_ = [keras.Input((8, 8, 3)), keras.layers.Conv2D(width, 3, padding="same"), acts[0],
               norm, keras.layers.Conv2D(32, 3, padding="same"), acts[1],
               keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(32), acts[2]]
    if len(acts) > 3:
        layers_.append(keras.layers.Reshape((1, 1, 32)))
        layers_.append(acts[3])
        layers_.append(keras.layers.Flatten())
    layers_.append(keras.layers.Dense(10))
    return keras.Sequential(layers_)


def _optimizer(name):
    import keras

    if name.startswith("adam"):
        return keras.optimizers.Adam(1e-3)
    from linked_neurons.optimizers import Lookahead, RAdam

    return Lookahead(RAdam(1e-3))


def run_one(layers, optimizer, cycles, fused=True):
    """RSS (MB) after each of ``cycles`` build/fit/clear cycles, in this process."""
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 10, size=64)
    rss = []
    for _ in range(cycles):
        model = _model(layers, fused)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=_optimizer(optimizer), loss=loss)
        if optimizer.endswith("-built"):
            model.optimizer.build(model.trainable_variables)
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        del model
        keras.backend.clear_session()
        gc.collect()
        rss.append(_rss_mb())
    return rss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=16)
    parser.add_argument("--layers", choices=LAYERS)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--plain", action="store_true",
                        help="the library's layers with fused=False (no custom gradients)")
    args = parser.parse_args(argv)
    if args.layers and args.optimizer:
        print(json.dumps(run_one(args.layers, args.optimizer, args.cycles, not args.plain)))
        return
    rows = []
    for optimizer in OPTIMIZERS:
        for layers in LAYERS:
            out = subprocess.run(
                [sys.executable, __file__, "--cycles", str(args.cycles), "--layers", layers,
                 "--optimizer", optimizer],
                capture_output=True, text=True, check=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            ).stdout
            rss = json.loads(out.strip().splitlines()[-1])
            rows.append([layers, optimizer, f"{rss[0]:.0f}", f"{rss[-1]:.0f}",
                         f"{rss[-1] - rss[0]:.1f}",
                         f"{(rss[-1] - rss[len(rss) // 2]) / (len(rss) - 1 - len(rss) // 2):.2f}"])
            print(rows[-1], flush=True)
    print(tabulate(rows, headers=["layers", "optimizer", "RSS after 1 (MB)",
                                  f"after {args.cycles}", "growth", "MB/model (2nd half)"]))


if __name__ == "__main__":
    main()
