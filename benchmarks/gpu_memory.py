"""The memory section of ``benchmarks/gpu.py``: the peak memory, the bytes kept
for the backward pass and the step time of a training step of a deep linked
network, with the activation's default form, ``fused=True`` and
``fused=False``; the script's docstring describes the columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from gpu_backend import time_calls
from gpu_report import fmt, mib
from shared import POLICY_NAME

#: The script a variant runs in when it needs a process of its own.
GPU_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpu.py")

ACTIVATION_LAYERS = {"lkrelu": "LKReLU", "lkselu": "LKSELU", "lkswish": "LKSwish",
                     "lkprelu": "LKPReLU", "selu": "SELU", "mish": "Mish", "swish": "Swish",
                     "leaf": "LEAF", "ahaf": "AHAF"}


def deep_linked_model(fused, small, op="lkrelu"):
    """16 x (Conv2D + the activation of ``op``), pooled, dense (4 blocks small)."""
    import keras

    import linked_neurons

    size, channels, depth = (8, 4, 4) if small else (32, 32, 16)
    activation = getattr(linked_neurons, ACTIVATION_LAYERS[op])
    layers = [keras.Input((size, size, channels))]
    for _ in range(depth):
        layers += [keras.layers.Conv2D(channels, 3, padding="same"), activation(fused=fused)]
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    return keras.Sequential(layers), (size, size, channels)


def memory_batch(args):
    return args.memory_batch or (8 if args.small else 256)


def memory_probe(backend, args, variant):
    """One variant's step in this process: peak memory, saved bytes, step time.

    ``variant`` is ``"op:form"``, e.g. ``"lkrelu:default"`` (what
    ``--memory-probe`` passes to a fresh process).
    """
    import keras
    import numpy as np

    op, variant = variant.split(":")
    fused = {"default": None, "fused": True, "plain": False}[variant]
    batch = memory_batch(args)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(args.memory_dtype_policy or "float32")
    try:
        model, shape = deep_linked_model(fused, args.small, op)
    finally:
        keras.config.set_dtype_policy(policy)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True if args.memory_xla or args.torch_compile else "auto",
                  run_eagerly=args.memory_eager)
    rng = np.random.default_rng(4)
    x = backend.tensor(rng.normal(size=(batch, *shape)).astype("float32"))
    y = backend.tensor(rng.integers(0, 10, size=(batch,)).astype("int32"))
    from linked_neurons.ops import _policy

    traced_in, setting = [], _policy.setting

    def recording(x=None):  # the settings (and input dtypes) the train step is traced in
        traced_in.append((setting(x), getattr(x, "dtype", None)))
        return traced_in[-1][0]

    _policy.setting = recording
    before = backend.in_use_bytes()
    backend.reset_peak()
    try:
        model.train_on_batch(x, y)
    finally:
        _policy.setting = setting
    backend.sync(model.train_on_batch(x, y, return_dict=False))
    peak = backend.peak_bytes()
    saved = None
    if backend.name == "jax":
        import jax

        def loss(trainable, non_trainable, x, y):
            logits, _ = model.stateless_call(trainable, non_trainable, x, training=True)
            return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
                y, logits, from_logits=True))

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        if args.memory_eager:  # the residuals an op-by-op vjp keeps, each buffer once
            _, vjp = jax.vjp(lambda t: loss(t, non_trainable, x, y), trainable)
            leaves = {id(a): a for a in jax.tree_util.tree_leaves(vjp) if hasattr(a, "nbytes")}
            saved = sum(a.nbytes for a in leaves.values())
        else:  # XLA's buffer plan of a jitted gradient step
            compiled = jax.jit(jax.grad(loss)).lower(trainable, non_trainable, x, y).compile()
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
    picked = variant
    if fused is None:
        picked = "fused" if traced_in and _policy.fused_by_default(
            POLICY_NAME[op], *traced_in[-1]) else "plain"
    return {"variant": variant, "peak": peak, "before": before, "saved": saved, "ms": ms,
            "picked": picked}


def memory_row(backend, args, clock, op, variant, batch):
    """The memory probe of one row: its result, or a line saying why it failed."""
    # JAX: the peak cannot be reset, so a fresh process each. TensorFlow on a
    # CPU: a process whose CPU allocator is the BFC one, which counts bytes.
    # torch.compile: its caches and recompilation limit are per process.
    if not (backend.name == "jax" or (backend.name == "tensorflow" and not backend.gpu)
            or args.torch_compile):
        return memory_probe(backend, args, f"{op}:{variant}")
    flags = [flag for flag, on in (("--small", args.small), ("--memory-xla", args.memory_xla),
                                   ("--memory-eager", args.memory_eager),
                                   ("--torch-compile", args.torch_compile)) if on]
    if args.memory_dtype_policy:
        flags += ["--memory-dtype-policy", args.memory_dtype_policy]
    cmd = [sys.executable, GPU_SCRIPT, "--memory-probe", f"{op}:{variant}",
           "--repeats", str(args.repeats), "--memory-batch", str(batch)] + flags
    env = dict(os.environ, KERAS_BACKEND=backend.name)
    if backend.name == "tensorflow":
        env["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          timeout=max(30, clock.left() + 60), check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return f"failed: {proc.stderr.strip()[-200:]}"
    return json.loads(lines[-1])


def run_memory(backend, args, clock, report):
    rows = []
    batch = memory_batch(args)
    for op in args.memory_ops:
        for variant in ("default", "fused", "plain"):
            label = [ACTIVATION_LAYERS[op], variant]
            if not clock.fits("memory"):
                rows.append(label + ["skipped (time cap)", "", "", "", ""])
                continue
            with clock.row("memory"):
                result = memory_row(backend, args, clock, op, variant, batch)
            if isinstance(result, str):
                rows.append(label + [result, "", "", "", ""])
                continue
            over = None if result["peak"] is None or result["before"] is None else (
                result["peak"] - result["before"])
            rows.append(label + [result["picked"], mib(result["peak"]), mib(over),
                                 mib(result["saved"]), fmt(result["ms"], 2)])
    _, shape = deep_linked_model(None, args.small)
    depth = 4 if args.small else 16
    notes = ", XLA (--memory-xla)" if args.memory_xla else (
        ", torch.compile (--torch-compile)" if args.torch_compile else (
            ", op by op (--memory-eager)" if args.memory_eager else ""))
    if args.memory_dtype_policy:
        notes += f", dtype policy {args.memory_dtype_policy}"
    report.emit(f"## Peak memory of a training step: {depth} x (Conv2D + activation), batch "
                f"{batch} at {shape[0]}x{shape[1]}x{shape[2]}, Adam (backend {backend.name}"
                f"{notes})")
    report.emit()
    report.table(["activation", "fused=", "form", "peak MiB", "peak - before step MiB",
                  "saved for backward MiB (torch) / " + (
                      "vjp residuals MiB (JAX)" if args.memory_eager
                      else "XLA temp MiB of a grad step (JAX)"),
                  "step ms"], rows)
