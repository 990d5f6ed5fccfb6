"""What the EfficientNetBuilder tests share (SPEC §7): the tiny model and helpers."""

import numpy as np
from keras import ops

from linked_neurons.efficientmixnet import EfficientNetBuilder

# A small model holding every kind of layer the builder makes: plain and mixed
# depthwise convs, SE, drop-connect, a linked activation, LEAF, AN and IEBN.
TINY_BLOCKS = [
    "r1_k3_s11_e1_i16_o16_se0.25",
    "r2_k[3,5,7]_s22_e3_i16_o24_se0.25_biebn",
    "r2_k[3,5]_s11_e2_i24_o24_se0.25_alkrelu_n3",
]


def tiny(data_format="channels_last", channels=3, size=32, **kwargs):
    settings = {"classes": 7, "typeBN": "an", "activation": "leaf", "drop_connect_rate": 0.0}
    settings.update(kwargs)
    shape = (size, size, channels) if data_format == "channels_last" else (channels, size, size)
    builder = EfficientNetBuilder(input_shape=shape, data_format=data_format, **settings)
    return builder.custom_model(TINY_BLOCKS, 0.5, 1.0, dropout_rate=0.0)


def numpy(x):
    return ops.convert_to_numpy(x)


def split_counts(model):
    def total(weights):
        return int(sum(np.prod(w.shape) for w in weights))

    return total(model.trainable_weights), total(model.non_trainable_weights)
