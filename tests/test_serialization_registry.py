"""Every serializable object of the library is registered by ``import linked_neurons``."""

import os
import pkgutil

import keras
import numpy as np
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
