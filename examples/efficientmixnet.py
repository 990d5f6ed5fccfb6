"""EfficientMixNet: EfficientNet B0 variants and a small MixNet trained on the digits.

First the parameter counts of B0 with the published layers (swish, batch
norm), with mixed depthwise convolutions, and with linked ReLU plus attentive
normalization. Then a three-stage custom model with mixed kernels, Mish and
IEBN, described by block strings, trains for a few epochs on the 8x8 digits
upsampled to 32x32 (the smallest input the builder accepts).

Run it with ``python examples/efficientmixnet.py [--epochs N]`` (on a 2-core
CPU: 37 s with TensorFlow, 138 s with JAX; needs
``pip install -e ".[experiments]"`` for the digits data).
"""

import argparse

import keras
import numpy as np

from linked_neurons.datasets import load_digits
from linked_neurons.efficientmixnet import BlockArgs, EfficientNetBuilder

# Stage strings: r repeats, k kernel size(s), s strides, e expansion, i/o filters,
# se squeeze-and-excitation ratio; a<name> / b<name> override the activation / norm.
BLOCKS = [
    "r1_k3_s11_e1_i16_o16_se0.25",
    "r2_k[3,5,7]_s22_e4_i16_o24_se0.25",
    "r1_k[3,5]_s22_e4_i24_o40_se0.25_alkrelu",
]


def parameter_table():
    """Weights of B0 (224x224x3, 1000 classes) in three configurations."""
    configs = [
        ("B0 swish bn", {}),
        ("B0 mixed swish bn", {"mixed": True}),
        ("B0 lkrelu an (K=5)", {"activation": "lkrelu", "typeBN": "an", "n_mixture": 5}),
    ]
    print(f"{'model':<20} {'weights':>11}")
    for name, kwargs in configs:
        # the count does not depend on the input size: build at 32x32 to be quick
        model = EfficientNetBuilder(input_shape=(32, 32, 3), **kwargs).default_model("B0")
        print(f"{name:<20} {model.count_params():>11,}")


def upsample(x, factor=4):
    """Nearest-neighbour upsampling of (N, H, W, C) images."""
    return np.repeat(np.repeat(x, factor, axis=1), factor, axis=2)


def main(epochs=4, seed=0):
    parameter_table()
    keras.utils.set_random_seed(seed)
    data = load_digits(seed=seed)
    x_train, x_val, x_test = (upsample(x) for x in (data.x_train, data.x_val, data.x_test))
    blocks = [BlockArgs.from_string(s) for s in BLOCKS]
    builder = EfficientNetBuilder(
        input_shape=x_train.shape[1:],  # (32, 32, 1): any number of channels
        classes=data.num_classes,
        activation="mish",
        typeBN="iebn",
        drop_connect_rate=0.1,
        batch_norm_momentum=0.9,  # few steps: let the moving statistics catch up
    )
    model = builder.custom_model(blocks, width_coefficient=1.0, depth_coefficient=1.0,
                                 dropout_rate=0.1)
    print(f"custom model: {model.count_params():,} weights, "
          f"stages {[b.to_string() for b in blocks]}")
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, data.y_train, validation_data=(x_val, data.y_val), epochs=epochs,
              batch_size=32, verbose=2)
    loss, accuracy = model.evaluate(x_test, data.y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f} (test loss {loss:.4f})")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="training epochs (default 4)")
    main(epochs=parser.parse_args().epochs)
