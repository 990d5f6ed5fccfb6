"""Speed and memory of the library on one GPU, as Markdown tables.

Run from the root of a clone with the backend chosen by ``KERAS_BACKEND``
(``jax`` or ``torch``; ``tensorflow`` where it is installed)::

    KERAS_BACKEND=jax python benchmarks/gpu.py --output results_gpu_jax.md
    KERAS_BACKEND=torch python benchmarks/gpu.py --output results_gpu_torch.md
    KERAS_BACKEND=jax python benchmarks/gpu.py --small      # CPU smoke run, seconds

Sections, run in this order (or the order ``--sections`` gives) while
``--time-cap`` seconds last (a row that would start after the cap is printed
as skipped, so the script ends in time):

ops
    Forward and backward (the output and the vector-Jacobian product for a
    fixed random upstream gradient) of LKReLU, LKSELU, LKSwish, SELU, Mish
    and Swish on ``x = [256, 56, 56, 64]``, in float32 and bfloat16: the
    default form (``fused=None``, with the form it picked), ``fused=True``,
    ``fused=False`` and the framework's own functions (``jax.nn`` /
    ``torch.nn.functional`` / ``tf.nn``), against the physical floor: the
    bytes the step must move (read ``x`` and the upstream gradient, write the
    output and ``dx``) over the copy bandwidth measured in the same run.
    JAX steps run under ``jax.jit``, PyTorch steps eagerly, TensorFlow steps
    in a ``tf.function`` with and without XLA.
mixconv
    ``MixedDepthwiseConv2D([3, 5, 7, 9])`` forward and backward (input and
    kernels) on ``[64, 56, 56, 192]``, computed as grouped convolutions, as
    shifted slices and as one zero-padded kernel, against
    ``keras.layers.DepthwiseConv2D(9)`` and ``DepthwiseConv2D(3)``.
b0
    ``EfficientNetBuilder`` B0 (batch 64 at 224x224, 1000 classes, Adam):
    median time of ``model.train_on_batch`` on inputs already on the device,
    with swish and mish, each plain and with ``mixed=True`` (MixConv, in the
    implementation the layer picks and as grouped convolutions). The mixed
    rows are divided by the builder's B0 with the same activation (the
    project's target: at most 1.25x).
resnet
    ``linked_neurons.models.resnet50_cifar`` at width 1/8, batch 128,
    32x32x3, 10 classes, Adam: median train step of LK-ReLU, ReLU+BN,
    LK-ReLU+BN, SELU, SELU+BN and LK-SELU, with ratios to LK-ReLU and the
    linked-neurons paper's ratios.
b0-extra
    More B0 rows: ``keras.applications.EfficientNetB0(weights=None)`` (the
    ``vs keras`` column), lkrelu, AttentiveNormalization (``typeBN="an"``,
    ``n_mixture=5``), IEBN, and mixed with the padded kernel forced.
memory
    Peak device memory of a training step of a deep linked network (16
    blocks of ``Conv2D`` + ``LKReLU``, batch 256 at 32x32) with the default
    form, ``fused=True`` and ``fused=False``. JAX: ``peak_bytes_in_use`` of
    the device's ``memory_stats()``, each variant in a fresh process (the
    peak cannot be reset, and it includes the scratch memory of XLA's
    autotuning at compile time), plus the temporary bytes of XLA's buffer
    plan for a jitted gradient step (``memory_analysis()``, also on a CPU);
    PyTorch: ``torch.cuda.max_memory_allocated`` after
    ``reset_peak_memory_stats``, plus the bytes autograd saves for the
    backward pass (also on a CPU); TensorFlow: ``get_memory_info`` on a GPU.

Times are medians over ``--repeats`` timed groups of calls after warm-up;
every group ends by waiting for the device (``block_until_ready`` or
``torch.cuda.synchronize``). ``--small`` shrinks every size so that the whole
script runs on a CPU in seconds (the test suite runs it); its numbers say
nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SECTIONS = ("ops", "mixconv", "b0", "resnet", "memory", "b0-extra")
OPS = ("lkrelu", "lkselu", "lkswish", "selu", "mish", "swish")
LINKED = ("lkrelu", "lkselu", "lkswish")
POLICY_NAME = {"lkrelu": "lk_relu", "lkselu": "lk_selu", "lkswish": "lk_swish",
               "selu": "selu", "mish": "mish", "swish": "swish"}
RESNET_VARIANTS = (("lkrelu", "LK-ReLU", "lkrelu", False), ("relu_bn", "ReLU+BN", "relu", True),
                   ("lkrelu_bn", "LK-ReLU+BN", "lkrelu", True), ("selu", "SELU", "selu", False),
                   ("selu_bn", "SELU+BN", "selu", True), ("lkselu", "LK-SELU", "lkselu", False))
MIXCONV_TARGET = 1.25


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true",
                   help="tiny sizes for a CPU smoke run (seconds; numbers mean nothing)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                   help="sections to run, in the order given (default: all, in the order "
                        "of the docstring)")
    p.add_argument("--time-cap", type=float, default=None,
                   help="seconds after which no new row starts (default 600, 120 small)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed groups per row (default 7, 2 small)")
    p.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS),
                   help="ops of the ops section (default: all)")
    p.add_argument("--dtypes", nargs="+", choices=("float32", "bfloat16"),
                   default=["float32", "bfloat16"], help="dtypes of the ops section")
    p.add_argument("--ops-shape", type=int, nargs=4, default=None,
                   help="input shape of the ops section (default 256 56 56 64; 4 8 8 16 small)")
    p.add_argument("--b0-rows", nargs="+", default=None,
                   help="keys of the B0 rows to run (default: all of the section)")
    p.add_argument("--output", default=None, help="also write the Markdown to this file")
    p.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)  # subprocess mode
    args = p.parse_args(argv)
    if args.time_cap is None:
        args.time_cap = 120.0 if args.small else 600.0
    if args.repeats is None:
        args.repeats = 2 if args.small else 7
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    return args


# ----------------------------------------------------------------------------- backend glue
class Backend:
    """Timing, gradients and memory for the active Keras backend."""

    def __init__(self):
        import keras

        self.name = keras.backend.backend()
        if self.name == "jax":
            import jax

            self.gpu = jax.default_backend() == "gpu"
            self.device = jax.devices()[0].device_kind
            self.versions = f"jax {jax.__version__}"
        elif self.name == "torch":
            import torch

            self.gpu = torch.cuda.is_available()
            self.device = torch.cuda.get_device_name(0) if self.gpu else platform.processor()
            self.versions = f"torch {torch.__version__}"
        elif self.name == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            self.gpu = bool(gpus)
            self.device = gpus[0].name if gpus else platform.processor()
            self.versions = f"tensorflow {tf.__version__}"
        else:
            raise SystemExit(f"gpu.py: backend {self.name!r} is not supported")
        self.device = self.device or platform.machine()
        self.versions = f"Keras {keras.__version__}, {self.versions}"

    # -------------------------------------------------------------- tensors, sync
    def tensor(self, array, dtype=None):
        from keras import ops

        return ops.convert_to_tensor(array, dtype=dtype)

    def sync(self, tree):
        if self.name == "jax":
            import jax

            jax.block_until_ready(tree)
        elif self.name == "torch":
            import torch

            if self.gpu:
                torch.cuda.synchronize()
        else:
            import tensorflow as tf

            for t in tf.nest.flatten(tree):
                if hasattr(t, "numpy"):
                    t.numpy()
                    break

    def modes(self):
        """Compile modes of the op steps: (label, option)."""
        if self.name == "jax":
            return [("jit", True)]
        if self.name == "torch":
            return [("eager", False)]
        return [("xla", True), ("graph", False)]

    def vjp_step(self, fn, compiled=True):
        """``step(g, *args) -> (fn(*args), grads of sum(fn * g) w.r.t. every arg)``."""
        if self.name == "jax":
            import jax

            def step(g, *args):
                y, vjp = jax.vjp(fn, *args)
                return y, vjp(g)

            return jax.jit(step) if compiled else step
        if self.name == "torch":
            import torch

            def step(g, *args):
                args = [a.detach().requires_grad_(True) for a in args]
                y = fn(*args)
                return y, torch.autograd.grad(y, args, g)

            return step
        import tensorflow as tf

        def tf_step(g, *args):
            with tf.GradientTape() as tape:
                tape.watch(args)
                y = fn(*args)
            return y, tape.gradient(y, args, output_gradients=g)

        return tf.function(tf_step, jit_compile=compiled)

    def copy_fn(self):
        """A function that copies a tensor (a read and a write of every byte)."""
        if self.name == "jax":
            import jax

            return jax.jit(lambda a: a + 0)
        if self.name == "torch":
            import torch

            return lambda a: torch.clone(a)
        import tensorflow as tf

        return tf.function(lambda a: tf.identity(a) + 0, jit_compile=True)

    # -------------------------------------------------------------- memory
    def reset_peak(self):
        if self.name == "torch" and self.gpu:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        elif self.name == "tensorflow" and self.gpu:
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")

    def _memory(self, jax_key, torch_name, tf_key):
        """One device-memory figure from the backend's own counters, or None."""
        if self.name == "jax":
            import jax

            stats = jax.devices()[0].memory_stats()
            return None if not stats else stats.get(jax_key)
        if self.name == "torch":
            import torch

            return getattr(torch.cuda, torch_name)() if self.gpu else None
        if self.gpu:
            import tensorflow as tf

            return tf.config.experimental.get_memory_info("GPU:0")[tf_key]
        return None

    def peak_bytes(self):
        """Peak device bytes in use since the last reset (JAX: since the start), or None."""
        return self._memory("peak_bytes_in_use", "max_memory_allocated", "peak")

    def in_use_bytes(self):
        """Device bytes in use now, or None."""
        return self._memory("bytes_in_use", "memory_allocated", "current")


def time_calls(backend, call, repeats, inner, warmup=1):
    """Median and min milliseconds of one ``call()`` over ``repeats`` groups of ``inner``."""
    for _ in range(warmup):
        backend.sync(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = None
        for _ in range(inner):
            out = call()
        backend.sync(out)
        times.append((time.perf_counter() - start) * 1000 / inner)
    return statistics.median(times), min(times)


class Clock:
    """The time cap: rows that would start after it are skipped."""

    def __init__(self, cap):
        self.start = time.perf_counter()
        self.cap = cap

    def left(self):
        return self.cap - (time.perf_counter() - self.start)

    def elapsed(self):
        return time.perf_counter() - self.start


# ----------------------------------------------------------------------------- output
class Report:
    def __init__(self, path):
        self.path = path
        self.lines = []

    def emit(self, text=""):
        print(text, flush=True)
        self.lines.append(text)
        if self.path:
            with open(self.path, "w") as f:
                f.write("\n".join(self.lines) + "\n")

    def table(self, headers, rows):
        self.emit("| " + " | ".join(headers) + " |")
        self.emit("|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|")
        for row in rows:
            self.emit("| " + " | ".join(str(c) for c in row) + " |")
        self.emit()


def fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}f}"


def mib(b):
    return "-" if b is None else f"{b / 2**20:,.2f}"


# ----------------------------------------------------------------------------- ops
def framework_fn(backend, op):
    """The framework's own function for ``op`` (channels last)."""
    if backend.name == "jax":
        import jax
        import jax.numpy as jnp

        mish = getattr(jax.nn, "mish", None) or (lambda x: x * jnp.tanh(jax.nn.softplus(x)))
        base = {"lkrelu": jax.nn.relu, "lkselu": jax.nn.selu, "lkswish": jax.nn.silu,
                "selu": jax.nn.selu, "mish": mish, "swish": jax.nn.silu}[op]
        if op in LINKED:
            return lambda x: jnp.concatenate([base(x), base(-x)], axis=-1)
        return base
    if backend.name == "torch":
        import torch
        import torch.nn.functional as F

        base = {"lkrelu": F.relu, "lkselu": F.selu, "lkswish": F.silu, "selu": F.selu,
                "mish": F.mish, "swish": F.silu}[op]
        if op in LINKED:
            return lambda x: torch.cat([base(x), base(-x)], dim=-1)
        return base
    import tensorflow as tf

    if op == "lkrelu":
        return lambda x: tf.nn.crelu(x, axis=-1)
    base = {"lkselu": tf.nn.selu, "lkswish": tf.nn.silu, "selu": tf.nn.selu,
            "mish": lambda x: x * tf.math.tanh(tf.math.softplus(x)), "swish": tf.nn.silu}[op]
    if op in LINKED:
        return lambda x: tf.concat([base(x), base(-x)], axis=-1)
    return base


def library_fn(op, fused, picked=None):
    from linked_neurons import ops as lo
    from linked_neurons.ops import _policy

    fn = {"lkrelu": lo.lk_relu, "lkselu": lo.lk_selu, "lkswish": lo.lk_swish,
          "selu": lo.selu, "mish": lo.mish, "swish": lo.swish}[op]

    def call(x):
        if picked is not None:
            picked.append(_policy.use_fused(POLICY_NAME[op], fused, x))
        return fn(x, fused=fused)

    return call


def copy_bandwidth(backend, nbytes, repeats, inner):
    """Bytes per ms of a device copy (read + write) of a buffer of ``nbytes``."""
    import numpy as np

    a = backend.tensor(np.random.default_rng(0).normal(size=nbytes // 4).astype("float32"))
    copy = backend.copy_fn()
    ms, _ = time_calls(backend, lambda: copy(a), repeats, inner)
    return 2 * nbytes / ms, ms


def run_ops(backend, args, clock, report):
    import numpy as np

    shape = tuple(args.ops_shape or ((4, 8, 8, 16) if args.small else (256, 56, 56, 64)))
    inner = 1 if args.small else 10
    rng = np.random.default_rng(0)
    x32 = 3 * rng.standard_normal(size=shape, dtype=np.float32)
    g32 = {k: rng.standard_normal(size=shape[:-1] + (shape[-1] * k,), dtype=np.float32)
           for k in (1, 2)}
    nbytes = int(np.prod(shape)) * 4
    bandwidth, copy_ms = copy_bandwidth(backend, max(nbytes, 2**20 if args.small else 2**30),
                                        args.repeats, inner)
    report.emit(f"## Activation ops, fwd+bwd of x = {list(shape)} (backend {backend.name})")
    report.emit()
    report.emit(f"Copy bandwidth (read + write) measured in this run: "
                f"{bandwidth / 1e6:,.0f} GB/s. Floor = bytes moved / that bandwidth; a linked "
                f"op moves 6 bytes per input byte (x, g: 2C, y: 2C, dx), a plain one 4.")
    report.emit()
    headers = ["op", "dtype", "mode", "default ms", "default picks", "fused ms", "plain ms",
               "framework ms", "floor ms", "default / plain", "fused / plain",
               "framework / floor"]
    rows = []
    for dtype in args.dtypes:
        x = backend.tensor(x32, dtype=dtype)
        grads = {k: backend.tensor(v, dtype=dtype) for k, v in g32.items()}
        for op in args.ops:
            g = grads[2 if op in LINKED else 1]
            itemsize = 2 if dtype == "bfloat16" else 4
            moved = int(np.prod(shape)) * itemsize * (6 if op in LINKED else 4)
            floor = moved / bandwidth
            for mode, compiled in backend.modes():
                if clock.left() <= 0:
                    rows.append([op, dtype, mode] + ["skipped (time cap)"] + [""] * 8)
                    continue
                picked = []
                fns = {"default": library_fn(op, None, picked), "fused": library_fn(op, True),
                       "plain": library_fn(op, False), "framework": framework_fn(backend, op)}
                ms = {}
                for name, fn in fns.items():
                    step = backend.vjp_step(fn, compiled)
                    call = lambda s=step, g=g, x=x: s(g, x)  # noqa: E731
                    ms[name], _ = time_calls(backend, call, args.repeats, inner)
                form = "-" if not picked else ("fused" if picked[-1] else "plain")
                rows.append([op, dtype, mode, fmt(ms["default"]), form, fmt(ms["fused"]),
                             fmt(ms["plain"]), fmt(ms["framework"]), fmt(floor),
                             fmt(ms["default"] / ms["plain"], 2),
                             fmt(ms["fused"] / ms["plain"], 2),
                             fmt(ms["framework"] / floor, 2)])
    report.table(headers, rows)
    return {"copy_ms": copy_ms, "bandwidth_GBps": bandwidth / 1e6}


# ----------------------------------------------------------------------------- mixconv
def run_mixconv(backend, args, clock, report):
    import keras
    import numpy as np

    from linked_neurons.layers.convolutional import MixedDepthwiseConv2D

    shape = (2, 16, 16, 12) if args.small else (64, 56, 56, 192)
    inner = 1 if args.small else 10
    rng = np.random.default_rng(1)
    x = backend.tensor(rng.normal(size=shape).astype("float32"))
    g = backend.tensor(rng.normal(size=shape).astype("float32"))
    layers = {}
    for impl in ("groups", "shifts", "padded"):
        layer = MixedDepthwiseConv2D([3, 5, 7, 9])
        layer._implementation = impl
        layers[f"MixedDepthwiseConv2D([3,5,7,9]), {impl}"] = layer
    layers["DepthwiseConv2D(9), padded weights"] = keras.layers.DepthwiseConv2D(
        9, padding="same", use_bias=False)
    layers["DepthwiseConv2D(3)"] = keras.layers.DepthwiseConv2D(3, padding="same",
                                                                 use_bias=False)
    report.emit(f"## MixedDepthwiseConv2D fwd+bwd (input and kernels), x = {list(shape)} "
                f"float32 (backend {backend.name})")
    report.emit()
    rows, outputs = [], {}
    reference_ms = None
    for label, layer in layers.items():
        if clock.left() <= 0:
            rows.append([label, "skipped (time cap)", "", ""])
            continue
        layer.build(shape)
        mixed = layers["MixedDepthwiseConv2D([3,5,7,9]), groups"]
        if label.startswith("DepthwiseConv2D(9)"):
            layer.set_weights([keras.ops.convert_to_numpy(mixed.padded_kernel())])
        elif label.startswith("Mixed") and layer is not mixed:
            layer.set_weights(mixed.get_weights())  # the grouped layer's weights
        weights = [w.value for w in layer.trainable_weights]

        def fn(x, *w, layer=layer):
            y, _ = layer.stateless_call(list(w), [], x)
            return y

        step = backend.vjp_step(fn)
        ms, _ = time_calls(backend, lambda s=step, w=weights: s(g, x, *w), args.repeats, inner)
        y = keras.ops.convert_to_numpy(step(g, x, *weights)[0])
        outputs[label] = y
        if label.startswith("DepthwiseConv2D(9)"):
            reference_ms = ms
        rows.append([label, fmt(ms), "", ""])
    for row in rows:
        if reference_ms and row[1] not in ("skipped (time cap)",):
            row[2] = fmt(float(row[1]) / reference_ms, 2)
    base = outputs.get("MixedDepthwiseConv2D([3,5,7,9]), groups")
    for row in rows:
        if base is not None and row[0] in outputs and not row[0].endswith("(3)"):
            row[3] = f"{float(np.max(np.abs(outputs[row[0]] - base))):.1e}"
    report.table(["layer", "ms", "vs padded DepthwiseConv2D(9)", "max |y - groups|"], rows)


# ----------------------------------------------------------------------------- models
def _model_step_ms(backend, model, x, y, repeats, inner):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - start
    ms, low = time_calls(backend, lambda: model.train_on_batch(x, y, return_dict=False),
                         repeats, inner)
    return ms, low, first


def set_mixconv_implementation(model, impl):
    from linked_neurons.layers.convolutional import MixedDepthwiseConv2D

    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, MixedDepthwiseConv2D):
            layer._implementation = impl
            count += 1
    return count


def b0_models(args, which):
    """``(label, key, factory)`` of the B0 rows in ``which`` ("core" or "extra")."""
    import keras

    from linked_neurons.efficientmixnet import EfficientNetBuilder

    size = 32 if args.small else 224
    classes = 10 if args.small else 1000

    def builder(impl=None, **kw):
        def make():
            model = EfficientNetBuilder(input_shape=(size, size, 3), classes=classes,
                                        **kw).default_model("B0")
            if impl:
                set_mixconv_implementation(model, impl)
            return model

        return make

    core = [
        ("EfficientNetBuilder B0", "b0", builder()),
        ("B0, mixed=True (automatic MixConv)", "mixed", builder(mixed=True)),
        ("B0, mixed=True, grouped convs", "mixed_groups", builder("groups", mixed=True)),
        ("B0, activation=mish", "b0_mish", builder(activation="mish")),
        ("B0, mixed=True, activation=mish", "mixed_mish",
         builder(mixed=True, activation="mish")),
    ]
    extra = [
        ("keras.applications.EfficientNetB0", "keras",
         lambda: keras.applications.EfficientNetB0(weights=None, input_shape=(size, size, 3),
                                                   classes=classes)),
        ("B0, activation=lkrelu", "lkrelu", builder(activation="lkrelu")),
        ('B0, typeBN="an", n_mixture=5', "an", builder(typeBN="an", n_mixture=5)),
        ('B0, typeBN="iebn"', "iebn", builder(typeBN="iebn")),
        ("B0, mixed=True, padded kernel", "mixed_padded", builder("padded", mixed=True)),
        ("B0, mixed=True, shifted slices", "mixed_shifts", builder("shifts", mixed=True)),
    ]
    return core if which == "core" else extra


def run_b0(backend, args, clock, report, which, results):
    import numpy as np

    batch, size, classes = (2, 32, 10) if args.small else (64, 224, 1000)
    inner = 1 if args.small else 3
    rng = np.random.default_rng(2)
    x = backend.tensor(rng.normal(size=(batch, size, size, 3)).astype("float32"))
    y = backend.tensor(rng.integers(0, classes, size=(batch,)).astype("int32"))
    for label, key, make in b0_models(args, which):
        if args.b0_rows and key not in args.b0_rows:
            continue
        if clock.left() <= 0:
            results[key] = (label, None, None, None)
            continue
        import keras

        keras.backend.clear_session()
        ms, low, first = _model_step_ms(backend, make(), x, y, args.repeats, inner)
        results[key] = (label, ms, low, first)
        print(f"  b0 {key}: {ms:.1f} ms (first call {first:.1f} s)", file=sys.stderr, flush=True)
    same_activation = {"mixed": "b0", "mixed_groups": "b0", "mixed_padded": "b0",
                       "mixed_shifts": "b0", "mixed_mish": "b0_mish"}
    rows, checks = [], []
    for key, (label, ms, low, first) in results.items():
        if ms is None:
            rows.append([label, "skipped (time cap)", "", "", "", "", ""])
            continue
        keras_ms = results.get("keras", (None, None))[1]
        base = same_activation.get(key)
        base_ms = results.get(base, (None, None))[1] if base else None
        ratio = None if base_ms is None else ms / base_ms
        vs_keras = None if keras_ms is None else ms / keras_ms
        rows.append([label, fmt(ms, 1), fmt(low, 1), fmt(vs_keras, 2), fmt(ratio, 2),
                     f"{batch * 1000 / ms:,.0f}", fmt(first, 1)])
        if ratio is not None:
            verdict = "PASS" if ratio <= MIXCONV_TARGET else "MISS"
            checks.append(f"- {verdict}: {label} {ratio:.2f}x the builder's B0 with the same "
                          f"activation (target <= {MIXCONV_TARGET}x)")
    report.emit(f"## EfficientNet B0, batch {batch} at {size}x{size}x3, {classes} classes, Adam, "
                f"train_on_batch (backend {backend.name}{'' if which == 'core' else ', all rows'})")
    report.emit()
    report.table(["model", "step ms", "min", "vs keras", "vs builder, same act.", "images/s",
                  "first call s"], rows)
    if checks and not args.small:
        for line in checks:
            report.emit(line)
        report.emit()


def run_resnet(backend, args, clock, report):
    import keras
    import numpy as np

    from linked_neurons.experiments.speed import PAPER_RATIOS
    from linked_neurons.models import resnet50_cifar

    batch = 4 if args.small else 128
    inner = 1 if args.small else 5
    rng = np.random.default_rng(3)
    x = backend.tensor(rng.normal(size=(batch, 32, 32, 3)).astype("float32"))
    y = backend.tensor(rng.integers(0, 10, size=(batch,)).astype("int32"))
    results = {}
    for key, label, activation, bn in RESNET_VARIANTS:
        if clock.left() <= 0:
            results[key] = (label, None, None, None)
            continue
        keras.backend.clear_session()
        model = resnet50_cifar((32, 32, 3), 10, activation=activation, batch_norm=bn,
                               width_multiplier=0.125)
        results[key] = (label, *_model_step_ms(backend, model, x, y, args.repeats, inner))
        print(f"  resnet {key}: {results[key][1]:.2f} ms", file=sys.stderr, flush=True)
    ref = results["lkrelu"][1]
    rows = []
    for key, (label, ms, low, first) in results.items():
        if ms is None:
            rows.append([label, "skipped (time cap)", "", "", "", ""])
            continue
        rows.append([label, fmt(ms, 2), fmt(low, 2), fmt(None if not ref else ms / ref, 2),
                     fmt(PAPER_RATIOS.get(key), 2), fmt(first, 1)])
    report.emit(f"## ResNet50-CIFAR (width 1/8), batch {batch}, 32x32x3, 10 classes, Adam, "
                f"train_on_batch (backend {backend.name})")
    report.emit()
    report.table(["variant", "step ms", "min", "vs LK-ReLU", "paper ratio", "first call s"], rows)


# ----------------------------------------------------------------------------- memory
def deep_linked_model(fused, small):
    import keras

    from linked_neurons import LKReLU

    size, channels, depth = (8, 4, 4) if small else (32, 32, 16)
    layers = [keras.Input((size, size, channels))]
    for _ in range(depth):
        layers += [keras.layers.Conv2D(channels, 3, padding="same"), LKReLU(fused=fused)]
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    return keras.Sequential(layers), (size, size, channels)


def memory_probe(backend, args, variant):
    """One variant's step in this process: peak memory, saved bytes, step time."""
    import keras
    import numpy as np

    fused = {"default": None, "fused": True, "plain": False}[variant]
    batch = 8 if args.small else 256
    model, shape = deep_linked_model(fused, args.small)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(4)
    x = backend.tensor(rng.normal(size=(batch, *shape)).astype("float32"))
    y = backend.tensor(rng.integers(0, 10, size=(batch,)).astype("int32"))
    before = backend.in_use_bytes()
    backend.reset_peak()
    model.train_on_batch(x, y)
    backend.sync(model.train_on_batch(x, y, return_dict=False))
    peak = backend.peak_bytes()
    saved = None
    if backend.name == "jax":  # XLA's buffer plan of a jitted gradient step
        import jax

        def loss(trainable, non_trainable, x, y):
            logits, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
                y, logits, from_logits=True))

        compiled = jax.jit(jax.grad(loss)).lower(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables], x, y).compile()
        saved = compiled.memory_analysis().temp_size_in_bytes
    if backend.name == "torch":
        import torch

        seen = {}

        def pack(t):
            try:
                key = (t.untyped_storage().data_ptr(), t.dtype, tuple(t.shape))
                seen[key] = t.untyped_storage().nbytes()
            except Exception:  # noqa: BLE001 - tensors without storage (wrappers)
                pass
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model.train_on_batch(x, y)
        saved = sum(seen.values())
    ms, _ = time_calls(backend, lambda: model.train_on_batch(x, y, return_dict=False),
                       args.repeats, 1 if args.small else 5)
    return {"variant": variant, "peak": peak, "before": before, "saved": saved, "ms": ms}


def run_memory(backend, args, clock, report):
    rows = []
    batch = 8 if args.small else 256
    for variant in ("default", "fused", "plain"):
        if clock.left() <= 0:
            rows.append([variant, "skipped (time cap)", "", "", ""])
            continue
        if backend.name == "jax":  # the peak cannot be reset: a fresh process each
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-probe", variant,
                   "--repeats", str(args.repeats)] + (["--small"] if args.small else [])
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max(
                30, clock.left() + 60), check=False)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode or not lines:
                rows.append([variant, f"failed: {proc.stderr.strip()[-200:]}", "", "", ""])
                continue
            result = json.loads(lines[-1])
        else:
            result = memory_probe(backend, args, variant)
        over = None if result["peak"] is None or result["before"] is None else (
            result["peak"] - result["before"])
        rows.append([variant, mib(result["peak"]), mib(over), mib(result["saved"]),
                     fmt(result["ms"], 2)])
    _, shape = deep_linked_model(None, args.small)
    depth = 4 if args.small else 16
    report.emit(f"## Peak memory of a training step: {depth} x (Conv2D + LKReLU), batch {batch} "
                f"at {shape[0]}x{shape[1]}x{shape[2]}, Adam (backend {backend.name})")
    report.emit()
    report.table(["LKReLU fused=", "peak MiB", "peak - before step MiB",
                  "saved for backward MiB (torch) / XLA temp MiB of a grad step (JAX)",
                  "step ms"], rows)


# ----------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    if args.small:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    backend = Backend()
    if args.memory_probe:
        print(json.dumps(memory_probe(backend, args, args.memory_probe)), flush=True)
        return 0
    clock = Clock(args.time_cap)
    report = Report(args.output)
    report.emit(f"<!-- KERAS_BACKEND={backend.name} python benchmarks/gpu.py "
                f"{' '.join(argv if argv is not None else sys.argv[1:])} -->")
    report.emit(f"# {'CPU smoke run' if args.small else 'GPU benchmark'}: {backend.device}")
    report.emit()
    report.emit(f"- {backend.versions}, Python {platform.python_version()}, "
                f"{'GPU' if backend.gpu else 'CPU'}: {backend.device}")
    report.emit(f"- median of {args.repeats} timed groups after warm-up; time cap "
                f"{args.time_cap:.0f} s")
    report.emit()
    b0_results = {}
    for section in dict.fromkeys(args.sections):
        part = {"b0": "core", "b0-extra": "extra"}.get(section)
        started = clock.elapsed()
        if section == "ops":
            run_ops(backend, args, clock, report)
        elif section == "mixconv":
            run_mixconv(backend, args, clock, report)
        elif section in ("b0", "b0-extra"):
            run_b0(backend, args, clock, report, part, b0_results)
        elif section == "resnet":
            run_resnet(backend, args, clock, report)
        elif section == "memory":
            run_memory(backend, args, clock, report)
        print(f"[{section}{'' if part is None else ' ' + part}: "
              f"{clock.elapsed() - started:.0f} s, {clock.elapsed():.0f} s in all]",
              file=sys.stderr, flush=True)
    report.emit(f"Wall time {clock.elapsed():.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
