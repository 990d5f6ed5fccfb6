"""Speed of EfficientNet B0 built by EfficientNetBuilder against keras.applications.

Run from the root of a clone (``python benchmarks/efficientmixnet.py --help``).
The script builds, in one process:

``keras.applications``
    ``keras.applications.EfficientNetB0(weights=None)`` with ``classes``
    outputs: Keras' own model, input preprocessing (``Rescaling``,
    ``Normalization``) included.
``builder B0``
    ``EfficientNetBuilder().default_model("B0")``: the same layers and weights
    without the input preprocessing (swish, batch norm, plain depthwise convs).
``builder B0 mixed``
    the same with ``mixed=True`` (MixedDepthwiseConv2D in every stage but the
    first and the last).

and, with ``--extra``, B0 with ``lkrelu``, ``mish``, typeBN ``an`` and ``iebn``.

What is measured
----------------
train ms
    Median wall time of ``model.train_on_batch(x, y)`` (Adam,
    sparse categorical cross-entropy; the call returns the loss as a NumPy
    value, so the step has finished), over ``--repeats`` calls after the
    compiling call and one warm-up call.
infer ms
    Median wall time of ``model.predict_on_batch(x)`` measured the same way.
first s
    Wall time of the first ``train_on_batch`` call: tracing plus, with XLA,
    compilation.
vs keras
    Median time divided by the median time of the ``keras.applications`` row
    with the same XLA setting (the ratio the target is checked on).
paired
    Median over the repeats of the ratio of this model's call to the
    ``keras.applications`` call of the same repeat, made just before or
    after it. When other processes load the machine, their effect is shared
    by the two calls of a pair, so this ratio is the steadier of the two.

The models are interleaved call by call (one train step of each, then one
inference of each, repeated), so slow drifts of the machine hit them alike.
``--xla on`` compiles with ``jit_compile=True`` (XLA), ``--xla off`` with
``jit_compile=False`` (TensorFlow's graph runtime). ``model.compile``'s
default, ``jit_compile="auto"``, picks XLA on TensorFlow with a GPU and not on
a CPU-only machine, where XLA's convolutions are much slower. The load
average printed at the end tells whether other processes shared the machine;
when it is above the number of cores, compare the ``paired`` and ``min``
columns as well.

``--layer`` adds a table for the layer itself:
:class:`MixedDepthwiseConv2D` with kernel sizes [3, 5, 7, 9] (forward and
backward, XLA off and on) against a reference that computes the same output
with one ``keras.layers.DepthwiseConv2D`` whose 9x9 kernels hold the smaller
kernels zero-padded, and against the memory floor: a NumPy copy of the bytes
the step must read and write (input, output, upstream gradient and input
gradient), measured in the same run.

Below the table the script checks the target of the project's issue and
prints PASS or MISS: the builder's B0 takes at most 1.05x the time of
``keras.applications.EfficientNetB0``, in train step and in inference, at
every XLA setting measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from shared import cpu_name, numpy_copy_floor, render  # noqa: E402

TARGET = 1.05


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--batch", type=int, default=None, help="batch size (default 8)")
    p.add_argument("--size", type=int, default=None,
                   help="input rows and cols (default 224, B0's resolution)")
    p.add_argument("--classes", type=int, default=1000, help="classes (default 1000)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per model and mode (default 7)")
    p.add_argument("--xla", choices=("both", "on", "off"), default="both",
                   help="jit_compile=True (on), False (off) or both (default)")
    p.add_argument("--extra", action="store_true",
                   help="also time B0 with lkrelu, mish, AN and IEBN")
    p.add_argument("--layer", action="store_true",
                   help="also time MixedDepthwiseConv2D against a padded-kernel reference")
    p.add_argument("--bfc", action="store_true",
                   help="TensorFlow: use the caching BFC CPU allocator")
    p.add_argument("--markdown", action="store_true", help="print Markdown")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: batch 2, 64x64, 2 repeats, XLA off")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    args = p.parse_args(argv)
    if args.quick:
        args.batch = args.batch or 2
        args.size = args.size or 64
        args.repeats = args.repeats or 2
        if args.xla == "both":
            args.xla = "off"
    args.batch = args.batch or 8
    args.size = args.size or 224
    args.repeats = args.repeats or 7
    if args.batch < 1 or args.repeats < 1 or args.classes < 1:
        p.error("--batch, --repeats and --classes must be positive")
    if args.size < 32:
        p.error("--size must be at least 32")
    return args


def set_environment(bfc):
    """Must run before TensorFlow or Keras is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if bfc:
        os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"


def build_models(args):
    """``{label: model}`` in the order of the table."""
    import keras

    from linked_neurons.efficientmixnet import EfficientNetBuilder

    shape = (args.size, args.size, 3)
    models = {}
    keras.utils.set_random_seed(args.seed)
    models["keras.applications"] = keras.applications.EfficientNetB0(
        weights=None, input_shape=shape, classes=args.classes
    )
    configs = {"builder B0": {}, "builder B0 mixed": {"mixed": True}}
    if args.extra:
        configs.update({
            "builder B0 lkrelu": {"activation": "lkrelu"},
            "builder B0 mish": {"activation": "mish"},
            "builder B0 an": {"typeBN": "an"},
            "builder B0 iebn": {"typeBN": "iebn"},
        })
    for label, kwargs in configs.items():
        builder = EfficientNetBuilder(input_shape=shape, classes=args.classes, **kwargs)
        models[label] = builder.default_model("B0")
    return models


def measure(models, args, xla):
    """Per model: first-call seconds and the train / inference times (ms lists)."""
    import keras
    import numpy as np

    rng = np.random.default_rng(args.seed)
    x = rng.uniform(0, 1, size=(args.batch, args.size, args.size, 3)).astype("float32")
    y = rng.integers(0, args.classes, size=(args.batch,))
    first = {}
    for label, model in models.items():
        model.compile(optimizer=keras.optimizers.Adam(1e-4),
                      loss="sparse_categorical_crossentropy", jit_compile=xla)
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        first[label] = time.perf_counter() - t0
        model.predict_on_batch(x)  # compiles the inference function
        model.train_on_batch(x, y)  # warm-up
        model.predict_on_batch(x)
    train = {label: [] for label in models}
    infer = {label: [] for label in models}
    for _ in range(args.repeats):
        for label, model in models.items():
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            train[label].append(1e3 * (time.perf_counter() - t0))
        for label, model in models.items():
            t0 = time.perf_counter()
            model.predict_on_batch(x)
            infer[label].append(1e3 * (time.perf_counter() - t0))
    return first, train, infer


def measure_layer(args):
    """Rows of the MixedDepthwiseConv2D table: ours, the padded reference, the floor."""
    import keras
    import numpy as np
    import tensorflow as tf

    from linked_neurons.layers.convolutional import MixedDepthwiseConv2D

    kernels = [3, 5, 7, 9]
    batch, size, channels = 8, 56, 144  # B0's block-2 expansion at 224x224
    rng = np.random.default_rng(args.seed)
    x = tf.constant(rng.normal(size=(batch, size, size, channels)).astype("float32"))
    g = tf.constant(rng.normal(size=(batch, size, size, channels)).astype("float32"))
    ours = MixedDepthwiseConv2D(kernels, padding="same")
    ours.build(x.shape)
    big = max(kernels)
    padded = np.zeros((big, big, channels, 1), "float32")
    start = 0
    for k, c, w in zip(kernels, ours.group_channels, ours.get_weights()):
        off = (big - k) // 2
        padded[off:off + k, off:off + k, start:start + c] = w
        start += c
    reference = keras.layers.DepthwiseConv2D(big, padding="same", use_bias=False)
    reference.build(x.shape)
    reference.set_weights([padded])
    err = float(np.max(np.abs(np.asarray(ours(x)) - np.asarray(reference(x)))))

    def step_fn(layer, xla):
        @tf.function(jit_compile=xla, autograph=False)
        def step(x, g):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
            return tape.gradient(y, [x] + layer.trainable_weights, output_gradients=g)

        return step

    nbytes = x.numpy().nbytes
    floor = numpy_copy_floor(2 * nbytes, args.repeats, threads=1)  # 4 tensors moved = 2 copies
    rows = []
    for xla in (False, True):
        steps = {"MixedDepthwiseConv2D": step_fn(ours, xla),
                 f"padded DepthwiseConv2D({big})": step_fn(reference, xla)}
        times = {label: [] for label in steps}
        for step in steps.values():
            step(x, g)
            step(x, g)
        for _ in range(args.repeats):
            for label, step in steps.items():
                t0 = time.perf_counter()
                out = step(x, g)
                out[0].numpy()
                times[label].append(1e3 * (time.perf_counter() - t0))
        ref = statistics.median(times[f"padded DepthwiseConv2D({big})"])
        for label, ts in times.items():
            med = statistics.median(ts)
            rows.append([label, "on" if xla else "off", f"{med:.1f}", f"{min(ts):.1f}",
                         f"{med / ref:.2f}x", f"{med / (1e3 * floor):.1f}x"])
    title = (f"MixedDepthwiseConv2D({kernels}) forward + backward, ({batch}, {size}, {size}, "
             f"{channels}) float32; floor = NumPy copy of {4 * nbytes / 1e6:.0f} MB moved "
             f"({1e3 * floor:.1f} ms); max |ours - reference| = {err:.1e}")
    return title, rows


def hardware_lines():
    import keras
    import numpy as np

    cpu = cpu_name()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    versions = [f"Python {platform.python_version()}", f"Keras {keras.__version__}",
                f"backend {keras.backend.backend()}"]
    try:
        import tensorflow as tf

        versions.append(f"TensorFlow {tf.__version__}")
    except ImportError:
        pass
    versions.append(f"NumPy {np.__version__}")
    return [
        f"CPU: {cpu}; {os.cpu_count()} logical cores"
        + (f" ({usable} usable)" if usable is not None else ""),
        ", ".join(versions),
    ]


def main(argv=None):
    args = parse_args(argv)
    set_environment(args.bfc)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    models = build_models(args)
    modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.xla]
    headers = ["model", "XLA", "weights", "first s", "train ms", "min", "vs keras", "paired",
               "infer ms", "min", "vs keras", "paired"]
    rows, checks = [], []
    for xla in modes:
        first, train, infer = measure(models, args, xla)
        ref_train = statistics.median(train["keras.applications"])
        ref_infer = statistics.median(infer["keras.applications"])
        def paired(times, label):
            ref = times["keras.applications"]
            return statistics.median(a / b for a, b in zip(times[label], ref))

        for label, model in models.items():
            t, i = statistics.median(train[label]), statistics.median(infer[label])
            rows.append([
                label, "on" if xla else "off", f"{model.count_params():,}",
                f"{first[label]:.1f}", f"{t:.1f}", f"{min(train[label]):.1f}",
                f"{t / ref_train:.2f}x", f"{paired(train, label):.2f}x",
                f"{i:.1f}", f"{min(infer[label]):.1f}",
                f"{i / ref_infer:.2f}x", f"{paired(infer, label):.2f}x",
            ])
        for what, times, ref in (("train step", train, ref_train),
                                 ("inference", infer, ref_infer)):
            ratio = statistics.median(times["builder B0"]) / ref
            status = "PASS" if ratio <= TARGET else "MISS"
            checks.append(f"{status}: builder B0 {what}, XLA {'on' if xla else 'off'}: "
                          f"{ratio:.2f}x keras.applications (target <= {TARGET:.2f}x; "
                          f"paired {paired(times, 'builder B0'):.2f}x)")
    title = (f"EfficientNet B0, batch {args.batch} at {args.size}x{args.size}x3, "
             f"{args.classes} classes; median of {args.repeats} interleaved calls")
    print(("## " if args.markdown else "") + title)
    print()
    for line in hardware_lines():
        print(("- " if args.markdown else "") + line)
    print()
    print(render(headers, rows, args.markdown, left=2))
    print()
    for line in checks:
        print(("- " if args.markdown else "") + line)
    if args.layer:
        title, layer_rows = measure_layer(args)
        print()
        print(("## " if args.markdown else "") + title)
        print()
        print(render(["implementation", "XLA", "ms", "min", "vs reference", "vs floor"],
                     layer_rows, args.markdown, left=2))
    if load_start is not None:
        print()
        print(f"1-min load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at "
              f"the end, on {os.cpu_count()} logical cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
