"""Small datasets for examples, tests and experiments.

Two sources never touch the network:

- ``"digits"``: the 1,797 8x8 handwritten digits that ship inside
  scikit-learn (an optional dependency: ``pip install -e
  ".[experiments]"`` from a clone).
- ``"mnist1d"``: a 1-D digit task generated with NumPy, in the spirit of
  MNIST-1D (S. Greydanus, "Scaling down deep learning", arXiv 2011.14439).
  Ten fixed patterns are placed at a random position of a canvas of random
  length, scaled, sheared, blurred with correlated noise and resampled to 40
  points, so the class is the pattern's shape, not its location or size.

Three more, ``"mnist"``, ``"fashion_mnist"`` and ``"cifar10"``, go through
``keras.datasets``: they work when Keras already has the files in its cache
(``~/.keras/datasets`` or ``$KERAS_HOME/datasets``) or can download them.

Every loader returns a :class:`Dataset` with train, validation and test
splits of float32 inputs and int labels (``y`` of shape ``(N,)``).

Example:

    >>> from linked_neurons import datasets
    >>> data = datasets.load("mnist1d", n_samples=500, seed=1)
    >>> data.x_train.shape, data.x_train.dtype.name, data.num_classes
    ((300, 40), 'float32', 10)
    >>> "digits" in datasets.available()
    True
"""

from dataclasses import dataclass

import numpy as np

from linked_neurons._validation import check_seed

__all__ = [
    "Dataset",
    "available",
    "load",
    "load_digits",
    "load_keras_dataset",
    "load_mnist1d",
    "mnist1d_templates",
]

_INSTALL_HINT = 'pip install -e ".[experiments]"'


@dataclass(frozen=True, repr=False)
class Dataset:
    """Train, validation and test splits of a classification dataset.

    Attributes:
        x_train: float32 inputs of the training split.
        y_train: int64 labels in ``[0, num_classes)``, shape ``(N,)``.
        x_val: Validation inputs (zero rows when no validation split).
        y_val: Validation labels.
        x_test: Test inputs (zero rows when no test split).
        y_test: Test labels.
        num_classes: Number of classes.
        name: Name of the dataset, as accepted by :func:`load`.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    name: str

    @property
    def input_shape(self):
        """Shape of one example, without the batch axis."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self):
        return (
            f"Dataset(name={self.name!r}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, train={len(self.x_train)}, "
            f"val={len(self.x_val)}, test={len(self.x_test)})"
        )


# --------------------------------------------------------------------- splits
def _check_fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a number in [0, 1), got {value!r}.")


def _check_fractions(validation_split, test_split):
    _check_fraction("validation_split", validation_split)
    _check_fraction("test_split", test_split)
    if validation_split + test_split >= 1:
        raise ValueError(
            "`validation_split + test_split` must leave some training data (be < 1), got "
            f"{validation_split} + {test_split}."
        )


def _stratified_indices(y, fractions, rng):
    """Splits ``arange(len(y))`` into parts holding ``fractions`` of each class.

    The first part takes what the others leave; every part is shuffled.
    """
    parts = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        start = 0
        for part, fraction in zip(parts[1:], fractions):
            count = int(round(fraction * len(idx)))
            part.append(idx[start : start + count])
            start += count
        parts[0].append(idx[start:])
    return [rng.permutation(np.concatenate(part)) for part in parts]


def _make_dataset(x, y, validation_split, test_split, rng, num_classes, name):
    train, val, test = _stratified_indices(y, (validation_split, test_split), rng)
    return Dataset(
        x[train], y[train], x[val], y[val], x[test], y[test], num_classes=num_classes, name=name
    )


# --------------------------------------------------------------------- digits
def load_digits(validation_split=0.2, test_split=0.2, seed=0, image=True):
    """Loads scikit-learn's bundled 8x8 handwritten digits (no download).

    The 1,797 images (about 180 per class) are scaled from 0..16 to [0, 1]
    and split per class, so every split keeps the class balance.

    Args:
        validation_split: Fraction of each class for validation.
        test_split: Fraction of each class for testing.
        seed: Seed of the split.
        image: If True, inputs have shape ``(N, 8, 8, 1)`` (channels_last);
            otherwise ``(N, 64)``.

    Returns:
        A :class:`Dataset` named ``"digits"`` with 10 classes.

    Raises:
        ImportError: If scikit-learn is not installed.
        ValueError: For split fractions outside [0, 1) or summing to 1 or more.

    Example:

        >>> from linked_neurons.datasets import load_digits
        >>> data = load_digits(seed=0)
        >>> data.x_train.shape, float(data.x_train.max())
        ((1079, 8, 8, 1), 1.0)
    """
    _check_fractions(validation_split, test_split)
    seed = check_seed("load_digits", "seed", seed)
    try:
        from sklearn import datasets as sk_datasets
    except ImportError as error:
        raise ImportError(
            "load_digits needs scikit-learn, which holds the digits images. Install the "
            f"experiment extras: {_INSTALL_HINT}"
        ) from error
    bunch = sk_datasets.load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).reshape(-1, 8, 8, 1)
    if not image:
        x = x.reshape(len(x), 64)
    y = np.asarray(bunch.target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return _make_dataset(x, y, validation_split, test_split, rng, 10, "digits")


# -------------------------------------------------------------------- mnist1d
def mnist1d_templates(length=12):
    """The ten class patterns of :func:`load_mnist1d`, sampled on ``length`` points.

    Each pattern is scaled to a maximum absolute value of 1.

    Args:
        length: Number of points per pattern (at least 4).

    Returns:
        A float64 array of shape ``(10, length)``; row ``k`` is class ``k``.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length < 4:
        raise ValueError(f"`length` must be an int >= 4, got {length!r}.")
    t = np.linspace(0.0, 1.0, length)

    def bump(center, width):
        return np.exp(-0.5 * ((t - center) / width) ** 2)

    patterns = np.stack(
        [
            np.sin(np.pi * t),  # 0: one wide hump
            bump(0.5, 0.1),  # 1: one narrow spike
            2.0 * t - 1.0,  # 2: rising ramp
            np.where(t < 0.5, 1.0, -1.0),  # 3: falling step
            np.sin(2.0 * np.pi * t),  # 4: one sine period
            2.0 * np.abs(2.0 * t - 1.0) - 1.0,  # 5: V-shaped valley
            bump(0.2, 0.08) + bump(0.8, 0.08),  # 6: two spikes
            -np.sin(np.pi * t),  # 7: one wide dip
            np.sin(3.0 * np.pi * t),  # 8: three half waves
            2.0 * ((2.0 * t) % 1.0) - 1.0,  # 9: two saw teeth
        ]
    )
    return patterns / np.abs(patterns).max(axis=1, keepdims=True)


def _smooth(noise, width):
    """Gaussian blur of each row, rescaled back to unit variance (zero padding)."""
    if width <= 0:
        return noise
    radius = int(np.ceil(3 * width))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / width) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))
    padded = np.pad(noise, ((0, 0), (radius, radius)))
    size = noise.shape[1]
    return sum(weight * padded[:, j : j + size] for j, weight in enumerate(kernel))


def load_mnist1d(
    n_samples=4000,
    length=40,
    template_length=12,
    canvas_length=(36, 60),
    amplitude_scale=0.3,
    shear=0.5,
    correlated_noise=0.25,
    correlation_width=2.0,
    white_noise=0.05,
    validation_split=0.2,
    test_split=0.2,
    seed=0,
    sequence=False,
):
    """Generates a 1-D ten-class digit dataset (pure NumPy, no download).

    In the spirit of MNIST-1D (Greydanus 2020; this is an independent
    generator with its own patterns, see :func:`mnist1d_templates`). Each
    sample draws a class ``k`` (classes are balanced) and then:

    1. places pattern ``k`` (``template_length`` points) at a random offset
       of a zero canvas whose length is drawn from ``canvas_length``; the
       canvas length sets how wide the pattern looks after step 5;
    2. multiplies it by a factor drawn from ``1 ± amplitude_scale``;
    3. adds a shear, a line from ``-s`` to ``s`` over the canvas with
       ``s ~ U(-shear, shear)``;
    4. adds Gaussian noise blurred over ``correlation_width`` canvas points,
       with standard deviation ``correlated_noise``;
    5. resamples the canvas linearly to ``length`` points and adds white
       Gaussian noise of standard deviation ``white_noise``.

    The same arguments and seed always give the same arrays.

    Args:
        n_samples: Total number of samples, before splitting.
        length: Number of points per sample (40 in MNIST-1D).
        template_length: Number of points of each pattern.
        canvas_length: ``(min, max)`` canvas length, inclusive; ``min`` must
            be at least ``template_length``.
        amplitude_scale: Relative amplitude jitter, in [0, 1).
        shear: Largest shear at the canvas ends.
        correlated_noise: Standard deviation of the correlated noise.
        correlation_width: Width (in canvas points) of its Gaussian blur.
        white_noise: Standard deviation of the white noise.
        validation_split: Fraction of each class for validation.
        test_split: Fraction of each class for testing.
        seed: Seed of the generator and of the split.
        sequence: If True, inputs have shape ``(N, length, 1)`` (for
            ``Conv1D``); otherwise ``(N, length)``.

    Returns:
        A :class:`Dataset` named ``"mnist1d"`` with 10 classes.

    Raises:
        ValueError: For invalid sizes, noise levels or split fractions.

    Example:

        >>> from linked_neurons.datasets import load_mnist1d
        >>> data = load_mnist1d(n_samples=1000, sequence=True)
        >>> data.x_train.shape, data.x_val.shape, data.x_test.shape
        ((600, 40, 1), (200, 40, 1), (200, 40, 1))
    """
    _check_fractions(validation_split, test_split)
    for name, value, low in (
        ("n_samples", n_samples, 10),
        ("length", length, 2),
        ("template_length", template_length, 4),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}, got {value!r}.")
    low, high = (int(v) for v in canvas_length)
    if not template_length <= low <= high:
        raise ValueError(
            "`canvas_length` must be (min, max) with template_length <= min <= max, got "
            f"{canvas_length!r} for template_length={template_length}."
        )
    if not 0 <= amplitude_scale < 1:
        raise ValueError(f"`amplitude_scale` must be in [0, 1), got {amplitude_scale!r}.")
    for name, value in (
        ("shear", shear),
        ("correlated_noise", correlated_noise),
        ("correlation_width", correlation_width),
        ("white_noise", white_noise),
    ):
        if value < 0:
            raise ValueError(f"`{name}` must be >= 0, got {value!r}.")

    generate_seq, split_seq = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(generate_seq)
    templates = mnist1d_templates(template_length)
    y = rng.permutation(np.arange(n_samples) % 10).astype(np.int64)
    sizes = rng.integers(low, high + 1, size=n_samples)
    starts = rng.integers(0, sizes - template_length + 1)
    amplitudes = rng.uniform(1 - amplitude_scale, 1 + amplitude_scale, size=n_samples)
    slopes = rng.uniform(-shear, shear, size=n_samples)
    noise = _smooth(rng.standard_normal((n_samples, high)), correlation_width)

    # Canvases of length `high`; sample i only uses its first sizes[i] points.
    position = np.arange(high)[None, :]
    offset = position - starts[:, None]
    inside = (offset >= 0) & (offset < template_length)
    pattern = templates[y[:, None], np.clip(offset, 0, template_length - 1)]
    last = (sizes - 1)[:, None]
    canvas = (
        np.where(inside, amplitudes[:, None] * pattern, 0.0)
        + slopes[:, None] * (2.0 * position / last - 1.0)
        + correlated_noise * noise
    )
    # Linear resampling of points 0..sizes[i]-1 onto `length` points.
    where = last * np.linspace(0.0, 1.0, length)[None, :]
    left = np.minimum(np.floor(where).astype(np.int64), last - 1)
    frac = where - left
    x = (1.0 - frac) * np.take_along_axis(canvas, left, axis=1) + frac * np.take_along_axis(
        canvas, left + 1, axis=1
    )
    x += white_noise * rng.standard_normal(x.shape)
    x = x.astype(np.float32)
    if sequence:
        x = x[..., None]
    return _make_dataset(
        x, y, validation_split, test_split, np.random.default_rng(split_seq), 10, "mnist1d"
    )


# ---------------------------------------------------------------------- keras
_KERAS_DATASETS = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10}


def load_keras_dataset(
    name,
    validation_split=0.1,
    seed=0,
    image=True,
    max_train_samples=None,
    max_test_samples=None,
):
    """Loads MNIST, Fashion-MNIST or CIFAR-10 through ``keras.datasets``.

    Keras reads the files from its cache (``~/.keras/datasets``, or
    ``$KERAS_HOME/datasets``) and downloads them the first time, so this
    needs either the cached files or network access. Inputs are scaled from
    0..255 to [0, 1] float32; the validation split is taken, per class, from
    the official training set; the official test set is kept as the test
    split.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
        validation_split: Fraction of each training class for validation.
        seed: Seed of the subsampling and of the split.
        image: If True, inputs are ``(N, H, W, C)`` (``(N, 28, 28, 1)`` for
            the MNISTs, ``(N, 32, 32, 3)`` for CIFAR-10); otherwise flat.
        max_train_samples: If given, a random subset of this many training
            images is used (before the validation split).
        max_test_samples: If given, a random subset of the test images.

    Returns:
        A :class:`Dataset` with 10 classes.

    Raises:
        ValueError: For an unknown name or invalid fractions.
        RuntimeError: If Keras can neither find the files nor download them.

    Example:

        >>> from linked_neurons.datasets import load_keras_dataset
        >>> data = load_keras_dataset("mnist", max_train_samples=5000)  # doctest: +SKIP
        >>> data.input_shape  # doctest: +SKIP
        (28, 28, 1)
    """
    key = _canonical(name)
    if key not in _KERAS_DATASETS:
        raise ValueError(
            f"load_keras_dataset: unknown dataset {name!r}; expected one of "
            f"{', '.join(sorted(_KERAS_DATASETS))}."
        )
    _check_fractions(validation_split, 0.0)
    import keras

    module = getattr(keras.datasets, key)
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        raise RuntimeError(
            f"Could not load {key!r} with keras.datasets: Keras needs the files in its cache "
            "(~/.keras/datasets, or $KERAS_HOME/datasets) or network access to download "
            "them once. Without either, use an embedded dataset instead: "
            f"{', '.join(_EMBEDDED)}. Original error: {type(error).__name__}: {error}"
        ) from error
    rng = np.random.default_rng(seed)

    def prepare(x, y, limit):
        y = np.asarray(y, dtype=np.int64).reshape(-1)
        if limit is not None and limit < len(y):
            keep = np.sort(rng.choice(len(y), size=int(limit), replace=False))
            x, y = x[keep], y[keep]
        x = np.asarray(x, dtype=np.float32) / 255.0
        x = x.reshape(len(x), -1) if not image else x.reshape(*x.shape[:3], -1)
        return x, y

    x_train, y_train = prepare(x_train, y_train, max_train_samples)
    x_test, y_test = prepare(x_test, y_test, max_test_samples)
    train, val = _stratified_indices(y_train, (validation_split,), rng)
    return Dataset(
        x_train[train],
        y_train[train],
        x_train[val],
        y_train[val],
        x_test,
        y_test,
        num_classes=_KERAS_DATASETS[key],
        name=key,
    )


# ------------------------------------------------------------------- registry
_EMBEDDED = {"digits": load_digits, "mnist1d": load_mnist1d}
_ALIASES = {"mnist_1d": "mnist1d", "fashionmnist": "fashion_mnist", "cifar_10": "cifar10"}


def _canonical(name):
    if not isinstance(name, str):
        raise TypeError(f"A dataset name must be a str, got {type(name).__name__}.")
    key = name.strip().lower().replace("-", "_")
    return _ALIASES.get(key, key)


def available(embedded_only=False):
    """Names accepted by :func:`load`.

    Args:
        embedded_only: If True, only the datasets that never download.

    Returns:
        A list of names, embedded ones first.
    """
    names = list(_EMBEDDED)
    if not embedded_only:
        names += sorted(_KERAS_DATASETS)
    return names


def load(name, **kwargs):
    """Loads a dataset by name.

    Args:
        name: One of :func:`available` (case-insensitive; ``-`` and ``_``
            are interchangeable, so ``"fashion-mnist"`` works).
        **kwargs: Arguments of the loader: :func:`load_digits`,
            :func:`load_mnist1d` or :func:`load_keras_dataset`.

    Returns:
        A :class:`Dataset`.

    Raises:
        ValueError: For an unknown name.

    Example:

        >>> from linked_neurons import datasets
        >>> datasets.load("digits", image=False).input_shape
        (64,)
    """
    key = _canonical(name)
    if key in _EMBEDDED:
        return _EMBEDDED[key](**kwargs)
    if key in _KERAS_DATASETS:
        return load_keras_dataset(key, **kwargs)
    raise ValueError(f"Unknown dataset {name!r}; available: {', '.join(available())}.")
