"""Speed and memory of the fused activation ops against their plain forms.

Run from the root of a clone (``python benchmarks/activations.py --help``).
For each op (LKReLU, LKSELU, LKSwish, Mish, SELU; Swish on request) and each
implementation, the script prints one row per XLA setting (LKPReLU, LEAF and
AHAF, whose parameters take gradients as well, are in the ops section of
``benchmarks/gpu.py``, which differentiates every argument: ``--ops lkprelu
leaf ahaf``):

``default (fused)`` / ``default (plain)``
    the op as a layer or ``linked_neurons.ops`` runs it by default
    (``fused=None``): the fused or the plain form, picked per backend,
    compilation mode and device at trace time
    (``linked_neurons.ops._policy.FUSED_BY_DEFAULT``); the parenthesis names
    the form the timed step picked. Its saved-bytes cells are those of that
    form. It times the same computation as the row of that form, a second
    measurement of it that shows the run-to-run noise.
``fused``
    ``fused=True`` (``keras.ops.custom_gradient``, backward pass recomputed
    from the input).
``plain``
    the same op with ``fused=False``: a composition of ``keras.ops`` calls
    differentiated by the backend. For the linked ops this is also "concat of
    Keras' built-in activations", so no separate built-in row is printed.
``tf.nn.crelu``
    TensorFlow's own CReLU (LKReLU only, TensorFlow backend only).
``keras``
    Keras' built-in activation (``keras.activations.mish``, ``.selu``,
    ``.silu``). ``keras.activations.selu`` builds exactly the same graph as
    ``plain`` SELU, so that pair of rows doubles as a check of the run-to-run
    noise; Keras' Mish is ``x * tanh(softplus(x))`` while the plain form here
    computes ``tanh(softplus(x))`` through ``expm1`` (exact in float64 on every
    backend), a longer graph.

What is measured
----------------
fwd+bwd ms
    Median wall time, over ``--repeats`` calls made after warm-up (compilation
    plus one call), of one step that returns both the op's output ``y`` and the
    vector-Jacobian product ``dx`` for a fixed random upstream gradient ``g``
    (normal, same for every variant; the input is ``3 * normal``). On the
    TensorFlow backend the step is a ``tf.GradientTape`` inside a
    ``tf.function`` with ``jit_compile=False`` ("XLA off", TensorFlow's graph
    runtime with Grappler) or ``jit_compile=True`` ("XLA on"). On the JAX
    backend (``--backend jax``) "XLA on" is ``jax.jit`` of ``jax.vjp`` and "XLA
    off" is the same code run op by op. Returning ``y`` keeps the forward pass
    from being pruned, so every variant does the same work. The variants of
    one op are interleaved call by call, so slow drifts hit them alike.
    ``min ms`` is the fastest call and ``spread`` is (max - min) / median over
    the repeats: when other processes share the machine (the load average is
    printed at the end) the minimum is the better estimate of the op's cost,
    but every ratio and target below uses the median.
vs plain
    Time divided by the ``plain`` row with the same XLA setting.
vs floor
    Time divided by the memory-bandwidth floor measured in the same run: the
    median time of copying, with ``numpy.copyto`` into a preallocated buffer
    (one thread per core, or a single thread when that is faster), a buffer of
    as many bytes as the step must read, which equals the bytes it must
    write. A linked op must read x (C channels) and g (2C) and write y (2C)
    and dx (C): 6 x bytes moved, a copy of 3 x bytes. A plain activation reads
    x and g and writes y and dx: 4 x bytes moved, a copy of 2 x bytes.
vs TF copy
    Time divided by the same copy done by TensorFlow (``-a`` under XLA), which
    also allocates its output the way every op's output is allocated. With the
    default CPU allocator, large buffers come fresh from the kernel and every
    4 KiB page is faulted in on first touch; on machines where that is slow
    (virtual machines, transparent huge pages off or ``madvise``) this and not
    DRAM bandwidth bounds every TensorFlow op. ``--bfc`` switches TensorFlow
    to its caching BFC allocator (``TF_CPU_ALLOCATOR_USE_BFC=true``) so that
    the timings show the kernels instead; the header says which allocator ran.
kernels
    Kernels that write at least half as many elements as ``x`` (pure views
    such as reshape excluded). XLA off: TensorFlow graph ops as
    ``forward+backward`` (the part before ``tape.gradient`` and the part it
    builds), counted before Grappler; XLA on: instructions of the optimised
    HLO of the whole step (fusions, copies, concatenates). Without XLA every
    such kernel is a full pass over memory, and with TensorFlow's default
    allocator a fresh buffer too, so this count explains most of the time.
saved MB (TF) / (JAX)
    Bytes the autodiff keeps alive from the forward pass for the backward
    pass, counted two ways, both including the input ``x`` when it is kept
    (the fused ops keep exactly ``x``), both before any XLA optimisation:

    * TF: the tensors produced by the forward part of the traced
      ``tf.function`` graph (everything created before ``tape.gradient``, the
      input placeholder included, constants excluded) that are inputs of ops
      created by ``tape.gradient``; sizes from the static shapes. This is what
      TensorFlow's graph runtime holds between the two passes.
    * JAX: run in a subprocess with ``KERAS_BACKEND=jax``; the leaves of the
      function returned by ``jax.vjp(jax.jit(f), x)`` (the residuals), their
      ``nbytes`` summed, each device buffer counted once.

    The ratio columns divide by the ``plain`` row. They do not depend on the
    XLA setting and are repeated on both rows (except the default's, which
    follow the form it picked in each). Note that in a network the
    next layer usually keeps the op's output anyway, so a plain op that keeps
    only its output (ReLU and SELU on TensorFlow) costs nothing extra there.
err vs plain
    max |variant - plain| / max |plain| over ``y`` and ``dx`` (same XLA
    setting), a check that every variant computes the same thing. Exact zeros
    of the random input are moved to 1e-3 first: at the kink x = 0 the
    backends disagree on the derivative of SELU (TensorFlow's ``SeluGrad``
    takes ``scale``, XLA and SPEC ``scale * alpha``), which says nothing about
    the implementations compared here.

Below the table, the targets of the project's issue are checked against
these measurements and printed as PASS or MISS:

* the fused form keeps at most half the bytes the plain form keeps (linked
  ops; each counting method separately);
* fused fwd+bwd time at most 0.8x the plain time without XLA, and at most
  1.0x with XLA;
* fused fwd+bwd time within 3x of the bandwidth floor (on CPU).

Below the targets, the form the default picks is compared with the other
form, per XLA setting (the picked form's time is the median of its own row
and the default row together: the same computation timed twice). This is
not a target: the defaults also weigh a training step of a network, where
the next layer keeps the activation's output and a form faster alone can
keep more (``benchmarks/results_defaults_cpu.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from activations_analysis import analyse_tensorflow, saved_bytes_jax  # noqa: E402
from activations_report import fmt_mb, fmt_ratio, hardware_lines  # noqa: E402
from shared import (  # noqa: E402
    POLICY_NAME,
    framework_copy_floor,
    numpy_copy_floor,
    print_targets,
    render,
    set_environment,
)

DEFAULT_OPS = ("lkrelu", "lkselu", "lkswish", "mish", "selu")
ALL_OPS = DEFAULT_OPS + ("swish",)
LABELS = {
    "lkrelu": "LKReLU",
    "lkselu": "LKSELU",
    "lkswish": "LKSwish",
    "mish": "Mish",
    "selu": "SELU",
    "swish": "Swish",
}
LINKED = {"lkrelu", "lkselu", "lkswish"}
TIME_TARGET = {False: 0.8, True: 1.0}  # fused / plain, keyed by XLA
MEMORY_TARGET = 0.5  # fused / plain saved bytes, linked ops
FLOOR_TARGET = 3.0  # fused time / bandwidth floor


# ----------------------------------------------------------------------------- arguments
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--shape", type=int, nargs="+", default=None,
                   help="input shape, channels last (default 64 56 56 64)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per variant after warm-up (default 7)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed calls after the compiling call (default 1)")
    p.add_argument("--ops", nargs="+", default=list(DEFAULT_OPS), choices=ALL_OPS,
                   help=f"ops to measure (default: {' '.join(DEFAULT_OPS)})")
    p.add_argument("--xla", choices=("both", "on", "off"), default="both",
                   help="rows with jit_compile=True (on), False (off) or both (default)")
    p.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow",
                   help="Keras backend used for the timings (default tensorflow)")
    p.add_argument("--bfc", action="store_true",
                   help="TensorFlow: use the caching BFC CPU allocator")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the saved-bytes columns (no subprocesses)")
    p.add_argument("--markdown", action="store_true", help="print Markdown")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: shape 8 28 28 32, 3 repeats")
    p.add_argument("--seed", type=int, default=0, help="seed of the random x and g")
    p.add_argument("--saved-bytes-json", choices=("tensorflow", "jax"), default=None,
                   help=argparse.SUPPRESS)  # internal: subprocess mode
    args = p.parse_args(argv)
    if args.shape is None:
        args.shape = [8, 28, 28, 32] if args.quick else [64, 56, 56, 64]
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if len(args.shape) < 1 or min(args.shape) < 1:
        p.error("--shape needs positive sizes")
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    return args


# ----------------------------------------------------------------------------- variants
def variants(op, backend):
    """Returns ``{impl: fn}`` for one op; ``fn`` maps x to y (axis -1)."""
    import keras

    from linked_neurons import ops as lo

    if op == "lkrelu":
        v = {"default": lambda x: lo.lk_relu(x), "fused": lambda x: lo.lk_relu(x, fused=True),
             "plain": lambda x: lo.lk_relu(x, fused=False)}
        if backend == "tensorflow":
            import tensorflow as tf

            v["tf.nn.crelu"] = lambda x: tf.nn.crelu(x, axis=-1)
        return v
    if op == "lkselu":
        return {"default": lambda x: lo.lk_selu(x), "fused": lambda x: lo.lk_selu(x, fused=True),
                "plain": lambda x: lo.lk_selu(x, fused=False)}
    if op == "lkswish":
        return {
            "default": lambda x: lo.lk_swish(x),
            "fused": lambda x: lo.lk_swish(x, fused=True),
            "plain": lambda x: lo.lk_swish(x, fused=False),
        }
    if op == "mish":
        return {
            "default": lambda x: lo.mish(x),
            "fused": lambda x: lo.mish(x, fused=True),
            "plain": lambda x: lo.mish(x, fused=False),
            "keras": keras.activations.mish,
        }
    if op == "selu":
        return {
            "default": lambda x: lo.selu(x),
            "fused": lambda x: lo.selu(x, fused=True),
            "plain": lambda x: lo.selu(x, fused=False),
            "keras": keras.activations.selu,
        }
    if op == "swish":
        return {
            "default": lambda x: lo.swish(x),
            "fused": lambda x: lo.swish(x, fused=True),
            "plain": lambda x: lo.swish(x, fused=False),
            "keras": keras.activations.silu,
        }
    raise ValueError(op)


def out_shape(op, shape):
    shape = list(shape)
    if op in LINKED:
        shape[-1] *= 2
    return shape


# ----------------------------------------------------------------------------- saved bytes
def saved_bytes_main(args):
    """Subprocess mode: prints ``{op: {impl: bytes}}`` as JSON."""
    result = {}
    for op in args.ops:
        result[op] = {}
        for impl, fn in variants(op, args.saved_bytes_json).items():
            if args.saved_bytes_json == "tensorflow":
                result[op][impl] = analyse_tensorflow(fn, args.shape)
            else:
                result[op][impl] = {"saved": saved_bytes_jax(fn, args.shape, args.seed)}
    print("SAVED_BYTES_JSON " + json.dumps(result))


def saved_bytes(args, backend):
    cmd = [sys.executable, os.path.abspath(__file__), "--saved-bytes-json", backend,
           "--shape", *map(str, args.shape), "--ops", *args.ops, "--seed", str(args.seed)]
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.pop("TF_CPU_ALLOCATOR_USE_BFC", None)
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except OSError as err:
        print(f"saved bytes ({backend}) failed: {err}", file=sys.stderr)
        return {}
    for line in proc.stdout.splitlines():
        if line.startswith("SAVED_BYTES_JSON "):
            return json.loads(line.split(" ", 1)[1])
    print(f"saved bytes ({backend}) failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
    return {}


# ----------------------------------------------------------------------------- timing
def make_step(fn, backend, xla):
    """A callable ``(x, g) -> (y, dx)`` that runs to completion."""
    if backend == "tensorflow":
        import tensorflow as tf

        def step(x, g):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x)
            return y, tape.gradient(y, x, output_gradients=g)

        return tf.function(step, jit_compile=xla, autograph=False)

    import jax

    def step(x, g):
        y, pullback = jax.vjp(fn, x)
        return y, pullback(g)[0]

    run = jax.jit(step) if xla else step
    return lambda x, g: jax.block_until_ready(run(x, g))


def to_numpy(t):
    import numpy as np

    return np.asarray(t)


def rel_err(a, b):
    import numpy as np

    a, b = to_numpy(a), to_numpy(b)
    scale = float(np.max(np.abs(b))) or 1.0
    return float(np.max(np.abs(a - b))) / scale


def time_op(op, args, xla, x, g):
    """Times every variant of ``op``.

    Returns ``({impl: (times_s, err)}, pick)``, where ``pick`` is the form
    ("fused" or "plain") the default variant picked when it was traced.
    """
    from linked_neurons.ops import _policy

    fns = variants(op, args.backend)
    picked = []
    default = fns["default"]

    def recorded(x):
        picked.append(_policy.use_fused(POLICY_NAME[op], None, x))
        return default(x)

    fns["default"] = recorded
    steps = {impl: make_step(fn, args.backend, xla) for impl, fn in fns.items()}
    ref = None
    errs = {}
    for impl in ["plain"] + [i for i in steps if i != "plain"]:
        y, dx = steps[impl](x, g)  # traces / compiles
        if impl == "plain":
            ref = (to_numpy(y).copy(), to_numpy(dx).copy())
            errs[impl] = 0.0
        else:
            errs[impl] = max(rel_err(y, ref[0]), rel_err(dx, ref[1]))
        del y, dx
        for _ in range(args.warmup):
            steps[impl](x, g)
    del ref
    times = {impl: [] for impl in steps}
    for _ in range(args.repeats):
        for impl, step in steps.items():
            t0 = time.perf_counter()
            out = step(x, g)
            times[impl].append(time.perf_counter() - t0)
            del out
    pick = ("fused" if picked[-1] else "plain") if picked else None
    return {impl: (times[impl], errs[impl]) for impl in steps}, pick


# ----------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    set_environment(args.saved_bytes_json or args.backend, args.bfc)
    if args.saved_bytes_json:
        saved_bytes_main(args)
        return 0

    import numpy as np

    xla_modes = {"both": (False, True), "on": (True,), "off": (False,)}[args.xla]
    shape = list(args.shape)
    n = int(np.prod(shape))
    x_bytes = 4 * n
    t_start = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    saved = {}
    if not args.no_memory:
        for backend in ("tensorflow", "jax"):
            saved[backend] = saved_bytes(args, backend)

    rng = np.random.default_rng(args.seed)
    x_np = 3 * rng.standard_normal(shape, np.float32)
    # Exact zeros are the kinks of ReLU and SELU, where backends differ on the
    # derivative (TensorFlow's SeluGrad uses scale at 0, XLA and SPEC scale*alpha):
    # move them off the kink so that "err vs plain" compares like with like.
    x_np[x_np == 0] = np.float32(1e-3)
    g_np = {}
    for op in args.ops:
        key = tuple(out_shape(op, shape))
        if key not in g_np:
            g_np[key] = rng.standard_normal(key, np.float32)
    if args.backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x_np)
        gs = {k: tf.constant(v) for k, v in g_np.items()}
    else:
        import jax

        x = jax.numpy.asarray(x_np)
        gs = {k: jax.numpy.asarray(v) for k, v in g_np.items()}
    del g_np

    # Floors: bytes moved by one fwd+bwd = 2 x (bytes read) = 2 x (bytes written).
    moved = {"linked": 6 * x_bytes, "plain": 4 * x_bytes}
    kinds = sorted({("linked" if op in LINKED else "plain") for op in args.ops})
    bw_floor = {k: numpy_copy_floor(moved[k] // 2, args.repeats) for k in kinds}
    fw_floor = {k: framework_copy_floor(moved[k] // 2, args.backend, args.repeats)
                for k in kinds}

    results = {}  # (op, impl, xla) -> (times, err)
    picks = {}  # (op, xla) -> the form the default picked
    for op in args.ops:
        g = gs[tuple(out_shape(op, shape))]
        for xla in xla_modes:
            timed, picks[(op, xla)] = time_op(op, args, xla, x, g)
            for impl, res in timed.items():
                results[(op, impl, xla)] = res

    # ------------------------------------------------------------------ table
    def info(backend, op, impl, key="saved"):
        return saved.get(backend, {}).get(op, {}).get(impl, {}).get(key)

    headers = ["op", "impl", "XLA", "fwd+bwd ms", "min ms", "spread", "vs plain", "vs floor",
               "vs TF copy" if args.backend == "tensorflow" else "vs XLA copy", "kernels",
               "saved MB (TF)", "saved vs plain (TF)", "saved MB (JAX)",
               "saved vs plain (JAX)", "err vs plain"]
    rows = []
    med = {k: statistics.median(v[0]) for k, v in results.items()}
    summary = []
    defaults = []  # the default's form against the other, alone (not a target)
    for op in args.ops:
        kind = "linked" if op in LINKED else "plain"
        impls = list(dict.fromkeys(i for (o, i, _x) in results if o == op))
        for impl in impls:
            for xla in xla_modes:
                times, err = results[(op, impl, xla)]
                m = med[(op, impl, xla)]
                base = med.get((op, "plain", xla))
                if xla:
                    k = info("tensorflow", op, impl, "xla")
                    kernels = "-" if k is None else str(k)
                else:
                    k = info("tensorflow", op, impl, "graph")
                    kernels = "-" if k is None else f"{k[0]}+{k[1]}"
                pick = picks.get((op, xla)) if impl == "default" else None
                label = f"default ({pick})" if pick else impl
                cells = [LABELS[op], label, "on" if xla else "off", f"{m * 1e3:.1f}",
                         f"{min(times) * 1e3:.1f}",
                         f"{(max(times) - min(times)) / m * 100:.0f}%",
                         fmt_ratio(m / base if base else None),
                         fmt_ratio(m / bw_floor[kind], 1),
                         fmt_ratio(m / fw_floor[kind], 1), kernels]
                for backend in ("tensorflow", "jax"):
                    b, pb = info(backend, op, pick or impl), info(backend, op, "plain")
                    cells += [fmt_mb(b), fmt_ratio(b / pb if b is not None and pb else None)]
                cells.append(f"{err:.1e}")
                rows.append(cells)

    drop = set()
    if not saved:
        drop |= {h for h in headers if h.startswith("saved")} | {"kernels"}
    if args.backend != "tensorflow":
        drop.add("kernels")  # the counts come from TensorFlow's graphs
    keep = [i for i, h in enumerate(headers) if h not in drop]
    headers = [headers[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]

    # ------------------------------------------------------------------ targets
    for op in args.ops:
        kind = "linked" if op in LINKED else "plain"
        if op in LINKED:
            for backend, name in (("tensorflow", "TF graph"), ("jax", "JAX vjp")):
                f, p = info(backend, op, "fused"), info(backend, op, "plain")
                if f is not None and p:
                    r = f / p
                    summary.append((r <= MEMORY_TARGET,
                                    f"{LABELS[op]}: saved bytes fused/plain <= "
                                    f"{MEMORY_TARGET:.1f} ({name}): {r:.2f}"))
        for xla in xla_modes:
            f, p = med.get((op, "fused", xla)), med.get((op, "plain", xla))
            if f and p:
                summary.append((f / p <= TIME_TARGET[xla],
                                f"{LABELS[op]}: fwd+bwd fused/plain <= {TIME_TARGET[xla]:.1f} "
                                f"(XLA {'on' if xla else 'off'}): {f / p:.2f}"))
        for xla in xla_modes:
            pick = picks.get((op, xla))
            if not pick or (op, pick, xla) not in results or (op, "default", xla) not in results:
                continue
            other = "plain" if pick == "fused" else "fused"
            mine = statistics.median(results[(op, "default", xla)][0]
                                     + results[(op, pick, xla)][0])
            theirs = med.get((op, other, xla))
            if theirs:
                defaults.append(f"{LABELS[op]}, XLA {'on' if xla else 'off'}: {pick}, "
                                f"{mine / theirs:.2f}x the {other} form's time alone")
        for xla in xla_modes:
            f = med.get((op, "fused", xla))
            if f:
                r = f / bw_floor[kind]
                summary.append((r <= FLOOR_TARGET,
                                f"{LABELS[op]}: fused fwd+bwd within {FLOOR_TARGET:.0f}x of the "
                                f"bandwidth floor (XLA {'on' if xla else 'off'}): {r:.1f}x"))

    # ------------------------------------------------------------------ print
    md = args.markdown
    title = f"Activation ops, fused vs plain, forward+backward ({args.backend}"
    if args.backend == "tensorflow":
        title += ", BFC allocator" if args.bfc else ", default allocator"
    title += ")"
    head = hardware_lines(args)
    head.append(
        f"Input {shape} float32 ({n:,} elements, {x_bytes / 1e6:.1f} MB), axis -1; "
        f"median of {args.repeats} timed calls after compile + {args.warmup} warm-up"
    )
    for k in kinds:
        head.append(
            f"Floor for {'linked ops' if k == 'linked' else 'plain activations'}: "
            f"{moved[k] / 1e6:.0f} MB moved; numpy copy {bw_floor[k] * 1e3:.1f} ms "
            f"(= {moved[k] / bw_floor[k] / 1e9:.1f} GB/s), "
            f"{'TF' if args.backend == 'tensorflow' else 'XLA'} copy "
            f"{fw_floor[k] * 1e3:.1f} ms"
        )
    if not saved:
        head.append("Saved bytes: skipped (--no-memory)")
    if md:
        print(f"## {title}\n")
        print("\n".join(f"- {h}" for h in head))
        print()
    else:
        print(title)
        print("\n".join(head))
        print()
    print(render(headers, rows, md))
    print()
    print_targets(summary, md)
    print()
    print("### The default's form\n" if md else "The default's form:")
    print("\n".join(("- " if md else "  ") + line for line in defaults))
    print(("" if md else "  ") + "The defaults weigh these times together with the time and "
          "memory of a training step of a network (benchmarks/results_defaults_cpu.md): a "
          "form slower alone can be the default where the faster one keeps more.")
    print()
    wall = time.perf_counter() - t_start
    notes = [
        "vs floor: time / numpy copy of the bytes the step must move "
        "(linked: x, g, y, dx = 6 x bytes; plain: 4 x bytes).",
        "saved: bytes kept for the backward pass, input included; "
        "see the script's docstring for how they are counted.",
        "kernels: ops that write >= half as many elements as x (views excluded); XLA off: "
        "TensorFlow graph ops forward+backward before Grappler; XLA on: optimised HLO kernels."
        if "kernels" in headers else "",
        f"Total run time {wall:.0f} s."
        + (f" 1-min load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at "
           f"the end ({os.cpu_count()} cores): other processes share the machine when it "
           "exceeds ~1." if load_start is not None else ""),
    ]
    print("\n".join(("- " if md else "") + s for s in notes if s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
