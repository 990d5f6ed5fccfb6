"""The model sections of ``benchmarks/gpu.py``: EfficientNet B0 (``b0`` and
``b0-extra``) and ResNet50-CIFAR (``resnet``), each timed with
``model.train_on_batch``; the script's docstring describes the rows."""

from __future__ import annotations

import sys
import time

from gpu_backend import time_calls
from gpu_report import fmt

RESNET_VARIANTS = (("lkrelu", "LK-ReLU", "lkrelu", False), ("relu_bn", "ReLU+BN", "relu", True),
                   ("lkrelu_bn", "LK-ReLU+BN", "lkrelu", True), ("selu", "SELU", "selu", False),
                   ("selu_bn", "SELU+BN", "selu", True), ("lkselu", "LK-SELU", "lkselu", False))
MIXCONV_TARGET = 1.25


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
        ("B0, mixed=True, 3x3 tiles", "mixed_blocks", builder("blocks", mixed=True)),
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
    batch = args.b0_batch or batch
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
                       "mixed_shifts": "b0", "mixed_blocks": "b0", "mixed_mish": "b0_mish"}
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
