"""The examples in the public docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "linked_neurons.activations",
    "linked_neurons.layers.linked",
    "linked_neurons.layers.activations",
    "linked_neurons.layers.base",
    "linked_neurons.training",
    "linked_neurons.training.parameters",
    "linked_neurons.training.grouped",
    "linked_neurons.training.p24sl",
    "linked_neurons.training.dspt",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0


def test_every_public_layer_documents_the_keras_sections():
    import linked_neurons

    for name in ["LKReLU", "LKPReLU", "LKSELU", "LKSwish", "Linked", "SELU", "Mish", "Swish"]:
        doc = getattr(linked_neurons, name).__doc__
        for section in ("Args:", "Input shape:", "Output shape:", "Example:", "Reference:"):
            assert section in doc, f"{name} lacks {section}"
