"""The model sections of ``benchmarks/gpu.py``: EfficientNet B0 (``b0`` and
``b0-extra``) and ResNet50-CIFAR (``resnet``), each timed with
``model.train_on_batch``; the script's docstring describes the rows."""

from __future__ import annotations

import functools
import sys
import time

from gpu_backend import prepare_within_cap, time_interleaved
from gpu_report import fmt

RESNET_VARIANTS = (("lkrelu", "LK-ReLU", "lkrelu", False), ("relu_bn", "ReLU+BN", "relu", True),
                   ("lkrelu_bn", "LK-ReLU+BN", "lkrelu", True), ("selu", "SELU", "selu", False),
                   ("selu_bn", "SELU+BN", "selu", True), ("lkselu", "LK-SELU", "lkselu", False))
MIXCONV_TARGET = 1.25


def time_models(backend, makers, x, y, args, clock, inner, section):
    """Median train-step times of several models, timed in turn.

    ``makers`` is a list of ``(key, factory)``. Each model that fits the
    time cap (:func:`prepare_within_cap`) is built, compiled (Adam, sparse
    categorical cross-entropy) and called once (the ``first call``, which
    compiles the step); then the steps of all the models built are timed by
    :func:`time_interleaved`, one group of ``inner`` steps of each per round,
    so that a drift of the machine falls on every row alike. Returns
    ``{key: (median ms, min ms, first call s)}`` for the models built,
    ``{key: None}`` for those skipped by the cap.
    """
    import keras

    keras.backend.clear_session()
    first = {}

    def prepare(key, make):
        model = make()
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss="sparse_categorical_crossentropy")
        start = time.perf_counter()
        model.train_on_batch(x, y)
        first[key] = time.perf_counter() - start
        print(f"  {section} {key}: built, first call {first[key]:.1f} s", file=sys.stderr,
              flush=True)
        return functools.partial(model.train_on_batch, x, y, return_dict=False)

    steps = prepare_within_cap(
        backend, clock, section,
        [(key, functools.partial(prepare, key, make)) for key, make in makers],
        args.repeats * inner)
    timed = time_interleaved(backend, steps, args.repeats, inner, warmup=0) if steps else {}
    return {key: (*timed[key], first[key]) if key in timed else None for key, _ in makers}


def set_mixconv_implementation(model, impl):
    from linked_neurons.layers.convolutional import MixedDepthwiseConv2D

    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, MixedDepthwiseConv2D):
            layer.implementation = impl
            count += 1
    return count


#: ``key: (label, builder arguments or None for keras.applications, forced MixConv
#: implementation)`` of every B0 row; the ``b0`` section runs the first six,
#: ``b0-extra`` the others, ``--b0-rows`` any of them in the ``b0`` section.
B0_ROWS = {
    "b0": ("EfficientNetBuilder B0", {}, None),
    "mixed": ("B0, mixed=True (automatic MixConv)", {"mixed": True}, None),
    "mixed_groups": ("B0, mixed=True, grouped convs", {"mixed": True}, "groups"),
    "mixed_blocks": ("B0, mixed=True, 3x3 tiles", {"mixed": True}, "blocks"),
    "b0_mish": ("B0, activation=mish", {"activation": "mish"}, None),
    "mixed_mish": ("B0, mixed=True, activation=mish", {"mixed": True, "activation": "mish"},
                   None),
    "keras": ("keras.applications.EfficientNetB0", None, None),
    "lkrelu": ("B0, activation=lkrelu", {"activation": "lkrelu"}, None),
    "an": ('B0, typeBN="an", n_mixture=5', {"typeBN": "an", "n_mixture": 5}, None),
    "iebn": ('B0, typeBN="iebn"', {"typeBN": "iebn"}, None),
    "mixed_padded": ("B0, mixed=True, padded kernel", {"mixed": True}, "padded"),
    "mixed_shifts": ("B0, mixed=True, shifted slices", {"mixed": True}, "shifts"),
}
B0_CORE = ("b0", "mixed", "mixed_groups", "mixed_blocks", "b0_mish", "mixed_mish")
#: The row each mixed row is divided by: the builder's B0 with the same activation.
SAME_ACTIVATION = {"mixed": "b0", "mixed_groups": "b0", "mixed_padded": "b0",
                   "mixed_shifts": "b0", "mixed_blocks": "b0", "mixed_mish": "b0_mish"}


def b0_factory(key, size, classes):
    """A function that builds the model of B0 row ``key``."""
    import keras

    from linked_neurons.efficientmixnet import EfficientNetBuilder

    _, kwargs, impl = B0_ROWS[key]

    def make():
        if kwargs is None:
            return keras.applications.EfficientNetB0(weights=None, input_shape=(size, size, 3),
                                                     classes=classes)
        model = EfficientNetBuilder(input_shape=(size, size, 3), classes=classes,
                                    **kwargs).default_model("B0")
        if impl:
            set_mixconv_implementation(model, impl)
        return model

    return make


def b0_keys(args, which):
    """The keys of the B0 rows the ``which`` ("core" or "extra") section runs."""
    if args.b0_rows:
        return list(args.b0_rows) if which == "core" else [
            k for k in B0_ROWS if k not in B0_CORE and k not in args.b0_rows]
    return [k for k in B0_ROWS if (k in B0_CORE) == (which == "core")]


def run_b0(backend, args, clock, report, which, results):
    import keras
    import numpy as np

    batch, size, classes = (2, 32, 10) if args.small else (64, 224, 1000)
    batch = args.b0_batch or batch
    inner = 1 if args.small else 3
    keys = b0_keys(args, which)
    if not keys:
        return
    rng = np.random.default_rng(2)
    x = backend.tensor(rng.normal(size=(batch, size, size, 3)).astype("float32"))
    y = backend.tensor(rng.integers(0, classes, size=(batch,)).astype("int32"))
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(args.b0_dtype_policy)  # the models are built under it
    try:
        timed = time_models(backend, [(k, b0_factory(k, size, classes)) for k in keys], x, y,
                            args, clock, inner, "b0")
    finally:
        keras.config.set_dtype_policy(previous_policy)
    results.update(timed)
    rows, checks = [], []
    keras_ms = (results.get("keras") or (None,))[0]
    for key, value in results.items():
        label = B0_ROWS[key][0]
        if value is None:
            rows.append([label, "skipped (time cap)", "", "", "", "", ""])
            continue
        ms, low, first = value
        base = results.get(SAME_ACTIVATION.get(key))
        ratio = None if base is None else ms / base[0]
        vs_keras = None if keras_ms is None else ms / keras_ms
        rows.append([label, fmt(ms, 1), fmt(low, 1), fmt(vs_keras, 2), fmt(ratio, 2),
                     f"{batch * 1000 / ms:,.0f}", fmt(first, 1)])
        if ratio is not None:
            verdict = "PASS" if ratio <= MIXCONV_TARGET else "MISS"
            checks.append(f"- {verdict}: {label} {ratio:.2f}x the builder's B0 with the same "
                          f"activation (target <= {MIXCONV_TARGET}x)")
    policy_note = ("" if args.b0_dtype_policy == "float32"
                   else f", dtype policy {args.b0_dtype_policy}")
    report.emit(f"## EfficientNet B0, batch {batch} at {size}x{size}x3, {classes} classes, Adam, "
                f"train_on_batch (backend {backend.name}{policy_note}"
                f"{'' if which == 'core' else ', all rows'})")
    report.emit()
    report.emit("Rows of one section are timed in turn (one group of steps of each per round); "
                "ratios between sections compare separate timings.")
    report.emit()
    report.table(["model", "step ms", "min", "vs keras", "vs builder, same act.", "images/s",
                  "first call s"], rows)
    if checks and not args.small:
        for line in checks:
            report.emit(line)
        report.emit()


def run_resnet(backend, args, clock, report):
    import numpy as np

    from linked_neurons.experiments.speed import PAPER_RATIOS
    from linked_neurons.models import resnet50_cifar

    batch = 4 if args.small else 128
    inner = 1 if args.small else 5
    rng = np.random.default_rng(3)
    x = backend.tensor(rng.normal(size=(batch, 32, 32, 3)).astype("float32"))
    y = backend.tensor(rng.integers(0, 10, size=(batch,)).astype("int32"))
    makers = [(key, functools.partial(resnet50_cifar, (32, 32, 3), 10, activation=activation,
                                      batch_norm=bn, width_multiplier=0.125))
              for key, _, activation, bn in RESNET_VARIANTS]
    results = time_models(backend, makers, x, y, args, clock, inner, "resnet")
    ref = (results["lkrelu"] or (None,))[0]
    rows = []
    for key, label, _, _ in RESNET_VARIANTS:
        if results[key] is None:
            rows.append([label, "skipped (time cap)", "", "", "", ""])
            continue
        ms, low, first = results[key]
        rows.append([label, fmt(ms, 2), fmt(low, 2), fmt(None if not ref else ms / ref, 2),
                     fmt(PAPER_RATIOS.get(key), 2), fmt(first, 1)])
    report.emit(f"## ResNet50-CIFAR (width 1/8), batch {batch}, 32x32x3, 10 classes, Adam, "
                f"train_on_batch (backend {backend.name})")
    report.emit()
    report.table(["variant", "step ms", "min", "vs LK-ReLU", "paper ratio", "first call s"], rows)
