"""Checks, before anything else is imported, that Keras has a backend to run on.

Keras 3 declares no backend of its own: TensorFlow, JAX and PyTorch are the
package's ``tensorflow``, ``jax`` and ``torch`` extras. Without the selected
backend ``import keras`` fails deep inside Keras with a bare
``No module named ...``; :func:`require_backend` turns that into one message
that says which backend was asked for and how to install it.
:func:`versions` records the backend in use, with its version and the
hardware, for the run folders of the studies.
"""

import importlib
import os
import platform
import sys

# Top-level modules whose absence means a missing backend, not a broken Keras.
_BACKEND_MODULES = {"tensorflow", "tensorflow_core", "tf_keras", "jax", "jaxlib", "torch"}

#: How to install a backend.
INSTALL_HINT = (
    "the package's extra [tensorflow] (the default backend), [jax] or [torch] "
    '(from a clone: pip install -e ".[tensorflow]"), or the backend itself '
    "(pip install tensorflow)"
)
#: How to install TensorFlow beside another backend.
TENSORFLOW_HINT = (
    'the [tensorflow] extra (from a clone: pip install -e ".[tensorflow]") '
    "or pip install tensorflow"
)


def _selected_backend():
    """The backend Keras was asked for (its config module, else the environment)."""
    try:
        config = importlib.import_module("keras.src.backend.config")
        return config.backend() or "tensorflow"
    except Exception:  # keras itself missing or half-imported
        return os.environ.get("KERAS_BACKEND") or "tensorflow"


def missing_backend_message(error):
    """The message for a backend module that failed to import with ``error``."""
    backend = _selected_backend()
    return (
        f"linked_neurons: the Keras backend {backend!r} is not installed ({error}). "
        f"Keras 3 needs one of TensorFlow, JAX or PyTorch; install it with "
        f"{INSTALL_HINT}, and select JAX or PyTorch with "
        f"KERAS_BACKEND=jax or KERAS_BACKEND=torch before Keras is imported."
    )


def require_backend():
    """Imports Keras; raises one clear ``ImportError`` if its backend is missing.

    Raises:
        ImportError: The selected backend (``KERAS_BACKEND``, TensorFlow by
            default) cannot be imported. The message names the three extras.
    """
    try:
        importlib.import_module("keras")
    except ModuleNotFoundError as error:
        root = (error.name or "").split(".")[0]
        if root not in _BACKEND_MODULES:
            raise
        raise ImportError(missing_backend_message(error), name=root) from None


def tensorflow_required(feature):
    """Imports and returns TensorFlow, or raises naming ``feature`` and the extra.

    Args:
        feature: What needs TensorFlow, e.g. ``"ActivationHistograms(log_dir=...)"``.

    Raises:
        ImportError: TensorFlow is not installed.
    """
    try:
        return importlib.import_module("tensorflow")
    except ModuleNotFoundError as error:
        raise ImportError(
            f"{feature} needs TensorFlow, which is not installed ({error}). "
            f"Install it with {TENSORFLOW_HINT}; it can sit beside another Keras backend."
        ) from None


def versions():
    """Versions of Python, the library, Keras and its backend, and the hardware.

    Returns:
        A dict of str: ``python``, ``linked_neurons``, ``keras``, ``backend``
        (its name), ``backend_version`` and ``hardware`` (the CPU model and
        the cores this process may use).
    """
    import keras

    import linked_neurons

    backend = keras.backend.backend()
    module = sys.modules.get(backend)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle
                        if line.lower().startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"python": platform.python_version(), "linked_neurons": linked_neurons.__version__,
            "keras": keras.__version__, "backend": backend,
            "backend_version": getattr(module, "__version__", ""),
            "hardware": f"{cpu}, {cores} cores available"}
