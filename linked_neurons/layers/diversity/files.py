"""Files of sampled activation curves: ``.npz``, ``.json`` and text tables."""

import json
import os
import zipfile

import numpy as np

from linked_neurons._validation import check_numbers


def _load_text_table(path, where):
    try:
        values = np.loadtxt(path, dtype="float64", ndmin=2)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{where}: cannot read {path!r} as a table of numbers: {err}") from None
    return values


def save_curves(path, y_values, x_values, metadata=None):
    """Saves sampled activations: ``.npz`` (arrays + JSON metadata) or ``.json``."""
    path = os.fspath(path)
    y = np.asarray(y_values, dtype="float64")
    x = np.asarray(x_values, dtype="float64")
    meta = json.dumps(metadata or {})
    if path.endswith(".npz"):
        np.savez(path, y_values=y, x_values=x, metadata=np.asarray(meta))
    elif path.endswith(".json"):
        with open(path, "w") as f:
            json.dump({"x_values": x.tolist(), "y_values": y.tolist(),
                       "metadata": json.loads(meta)}, f)
    else:
        raise ValueError(f"save_curves: the file name must end in .npz or .json, got {path!r}.")


def _float_array(value, what, path, where):
    try:
        return np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: {path!r} holds {what} that are not a rectangular array of numbers."
        ) from None


def _metadata(meta, path, where):
    if not isinstance(meta, dict):
        raise ValueError(
            f"{where}: {path!r} has metadata {meta!r} of type {type(meta).__name__}; "
            f"expected a JSON object (dict)."
        )
    return meta


def _load_npz(path, where):
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"y_values", "x_values"} - set(data.files)
            if missing:
                raise ValueError(f"{where}: {path!r} lacks the arrays {sorted(missing)}.")
            meta = {}
            if "metadata" in data.files:
                try:
                    meta = json.loads(str(data["metadata"]))
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f"{where}: {path!r} has metadata that is not valid JSON: {err}."
                    ) from None
            y = _float_array(data["y_values"], "y_values", path, where)
            x = _float_array(data["x_values"], "x_values", path, where)
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as err:
        raise ValueError(
            f"{where}: {path!r} is not a readable .npz file ({type(err).__name__}: {err})."
        ) from None
    return y, x, _metadata(meta, path, where)


def _load_json(path, where):
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{where}: {path!r} is not valid JSON: {err}.") from None
    if not isinstance(data, dict) or "y_values" not in data:
        raise ValueError(f"{where}: {path!r} is not a saved activation (no 'y_values').")
    y = _float_array(data["y_values"], "y_values", path, where)
    x = data.get("x_values")
    x = None if x is None else _float_array(x, "x_values", path, where)
    return y, x, _metadata(data.get("metadata", {}), path, where)


def load_curves(path, x_range=(-5.0, 5.0)):
    """Reads ``(y_values, x_values, metadata)`` from ``.npz``, ``.json`` or text.

    Raises:
        FileNotFoundError: No such file.
        ValueError: A file that cannot be read (truncated, malformed JSON,
            non-numeric or ragged values, metadata that is not a dict) or a bad
            ``x_range``; the message names the file.
    """
    path = os.fspath(path)
    where = "InterpolatedActivation.from_file"
    x_range = check_numbers(where, "x_range", x_range, length=2)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no file {path!r}.")
    if path.endswith(".npz"):
        return _load_npz(path, where)
    if path.endswith(".json"):
        return _load_json(path, where)
    y = _load_text_table(path, where)
    x = np.linspace(x_range[0], x_range[1], y.shape[1])
    return y, x, {}
