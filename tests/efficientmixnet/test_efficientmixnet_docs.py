"""The docstring examples of linked_neurons.efficientmixnet run, and so does the example."""

import doctest
import importlib
import pathlib
import re

import pytest
from conftest import run_python

MODULES = [
    "linked_neurons.efficientmixnet",
    "linked_neurons.efficientmixnet.config",
    "linked_neurons.efficientmixnet.blocks",
    "linked_neurons.efficientmixnet.builder",
]
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "efficientmixnet.py"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0


def test_public_classes_document_the_keras_sections():
    from linked_neurons.efficientmixnet import DropConnect, EfficientNetBuilder
    from linked_neurons.layers.convolutional import ChannelsFirstConv2D, MixedDepthwiseConv2D

    for cls in (MixedDepthwiseConv2D, DropConnect):
        for section in ("Args:", "Input shape:", "Output shape:", "Example:", "Reference:"):
            assert section in cls.__doc__, f"{cls.__name__} lacks {section}"
    for section in ("Args:", "Input shape:", "Output shape:", "Example:"):
        assert section in ChannelsFirstConv2D.__doc__
    for section in ("Args:", "Example:", "Reference:"):
        assert section in EfficientNetBuilder.__doc__


@pytest.mark.slow  # trains in a subprocess
def test_example_runs():
    pytest.importorskip("sklearn")  # the example trains on the embedded digits
    out = run_python(EXAMPLE, "--epochs", "2").stdout
    assert re.search(r"^B0 swish bn\s+5,330,564$", out, re.MULTILINE), out
    assert re.search(r"^B0 mixed swish bn\s+5,462,916$", out, re.MULTILINE), out
    assert "test accuracy:" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert 0.3 < accuracy <= 1.0  # well above chance (0.1)
