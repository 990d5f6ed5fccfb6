"""Packaging: dependencies, the message without a backend, TensorFlow-only features.

A backend is made missing in a subprocess by a ``sitecustomize`` module whose
import hook refuses the backend's modules, as if they were not installed.
"""

import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRAS = ("[tensorflow]", "[jax]", "[torch]")
TENSORFLOW_EXTRA = 'pip install -e ".[tensorflow]"'

BLOCKER = """
import importlib.abc
import sys

BLOCKED = {blocked!r}


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


def _python(tmp_path, code, blocked=(), backend=None):
    """Runs ``code`` in a fresh interpreter where ``blocked`` modules are missing."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(blocked)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([ROOT, str(site)])
    env.pop("KERAS_BACKEND", None)
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )


def _pyproject(table="project"):
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)[table]


def _names(requirements):
    return {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in requirements}


def test_core_depends_on_keras_and_numpy_only():
    project = _pyproject()
    assert _names(project["dependencies"]) == {"keras", "numpy"}
    extras = project["optional-dependencies"]
    for backend in ("tensorflow", "jax", "torch"):
        assert _names(extras[backend]) == {backend}
    assert {"tensorflow", "jax", "pytest"} <= _names(extras["dev"])


def test_the_dev_extra_carries_the_plugin_that_addopts_use():
    # `pip install -e ".[dev]" && pytest` must not stop at "unrecognized arguments".
    addopts = _pyproject("tool")["pytest"]["ini_options"].get("addopts", "").split()
    xdist_options = {"-n", "--numprocesses", "--maxprocesses", "--dist"}
    if any(option.split("=")[0] in xdist_options for option in addopts):
        assert "pytest-xdist" in _names(_pyproject()["optional-dependencies"]["dev"])


@pytest.mark.parametrize("backend", [None, "jax", "torch"])
def test_import_without_any_backend_gives_one_message_naming_the_extras(tmp_path, backend):
    result = _python(
        tmp_path,
        "import linked_neurons",
        blocked=("tensorflow", "jax", "jaxlib", "torch"),
        backend=backend,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert result.stderr.count("Traceback") == 1, result.stderr  # no chained tracebacks
    last = lines[-1]
    assert last.startswith("ImportError: linked_neurons: the Keras backend"), last
    assert repr(backend or "tensorflow") in last, last
    for extra in EXTRAS:
        assert extra in last, last


def test_jax_backend_neither_needs_nor_imports_tensorflow(tmp_path):
    pytest.importorskip("jax")
    code = """
    import sys
    import numpy as np
    import keras
    import linked_neurons
    from linked_neurons import callbacks, monitoring, training, hessian, diversity

    assert "tensorflow" not in sys.modules
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(linked_neurons.LKReLU()(x))
    np.testing.assert_allclose(y, np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1))

    try:
        callbacks.ActivationHistograms("logs")
    except ImportError as error:
        assert TENSORFLOW_EXTRA in str(error), error
        assert "log_dir=None" in str(error), error
    else:
        raise AssertionError("ActivationHistograms(log_dir) without TensorFlow")
    callbacks.ActivationHistograms(None)  # statistics only: no TensorFlow needed

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    try:
        hessian.HessianOperator(model, "mse", (x, x[:, :1]))
    except NotImplementedError as error:
        assert TENSORFLOW_EXTRA in str(error), error
    else:
        raise AssertionError("HessianOperator on JAX")
    try:
        linked_neurons.IEBN(synchronized=True)
    except ValueError as error:
        assert TENSORFLOW_EXTRA in str(error), error
    else:
        raise AssertionError("IEBN(synchronized=True) on JAX")
    assert "tensorflow" not in sys.modules
    print("ok")
    """
    code = f"TENSORFLOW_EXTRA = {TENSORFLOW_EXTRA!r}\n" + textwrap.dedent(code)
    result = _python(tmp_path, code, blocked=("tensorflow",), backend="jax")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_read_the_docs_builds_as_here():
    """.readthedocs.yaml points at files that exist, fails on warnings, and its
    pinned requirements satisfy the package's own."""
    requirements = pytest.importorskip("packaging.requirements")
    with open(os.path.join(ROOT, ".readthedocs.yaml"), encoding="utf-8") as f:
        config = f.read()
    assert re.search(r"^version: 2$", config, re.MULTILINE)
    assert re.search(r"^\s+fail_on_warning: true$", config, re.MULTILINE)
    paths = re.findall(r"(?:configuration|requirements): (\S+)", config)
    assert "docs/conf.py" in paths and len(paths) == 2, paths
    for path in paths:
        assert os.path.isfile(os.path.join(ROOT, path)), path
    with open(os.path.join(ROOT, paths[1]), encoding="utf-8") as f:
        pins = [requirements.Requirement(line.strip()) for line in f if line[:1].isalpha()]
    pinned = {r.name.replace("-cpu", ""): next(iter(r.specifier)).version for r in pins}
    project = _pyproject()
    needed = project["dependencies"] + [
        r for extra in ("tensorflow", "docs") for r in project["optional-dependencies"][extra]
    ]
    for line in needed:
        requirement = requirements.Requirement(line)
        assert requirement.name in pinned, requirement.name
        assert requirement.specifier.contains(pinned[requirement.name]), (line, pinned)
