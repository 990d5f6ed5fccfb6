"""What the benchmark scripts share: the environment set-up, the CPU's name,
the names of the activation ops, the copy floors that time tables are read
against, and the plain-text or Markdown tables and target lines they print.

The floors are the time of the least work a step that reads and writes the
same bytes must do:

* :func:`numpy_copy_floor`: a NumPy copy into a preallocated array, on one
  thread or, where faster, split over the usable cores;
* :func:`framework_copy_floor`: an XLA-compiled ``-a`` in TensorFlow or JAX,
  which allocates its output as a framework step does.

Scripts run from the repository root (``python benchmarks/NAME.py``), so the
folder of the script is on ``sys.path`` and ``from shared import ...`` works.
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time

#: The scripts' op names -> the names of ``linked_neurons.ops._policy``.
POLICY_NAME = {"lkrelu": "lk_relu", "lkselu": "lk_selu", "lkswish": "lk_swish",
               "lkprelu": "lk_prelu", "selu": "selu", "mish": "mish", "swish": "swish",
               "leaf": "leaf", "ahaf": "ahaf"}


def set_environment(backend, bfc):
    """Sets the Keras backend and TensorFlow's CPU allocator; run it before importing either."""
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend == "jax":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if bfc:
        os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"


def cpu_name():
    """The CPU's model name (``/proc/cpuinfo``, else ``platform.processor()``)."""
    name = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name


def _median_time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(repeats, 5)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def usable_threads():
    """Cores this process may run on (the affinity mask where there is one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def numpy_copy_floor(nbytes, repeats, threads=None):
    """Median seconds of the fastest NumPy copy of ``nbytes`` into a preallocated array.

    Args:
        nbytes: Bytes copied (read once and written once).
        repeats: Timed copies (at least 5), after two untimed ones.
        threads: None: the faster of a one-thread copy and a copy split over
            :func:`usable_threads` threads; 1: the one-thread copy only.

    Returns:
        The median time in seconds.
    """
    import numpy as np

    n = max(1, nbytes // 4)
    src = np.full(n, 1.5, np.float32)
    dst = np.empty_like(src)
    threads = usable_threads() if threads is None else threads

    def single():
        np.copyto(dst, src)

    def parallel():
        bounds = np.linspace(0, n, threads + 1).astype(int)
        pool = [threading.Thread(target=np.copyto, args=(dst[a:b], src[a:b]))
                for a, b in zip(bounds[1:-1], bounds[2:])]
        for t in pool:
            t.start()
        np.copyto(dst[: bounds[1]], src[: bounds[1]])
        for t in pool:
            t.join()

    copies = (single, parallel) if threads > 1 else (single,)
    return min(_median_time(copy, repeats) for copy in copies)


def framework_copy_floor(nbytes, backend, repeats):
    """Median seconds of an XLA-compiled ``-a`` on ``nbytes`` (allocates its output).

    Args:
        nbytes: Bytes of the input.
        backend: ``"tensorflow"`` or ``"jax"``.
        repeats: Timed calls (at least 5), after two untimed ones.

    Returns:
        The median time in seconds.
    """
    import numpy as np

    a = np.full(max(1, nbytes // 4), 1.5, np.float32)
    if backend == "tensorflow":
        import tensorflow as tf

        a = tf.constant(a)
        run = tf.function(lambda t: -t, jit_compile=True, autograph=False)
    else:
        import jax

        a = jax.numpy.asarray(a)
        f = jax.jit(lambda t: -t)

        def run(t):
            return jax.block_until_ready(f(t))

    return _median_time(lambda: run(a), repeats)


def render(headers, rows, markdown, left=3):
    """A table of strings: Markdown, or aligned plain text.

    The first ``left`` columns are left-aligned, the others (numbers)
    right-aligned.
    """
    if markdown:
        out = ["| " + " | ".join(headers) + " |",
               "|" + "|".join("---" if i < left else "---:" for i in range(len(headers))) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def print_targets(summary, markdown):
    """Prints the checked targets, ``(passed, text)`` pairs, as PASS or MISS lines."""
    print("### Targets\n" if markdown else "Targets:")
    for ok, text in summary:
        print(("- **PASS** " if ok else "- **MISS** ") + text if markdown
              else ("  PASS  " if ok else "  MISS  ") + text)
