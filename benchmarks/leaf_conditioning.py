"""How LEAF's "relu" init value of p3 conditions training.

The "relu" init is ``x * sigmoid(p3 * x)`` (p1 = 1, p2 = p4 = 0). For each p3
this script reports:

* ``shape error``: ``max_x |x sigmoid(p3 x) - relu(x)| = 0.2785 / p3``;
* ``sensitivity``: two runs whose initial weights differ by a relative 1e-7
  (Gaussian), 8 Adam steps on the same batches: the largest absolute weight
  difference at the end (what seeds, worker counts and reduction orders do);
* ``val accuracy``: a 64-32-32-10 LEAF network on the embedded digits,
  ``--epochs`` epochs of Adam (1e-3), mean and spread over ``--seeds`` seeds.

    python benchmarks/leaf_conditioning.py --epochs 30 --seeds 3
"""

import argparse

import keras
import numpy as np
from tabulate import tabulate

from linked_neurons import LEAF
from linked_neurons.datasets import load_digits

P3 = (2.0**16, 2.0**10, 2.0**8, 2.0**6, 2.0**4)


def _model(p3, seed):
    keras.utils.set_random_seed(seed)
    init = (1.0, 0.0, p3, 0.0)
    return keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32), LEAF(init=init),
        keras.layers.Dense(32), LEAF(init=init),
        keras.layers.Dense(10),
    ])


def _compile(model):
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def sensitivity(p3, data, steps=8, rel=1e-7, seed=0):
    """Max |w_a - w_b| after ``steps`` Adam steps from weights ``rel`` apart."""
    a = _model(p3, seed)
    b = _model(p3, seed)
    rng = np.random.default_rng(seed)
    b.set_weights([w * (1 + rel * rng.normal(size=w.shape)).astype(w.dtype)
                   for w in a.get_weights()])
    for m in (a, b):
        _compile(m)
        m.fit(data.x_train[: 64 * steps], data.y_train[: 64 * steps], batch_size=64, epochs=1,
              shuffle=False, verbose=0)
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a.get_weights(), b.get_weights()))


def accuracy(p3, data, epochs, seed):
    model = _model(p3, seed)
    _compile(model)
    model.fit(data.x_train, data.y_train, batch_size=32, epochs=epochs, verbose=0)
    return float(model.evaluate(data.x_val, data.y_val, verbose=0)[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    data = load_digits(seed=0, image=False)
    rows = []
    for p3 in P3:
        acc = [accuracy(p3, data, args.epochs, s) for s in range(args.seeds)]
        sens = [sensitivity(p3, data, seed=s) for s in range(args.seeds)]
        rows.append([f"2^{int(np.log2(p3))}", f"{0.2785 / p3:.1e}", f"{np.median(sens):.1e}",
                     f"{np.mean(acc):.4f} +- {np.std(acc):.4f}"])
        print(rows[-1], flush=True)
    print(tabulate(rows, headers=["p3", "shape error", "sensitivity (median)",
                                  f"val accuracy ({args.epochs} epochs)"]))


if __name__ == "__main__":
    main()
