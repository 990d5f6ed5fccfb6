"""Small datasets for examples, tests and experiments.

Two sources never touch the network:

- ``"digits"``: the 1,797 8x8 handwritten digits that ship inside
  scikit-learn (an optional dependency: ``pip install -e
  ".[experiments]"`` from a clone).
- ``"mnist1d"``: MNIST-1D (S. Greydanus, "Scaling down deep learning",
  arXiv 2011.14439), 1-D digit signals of 40 points, built locally by the
  ``mnist1d`` package's generator (also in the ``experiments`` extra); with
  the defaults it is the published dataset.

Three more, ``"mnist"``, ``"fashion_mnist"`` and ``"cifar10"``, go through
``keras.datasets``: they work when Keras already has the files in its cache
(``~/.keras/datasets`` or ``$KERAS_HOME/datasets``) or can download them.

Every loader returns a :class:`Dataset` with train, validation and test
splits of float32 inputs and int labels (``y`` of shape ``(N,)``).

Example:

    >>> from linked_neurons import datasets
    >>> data = datasets.load("mnist1d")
    >>> data.x_train.shape, data.x_train.dtype.name, data.num_classes
    ((3000, 40), 'float32', 10)
    >>> "digits" in datasets.available()
    True
"""

from dataclasses import dataclass

import numpy as np

from linked_neurons._validation import check_seed

__all__ = [
    "Dataset",
    "augmented_batches",
    "available",
    "load",
    "load_digits",
    "load_keras_dataset",
    "load_mnist1d",
    "prepare",
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
#: Arguments of ``mnist1d.data.make_dataset`` that :func:`load_mnist1d` passes on.
MNIST1D_GENERATOR_ARGS = (
    "template_len",
    "padding",
    "scale_coeff",
    "max_translation",
    "corr_noise_scale",
    "iid_noise_scale",
    "shear_scale",
    "shuffle_seq",
)


def _import_mnist1d(caller):
    try:
        from mnist1d import data as mnist1d_data
    except ImportError as error:
        raise ImportError(
            f"{caller} needs the `mnist1d` package (the MNIST-1D generator): "
            f"{_INSTALL_HINT} or `pip install mnist1d`."
        ) from error
    return mnist1d_data


def load_mnist1d(
    n_samples=5000,
    length=40,
    train_split=0.8,
    validation_split=0.2,
    seed=42,
    sequence=False,
    **generator_args,
):
    """Generates MNIST-1D locally with the ``mnist1d`` package (no download).

    MNIST-1D (S. Greydanus, "Scaling down deep learning", arXiv 2011.14439)
    is built by ``mnist1d.data.make_dataset``: ten 12-point digit templates
    are padded, translated, scaled, sheared, blurred with correlated noise,
    resampled to ``length`` points and standardised. With the defaults
    (``seed=42``, 5,000 samples, 40 points, 80 % for training) this is the
    published dataset. Only the generator is used: the package's
    ``get_dataset``, which may download a file, is never called. The
    generator seeds NumPy's and Python's global random state; this function
    restores both afterwards.

    The test split is the package's (its last ``1 - train_split`` of the
    samples). ``validation_split`` takes the last rows of the package's
    training part, so ``x_train`` followed by ``x_val`` is the package's
    ``x``; with ``validation_split=0`` the arrays are the package's own
    (cast to float32).

    Args:
        n_samples: Number of samples (``num_samples``; the generator makes
            ``n_samples // 10`` per class).
        length: Points per sample (``final_seq_length``, 40).
        train_split: Fraction of the samples in the package's training part
            (0.8).
        validation_split: Fraction of all samples held out from the training
            part for validation (default 0.2: 3,000 / 1,000 / 1,000; the
            DiversityNN study uses 0.0: 4,000 / 1,000).
        seed: Seed of the generator (42 gives the published dataset).
        sequence: If True, inputs have shape ``(N, length, 1)`` (for
            ``Conv1D``); otherwise ``(N, length)``.
        **generator_args: Other arguments of the generator, by their names in
            ``mnist1d.data.get_dataset_args()``: ``template_len``,
            ``padding``, ``scale_coeff``, ``max_translation``,
            ``corr_noise_scale``, ``iid_noise_scale``, ``shear_scale``,
            ``shuffle_seq``.

    Returns:
        A :class:`Dataset` named ``"mnist1d"`` with 10 classes.

    Raises:
        ImportError: When the ``mnist1d`` package is not installed (it comes
            with ``pip install "linked_neurons[experiments]"``).
        ValueError: For invalid sizes, splits or unknown generator arguments.

    Example:

        >>> from linked_neurons.datasets import load_mnist1d
        >>> data = load_mnist1d(n_samples=1000, sequence=True)
        >>> data.x_train.shape, data.x_val.shape, data.x_test.shape
        ((600, 40, 1), (200, 40, 1), (200, 40, 1))
    """
    for name, value, low in (("n_samples", n_samples, 10), ("length", length, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"load_mnist1d: `{name}` must be an int >= {low}, got {value!r}.")
    _check_fraction("validation_split", validation_split)
    if isinstance(train_split, bool) or not isinstance(train_split, (int, float)) or not (
        0 < train_split < 1
    ):
        raise ValueError(f"load_mnist1d: `train_split` must be in (0, 1), got {train_split!r}.")
    if validation_split >= train_split:
        raise ValueError(
            f"load_mnist1d: `validation_split` ({validation_split}) must be smaller than "
            f"`train_split` ({train_split})."
        )
    unknown = sorted(set(generator_args) - set(MNIST1D_GENERATOR_ARGS))
    if unknown:
        raise ValueError(
            f"load_mnist1d: unknown generator arguments {unknown}; accepted: "
            f"{', '.join(MNIST1D_GENERATOR_ARGS)}."
        )
    mnist1d_data = _import_mnist1d("load_mnist1d")
    args = mnist1d_data.get_dataset_args(as_dict=True)
    args.update(generator_args)
    args.update(num_samples=n_samples, final_seq_length=length, train_split=train_split,
                seed=seed)
    args.pop("url", None)

    import random

    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        raw = mnist1d_data.make_dataset(_Args(args))
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    x_all = np.asarray(raw["x"], dtype=np.float32)
    y_all = np.asarray(raw["y"], dtype=np.int64)
    n_val = int(round(validation_split * (len(x_all) + len(raw["x_test"]))))
    if n_val >= len(x_all):
        raise ValueError(f"load_mnist1d: validation_split={validation_split} leaves no training "
                         f"data out of {len(x_all)} samples.")
    split = len(x_all) - n_val
    x_test = np.asarray(raw["x_test"], dtype=np.float32)
    y_test = np.asarray(raw["y_test"], dtype=np.int64)
    parts = [x_all[:split], x_all[split:], x_test]
    if sequence:
        parts = [x[..., None] for x in parts]
    return Dataset(parts[0], y_all[:split], parts[1], y_all[split:], parts[2], y_test,
                   num_classes=10, name="mnist1d")


class _Args:
    """Attribute access to a dict, as ``make_dataset`` expects."""

    def __init__(self, values):
        self.__dict__.update(values)


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


def prepare(dataset="digits", seed=0, image_size=None, max_train_samples=None, images=False):
    """Loads a dataset in the layout networks take: a channel axis, a size, a subset.

    Args:
        dataset: A name of :func:`available` or a :class:`Dataset`.
        seed: Seed of the split (and of generated data).
        image_size: Resize images (bilinear, clipped to [0, 1]) to this
            square size.
        max_train_samples: Keep at most this many training examples (the
            ``keras.datasets`` sets draw them at random before the split).
        images: Require ``(H, W, C)`` images (``"mnist1d"`` is rejected).

    Returns:
        A :class:`Dataset` of images ``(H, W, C)`` (a grey channel added to
        ``(H, W)`` ones) or sequences ``(L, 1)``.

    Raises:
        ValueError: For an unknown dataset, 1-D data where images are
            needed, or no validation split.

    Example:

        >>> from linked_neurons import datasets
        >>> data = datasets.prepare("digits", image_size=16, max_train_samples=100)
        >>> data.x_train.shape, data.x_test.shape[1:]
        ((100, 16, 16, 1), (16, 16, 1))
    """
    import dataclasses

    import keras

    if isinstance(dataset, Dataset):
        data = dataset
    elif dataset in available() and dataset not in available(True):
        data = load_keras_dataset(dataset, seed=seed, max_train_samples=max_train_samples)
    else:
        data = load(dataset, seed=seed)

    def layout(x):
        x = x[..., None] if x.ndim == 2 else x
        if image_size and x.ndim == 4 and x.shape[1:3] != (image_size, image_size):
            if not len(x):
                return np.zeros((0, image_size, image_size, x.shape[-1]), "float32")
            out = keras.ops.image.resize(x, (image_size, image_size), interpolation="bilinear")
            x = np.clip(keras.ops.convert_to_numpy(out), 0.0, 1.0).astype("float32")
        return x

    train = slice(None, max_train_samples)
    data = dataclasses.replace(data, x_train=layout(data.x_train[train]),
                               y_train=data.y_train[train], x_val=layout(data.x_val),
                               x_test=layout(data.x_test))
    if images and len(data.input_shape) != 3:
        raise ValueError(f"prepare: this needs images (H, W, C); {data.name!r} gives inputs of "
                         f"shape {data.input_shape}. Use digits, mnist, fashion_mnist or cifar10.")
    if not len(data.x_val):
        raise ValueError(f"prepare: the dataset {data.name!r} needs a non-empty validation "
                         "split.")
    return data


# --------------------------------------------------------------- augmentation
def augmented_batches(x, y, batch_size, flip=False, shift=0.0, seed=0):
    """Shuffled training batches with random flips and shifts, for ``Model.fit``.

    Every epoch the order is reshuffled; each image is flipped left-right
    with probability 1/2 (if ``flip``) and shifted by up to ``shift`` of its
    size along both axes, filling with zeros. NumPy only: any backend.

    Args:
        x: Images ``(N, H, W, C)``.
        y: Labels ``(N,)``.
        batch_size: Batch size.
        flip: Random horizontal flips.
        shift: Largest shift as a fraction of the image size (0: none).
        seed: Seed of the shuffling and the augmentation.

    Returns:
        A ``keras.utils.PyDataset`` of ``(images, labels)`` batches.

    Raises:
        ValueError: For ``x`` that is not a batch of images or a bad size.

    Example:

        >>> import numpy as np
        >>> from linked_neurons.datasets import augmented_batches
        >>> batches = augmented_batches(np.ones((10, 8, 8, 1)), np.arange(10), 4, shift=0.25)
        >>> len(batches), batches[0][0].shape
        (3, (4, 8, 8, 1))
    """
    import keras

    if np.ndim(x) != 4 or len(x) != len(y):
        raise ValueError(f"augmented_batches: expected images (N, H, W, C) and N labels, got "
                         f"x of shape {np.shape(x)} and {len(y)} labels.")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"augmented_batches: `batch_size` must be an int >= 1, got "
                         f"{batch_size!r}.")
    if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not 0 <= shift < 0.5:
        raise ValueError(f"augmented_batches: `shift` must be a number in [0, 0.5), got "
                         f"{shift!r}.")
    rng = np.random.default_rng(seed)
    sh, sw = int(round(shift * x.shape[1])), int(round(shift * x.shape[2]))

    class Batches(keras.utils.PyDataset):
        order = rng.permutation(len(x))

        def __len__(self):
            return -(-len(x) // int(batch_size))

        def __getitem__(self, index):
            idx = self.order[index * int(batch_size): (index + 1) * int(batch_size)]
            images = x[idx].copy()
            if flip:
                mask = rng.random(len(images)) < 0.5
                images[mask] = images[mask, :, ::-1]
            if sh or sw:
                height, width = images.shape[1:3]
                padded = np.pad(images, ((0, 0), (sh, sh), (sw, sw), (0, 0)))
                dy = rng.integers(-sh, sh + 1, size=len(images))
                dx = rng.integers(-sw, sw + 1, size=len(images))
                for i in range(len(images)):
                    top, left = sh + dy[i], sw + dx[i]
                    images[i] = padded[i, top: top + height, left: left + width]
            return images, y[idx]

        def on_epoch_end(self):
            self.order = rng.permutation(len(x))

    return Batches()
