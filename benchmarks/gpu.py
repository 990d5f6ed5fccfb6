"""Speed and memory of the library on one GPU, as Markdown tables.

Run from the root of a clone with the backend chosen by ``KERAS_BACKEND``
(``jax`` or ``torch``; ``tensorflow`` where it is installed)::

    KERAS_BACKEND=jax python benchmarks/gpu.py --output results_gpu_jax.md
    KERAS_BACKEND=torch python benchmarks/gpu.py --output results_gpu_torch.md
    KERAS_BACKEND=jax python benchmarks/gpu.py --small      # CPU smoke run, seconds

Sections, run in this order (or the order ``--sections`` gives) within
``--time-cap`` seconds (default 300): a row starts only where it should end
within the cap, judged by the longest row of its section so far (the first
row of a section starts while any time is left; a layer or model whose
own timing, measured after its build, would overrun the cap is dropped),
and a row left out is printed as skipped. The default run thus ends in
about five minutes; pick sections to see the later ones, or raise the cap:

ops
    Forward and backward (the output and the vector-Jacobian product for a
    fixed random upstream gradient) of LKReLU, LKSELU, LKSwish, LKPReLU
    (per-channel slopes, whose gradients are computed too), SELU, Mish,
    Swish, LEAF and AHAF (per-channel parameters, differentiated too) on
    ``x = [256, 56, 56, 64]``, in float32 and bfloat16 (``--dtypes``
    also takes float16 and float64): the
    default form (``fused=None``, with the form it picked), ``fused=True``,
    ``fused=False`` and the framework's own functions (``jax.nn`` /
    ``torch.nn.functional`` / ``tf.nn``; LEAF's and AHAF's formula written
    with the framework's sigmoid), against the physical floor: the
    bytes the step must move (read ``x`` and the upstream gradient, write the
    output and ``dx``) over the copy bandwidth measured in the same run.
    JAX steps run under ``jax.jit`` (op by op with ``--ops-eager``, as
    Keras' ``run_eagerly=True`` runs them), PyTorch steps eagerly (under
    ``torch.compile`` with ``--torch-compile``), TensorFlow steps in a
    ``tf.function`` with and without XLA.
mixconv
    ``MixedDepthwiseConv2D([3, 5, 7, 9])`` forward and backward (input and
    kernels) on ``[64, 56, 56, 192]`` (or ``--mixconv-shape``), with the
    implementation the layer picks (``auto``, with its pick) and computed as
    grouped convolutions, as shifted slices, as sums of 3x3 tiles and as
    one zero-padded kernel, against ``keras.layers.DepthwiseConv2D(9)`` and
    ``DepthwiseConv2D(3)``, in the compilation modes of the ops section.
    ``--mixconv-dtype-policy mixed_bfloat16`` (or ``mixed_float16``) builds
    the layers under that Keras policy: float32 kernels, input and output
    in 16 bits.
b0
    ``EfficientNetBuilder`` B0 (batch 64 at 224x224, or ``--b0-batch``; 1000
    classes, Adam): median time of ``model.train_on_batch`` on inputs already
    on the device, with swish and mish, each plain and with ``mixed=True``
    (MixConv, in the implementation the layer picks, as grouped convolutions
    and as sums of 3x3 tiles). ``--b0-rows`` picks rows by key. The mixed
    rows are divided by the builder's B0 with the same activation (the
    project's target: at most 1.25x). ``--b0-dtype-policy mixed_bfloat16``
    (or ``mixed_float16``) builds the models under that Keras policy.
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
    blocks of ``Conv2D`` + ``LKReLU``, batch 256 at 32x32; ``--memory-ops``
    puts other activations in its place, ``--memory-batch`` changes the
    batch) with the default form (the ``form`` column names the one it
    picked in Keras' train step), ``fused=True`` and ``fused=False``, and
    the median step time of each. JAX: ``peak_bytes_in_use`` of
    the device's ``memory_stats()``, each variant in a fresh process (the
    peak cannot be reset, and it includes the scratch memory of XLA's
    autotuning at compile time), plus the temporary bytes of XLA's buffer
    plan for a jitted gradient step (``memory_analysis()``, also on a CPU);
    PyTorch: ``torch.cuda.max_memory_allocated`` after
    ``reset_peak_memory_stats``, plus the bytes autograd saves for the
    backward pass (also on a CPU); TensorFlow: ``get_memory_info`` after
    ``reset_memory_stats``, on a GPU, and on a CPU in a fresh process with
    TensorFlow's BFC allocator (``TF_CPU_ALLOCATOR_USE_BFC=true``), whose
    counters the default CPU allocator lacks. Keras compiles TensorFlow's
    train step with XLA on a GPU only (``jit_compile="auto"``);
    ``--memory-xla`` compiles it with XLA on a CPU as well. Keras runs
    PyTorch eagerly unless ``jit_compile=True``; ``--torch-compile`` sets it
    (``torch.compile`` of the train step, each variant in a fresh process)
    and compiles the ops section's steps with ``torch.compile`` too. On JAX,
    ``--memory-eager`` compiles the train step with ``run_eagerly=True`` (op
    by op, no ``jit``); its memory column is then the bytes of the residuals
    an un-jitted ``jax.vjp`` of the loss keeps for the backward pass.
    ``--memory-dtype-policy mixed_bfloat16`` (or ``mixed_float16``,
    ``float64``) builds the network under that Keras dtype policy, so that
    the activations compute in that dtype. float64 on JAX (``--dtypes`` or
    the policy) needs ``JAX_ENABLE_X64=1``; without it the script stops
    with an error rather than compute in float32.

Times are medians over ``--repeats`` timed groups of calls after warm-up;
every group ends by waiting for the device (``block_until_ready`` or
``torch.cuda.synchronize``). The rows compared with each other (the forms
of one activation op, the layers of the MixConv section, the models of one
B0 or ResNet section) are timed in turn, one group each per round, so that a
drift of the machine falls on all of them alike. ``--small`` shrinks
every size so that the whole script runs on a CPU in seconds (the test suite
runs it); its numbers say nothing about speed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # the script's own modules, when it is loaded from elsewhere
    sys.path.append(HERE)

from gpu_backend import Backend, Clock, prepare_within_cap, time_calls, time_interleaved  # noqa: E402
from gpu_memory import memory_probe, run_memory  # noqa: E402
from gpu_models import B0_ROWS, run_b0, run_resnet  # noqa: E402
from gpu_report import Report, fmt  # noqa: E402
from shared import POLICY_NAME  # noqa: E402

SECTIONS = ("ops", "mixconv", "b0", "resnet", "memory", "b0-extra")
OPS = ("lkrelu", "lkselu", "lkswish", "lkprelu", "selu", "mish", "swish", "leaf", "ahaf")
LINKED = ("lkrelu", "lkselu", "lkswish", "lkprelu")
#: Means of the per-channel parameters of the ops that take some (LKPReLU's
#: slopes, LEAF's p1-p4, AHAF's beta and gamma), differentiated with ``x``.
PARAM_MEANS = {"lkprelu": (0.25, 0.25), "leaf": (1.0, 0.0, 1.0, 0.0), "ahaf": (1.0, 1.0)}
ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}
#: Keras dtype policies the sections can build their layers and models under.
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true",
                   help="tiny sizes for a CPU smoke run (seconds; numbers mean nothing)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                   help="sections to run, in the order given (default: all, in the order "
                        "of the docstring)")
    p.add_argument("--time-cap", type=float, default=None,
                   help="seconds the run should end within: rows that would end later are "
                        "skipped (default 300, 120 small)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed groups per row (default 7, 2 small)")
    p.add_argument("--ops", nargs="+", choices=OPS, default=list(OPS),
                   help="ops of the ops section (default: all)")
    p.add_argument("--dtypes", nargs="+", choices=tuple(ITEMSIZE),
                   default=["float32", "bfloat16"],
                   help="dtypes of the ops section (default float32 bfloat16)")
    p.add_argument("--ops-shape", type=int, nargs=4, default=None,
                   help="input shape of the ops section (default 256 56 56 64; 4 8 8 16 small)")
    p.add_argument("--mixconv-shape", type=int, nargs=4, default=None,
                   help="input shape of the mixconv section (default 64 56 56 192; 2 16 16 12 "
                        "small)")
    p.add_argument("--mixconv-dtype-policy", default="float32",
                   choices=POLICIES,
                   help="Keras dtype policy of the mixconv section's layers (default float32)")
    p.add_argument("--b0-rows", nargs="+", choices=list(B0_ROWS), default=None,
                   help="B0 rows for the b0 section to run, timed in turn (default: its six; "
                        "b0-extra then runs the other rows not named)")
    p.add_argument("--b0-batch", type=int, default=None,
                   help="batch of the B0 rows (default 64; 2 small); a CPU run of the "
                        "full-size model needs a smaller one")
    p.add_argument("--b0-dtype-policy", default="float32",
                   choices=POLICIES,
                   help="Keras dtype policy the B0 models are built under (default float32)")
    p.add_argument("--memory-ops", nargs="+", choices=OPS, default=["lkrelu"],
                   help="activations of the memory section's network (default lkrelu)")
    p.add_argument("--memory-batch", type=int, default=None,
                   help="batch of the memory section (default 256; 8 small)")
    p.add_argument("--output", default=None, help="also write the Markdown to this file")
    p.add_argument("--memory-xla", action="store_true",
                   help="TensorFlow: compile the memory section's train step with XLA "
                        "(jit_compile=True) where Keras would not (a CPU)")
    p.add_argument("--memory-eager", action="store_true",
                   help="JAX: run the memory section's train step op by op "
                        "(run_eagerly=True) instead of under jit")
    p.add_argument("--ops-eager", action="store_true",
                   help="JAX: run the ops and mixconv sections' steps op by op instead of "
                        "under jit")
    p.add_argument("--torch-compile", action="store_true",
                   help="PyTorch: the ops section's steps under torch.compile and the memory "
                        "section's train step with jit_compile=True (torch.compile), where "
                        "Keras runs PyTorch eagerly")
    p.add_argument("--memory-dtype-policy", default=None,
                   choices=POLICIES + ("float64",),
                   help="Keras dtype policy of the memory section's network (default float32)")
    p.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)  # subprocess mode
    args = p.parse_args(argv)
    if args.time_cap is None:
        args.time_cap = 120.0 if args.small else 300.0
    if args.repeats is None:
        args.repeats = 2 if args.small else 7
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    for flag in ("b0_batch", "memory_batch"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1")
    return args


# ----------------------------------------------------------------------------- ops
def framework_fn(backend, op):
    """The framework's own function for ``op`` (channels last).

    LKPReLU's takes ``(x, alpha_pos, alpha_neg)``: none of the frameworks has
    a channels-last PReLU function (``torch.nn.functional.prelu`` puts the
    channels on axis 1), so it is their ``where`` of both halves. LEAF and
    AHAF, which no framework has, take their parameters after ``x`` and are
    their formula with the framework's sigmoid.
    """
    if op == "lkprelu":
        return framework_lk_prelu(backend)
    if op in ("leaf", "ahaf"):
        return framework_learnable(backend, op)
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


def framework_lk_prelu(backend):
    """``concat([where(x > 0, x, a+ x), where(x < 0, -x, -a- x)])`` in the framework."""
    if backend.name == "jax":
        import jax.numpy as jnp

        return lambda x, ap, an: jnp.concatenate(
            [jnp.where(x > 0, x, ap * x), jnp.where(x < 0, -x, -an * x)], axis=-1)
    if backend.name == "torch":
        import torch

        return lambda x, ap, an: torch.cat(
            [torch.where(x > 0, x, ap * x), torch.where(x < 0, -x, -an * x)], dim=-1)
    import tensorflow as tf

    return lambda x, ap, an: tf.concat(
        [tf.where(x > 0, x, ap * x), tf.where(x < 0, -x, -an * x)], axis=-1)


def framework_learnable(backend, op):
    """LEAF ``(p1 x + p2) sigmoid(p3 x) + p4`` or AHAF ``beta x sigmoid(gamma x)``."""
    if backend.name == "jax":
        import jax

        sigmoid = jax.nn.sigmoid
    elif backend.name == "torch":
        import torch

        sigmoid = torch.sigmoid
    else:
        import tensorflow as tf

        sigmoid = tf.math.sigmoid
    if op == "leaf":
        return lambda x, p1, p2, p3, p4: (p1 * x + p2) * sigmoid(p3 * x) + p4
    return lambda x, beta, gamma: beta * x * sigmoid(gamma * x)


def library_fn(op, fused, picked=None):
    """The library's op with ``fused``; LKPReLU's takes ``(x, alpha_pos, alpha_neg)``,
    LEAF's and AHAF's their parameters after ``x``.

    ``picked``: a one-element list whose element each call sets to the form
    it ran (True: fused). A store into a fixed slot, not an append: under
    ``torch.compile`` a list that grows changes a guard and recompiles the
    step at every call.
    """
    from linked_neurons import ops as lo
    from linked_neurons.ops import _policy, learnable

    fn = {"lkrelu": lo.lk_relu, "lkselu": lo.lk_selu, "lkswish": lo.lk_swish,
          "lkprelu": lo.lk_prelu, "selu": lo.selu, "mish": lo.mish, "swish": lo.swish,
          "leaf": learnable.leaf, "ahaf": learnable.ahaf}[op]

    def call(x, *params):
        if picked is not None:
            picked[0] = _policy.use_fused(POLICY_NAME[op], fused, x)
        return fn(x, *params, fused=fused)

    return call


def op_params(op, channels, rng):
    """Per-channel parameters of ``op`` for the ops section, shape ``(1, 1, C)`` each
    (none for the ops that take none)."""
    return [(mean + 0.1 * rng.standard_normal(size=(1, 1, channels))).astype("float32")
            for mean in PARAM_MEANS.get(op, ())]


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
    params32 = {op: op_params(op, shape[-1], rng) for op in args.ops}
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
            args_of_op = (x, *(backend.tensor(a, dtype=dtype) for a in params32[op]))
            moved = int(np.prod(shape)) * ITEMSIZE[dtype] * (6 if op in LINKED else 4)
            floor = moved / bandwidth
            for mode, compiled in backend.modes():
                if not clock.fits("ops"):
                    rows.append([op, dtype, mode] + ["skipped (time cap)"] + [""] * 8)
                    continue
                backend.reset_compiler()
                picked = [None]
                fns = {"default": library_fn(op, None, picked), "fused": library_fn(op, True),
                       "plain": library_fn(op, False), "framework": framework_fn(backend, op)}
                calls = {}
                for name, fn in fns.items():
                    step = backend.vjp_step(fn, compiled)
                    calls[name] = lambda s=step, g=g, a=args_of_op: s(g, *a)  # noqa: E731
                with clock.row("ops"):
                    timed = time_interleaved(backend, calls, args.repeats, inner)
                ms = {name: median for name, (median, _low) in timed.items()}
                form = "-" if picked[0] is None else ("fused" if picked[0] else "plain")
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

    shape = tuple(args.mixconv_shape or ((2, 16, 16, 12) if args.small else (64, 56, 56, 192)))
    inner = 1 if args.small else 10
    policy = args.mixconv_dtype_policy
    compute = keras.DTypePolicy(policy).compute_dtype
    rng = np.random.default_rng(1)
    x = backend.tensor(rng.normal(size=shape).astype("float32"), compute)
    g = backend.tensor(rng.normal(size=shape).astype("float32"), compute)
    mixed_label = "MixedDepthwiseConv2D([3,5,7,9])"
    layers = {}  # (label, implementation) -> layer
    for impl in ("auto", "groups", "shifts", "blocks", "padded"):
        layers[(mixed_label, impl)] = MixedDepthwiseConv2D([3, 5, 7, 9], implementation=impl,
                                                           dtype=policy)
    layers[("DepthwiseConv2D(9), padded weights", "-")] = keras.layers.DepthwiseConv2D(
        9, padding="same", use_bias=False, dtype=policy)
    layers[("DepthwiseConv2D(3)", "-")] = keras.layers.DepthwiseConv2D(
        3, padding="same", use_bias=False, dtype=policy)
    reference = ("DepthwiseConv2D(9), padded weights", "-")
    mixed = layers[(mixed_label, "groups")]
    for layer in layers.values():
        layer.build(shape)
    for (label, impl), layer in layers.items():
        if (label, impl) == reference:
            layer.set_weights([keras.ops.convert_to_numpy(mixed.padded_kernel())])
        elif label == mixed_label and layer is not mixed:
            layer.set_weights(mixed.get_weights())  # the grouped layer's weights
    dtype = compute if policy == "float32" else f"{compute} (policy {policy})"
    report.emit(f"## MixedDepthwiseConv2D fwd+bwd (input and kernels), x = {list(shape)} "
                f"{dtype} (backend {backend.name})")
    report.emit()
    report.emit('`auto` is the layer\'s default (`implementation="auto"`), with the '
                "implementation it picked in this mode.")
    report.emit()
    rows = []
    for mode, compiled in backend.modes():
        backend.reset_compiler()
        outputs, picked = {}, {}

        def prepare(key, layer, compiled=compiled, outputs=outputs, picked=picked):
            weights = [w.value for w in layer.trainable_weights]

            def fn(x, *w):
                if key[1] == "auto":
                    picked[key] = layer._implementation_for(x, layer.data_format)
                # __call__ in a stateless scope rather than stateless_call, which
                # skips the autocast of Keras' own layers under a mixed policy
                with keras.StatelessScope(state_mapping=list(zip(layer.trainable_weights, w))):
                    return layer(x)

            step = backend.vjp_step(fn, compiled)
            y = keras.ops.cast(step(g, x, *weights)[0], "float32")
            outputs[key] = keras.ops.convert_to_numpy(y)
            return functools.partial(step, g, x, *weights)

        steps = prepare_within_cap(
            backend, clock, "mixconv",
            [(key, functools.partial(prepare, key, layer)) for key, layer in layers.items()],
            args.repeats * inner)
        timed = time_interleaved(backend, steps, args.repeats, inner, warmup=0) if steps else {}
        reference_ms = timed.get(reference, (None,))[0]
        base = outputs.get((mixed_label, "groups"))
        for key in layers:
            label, impl = key
            if key in picked:
                impl = f"auto: {picked[key]}"
            if key not in timed:
                rows.append([label, impl, mode, "skipped (time cap)", "", ""])
                continue
            ms = timed[key][0]
            error = "" if base is None or label.endswith("(3)") else \
                f"{float(np.max(np.abs(outputs[key] - base))):.1e}"
            rows.append([label, impl, mode, fmt(ms),
                         fmt(None if not reference_ms else ms / reference_ms, 2), error])
    report.table(["layer", "implementation", "mode", "ms", "vs padded DepthwiseConv2D(9)",
                  "max |y - groups|"], rows)


# ----------------------------------------------------------------------------- main
def _jax_has_float64():
    import jax

    return bool(jax.config.read("jax_enable_x64"))


def main(argv=None):
    args = parse_args(argv)
    if args.small:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    backend = Backend()
    backend_flags = (  # (flag, given, the backend it is for, its name, note)
        ("--memory-xla", args.memory_xla, "tensorflow", "TensorFlow",
         "; Keras compiles JAX's train step with XLA anyway"),
        ("--memory-eager", args.memory_eager, "jax", "JAX", ""),
        ("--ops-eager", args.ops_eager, "jax", "JAX", ""),
        ("--torch-compile", args.torch_compile, "torch", "PyTorch", ""),
    )
    for flag, given, needs, name, note in backend_flags:
        if given and backend.name != needs:
            print(f"gpu.py: {flag} is for the {name} backend (this is {backend.name}{note})",
                  file=sys.stderr)
            return 2
    wants_float64 = (("ops" in args.sections and "float64" in args.dtypes)
                     or args.memory_dtype_policy == "float64")
    if wants_float64 and backend.name == "jax" and not _jax_has_float64():
        print("gpu.py: float64 on JAX needs 64-bit arrays: set JAX_ENABLE_X64=1 (without it "
              "JAX would compute in float32)", file=sys.stderr)
        return 2
    backend.torch_compile = args.torch_compile
    backend.jax_eager = args.ops_eager
    if args.memory_probe:
        print(json.dumps(memory_probe(backend, args, args.memory_probe)), flush=True)
        return 0
    clock = Clock(args.time_cap)
    report = Report(args.output)
    report.emit(f"<!-- KERAS_BACKEND={backend.name} python benchmarks/gpu.py "
                f"{' '.join(argv if argv is not None else sys.argv[1:])} -->")
    title = "CPU smoke run" if args.small else "GPU benchmark" if backend.gpu else "CPU run"
    report.emit(f"# {title}: {backend.device}")
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
