"""Which form of an activation op runs by default: fused or plain.

The fused form keeps only the input for the backward pass; the plain form is
the ``keras.ops`` composition left to the backend's autodiff. Which is faster,
and which keeps less memory, depends on the backend, on how the step is
compiled and on the device: XLA fuses a plain composition into a few loops by
itself and stores boolean masks where the fused backward stores the float
input, while TensorFlow's graph runtime and PyTorch run every op as its own
kernel. ``fused=None`` (the layers' and ops' default) picks the form measured
to be at most as slow and at most as large as the other in the setting the op
is traced in; ``fused=True`` or ``False`` forces one.

The decision is taken at trace time from three facts:

backend
    ``keras.backend.backend()``.
mode
    TensorFlow: ``"xla"`` inside a function compiled with
    ``jit_compile=True``, ``"graph"`` inside another ``tf.function``,
    ``"eager"`` otherwise. JAX: ``"jit"`` when the input is a tracer (under
    ``jax.jit``, ``jax.grad`` and the Keras trainer), ``"eager"`` otherwise.
    PyTorch: ``"compile"`` under ``torch.compile``, ``"eager"`` otherwise.
device
    ``"gpu"`` or ``"cpu"`` (``"tpu"`` on a JAX TPU).

:data:`FUSED_BY_DEFAULT` lists, for each measured setting, the ops whose
default is fused; everywhere else, including settings that were not measured,
the default is the plain composition. ``benchmarks/activations.py`` (CPU) and
``benchmarks/gpu.py`` (GPU) print the measurements, with a ``default`` row.
"""

import functools

import keras

#: Ops with a fused and a plain form.
OPS = ("lk_relu", "lk_selu", "lk_swish", "lk_prelu", "selu", "mish", "swish")

_LINKED = frozenset({"lk_relu", "lk_selu", "lk_swish"})

#: ``(backend, mode, device) -> ops whose default form is fused``. Settings
#: that are not listed, and ops that were not measured (``lk_prelu``), use
#: the plain form. See ``docs/benchmarks.rst`` for the measurements.
FUSED_BY_DEFAULT = {
    # XLA on a CPU: the fused linked ops take 0.5x-0.8x the plain time and
    # keep a quarter to a third of its memory; SELU, Mish and Swish are as fast
    # or faster plain (XLA fuses them by itself).
    ("tensorflow", "xla", "cpu"): _LINKED,
    # TensorFlow's graph runtime and eager mode: one kernel per op, so a
    # fused backward of several kernels loses (LKSELU 3.8x, SELU 1.5x), except
    # LKSwish, whose plain backward has even more kernels (fused 0.8x).
    ("tensorflow", "graph", "cpu"): frozenset({"lk_swish"}),
    ("tensorflow", "eager", "cpu"): frozenset({"lk_swish"}),
    # JAX under jit on a CPU: XLA copies the plain linked ops' halves into the
    # concatenation and keeps more than the input, and the fused linked ops,
    # Mish and Swish take 0.3x-0.7x the plain time; SELU is as fast plain.
    ("jax", "jit", "cpu"): _LINKED | {"mish", "swish"},
    # JAX under jit on a GPU: XLA fuses the plain composition (on an H200 the
    # fused linked ops take 1.26x to 1.65x its time, the others the same).
    ("jax", "jit", "gpu"): frozenset(),
    # PyTorch eager: the fused backward is several elementwise kernels where
    # autograd runs one (on an H200: 1.0x to 4x the plain form's time).
    ("torch", "eager", "cpu"): frozenset(),
    ("torch", "eager", "gpu"): frozenset(),
}


@functools.lru_cache(maxsize=1)
def _tensorflow_has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def setting(x=None):
    """The ``(backend, mode, device)`` an op on ``x`` is traced in.

    Args:
        x: The op's input tensor (used on JAX and PyTorch), or None.

    Returns:
        A tuple of three strings (see the module docstring).
    """
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        if tf.executing_eagerly():
            mode = "eager"
        else:
            from tensorflow.python.framework import ops as tf_ops
            from tensorflow.python.ops import control_flow_util

            graph = tf_ops.get_default_graph()
            mode = "xla" if control_flow_util.GraphOrParentsInXlaContext(graph) else "graph"
        return name, mode, "gpu" if _tensorflow_has_gpu() else "cpu"
    if name == "jax":
        import jax

        mode = "jit" if isinstance(x, jax.core.Tracer) else "eager"
        return name, mode, jax.default_backend()
    if name == "torch":
        import torch

        compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
        mode = "compile" if compiling is not None and compiling() else "eager"
        device = getattr(getattr(x, "device", None), "type", "cpu")
        return name, mode, "gpu" if device == "cuda" else device
    return name, "eager", "cpu"


def use_fused(op, fused, x=None):
    """Resolves an op's ``fused`` argument to a bool.

    Args:
        op: One of :data:`OPS`.
        fused: True or False (forced), or None (the measured default of the
            current setting, see :data:`FUSED_BY_DEFAULT`).
        x: The op's input tensor.

    Returns:
        True to run the fused form, False for the plain composition.
    """
    if fused is None:
        return op in FUSED_BY_DEFAULT.get(setting(x), ())
    if not isinstance(fused, bool):
        raise TypeError(f"{op}: `fused` must be None, True or False, got {fused!r}.")
    return fused
