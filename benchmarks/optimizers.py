"""Time per training step with Adam, RAdam, Lookahead(Adam) and Lookahead(RAdam).

Run from the root of a clone (``python benchmarks/optimizers.py --help``).

What is measured
----------------
The model is a multilayer perceptron with about a million parameters
(``--hidden``, default 256 -> 1024 -> 512 -> 512 -> 10, 1,055,754 weights)
trained on a fixed random batch (``--batch-size``, default 128) with a
softmax cross-entropy loss. For each optimizer the script builds the same
model from the same initial weights and compiles it; then, after compilation
and ``--warmup`` untimed steps, it times ``--steps`` training steps per
optimizer, and repeats that ``--repeats`` times. The optimizers take turns
step by step (in an order that rotates from step to step), so that changes
in the load of the machine hit them alike.

``step ms``
    Median over the repeats of the mean wall time of one ``train_on_batch`` call:
    forward pass, backward pass, optimizer update and Keras' per-step work,
    what ``model.fit`` does per batch.
``apply ms``
    The same for the optimizer update alone: ``optimizer.apply`` on fixed
    gradients, compiled as the training step is (``tf.function`` with the
    same XLA setting on TensorFlow, ``jax.jit(optimizer.stateless_apply)``
    on JAX, eager on PyTorch).
``vs Adam``
    Median over the repeats of the ratio to Adam's time in the same repeat
    (paired, so that load shared by both cancels); ``vs inner`` compares a
    Lookahead row with the optimizer it wraps.
``min ms``, ``spread``
    Fastest repeat, and (slowest - fastest) / median over the repeats.
``CPU ms``
    The same as ``step ms`` in processor time of this process (all its
    threads): less disturbed than wall time when other processes share the
    machine, though not by the memory and cache traffic they cause.

On a machine shared with other jobs, PyTorch's CPU kernels can slow down
by an order of magnitude when their threads wait for each other; run it with
``OMP_NUM_THREADS=1`` there (the header gives the number of threads).

Below the table the script checks the targets on the training step (RAdam
at most 1.15x Adam, Lookahead adding at most 10% to the optimizer it wraps)
and prints PASS or MISS for each. The 1-minute load average at the start and
the end says whether other processes shared the machine.
"""

import argparse
import os
import platform
import sys
import time

OPTIMIZERS = ["Adam", "RAdam", "Lookahead(Adam)", "Lookahead(RAdam)"]
INNER = {"Lookahead(Adam)": "Adam", "Lookahead(RAdam)": "RAdam"}
TARGETS = [
    ("RAdam", "Adam", 1.15, "RAdam step time <= 1.15x Adam"),
    ("Lookahead(Adam)", "Adam", 1.10, "Lookahead(Adam) step time <= 1.10x Adam"),
    ("Lookahead(RAdam)", "RAdam", 1.10, "Lookahead(RAdam) step time <= 1.10x RAdam"),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], default="tensorflow")
    parser.add_argument(
        "--xla",
        choices=["both", "on", "off"],
        default="both",
        help="TensorFlow: time with jit_compile=False, True or both (default both)",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--hidden", type=int, nargs="+", default=[256, 1024, 512, 512],
        help="input size then hidden layer sizes (default 256 1024 512 512)",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 repeats of 3 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.warmup = 3, 3, 1
    return args


def make_optimizer(name):
    import keras

    from linked_neurons.optimizers import Lookahead, RAdam

    inner = {"Adam": keras.optimizers.Adam, "RAdam": RAdam}
    if name in inner:
        return inner[name](learning_rate=1e-3)
    return Lookahead(inner[INNER[name]](learning_rate=1e-3), sync_period=5, slow_step_size=0.5)


def build_model(sizes, classes=10):
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input((sizes[0],))]
    layers += [keras.layers.Dense(n, activation="relu") for n in sizes[1:]]
    layers.append(keras.layers.Dense(classes))
    return keras.Sequential(layers)


class Case:
    """One optimizer: a compiled model and a compiled ``apply`` on fixed gradients."""

    def __init__(self, name, args, xla, x, y):
        import keras
        import numpy as np

        self.name = name
        self.model = build_model(args.hidden)
        self.model.compile(
            optimizer=make_optimizer(name),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=xla,
        )
        self.x, self.y = x, y
        # A separate copy of the weights and optimizer for the apply-only timing.
        variables = [keras.Variable(w) for w in self.model.get_weights()]
        rng = np.random.default_rng(1)
        grads = [
            keras.ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32") * 1e-3)
            for v in variables
        ]
        optimizer = make_optimizer(name)
        optimizer.build(variables)
        self.apply = make_apply(optimizer, variables, grads, xla)

    def train(self, steps):
        for _ in range(steps):
            self.model.train_on_batch(self.x, self.y)

    def params(self):
        return self.model.count_params()


def make_apply(optimizer, variables, grads, xla):
    """A function running ``steps`` optimizer updates, compiled like the train step."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=bool(xla))
        def step():
            optimizer.apply(grads, variables)

        def run(steps):
            for _ in range(steps):
                step()
            variables[-1].numpy()  # wait for the last update (a small variable)

        return run
    if backend == "jax":
        import jax

        step = jax.jit(optimizer.stateless_apply, donate_argnums=(0, 2))
        state = {
            "opt": [v.value for v in optimizer.variables],
            "vars": [v.value for v in variables],
        }

        def run(steps):
            for _ in range(steps):
                state["vars"], state["opt"] = step(state["opt"], grads, state["vars"])
            jax.block_until_ready(state["vars"])

        return run
    import torch

    def run(steps):
        with torch.no_grad():
            for _ in range(steps):
                optimizer.apply(grads, variables)

    return run


def time_cases(cases, method, args):
    """Per-repeat mean step times (ms) of every case: (wall, CPU).

    The cases take turns step by step (in an order that rotates), so that load
    from other processes, which changes over seconds, hits them alike.
    """
    for case in cases:
        getattr(case, method)(args.warmup + 1)  # compile + warm-up
    wall = {case.name: [] for case in cases}
    cpu = {case.name: [] for case in cases}
    for _ in range(args.repeats):
        total = {case.name: 0.0 for case in cases}
        total_cpu = {case.name: 0.0 for case in cases}
        for step in range(args.steps):
            shift = step % len(cases)
            for case in cases[shift:] + cases[:shift]:
                start, start_cpu = time.perf_counter(), time.process_time()
                getattr(case, method)(1)
                total[case.name] += time.perf_counter() - start
                total_cpu[case.name] += time.process_time() - start_cpu
        for case in cases:
            wall[case.name].append(total[case.name] / args.steps * 1e3)
            cpu[case.name].append(total_cpu[case.name] / args.steps * 1e3)
    return wall, cpu


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def paired_ratio(times, name, base):
    return median([a / b for a, b in zip(times[name], times[base])])


def hardware_lines(args):
    import keras
    import numpy as np

    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(
                (line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = [f"Python {platform.python_version()}", f"Keras {keras.__version__}"]
    if args.backend == "tensorflow":
        import tensorflow as tf

        versions.append(f"TensorFlow {tf.__version__}")
    elif args.backend == "jax":
        import jax

        versions.append(f"JAX {jax.__version__}")
    else:
        import torch

        versions.append(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")
    versions.append(f"NumPy {np.__version__}")
    return [
        f"CPU: {model}; {os.cpu_count()} logical cores ({usable} usable)",
        ", ".join(versions) + f"; backend: {args.backend}",
    ]


def render(headers, rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers))) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    if keras.backend.backend() != args.backend:
        sys.exit(f"keras was already imported with the {keras.backend.backend()} backend")
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    started = time.perf_counter()

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, args.hidden[0])).astype("float32")
    y = rng.integers(0, 10, size=(args.batch_size,))
    if args.backend == "tensorflow":
        xla_settings = {"both": [False, True], "on": [True], "off": [False]}[args.xla]
    else:
        xla_settings = [args.backend == "jax"]

    rows, results, params = [], {}, None
    for xla in xla_settings:
        cases = [Case(name, args, xla, x, y) for name in OPTIMIZERS]
        params = cases[0].params()
        step, step_cpu = time_cases(cases, "train", args)
        apply, _ = time_cases(cases, "apply", args)
        results[xla] = (step, step_cpu)
        for name in OPTIMIZERS:
            base = INNER.get(name)
            rows.append(
                [
                    name,
                    "on" if xla else "off",
                    f"{median(step[name]):.2f}",
                    f"{min(step[name]):.2f}",
                    f"{(max(step[name]) - min(step[name])) / median(step[name]):.0%}",
                    f"{paired_ratio(step, name, 'Adam'):.3f}x",
                    f"{paired_ratio(step, name, base):.3f}x" if base else "-",
                    f"{median(step_cpu[name]):.2f}",
                    f"{paired_ratio(step_cpu, name, 'Adam'):.3f}x",
                    f"{paired_ratio(step_cpu, name, base):.3f}x" if base else "-",
                    f"{median(apply[name]):.3f}",
                    f"{paired_ratio(apply, name, 'Adam'):.2f}x",
                    f"{paired_ratio(apply, name, base):.2f}x" if base else "-",
                ]
            )

    title = "Optimizers: time per training step"
    print(f"## {title}\n" if args.markdown else f"{title}\n")
    bullet = "- " if args.markdown else ""
    for line in hardware_lines(args):
        print(bullet + line)
    sizes = " -> ".join(str(n) for n in [*args.hidden, 10])
    print(
        f"{bullet}Model: MLP {sizes} (ReLU), {params:,} parameters, float32; batch "
        f"{args.batch_size}; {args.repeats} repeats of {args.steps} steps after compile + "
        f"{args.warmup} warm-up steps; Lookahead sync_period=5, slow_step_size=0.5"
    )
    print()
    headers = [
        "optimizer", "XLA", "step ms", "min ms", "spread", "vs Adam", "vs inner",
        "CPU ms", "CPU vs Adam", "CPU vs inner", "apply ms", "apply vs Adam", "apply vs inner",
    ]
    print(render(headers, rows, args.markdown))
    print()
    print("### Targets\n" if args.markdown else "Targets")
    for xla, (step, step_cpu) in results.items():
        for name, base, limit, text in TARGETS:
            ratio = paired_ratio(step, name, base)
            verdict = "PASS" if ratio <= limit else "MISS"
            verdict = f"**{verdict}**" if args.markdown else verdict
            print(
                f"{bullet}{verdict} {text} (XLA {'on' if xla else 'off'}): {ratio:.3f}x "
                f"(in CPU time {paired_ratio(step_cpu, name, base):.3f}x)"
            )
    print()
    load = ""
    if load_start is not None:
        load = (
            f" 1-min load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at "
            f"the end ({os.cpu_count()} cores): other processes shared the machine when it "
            "exceeds the number of cores."
        )
    print(f"{bullet}Total run time {time.perf_counter() - started:.0f} s.{load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
