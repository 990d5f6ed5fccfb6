"""Tests of the paper's model builders: width, depth and extended nets, AllCNN, ResNet50."""

import doctest
import math

import keras
import numpy as np
import pytest

from linked_neurons import models, monitoring, paper_models
from linked_neurons.experiments.classify import activation_layer_names
from linked_neurons.layers import LKSELU, LKReLU
from linked_neurons.paper_models import depth_net, extended_net, widen, width_net


def _depth_params(channels, size, classes, depth, filters, inputs_per_filter):
    """Parameters of depth_net by formula: stem 7x7, (depth-1) 3x3 convs, Dense."""
    stem = 7 * 7 * channels * filters + filters
    body = (depth - 1) * (3 * 3 * inputs_per_filter * filters + filters)
    head = math.ceil(size / 2) ** 2 * inputs_per_filter * classes + classes
    return stem + body + head


@pytest.mark.parametrize("width", [4, 7])
def test_depth_net_sqrt2_and_linked_parameter_counts(width):
    wide = int(math.sqrt(2) * width)
    assert widen(width) == wide
    plain = depth_net((32, 32, 3), 10, "relu", depth=51, width=width)
    sqrt2 = depth_net((32, 32, 3), 10, "relu", depth=51, width=width, sqrt2=True)
    linked = depth_net((32, 32, 3), 10, "lkrelu", depth=51, width=width)
    assert plain.count_params() == _depth_params(3, 32, 10, 51, width, width)
    assert sqrt2.count_params() == _depth_params(3, 32, 10, 51, wide, wide)
    assert linked.count_params() == _depth_params(3, 32, 10, 51, width, 2 * width)
    # The widened baseline sits between the plain and the linked net (int() rounds down).
    assert plain.count_params() < sqrt2.count_params() < linked.count_params()


def _extended_params(size, channels, widths, classes, linked):
    m = 2 if linked else 1
    c1, c2, c3, c4, d = widths
    count = 9 * channels * c1 + c1 + 9 * m * c1 * c2 + c2 + 9 * m * c2 * c3 + c3
    count += 9 * m * c3 * c4 + c4
    side = ((size - 2) // 2 - 2) // 2
    return count + side * side * m * c4 * d + d + m * d * classes + classes


def test_extended_and_width_net_parameter_counts():
    widths = (32, 32, 64, 64, 512)
    wide = tuple(int(math.sqrt(2) * w) for w in widths)
    assert wide == (45, 45, 90, 90, 724)
    for activation, sqrt2, ws, linked in (("relu", False, widths, False),
                                          ("relu", True, wide, False),
                                          ("lkrelu", False, widths, True)):
        model = extended_net((32, 32, 3), 10, activation, sqrt2=sqrt2)
        assert model.count_params() == _extended_params(32, 3, ws, 10, linked)
    # Conv2D(W, 3x3) on 8x8x1 -> 6x6xW (x2 when linked) -> Dense(10).
    for activation, m in (("relu", 1), ("lkrelu", 2)):
        assert width_net((8, 8, 1), 10, activation, width=3).count_params() == (
            9 * 3 + 3 + 36 * m * 3 * 10 + 10)
    bn = width_net((8, 8, 1), 10, "relu", width=3, batch_norm=True)
    assert isinstance(bn.layers[1], keras.layers.BatchNormalization) and not bn.layers[0].use_bias


def test_paper_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="extended_net: the input needs at least 10x10"):
        extended_net((8, 8, 1), 10, "relu")
    with pytest.raises(ValueError, match="extended_net: `widths` must be five"):
        extended_net((16, 16, 1), 10, "relu", widths=(8, 8))
    with pytest.raises(ValueError, match="depth_net: `depth` and `width` must be >= 1, got 0"):
        depth_net((8, 8, 1), 10, depth=0)
    with pytest.raises(ValueError, match="width_net: `width` must be >= 1"):
        width_net((8, 8, 1), 10, width=0)
    with pytest.raises(ValueError, match="unknown activation|Unknown activation"):
        depth_net((8, 8, 1), 10, "nope")
    with pytest.raises(ValueError, match="width_net: `data_format`"):
        width_net((8, 8, 1), 10, data_format="nhwc")


def test_channels_first_depth_net():
    model = depth_net((1, 8, 8), 10, "lkrelu", depth=3, width=2, batch_norm=True,
                      data_format="channels_first")
    assert model.output_shape == (None, 10)
    assert model.get_layer("act_2").axis == 1
    assert model.layers[1].axis == 1  # BatchNormalization on the channel axis
    if keras.backend.backend() != "tensorflow":  # TF's CPU kernels need NHWC
        out = model(np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32))
        assert out.shape == (2, 10)


def _positive_kernels(model, rng):
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.uniform(0.1, 1.0, kernel.shape).astype("float32"),
                               np.zeros_like(bias)])


def test_dead_units_of_a_constructed_depth_net():
    """Known answers: a ReLU layer whose kernel is negative on non-negative inputs is dead,
    and every later ReLU layer (zero input, zero bias) is dead too; the linked net never
    has more than the half that sees a constant sign."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 1.0, (16, 8, 8, 1)).astype("float32")
    for activation, half_case, full_case in (
        ("relu", [0, 0, 0.5, 0, 0], [0, 0, 1, 1, 1]),
        # Positive kernels on positive inputs: the relu(-x) half is dead at every layer.
        ("lkrelu", [0.5, 0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5, 0.5]),
    ):
        model = depth_net((8, 8, 1), 10, activation, depth=5, width=4)
        names = activation_layer_names(model)
        assert names == [f"act_{i}" for i in range(1, 6)]
        _positive_kernels(model, rng)
        third = model.layers[4]  # conv of the third block
        kernel, bias = third.get_weights()
        kernel[..., :2] *= -1
        third.set_weights([kernel, bias])
        result = monitoring.dead_units(model, x, layers=names)
        assert [r.fraction for r in result] == pytest.approx(half_case), activation
        kernel[...] = -np.abs(kernel)
        third.set_weights([kernel, bias])
        result = monitoring.dead_units(model, x, layers=names)
        assert [r.fraction for r in result] == pytest.approx(full_case), activation


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
    result = doctest.testmod(paper_models, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
    for fn in (models.allcnn, models.resnet50_cifar):
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        for test in finder.find(fn, fn.__name__, globs={}):
            runner.run(test)
        result = runner.summarize(verbose=False)
        assert result.attempted > 0 and result.failed == 0, fn.__name__


@pytest.mark.slow  # up to 40 untrained nets until some have died
def test_dead_units_at_init_match_a_numpy_count():
    """Keras' default initialisation on random data, width 1: ReLU nets die from some layer
    on (every later layer dead too); the metric equals an independent NumPy count, and a
    linked layer never has more than half of its channels dead."""
    x = np.random.default_rng(1).normal(size=(32, 8, 8, 1)).astype("float32")
    deaths = 0
    for seed in range(40):  # until some net has died (about one seed in three)
        if deaths and seed >= 4:
            break
        keras.utils.set_random_seed(seed)
        model = depth_net((8, 8, 1), 10, "relu", depth=24, width=1)
        names = activation_layer_names(model)
        probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
        outputs = [np.asarray(o) for o in probe.predict(x, verbose=0)]
        expected = [float(np.mean(o.max(axis=(0, 1, 2)) <= 0)) for o in outputs]
        result = [r.fraction for r in monitoring.dead_units(model, x, layers=names)]
        assert result == pytest.approx(expected)
        if 1.0 in result:
            first = result.index(1.0)
            assert result[first:] == [1.0] * (len(result) - first)
            deaths += 1
        keras.utils.set_random_seed(seed)
        linked = depth_net((8, 8, 1), 10, "lkrelu", depth=24, width=1)
        fractions = [r.fraction for r in monitoring.dead_units(
            linked, x, layers=activation_layer_names(linked))]
        assert len(fractions) == 24 and max(fractions) <= 0.5
    assert deaths > 0
