"""Batches of model inputs from NumPy arrays, ``tf.data``, ``PyDataset`` or iterables."""

import numbers

import keras
import numpy as np


def _to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "numpy") and not isinstance(value, np.generic):
        try:
            return np.asarray(value.numpy())
        except Exception:  # noqa: BLE001 - e.g. a torch tensor that needs detach()
            pass
    return np.asarray(keras.ops.convert_to_numpy(value))


def _inputs_of(batch):
    """``x`` of a batch that may be ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``."""
    if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
        return batch[0]
    return batch


def _num_samples(x):
    leaves = keras.tree.flatten(x)
    if not leaves:
        raise ValueError("The data holds no arrays.")
    return int(np.shape(leaves[0])[0])


def _is_array_like(x):
    leaves = keras.tree.flatten(x) if isinstance(x, (list, dict)) else [x]
    return bool(leaves) and all(
        isinstance(leaf, np.ndarray) or hasattr(leaf, "shape") and hasattr(leaf, "dtype")
        for leaf in leaves
    )


def iterate_batches(data, batch_size=32, caller="iterate_batches"):
    """Yields the model inputs of ``data`` one batch at a time, as NumPy.

    Args:
        data: One of

            - an array (NumPy or backend tensor), a list of arrays (several
              inputs) or a dict of arrays: cut into batches of
              ``batch_size`` samples;
            - a tuple ``(x, y)`` or ``(x, y, sample_weight)``, as Keras'
              ``validation_data``: ``x`` is used;
            - a ``tf.data.Dataset``, a ``keras.utils.PyDataset``, or any
              other iterable of batches (each batch ``x`` or ``(x, y, ...)``,
              e.g. a generator or a PyTorch ``DataLoader``).
        batch_size: Batch size for arrays.
        caller: Name used in error messages.

    Yields:
        The inputs of each batch (an array, or a list/dict of arrays for
        models with several inputs) as NumPy arrays.

    Raises:
        TypeError: For data of another kind.
        ValueError: For an invalid ``batch_size`` or empty data.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or (
        batch_size < 1
    ):
        raise ValueError(f"{caller}: `batch_size` must be a positive int, got {batch_size!r}.")
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(
            f"{caller}: `data` must be an array, a tuple (x, y), a dict or list of arrays, a "
            f"tf.data.Dataset or an iterable of batches, got {data!r}."
        )
    data = _inputs_of(data) if isinstance(data, tuple) else data
    if _is_array_like(data):
        x = keras.tree.map_structure(_to_numpy, data)
        total = _num_samples(x)
        if total == 0:
            raise ValueError(f"{caller}: `data` has no samples.")
        for start in range(0, total, int(batch_size)):
            yield keras.tree.map_structure(lambda a, s=start: a[s : s + int(batch_size)], x)
        return
    if isinstance(data, keras.utils.PyDataset):
        batches = (data[i] for i in range(len(data)))
    else:
        try:
            batches = iter(data)
        except TypeError:
            raise TypeError(
                f"{caller}: `data` must be an array, a tuple (x, y), a dict or list of arrays, "
                f"a tf.data.Dataset or an iterable of batches, got {type(data).__name__}."
            ) from None
    empty = True
    for batch in batches:
        empty = False
        yield keras.tree.map_structure(_to_numpy, _inputs_of(batch))
    if empty:
        raise ValueError(f"{caller}: `data` yielded no batch.")


def first_batch(data, batch_size=None, caller="first_batch"):
    """The inputs of the first batch of ``data`` (see :func:`iterate_batches`).

    With ``batch_size=None`` an array is taken whole.
    """
    if batch_size is None:
        if isinstance(data, tuple):
            data = _inputs_of(data)
        if _is_array_like(data):
            x = keras.tree.map_structure(_to_numpy, data)
            if _num_samples(x) == 0:
                raise ValueError(f"{caller}: `data` has no samples.")
            return x
        batch_size = 32
    return next(iter(iterate_batches(data, batch_size, caller=caller)))
