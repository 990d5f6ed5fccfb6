"""Speed of AttentiveNormalization and IEBN against keras.layers.BatchNormalization.

Run from the root of a clone (``python benchmarks/normalization.py --help``).
Everything is measured in one run, the variants interleaved call by call so
that slow drifts of the machine hit them alike. Two tables are printed.

Small conv net
    Four ``Conv2D(3x3, no bias) -> normalization -> ReLU`` stages (32, 64, 64
    and 128 filters, strides 1, 2, 1, 2), global average pooling and a
    10-way ``Dense``, on ``--batch`` images of ``--image`` x ``--image`` x 3.
    The models differ only in their normalization layer: ``BN``
    (``keras.layers.BatchNormalization``), ``AN`` (``AttentiveNormalization``,
    ``n_mixture=5``, sigmoid attention), ``AN-paper`` (``attention="paper"``)
    and ``IEBN``, all with the defaults momentum 0.99 and epsilon 1e-3.

    ``train ms``: median wall time of ``model.train_on_batch`` (SGD,
    sparse categorical cross-entropy), compiled with ``jit_compile`` off or
    on. ``infer ms``: median time of ``model.predict_on_batch``. ``min ms``:
    the fastest call. ``vs BN``: median divided by the BN row's median, same
    XLA setting. ``CPU vs BN``: the same ratio for the CPU time of the process
    (all its threads) during the call: when other jobs share the machine the
    wall time of every call is stretched unevenly, the CPU time much less, so
    the two ratios agreeing is a sign the run was clean.

Layer alone
    One normalization layer on a ``--layer-shape`` float32 feature map
    (channels last). ``fwd+bwd ms``: a training-mode call plus the gradients
    of the input and of every trainable weight for a fixed random upstream
    gradient (``tf.GradientTape`` in a ``tf.function``; ``jax.value_and_grad``
    of ``stateless_call`` on JAX). ``infer ms``: an inference-mode call.
    ``vs BN`` and ``CPU vs BN`` as above. ``vs floor``: time divided by the
    memory-bandwidth floor measured in the
    same run, the median time of a NumPy copy (``numpy.copyto`` into a
    preallocated buffer, one thread per core or one thread, whichever is
    faster) of as many bytes as the step must read: a training step reads x
    and the upstream gradient and writes y and dx (4 x bytes moved, a copy of
    2 x bytes); inference reads x and writes y (a copy of x bytes). AN and IEBN
    must read x once more than BN, to pool it before the output can be
    written, so their floor is not reachable; the column shows how far each
    layer is from the memory limit.

Below the tables, the project's targets (train step of the conv net on CPU:
IEBN <= 1.2x BN, AN <= 1.4x BN) are printed as PASS or MISS for each XLA
setting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from activations import hardware_lines  # noqa: E402
from shared import numpy_copy_floor, print_targets, render, set_environment  # noqa: E402

VARIANTS = ("BN", "AN", "AN-paper", "IEBN")
TARGETS = {"IEBN": 1.2, "AN": 1.4}  # train step / BN train step, small conv net


# ----------------------------------------------------------------------------- arguments
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--batch", type=int, default=None, help="conv net batch size (default 64)")
    p.add_argument("--image", type=int, default=None, help="conv net image size (default 32)")
    p.add_argument("--layer-shape", type=int, nargs="+", default=None,
                   help="layer-alone input shape, channels last (default 64 32 32 64)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per variant after warm-up (default 15)")
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed calls after the compiling call (default 2)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS,
                   help="normalizations to measure (BN is always included)")
    p.add_argument("--xla", choices=("both", "on", "off"), default="both",
                   help="rows with jit_compile=True (on), False (off) or both (default)")
    p.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow",
                   help="Keras backend (default tensorflow)")
    p.add_argument("--bfc", action="store_true",
                   help="TensorFlow: use the caching BFC CPU allocator")
    p.add_argument("--no-net", action="store_true", help="skip the conv-net table")
    p.add_argument("--no-layer", action="store_true", help="skip the layer-alone table")
    p.add_argument("--markdown", action="store_true", help="print Markdown")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: batch 8, image 16, layer shape 8 16 16 32, 3 repeats")
    p.add_argument("--seed", type=int, default=0, help="seed of the random data")
    args = p.parse_args(argv)
    args.batch = args.batch or (8 if args.quick else 64)
    args.image = args.image or (16 if args.quick else 32)
    args.layer_shape = args.layer_shape or ([8, 16, 16, 32] if args.quick else [64, 32, 32, 64])
    args.repeats = args.repeats or (3 if args.quick else 15)
    if "BN" not in args.variants:
        args.variants = ["BN"] + args.variants
    if min(args.batch, args.image, args.repeats, *args.layer_shape) < 1:
        p.error("sizes and --repeats must be positive")
    if len(args.layer_shape) < 2:
        p.error("--layer-shape needs a batch axis and a channel axis")
    return args


# ----------------------------------------------------------------------------- models
def make_norm(variant):
    import keras

    from linked_neurons.layers.normalization import IEBN, AttentiveNormalization

    if variant == "BN":
        return keras.layers.BatchNormalization()
    if variant == "AN":
        return AttentiveNormalization(n_mixture=5)
    if variant == "AN-paper":
        return AttentiveNormalization(n_mixture=5, attention="paper")
    if variant == "IEBN":
        return IEBN()
    raise ValueError(variant)


def conv_net(variant, image):
    import keras

    inputs = keras.Input((image, image, 3))
    x = inputs
    for filters, stride in ((32, 1), (64, 2), (64, 1), (128, 2)):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = make_norm(variant)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x), name=f"net_{variant}")


def interleaved(calls, repeats):
    """Times every callable ``repeats`` times, one call of each in turn.

    Returns ``{key: (wall_times, cpu_times)}``; the CPU time is the process's
    (all threads), which other jobs on the machine disturb much less than the
    wall time.
    """
    times = {k: ([], []) for k in calls}
    for _ in range(repeats):
        for k, fn in calls.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            t1, c1 = time.perf_counter(), time.process_time()
            times[k][0].append(t1 - t0)
            times[k][1].append(c1 - c0)
    return times


def time_nets(args, xla):
    import keras
    import numpy as np

    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.batch, args.image, args.image, 3)).astype("float32")
    y = rng.integers(0, 10, size=args.batch)
    models, calls, params = {}, {}, {}
    for variant in args.variants:
        keras.utils.set_random_seed(args.seed)
        model = conv_net(variant, args.image)
        model.compile(
            optimizer=keras.optimizers.SGD(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=xla,
        )
        for _ in range(1 + args.warmup):
            model.train_on_batch(x, y)
            model.predict_on_batch(x)
        models[variant] = model
        params[variant] = model.count_params()
        calls[(variant, "train")] = lambda m=model: m.train_on_batch(x, y)
        calls[(variant, "infer")] = lambda m=model: m.predict_on_batch(x)
    return interleaved(calls, args.repeats), params


# ----------------------------------------------------------------------------- layer alone
def layer_steps(variant, args, xla, x, g):
    """``(train_step, infer_step)`` callables for one layer; each runs to completion."""
    import keras

    layer = make_norm(variant)
    layer.build(tuple(args.layer_shape))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def train(x, g):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
            return y, tape.gradient(y, [x] + layer.trainable_weights, output_gradients=g)

        def infer(x):
            return layer(x, training=False)

        train = tf.function(train, jit_compile=xla, autograph=False)
        infer = tf.function(infer, jit_compile=xla, autograph=False)
        return (lambda: train(x, g)), (lambda: infer(x))

    import jax

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(tw, x):
        y, nt = layer.stateless_call(tw, non_trainable, x, training=True)
        return jax.numpy.sum(y * g), nt

    grad = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)

    def infer(x):
        return layer.stateless_call(trainable, non_trainable, x, training=False)[0]

    if xla:
        grad, infer = jax.jit(grad), jax.jit(infer)
    return (lambda: jax.block_until_ready(grad(trainable, x))), (
        lambda: jax.block_until_ready(infer(x))
    )


def time_layers(args, xla):
    import numpy as np

    rng = np.random.default_rng(args.seed)
    x_np = rng.normal(size=args.layer_shape).astype("float32")
    g_np = rng.normal(size=args.layer_shape).astype("float32")
    if args.backend == "tensorflow":
        import tensorflow as tf

        x, g = tf.constant(x_np), tf.constant(g_np)
    else:
        import jax

        x, g = jax.numpy.asarray(x_np), jax.numpy.asarray(g_np)
    calls = {}
    for variant in args.variants:
        train, infer = layer_steps(variant, args, xla, x, g)
        for _ in range(1 + args.warmup):
            train()
            infer()
        calls[(variant, "train")] = train
        calls[(variant, "infer")] = infer
    return interleaved(calls, args.repeats)


# ----------------------------------------------------------------------------- report
def main(argv=None):
    args = parse_args(argv)
    set_environment(args.backend, args.bfc)
    import numpy as np

    if args.backend == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # Keras' per-model retracing notices

    t_start = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    xla_modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.xla]
    med = statistics.median
    md = args.markdown

    net_rows, summary = [], []
    layer_rows = []
    x_bytes = 4 * int(np.prod(args.layer_shape))
    floors = None
    if not args.no_layer:
        floors = {"train": numpy_copy_floor(2 * x_bytes, args.repeats),
                  "infer": numpy_copy_floor(x_bytes, args.repeats)}
    for xla in xla_modes:
        times, params = time_nets(args, xla) if not args.no_net else ({}, {})
        for variant in args.variants if times else ():
            cells = [variant, "on" if xla else "off", f"{params[variant]:,}"]
            for kind in ("train", "infer"):
                wall, cpu = times[(variant, kind)]
                base_wall, base_cpu = times[("BN", kind)]
                m = med(wall)
                cells += [f"{m * 1e3:.1f}", f"{min(wall) * 1e3:.1f}",
                          f"{m / med(base_wall):.2f}x", f"{med(cpu) / med(base_cpu):.2f}x"]
            net_rows.append(cells)
            if variant in TARGETS:
                r = med(times[(variant, "train")][0]) / med(times[("BN", "train")][0])
                r_cpu = med(times[(variant, "train")][1]) / med(times[("BN", "train")][1])
                summary.append((r <= TARGETS[variant],
                                f"{variant}: conv-net train step <= {TARGETS[variant]:.1f}x BN "
                                f"(XLA {'on' if xla else 'off'}): {r:.2f}x "
                                f"(CPU time {r_cpu:.2f}x)"))
        if floors is not None:
            times = time_layers(args, xla)
            for variant in args.variants:
                cells = [variant, "on" if xla else "off"]
                for kind in ("train", "infer"):
                    wall, cpu = times[(variant, kind)]
                    base_wall, base_cpu = times[("BN", kind)]
                    m = med(wall)
                    cells += [f"{m * 1e3:.2f}", f"{min(wall) * 1e3:.2f}",
                              f"{m / med(base_wall):.2f}x", f"{med(cpu) / med(base_cpu):.2f}x",
                              f"{m / floors[kind]:.1f}x"]
                layer_rows.append(cells)

    title = f"Normalization layers vs BatchNormalization ({args.backend}"
    if args.backend == "tensorflow":
        title += ", BFC allocator" if args.bfc else ", default allocator"
    title += ")"
    head = hardware_lines(args)
    head.append(
        f"Conv net: batch {args.batch}, {args.image}x{args.image}x3 images; layer alone: "
        f"{args.layer_shape} float32 ({x_bytes / 1e6:.1f} MB); median of {args.repeats} "
        f"interleaved timed calls after compile + {args.warmup} warm-up"
    )
    if floors is not None:
        head.append(
            f"Layer floors (numpy copy): fwd+bwd {floors['train'] * 1e3:.2f} ms "
            f"({4 * x_bytes / 1e6:.0f} MB moved), inference {floors['infer'] * 1e3:.2f} ms "
            f"({2 * x_bytes / 1e6:.0f} MB moved)"
        )
    net_headers = ["norm", "XLA", "params", "train ms", "min ms", "vs BN", "CPU vs BN",
                   "infer ms", "min ms", "vs BN", "CPU vs BN"]
    layer_headers = ["norm", "XLA", "fwd+bwd ms", "min ms", "vs BN", "CPU vs BN", "vs floor",
                     "infer ms", "min ms", "vs BN", "CPU vs BN", "vs floor"]
    if md:
        print(f"## {title}\n")
        print("\n".join(f"- {h}" for h in head))
    else:
        print(title)
        print("\n".join(head))
    if net_rows:
        print("\n### Small conv net: train step and inference\n" if md
              else "\nSmall conv net: train step and inference")
        print(render(net_headers, net_rows, md))
    if layer_rows:
        print("\n### Layer alone: training-mode forward+backward and inference\n" if md
              else "\nLayer alone: training-mode forward+backward and inference")
        print(render(layer_headers, layer_rows, md))
    print()
    print_targets(summary, md)
    print()
    wall = time.perf_counter() - t_start
    notes = [
        "vs BN: median wall time / the BN row's (same XLA setting); CPU vs BN: the same "
        "with the process CPU time (all threads), which other jobs disturb less.",
        "vs floor: median wall time / numpy copy of the bytes the step must move.",
    ]
    note = f"Total run time {wall:.0f} s."
    if load_start is not None:
        note += (f" 1-min load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} "
                 f"at the end ({os.cpu_count()} cores): other processes share the machine when "
                 "it exceeds ~1.")
    for text in notes + [note]:
        print(("- " if md else "") + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
