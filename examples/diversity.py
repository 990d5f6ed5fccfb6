"""Diverse learned activations: meta-learn two activations, then use them.

Runs in well under a minute on a laptop CPU, on MNIST-1D built locally by the
``mnist1d`` package (no download):

    python examples/diversity.py
"""

import os
import tempfile

import keras
import numpy as np

from linked_neurons.datasets import load_mnist1d
from linked_neurons.diversity import meta_learn
from linked_neurons.layers.diversity import InterpolatedActivation, NeuralActivation

data = load_mnist1d(n_samples=1000, validation_split=0.0)  # MNIST-1D: 800 train, 200 test

# 1. Meta-learning: K = 2 sub-networks g_k(x) = sin(x) + 0.2 * MLP_k(x). Each outer step
#    trains a fresh 40-200-10 classifier for 4 steps and differentiates through them
#    (few steps here; the paper uses 300 outer steps of 5 epochs).
result = meta_learn(data.x_train, data.y_train, data.x_test, data.y_test, base="sin",
                    n_activations=2, outer_steps=5, inner_epochs=1, batch_size=200, seed=0,
                    verbose=1)
learned = result.layer
print("outer loss per step:", np.round(result.history["outer_loss"], 4).tolist())
print(f"diversity of the learned pair: {learned.diversity():.4f}")

# 2. Save the curves (x grid + metadata) and load them as a piecewise-linear activation.
path = os.path.join(tempfile.mkdtemp(), "learned.npz")
result.save(path)
curves = InterpolatedActivation.from_file(path)

# 3. Use them in a classifier: the 64 hidden units form 2 blocks, one per learned curve.
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((40,)),
    keras.layers.Dense(64),
    curves,
    keras.layers.Dense(10),
])
model.compile(optimizer=keras.optimizers.Adam(5e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(data.x_train, data.y_train, epochs=5, batch_size=100, verbose=0)
_, acc = model.evaluate(data.x_test, data.y_test, verbose=0)
print(f"classifier with the two learned activations: test accuracy {acc:.3f}")

# A NeuralActivation can also be trained directly with any model (here: fine-tuned).
layer = NeuralActivation(n_activations=2, base="tanh", seed=0)
model = keras.Sequential([keras.Input((40,)), keras.layers.Dense(64), layer,
                          keras.layers.Dense(10)])
model.compile(optimizer="adam",
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(data.x_train, data.y_train, epochs=1, batch_size=100, verbose=0)
print(f"trainable sub-network weights: {layer.count_params()}")
