"""Every serializable object of the library is registered by ``import linked_neurons``."""

import os
import pkgutil

import keras
import numpy as np
import pytest
from conftest import run_python

import linked_neurons
from linked_neurons import LEAF
from linked_neurons.training import p24sl_optimizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHECK = """
import sys
import keras
import linked_neurons
print("LOADED", type(keras.models.load_model(sys.argv[1]).optimizer).__name__)
def names():
    return sorted(k for k in keras.saving.get_custom_objects() if k.startswith("linked_neurons>"))
before = names()
for module in sys.argv[2:]:
    __import__(module)
after = names()
print("MISSING", sorted(set(after) - set(before)))
print("COUNT", len(before))
"""


def _registering_modules():
    """Modules of the package whose source registers Keras-serializable objects."""
    found = []
    for info in pkgutil.walk_packages(linked_neurons.__path__, "linked_neurons."):
        if info.ispkg:
            continue
        path = os.path.join(ROOT, *info.name.split(".")) + ".py"
        with open(path, encoding="utf-8") as f:
            if "register_keras_serializable" in f.read():
                found.append(info.name)
    return found


@pytest.mark.slow  # in .ci/run's slow step: keeps the README test command under 5 minutes
def test_plain_import_registers_every_serializable_object(tmp_path):
    """One fresh process: a GroupedOptimizer model loads, nothing is left unregistered."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), LEAF(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=p24sl_optimizer(model), loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    path = os.path.join(str(tmp_path), "p24sl.keras")
    model.save(path)
    modules = _registering_modules()
    assert "linked_neurons.training.grouped" in modules and len(modules) >= 8
    out = run_python("-c", _CHECK, path, *modules).stdout
    assert "LOADED GroupedOptimizer" in out, out
    assert "MISSING []" in out, out
    assert int(out.split("COUNT")[1].split()[0]) >= 20, out


# The module each class was defined in before the packages were split by role;
# `.keras` files written then name these modules beside the registered names.
_EARLIER_MODULES = {
    "AttentiveNormalization": "linked_neurons.layers.normalization",
    "IEBN": "linked_neurons.layers.normalization",
    "NeuralActivation": "linked_neurons.layers.diversity",
    "InterpolatedActivation": "linked_neurons.layers.diversity",
    "DSPTModel": "linked_neurons.training",
    "GroupedOptimizer": "linked_neurons.training",
}


def _rewrite_modules(node, seen):
    if isinstance(node, dict):
        if node.get("class_name") in _EARLIER_MODULES and "module" in node:
            node["module"] = _EARLIER_MODULES[node["class_name"]]
            seen.add(node["class_name"])
        for value in node.values():
            _rewrite_modules(value, seen)
    elif isinstance(node, list):
        for value in node:
            _rewrite_modules(value, seen)


def test_files_naming_the_earlier_modules_still_load(tmp_path):
    """Registered names and packages are unchanged, so older `.keras` files load."""
    import json
    import zipfile

    from linked_neurons.layers import (
        IEBN,
        AttentiveNormalization,
        InterpolatedActivation,
        NeuralActivation,
    )
    from linked_neurons.training import DSPTModel

    inputs = keras.Input((2, 2, 3))
    h = AttentiveNormalization()(keras.layers.Conv2D(4, 1)(inputs))
    h = NeuralActivation(2, hidden_units=3, base="leakyrelu")(IEBN()(h))
    grid = np.linspace(-5.0, 5.0, 11)
    h = InterpolatedActivation(np.stack([np.tanh(grid), np.sin(grid)]))(h)
    h = LEAF()(keras.layers.Dense(3)(keras.layers.Flatten()(h)))
    model = DSPTModel(inputs, keras.layers.Dense(1)(h))
    model.compile(optimizer="adam", activation_optimizer=p24sl_optimizer(model), loss="mse")
    x = np.random.default_rng(0).normal(size=(4, 2, 2, 3)).astype("float32")
    model.fit(x, np.ones((4, 1)), epochs=1, verbose=0)
    saved = tmp_path / "now.keras"
    model.save(saved)
    earlier = tmp_path / "earlier.keras"
    seen = set()
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(earlier, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                _rewrite_modules(config, seen)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    assert seen == set(_EARLIER_MODULES)
    loaded = keras.models.load_model(earlier)
    assert type(loaded) is DSPTModel
    assert type(loaded.optimizer).__name__ == "GroupedOptimizer"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
