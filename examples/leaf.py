"""Learnable activations: a small CNN with LEAF, trained with P24Sl and DSPT.

Runs in well under a minute on a laptop CPU, on the digits that ship with
scikit-learn (no download):

    python examples/leaf.py
"""

import os
import tempfile

import keras
import numpy as np

from linked_neurons import datasets
from linked_neurons.layers.learnable import LEAF
from linked_neurons.training import (
    DSPTSequential,
    activation_parameters,
    count_activation_parameters,
    p24sl_optimizer,
)

data = datasets.load_digits(seed=0)  # 8x8x1 images, 10 classes
keras.utils.set_random_seed(0)

# DSPTSequential: every batch first updates the activation parameters, then the
# other weights (double-stage parameter tuning). LEAF starts as tanh.
model = DSPTSequential(
    [
        keras.Input(data.input_shape),
        keras.layers.Conv2D(16, 3, padding="same"),
        LEAF(init="tanh"),  # one (p1, p2, p3, p4) per neuron: 8 * 8 * 16 sets
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same"),
        LEAF(init="tanh", shared_axes="spatial"),  # one set per channel
        keras.layers.Flatten(),
        keras.layers.Dense(data.num_classes, activation="softmax"),
    ]
)
# P24Sl: LEAF's p2 and p4 learn 1000 times slower than everything else (Adam).
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    activation_optimizer=p24sl_optimizer(model, keras.optimizers.Adam(1e-3)),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
print("activation parameters:", count_activation_parameters(model), "of", model.count_params())

before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in activation_parameters(model)}
model.fit(
    data.x_train,
    data.y_train,
    validation_data=(data.x_val, data.y_val),
    epochs=4,
    batch_size=32,
    verbose=2,
)
for name in ("p1", "p2", "p3", "p4"):
    change = max(
        float(np.max(np.abs(keras.ops.convert_to_numpy(v) - before[v.path])))
        for v in activation_parameters(model, names=(name,))
    )
    print(f"largest change of {name}: {change:.2e}")

# The model, both optimizers and their state round-trip through a .keras file.
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "leaf_digits.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
np.testing.assert_allclose(
    reloaded.predict(data.x_test, verbose=0), model.predict(data.x_test, verbose=0), atol=1e-6
)
_, accuracy = reloaded.evaluate(data.x_test, data.y_test, verbose=0)
print(f"test accuracy: {accuracy:.4f}")
