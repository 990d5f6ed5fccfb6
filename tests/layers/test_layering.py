"""Data flows one way: no module of ``linked_neurons.layers`` imports the name registry."""

import ast
import pathlib

import keras
import pytest

import linked_neurons
from linked_neurons.layers import NeuralActivation, base

LAYERS = pathlib.Path(linked_neurons.__file__).resolve().parent / "layers"
REGISTRY = "linked_neurons.activations"


def _imported_modules(tree):
    """Every module an ``import`` statement of ``tree`` names, wherever it stands."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _registry_imports(source):
    return [m for m in _imported_modules(ast.parse(source))
            if m == REGISTRY or m.startswith(REGISTRY + ".")]


def test_no_layers_module_imports_the_registry():
    modules = sorted(LAYERS.rglob("*.py"))
    assert len(modules) >= 8
    offenders = {str(p.relative_to(LAYERS)): _registry_imports(p.read_text(encoding="utf-8"))
                 for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("source", [
    "from linked_neurons import activations",
    "import linked_neurons.activations as a",
    "def f():\n    from linked_neurons.activations import get\n",
])
def test_the_check_sees_registry_imports(source):
    assert _registry_imports(source)


def test_the_check_ignores_other_modules():
    assert _registry_imports("from linked_neurons.ops import activations\nimport keras") == []


def test_named_base_resolves_through_the_installed_lookup():
    # "leakyrelu" is a name of the registry only (Keras spells it "leaky_relu").
    layer = NeuralActivation(base="leakyrelu")
    assert layer.base == "leakyrelu"
    assert type(layer._base_fn).__name__ == "LeakyReLU"
    asked = []

    def lookup(name):
        asked.append(name)
        return keras.layers.Activation("tanh"), 1

    previous = base.set_name_lookup(lookup)
    try:
        assert NeuralActivation(base="LeakyReLU")._base_fn.activation.__name__ == "tanh"
        assert asked == ["leakyrelu"]
        base.set_name_lookup(None)
        with pytest.raises(ValueError, match="unknown base activation 'leakyrelu'"):
            NeuralActivation(base="leakyrelu")
    finally:
        base.set_name_lookup(previous)


def test_set_name_lookup_rejects_a_non_callable():
    with pytest.raises(TypeError, match="set_name_lookup: `lookup` must be callable"):
        base.set_name_lookup("registry")
