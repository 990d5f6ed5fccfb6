"""Tests of linked_neurons.datasets: embedded data only, nothing is downloaded."""

import importlib.util
import sys

import keras
import numpy as np
import pytest

from linked_neurons import datasets


def _rows(*arrays):
    """Every row of the arrays as bytes, in one list."""
    return [row.tobytes() for x in arrays for row in x.reshape(len(x), -1)]


def _check_common(data, num_classes=10):
    assert isinstance(data, datasets.Dataset)
    assert data.num_classes == num_classes
    for x, y in (
        (data.x_train, data.y_train),
        (data.x_val, data.y_val),
        (data.x_test, data.y_test),
    ):
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert y.ndim == 1 and len(x) == len(y)
        assert x.shape[1:] == data.input_shape
        assert np.all((y >= 0) & (y < num_classes))
        assert np.all(np.isfinite(x))


def _assert_same(a, b):
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# ------------------------------------------------------------------------------ digits
@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return datasets.load_digits()


def test_digits_shapes_dtypes_and_range(digits):
    _check_common(digits)
    assert digits.name == "digits"
    assert digits.input_shape == (8, 8, 1)
    assert len(digits.x_train) + len(digits.x_val) + len(digits.x_test) == 1797
    assert len(digits.x_val) == pytest.approx(0.2 * 1797, abs=10)
    assert len(digits.x_test) == pytest.approx(0.2 * 1797, abs=10)
    everything = np.concatenate([digits.x_train, digits.x_val, digits.x_test])
    assert everything.min() == 0.0 and everything.max() == 1.0
    assert set(np.unique(digits.y_train)) == set(range(10))


def test_digits_splits_partition_the_data_and_are_stratified(digits):
    from sklearn.datasets import load_digits as sk_load_digits

    original = (sk_load_digits().data / 16.0).astype(np.float32)
    split_rows = _rows(digits.x_train, digits.x_val, digits.x_test)
    assert len(set(split_rows)) == len(split_rows) == len(original)  # disjoint
    assert set(split_rows) == set(_rows(original))  # and complete
    for y in (digits.y_val, digits.y_test):
        counts = np.bincount(y, minlength=10)
        assert counts.min() >= 34 and counts.max() <= 37


def test_digits_flat_layout():
    pytest.importorskip("sklearn")
    data = datasets.load_digits(image=False)
    _check_common(data)
    assert data.input_shape == (64,)


def test_digits_is_deterministic_per_seed(digits):
    _assert_same(digits, datasets.load_digits(seed=0))
    other = datasets.load_digits(seed=1)
    assert not np.array_equal(digits.y_train, other.y_train)


def test_digits_without_validation_or_test_split():
    pytest.importorskip("sklearn")
    data = datasets.load_digits(validation_split=0.0, test_split=0.0)
    assert len(data.x_train) == 1797
    assert data.x_val.shape == (0, 8, 8, 1) and data.y_test.shape == (0,)


@pytest.mark.parametrize(
    "kwargs",
    [{"validation_split": -0.1}, {"test_split": 1.0}, {"validation_split": 0.5, "test_split": 0.5}],
)
def test_digits_rejects_bad_fractions(kwargs):
    with pytest.raises(ValueError, match="split"):
        datasets.load_digits(**kwargs)


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install -e \"\.\[experiments\]\""):
        datasets.load_digits()


# ----------------------------------------------------------------------------- mnist1d
@pytest.fixture(scope="module")
def mnist1d():
    pytest.importorskip("mnist1d")
    return datasets.load_mnist1d(n_samples=1000)


def test_mnist1d_shapes_dtypes_and_balance(mnist1d):
    _check_common(mnist1d)
    assert mnist1d.name == "mnist1d"
    assert mnist1d.input_shape == (40,)
    assert (len(mnist1d.x_train), len(mnist1d.x_val), len(mnist1d.x_test)) == (600, 200, 200)
    y = np.concatenate([mnist1d.y_train, mnist1d.y_val, mnist1d.y_test])
    assert np.bincount(y, minlength=10).tolist() == [100] * 10
    x = np.concatenate([mnist1d.x_train, mnist1d.x_val, mnist1d.x_test])
    np.testing.assert_allclose([x.mean(), x.std()], [0.0, 1.0], atol=1e-5)


def test_load_mnist1d_equals_the_package_generator():
    mnist1d_data = pytest.importorskip("mnist1d.data")
    reference = mnist1d_data.make_dataset()  # seed 42, 5000 samples, 40 points
    data = datasets.load("mnist1d", validation_split=0.0)
    np.testing.assert_array_equal(data.x_train, reference["x"].astype(np.float32))
    np.testing.assert_array_equal(data.y_train, reference["y"])
    np.testing.assert_array_equal(data.x_test, reference["x_test"].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, reference["y_test"])
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (4000, 0, 1000)

    # the default validation split is the tail of the package's training part
    split = datasets.load("mnist1d")
    np.testing.assert_array_equal(np.concatenate([split.x_train, split.x_val]), data.x_train)
    np.testing.assert_array_equal(split.x_test, data.x_test)


def test_load_mnist1d_passes_generator_arguments():
    mnist1d_data = pytest.importorskip("mnist1d.data")
    args = mnist1d_data.get_dataset_args()
    args.num_samples, args.seed, args.shear_scale, args.final_seq_length = 500, 3, 0.1, 30
    reference = mnist1d_data.make_dataset(args)
    data = datasets.load_mnist1d(n_samples=500, seed=3, shear_scale=0.1, length=30,
                                 validation_split=0.0, sequence=True)
    assert data.input_shape == (30, 1)
    np.testing.assert_array_equal(data.x_train[..., 0], reference["x"].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, reference["y_test"])


def test_load_mnist1d_keeps_the_global_random_state():
    pytest.importorskip("mnist1d")
    import random

    np.random.seed(7)
    random.seed(7)
    expected = np.random.random(), random.random()
    np.random.seed(7)
    random.seed(7)
    datasets.load_mnist1d(n_samples=100)
    assert (np.random.random(), random.random()) == expected


def test_mnist1d_is_deterministic_per_seed(mnist1d):
    _assert_same(mnist1d, datasets.load_mnist1d(n_samples=1000, seed=42))
    other = datasets.load_mnist1d(n_samples=1000, seed=1)
    assert not np.allclose(mnist1d.x_train, other.x_train)


def test_mnist1d_splits_are_disjoint(mnist1d):
    rows = _rows(mnist1d.x_train, mnist1d.x_val, mnist1d.x_test)
    assert len(set(rows)) == len(rows) == 1000


def test_mnist1d_without_the_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r"load_mnist1d.*mnist1d.*\.\[experiments\]"):
        datasets.load("mnist1d")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_samples": 5},
        {"length": 1},
        {"train_split": 1.0},
        {"validation_split": 0.8},
        {"validation_split": -0.1},
        {"noise": 1.0},
    ],
)
def test_mnist1d_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="load_mnist1d|validation_split"):
        datasets.load_mnist1d(**kwargs)


# ------------------------------------------------------------------------- dispatching
def test_available_lists_embedded_first():
    assert datasets.available(embedded_only=True) == ["digits", "mnist1d"]
    assert datasets.available() == ["digits", "mnist1d", "cifar10", "fashion_mnist", "mnist"]


def test_load_dispatches_by_name():
    if importlib.util.find_spec("mnist1d") is not None:
        data = datasets.load("MNIST-1D", n_samples=200, seed=2)
        _assert_same(data, datasets.load_mnist1d(n_samples=200, seed=2))
    pytest.importorskip("sklearn")
    assert datasets.load("digits", image=False).input_shape == (64,)


def test_load_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="available: digits, mnist1d"):
        datasets.load("imagenet")
    with pytest.raises(TypeError):
        datasets.load(3)


def test_dataset_repr_is_short(mnist1d):
    text = repr(mnist1d)
    assert text.startswith("Dataset(name='mnist1d'") and "train=600" in text
    assert len(text) < 200


# ----------------------------------------------------------------------- keras loaders
def _fake_load_data(train=50, test=20, shape=(28, 28), label_shape=()):
    rng = np.random.default_rng(0)

    def load_data():
        x_train = rng.integers(0, 256, size=(train, *shape), dtype=np.uint8)
        x_test = rng.integers(0, 256, size=(test, *shape), dtype=np.uint8)
        y_train = (np.arange(train) % 10).reshape(train, *label_shape).astype(np.uint8)
        y_test = (np.arange(test) % 10).reshape(test, *label_shape).astype(np.uint8)
        return (x_train, y_train), (x_test, y_test)

    return load_data


def test_keras_dataset_layout_with_fake_files(monkeypatch):
    monkeypatch.setattr(keras.datasets.mnist, "load_data", _fake_load_data())
    data = datasets.load("mnist", validation_split=0.2)
    _check_common(data)
    assert data.name == "mnist" and data.input_shape == (28, 28, 1)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (40, 10, 20)
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0

    monkeypatch.setattr(
        keras.datasets.cifar10,
        "load_data",
        _fake_load_data(shape=(32, 32, 3), label_shape=(1,)),
    )
    data = datasets.load_keras_dataset(
        "cifar10", validation_split=0.2, image=False, max_train_samples=30, max_test_samples=10
    )
    _check_common(data)
    assert data.input_shape == (3072,)
    assert len(data.x_train) + len(data.x_val) == 30 and len(data.x_test) == 10
    assert 0 < len(data.x_val) < len(data.x_train)


def test_keras_dataset_unavailable_gives_a_clear_error(monkeypatch):
    def offline():
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(RuntimeError, match=r"cache.*network.*digits, mnist1d"):
        datasets.load("fashion-mnist")


def test_keras_dataset_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load_keras_dataset("digits")


def test_load_digits_seed_must_be_an_integer():
    pytest.importorskip("sklearn")
    from linked_neurons.datasets import load_digits

    with pytest.raises(TypeError, match=r"load_digits.*`seed`.*'abc'"):
        load_digits(seed="abc")
    with pytest.raises(ValueError, match=r"load_digits.*`seed`.*nan"):
        load_digits(seed=float("nan"))


def test_prepare_layout_resize_and_subset(digits):
    data = datasets.prepare(digits, image_size=16, max_train_samples=100)
    assert data.x_train.shape == (100, 16, 16, 1) and data.x_test.shape[1:] == (16, 16, 1)
    assert data.x_val.shape == (len(digits.x_val), 16, 16, 1)
    np.testing.assert_array_equal(data.y_train, digits.y_train[:100])
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert datasets.prepare("digits", image_size=8).x_train.shape[1:] == (8, 8, 1)
    sequences = datasets.prepare(datasets.load_mnist1d(n_samples=300))
    assert sequences.input_shape == (40, 1)
    with pytest.raises(ValueError, match="prepare: this needs images"):
        datasets.prepare(datasets.load_mnist1d(n_samples=300), images=True)
    with pytest.raises(ValueError, match="needs a non-empty validation split"):
        datasets.prepare(datasets.load_digits(validation_split=0.0))


def test_augmented_batches_shuffle_flip_and_shift():
    x = np.arange(2 * 10 * 10, dtype="float32").reshape(2, 10, 10, 1) + 1.0
    y = np.array([0, 1])
    plain = datasets.augmented_batches(x, y, batch_size=2, seed=0)
    xb, yb = plain[0]
    np.testing.assert_array_equal(xb, x[plain.order])
    np.testing.assert_array_equal(yb, y[plain.order])
    orders = set()
    for _ in range(20):
        plain.on_epoch_end()
        orders.add(tuple(plain.order))
    assert len(orders) == 2  # reshuffled every epoch
    flipped = datasets.augmented_batches(x, y, batch_size=2, flip=True, seed=1)
    outcomes = set()
    for _ in range(10):
        for image, original in zip(flipped[0][0], x[flipped.order]):
            same, mirrored = np.array_equal(image, original), np.array_equal(image,
                                                                              original[:, ::-1])
            assert same or mirrored
            outcomes.add(same)
    assert outcomes == {True, False}
    shifted = datasets.augmented_batches(x, y, batch_size=2, shift=0.1, seed=2)
    image, original = shifted[0][0][0], x[shifted.order][0]
    padded = np.pad(original, ((1, 1), (1, 1), (0, 0)))
    matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
               if np.array_equal(image, padded[1 + dy: 11 + dy, 1 + dx: 11 + dx])]
    assert len(matches) == 1  # a shift of at most one pixel, zeros filled in
    assert len(datasets.augmented_batches(np.zeros((5, 4, 4, 1)), np.zeros(5), 2)) == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.zeros((4, 8)), y=np.zeros(4), batch_size=2), "expected images"),
    (dict(x=np.zeros((4, 8, 8, 1)), y=np.zeros(4), batch_size=0), "`batch_size`"),
    (dict(x=np.zeros((4, 8, 8, 1)), y=np.zeros(4), batch_size=2, shift=0.5), "`shift`"),
])
def test_augmented_batches_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f"augmented_batches: {message}"):
        datasets.augmented_batches(**kwargs)
