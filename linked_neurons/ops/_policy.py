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

The decision is taken at trace time from the setting, the three facts
below, and from the input's dtype (:data:`PLAIN_IN_DTYPE`):

backend
    ``keras.backend.backend()``.
mode
    TensorFlow: ``"xla"`` inside a function compiled with
    ``jit_compile=True``, ``"graph"`` inside another ``tf.function``,
    ``"eager"`` otherwise. JAX: ``"jit"`` when the op is being staged into a
    compiled computation (under ``jax.jit``, ``lax.scan``, ``jax.checkpoint``
    and the Keras trainer, which compiles its steps unless
    ``run_eagerly=True``), ``"eager"`` otherwise, including autodiff without
    ``jit`` (``jax.grad`` alone runs op by op).
    PyTorch: ``"compile"`` under ``torch.compile``, ``"eager"`` otherwise.
device
    ``"gpu"`` or ``"cpu"`` (``"tpu"`` on a JAX TPU).

:data:`FUSED_BY_DEFAULT` lists, for each measured setting, the ops whose
default is fused, and :data:`PLAIN_IN_DTYPE` the exceptions for an input
dtype in which the fused form measured slower or larger; everywhere else,
including settings that were not measured, the default is the plain
composition.
``benchmarks/activations.py`` (CPU) and ``benchmarks/gpu.py`` (GPU) print the
measurements, with a ``default`` row.
"""

import functools

import keras

#: Ops with a fused and a plain form.
OPS = ("lk_relu", "lk_selu", "lk_swish", "lk_prelu", "selu", "mish", "swish", "leaf", "ahaf")

#: ``(backend, mode, device) -> ops whose default form is fused``. Settings
#: that are not listed use the plain form. A form is the default only where
#: it measured at most the other's time and at most its memory, alone and
#: inside a network (the memory section of ``benchmarks/gpu.py``: 16 x
#: (Conv2D + activation)).
#: See ``docs/benchmarks.rst`` for the measurements.
FUSED_BY_DEFAULT = {
    # XLA on a CPU (both rows: the same compiler). Alone, the fused linked ops
    # take 0.6x-0.8x the plain time; inside a network XLA derives the plain
    # LKReLU's and Swish's backward from the output the next layer keeps
    # anyway, so their fused forms plan more memory (JAX: +6 %, +2 %) and are
    # not the default. Fused LKSELU plans 0.80x the plain memory, LKSwish the
    # same, Mish 0.78x at 0.71x the time (JAX). Fused LKPReLU plans 0.64x the
    # plain memory and is 0.80x-0.87x its time alone on JAX, but its network
    # step takes 1.24x-1.29x the plain one's there, so it is not JAX's
    # default. TensorFlow's XLA step (``--memory-xla``) agrees on the others
    # and differs on LKPReLU: the same peak as the plain form (within the
    # 8 MiB by which runs of one form differ) at 0.88x-0.97x its step time
    # (0.70x-0.83x alone), so it is fused there. Fused SELU plans 0.70x the
    # plain memory on JAX (float32 and float64) at 0.96x-0.99x the time alone
    # and 0.85x-1.03x in a network (five runs each), so it is fused there; under
    # TensorFlow's XLA its step took 1.10x the plain one's at 1.03x the peak.
    ("tensorflow", "xla", "cpu"): frozenset({"lk_selu", "lk_swish", "lk_prelu"}),
    ("jax", "jit", "cpu"): frozenset({"lk_selu", "lk_swish", "mish", "selu"}),
    # TensorFlow's graph runtime and eager mode: one kernel per op, so a
    # fused backward of several kernels loses time (LKReLU 1.1x-1.3x, LKSELU
    # 1.9x, SELU 2.2x), and its temporaries can raise the peak of a step
    # (LKSwish up to +6 %, SELU 1.9x), except for Mish (0.53x the peak at
    # 0.96x-0.98x the time), Swish (at most the plain peak, 0.92x its time
    # in a network) and LKPReLU (0.87x-0.90x the time alone, 0.96x-1.00x the
    # peak; its network steps, 0.87x-1.02x the plain ones, differ by less
    # than their noise): the plain LKPReLU's autodiff runs more kernels for
    # the slopes' gradients than the fused backward does.
    ("tensorflow", "graph", "cpu"): frozenset({"mish", "swish", "lk_prelu"}),
    ("tensorflow", "eager", "cpu"): frozenset({"mish", "swish", "lk_prelu"}),
    # JAX under jit on a GPU: XLA fuses the plain composition (on an H200 the
    # fused linked ops take 1.26x to 1.65x its time, the others the same).
    ("jax", "jit", "gpu"): frozenset(),
    # JAX without jit (Keras' ``run_eagerly=True``), op by op: the fused LKReLU
    # took 0.62x-0.69x the plain time alone, and in a network its step kept
    # 0.66x the residual bytes at 0.88x-1.06x the time (three runs; one form
    # timed twice differed by up to 16 %); the fused Mish tied alone
    # (0.98x-1.02x) and kept 0.33x the bytes at 0.95x-1.04x the time. The
    # fused LKSELU, LKSwish and SELU took 1.38x-1.81x the plain time alone.
    # Measured again in bfloat16, float16 and float64: the fused LKReLU kept
    # its lead, the fused Mish in float64 only (PLAIN_IN_DTYPE).
    ("jax", "eager", "cpu"): frozenset({"lk_relu", "mish"}),
    # PyTorch eager: the fused backward is several elementwise kernels where
    # autograd runs one (on an H200: 1.0x to 4x the plain form's time), except
    # for LKPReLU, whose plain autograd runs more for the slopes' gradients: on
    # a CPU its fused form takes 0.77x-0.78x the time alone and 0.91x-0.94x in
    # a network, keeping 0.66x the bytes (not measured on a GPU).
    ("torch", "eager", "cpu"): frozenset({"lk_prelu"}),
    ("torch", "eager", "gpu"): frozenset(),
    # PyTorch under torch.compile (Keras' ``jit_compile=True``) on a CPU:
    # alone, the fused forms take 0.97x-1.19x the plain form's time, except
    # LKReLU (0.37x-0.42x). In a network the
    # fused LKReLU's step takes 0.52x-0.58x the plain one's, but the
    # compiled graph saves 1.20x the bytes for the backward pass, so no op
    # is fused by default.
    ("torch", "compile", "cpu"): frozenset(),
}
# LEAF and AHAF are in no setting: on a CPU their fused forms took 1.08x-2.17x
# the plain time alone (TensorFlow with and without XLA, JAX's ``jit``,
# PyTorch eager; float32 and bfloat16), except LEAF under JAX's ``jit`` in
# float32 (0.72x), and in a network they kept more (JAX: 1.03x and 1.52x the
# planned bytes; TensorFlow's graph runtime: 1.28x and 1.20x the peak) or, on
# PyTorch, 0.51x the saved bytes at 1.22x-1.30x the step time. Their fused
# backward is the more accurate one for p3 / gamma (up to 1.5e-6 of the largest
# term in float32, against 8.9e-5 for the plain one: benchmarks/
# learnable_precision.py), which minibatch noise swamps.

#: ``(backend, mode, device) -> {dtype: ops}``: ops of :data:`FUSED_BY_DEFAULT`
#: whose default is nevertheless plain for inputs of that dtype, where the
#: fused form measured slower or larger in it. The table above was measured
#: in float32; the op alone was measured again in bfloat16, float16 and
#: float64 (every CPU setting of the table but TensorFlow's eager mode, which
#: follows the graph runtime) and the network under Keras' ``mixed_bfloat16``,
#: ``mixed_float16`` and ``float64`` policies. The fused forms kept their lead
#: or tied, except:
#:
#: - bfloat16: Mish under JAX's ``jit``, 1.06x-1.21x the plain time alone in
#:   four runs (its network steps within their noise); LKSwish under JAX's
#:   ``jit``, whose gradient step plans 4 MiB more than the plain one's
#:   (525.06 against 521.07 MiB; 0.87x the step time); Swish in TensorFlow's
#:   graph runtime, 1.05x-1.17x the plain peak in two runs; SELU under JAX's
#:   ``jit``, 1.38x-1.48x the plain time alone in three runs; Mish in JAX
#:   without ``jit``, 1.16x the plain time alone in two runs.
#: - float16: LKSELU under TensorFlow's XLA, 1.12x and 1.29x the plain time
#:   alone (0.67x-0.75x in float64); Swish in TensorFlow's graph runtime,
#:   0.96x-1.08x the plain peak in one run and 1.02x-1.07x in another; SELU
#:   under JAX's ``jit``, 1.13x and 1.28x the plain time alone; Mish in JAX
#:   without ``jit``, 1.30x and 1.35x the plain time alone.
PLAIN_IN_DTYPE = {
    ("jax", "jit", "cpu"): {
        "bfloat16": frozenset({"mish", "lk_swish", "selu"}),
        "float16": frozenset({"selu"}),
    },
    ("tensorflow", "xla", "cpu"): {"float16": frozenset({"lk_selu"})},
    ("jax", "eager", "cpu"): {d: frozenset({"mish"}) for d in ("bfloat16", "float16")},
    ("tensorflow", "graph", "cpu"): {d: frozenset({"swish"}) for d in ("bfloat16", "float16")},
    ("tensorflow", "eager", "cpu"): {d: frozenset({"swish"}) for d in ("bfloat16", "float16")},
}


@functools.lru_cache(maxsize=1)
def _tensorflow_has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def _jax_staging(x):
    """Whether JAX is staging ``x``'s op into a compiled computation.

    A tracer alone does not say so: ``jax.grad`` and ``jax.vmap`` without
    ``jit`` trace their inputs but run every op at once. JAX's trace stack
    does (``unsafe_am_i_under_a_jit``, not a public API); where this JAX
    version lacks it, every tracer counts as staged.
    """
    import jax

    if not isinstance(x, jax.core.Tracer):
        return False
    try:
        from jax._src.core import unsafe_am_i_under_a_jit
    except ImportError:
        return True
    try:
        return bool(unsafe_am_i_under_a_jit())
    except Exception:  # noqa: BLE001 - a private function: never let it break a call
        return True


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

        return name, "jit" if _jax_staging(x) else "eager", jax.default_backend()
    if name == "torch":
        import torch

        compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
        mode = "compile" if compiling is not None and compiling() else "eager"
        device = getattr(getattr(x, "device", None), "type", "cpu")
        return name, mode, "gpu" if device == "cuda" else device
    return name, "eager", "cpu"


#: The modes in which a compiler fuses elementwise ops into loops of its own.
COMPILED_MODES = ("xla", "jit", "compile")


def is_compiled(x=None):
    """Whether an op on ``x`` is traced for a fusing compiler (XLA, Inductor).

    Args:
        x: The op's input tensor, or None.

    Returns:
        True under XLA (TensorFlow's ``jit_compile=True``, JAX's ``jit``) and
        ``torch.compile``; False where every op runs as a kernel of its own.
    """
    return setting(x)[1] in COMPILED_MODES


def fused_by_default(op, where, dtype=None):
    """Whether ``op``'s default is the fused form in a setting and dtype.

    Args:
        op: One of :data:`OPS`.
        where: A ``(backend, mode, device)`` tuple, as :func:`setting` gives.
        dtype: The dtype of the op's input (a name or a dtype), or None.

    Returns:
        True where :data:`FUSED_BY_DEFAULT` lists ``op`` for ``where`` and
        :data:`PLAIN_IN_DTYPE` does not exclude it for ``dtype``.
    """
    if op not in FUSED_BY_DEFAULT.get(where, ()):
        return False
    if dtype is None:
        return True
    dtype = keras.backend.standardize_dtype(dtype)
    return op not in PLAIN_IN_DTYPE.get(where, {}).get(dtype, ())


def use_fused(op, fused, x=None):
    """Resolves an op's ``fused`` argument to a bool.

    Args:
        op: One of :data:`OPS`.
        fused: True or False (forced), or None (the measured default of the
            current setting and of ``x``'s dtype, see
            :func:`fused_by_default`).
        x: The op's input tensor.

    Returns:
        True to run the fused form, False for the plain composition.
    """
    if fused is None:
        return fused_by_default(op, setting(x), getattr(x, "dtype", None))
    if not isinstance(fused, bool):
        raise TypeError(f"{op}: `fused` must be None, True or False, got {fused!r}.")
    return fused
