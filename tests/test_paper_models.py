"""Tests of the paper's larger model builders: AllCNN and the CIFAR ResNet50."""

import doctest

import keras
import numpy as np
import pytest

from linked_neurons import models
from linked_neurons.layers import LKSELU, LKReLU


def _allcnn_params(channels, classes, linked, batch_norm=False):
    m = 2 if linked else 1
    plan = [(channels, 96, 3), (96, 96, 3), (96, 96, 3), (96, 192, 3), (192, 192, 3),
            (192, 192, 3), (192, 192, 3), (192, 192, 1)]
    count = 0
    for index, (cin, cout, k) in enumerate(plan):
        cin = cin if index == 0 else m * cin
        count += k * k * cin * cout + (0 if batch_norm else cout)
        count += 4 * cout if batch_norm else 0
    return count + m * 192 * classes + classes


@pytest.mark.parametrize("activation,linked", [("relu", False), ("lkrelu", True)])
def test_allcnn_shapes_and_parameters(activation, linked):
    model = models.allcnn((32, 32, 3), 10, activation=activation)
    assert model.output_shape == (None, 10)
    assert model.count_params() == _allcnn_params(3, 10, linked)
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    y = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    bn = models.allcnn((16, 16, 3), 10, activation=activation, batch_norm=True, dropout=False)
    assert bn.count_params() == _allcnn_params(3, 10, linked, batch_norm=True)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in bn.layers)


def _bottleneck_params(cin, f, linked, projection, batch_norm=True):
    m = 2 if linked else 1
    bias = 0 if batch_norm else 1
    bn = 4 if batch_norm else 0
    count = cin * f + bias * f + bn * f
    count += 9 * m * f * f + bias * f + bn * f
    count += m * f * 4 * f + bias * 4 * f + bn * 4 * f
    if projection:
        count += cin * 4 * f + bias * 4 * f + bn * 4 * f
    return count


def _resnet_params(channels, classes, linked, batch_norm=True, base=8):
    bias = 0 if batch_norm else 1
    count = 9 * channels * base + bias * base + (4 * base if batch_norm else 0)
    cin = base
    for stage, blocks in enumerate((3, 4, 6, 3)):
        f = base * 2**stage
        for block in range(blocks):
            count += _bottleneck_params(cin, f, linked, block == 0, batch_norm)
            cin = 4 * f
    return count + cin * classes + classes


@pytest.mark.parametrize("batch_norm", [True, False])
def test_resnet50_cifar_links_only_the_inner_activations(batch_norm):
    model = models.resnet50_cifar((32, 32, 3), 10, activation="lkselu", batch_norm=batch_norm)
    assert model.output_shape == (None, 10)
    assert sum(isinstance(layer, LKSELU) for layer in model.layers) == 2 * 16
    # The stem and the 16 post-addition activations are the plain counterpart.
    assert sum(type(layer).__name__ == "SELU" for layer in model.layers) == 17
    assert model.count_params() == _resnet_params(3, 10, True, batch_norm)
    relu = models.resnet50_cifar((32, 32, 3), 10, activation="relu", batch_norm=batch_norm)
    assert relu.count_params() == _resnet_params(3, 10, False, batch_norm)
    assert not any(isinstance(layer, LKReLU) for layer in relu.layers)


def test_resnet50_cifar_runs_channels_first_and_rejects_bad_input():
    model = models.resnet50_cifar((3, 16, 16), 10, activation="lkrelu",
                                  data_format="channels_first", width_multiplier=1 / 16)
    assert model.output_shape == (None, 10)
    assert sum(isinstance(layer, LKReLU) and layer.axis == 1 for layer in model.layers) == 32
    if keras.backend.backend() != "tensorflow":  # TF's CPU kernels need NHWC
        x = np.random.default_rng(1).random((2, 3, 16, 16), dtype=np.float32)
        y = keras.ops.convert_to_numpy(model(x))
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="resnet50_cifar: the input needs at least 8x8"):
        models.resnet50_cifar((4, 4, 3))
    with pytest.raises(ValueError, match="width_multiplier"):
        models.resnet50_cifar(width_multiplier=0)
    with pytest.raises(ValueError, match="allcnn"):
        models.allcnn((32, 32))


def test_paper_builders_docstring_examples():
    for fn in (models.allcnn, models.resnet50_cifar):
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        for test in finder.find(fn, fn.__name__, globs={}):
            runner.run(test)
        result = runner.summarize(verbose=False)
        assert result.attempted > 0 and result.failed == 0, fn.__name__
