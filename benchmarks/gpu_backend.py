"""The backend glue of ``benchmarks/gpu.py``: tensors, device syncs, gradient
steps, copies and memory counters for the active Keras backend (JAX, PyTorch
or TensorFlow), the timing of a call in groups, and the time cap."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import sys
import time


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
        #: PyTorch: compile the steps with ``torch.compile`` (``--torch-compile``).
        self.torch_compile = False
        #: JAX: run the ops and mixconv sections' steps op by op, without ``jit``
        #: (``--ops-eager``).
        self.jax_eager = False

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
            return [("eager", False)] if self.jax_eager else [("jit", True)]
        if self.name == "torch":
            return [("compile", True)] if self.torch_compile else [("eager", False)]
        return [("xla", True), ("graph", False)]

    def vjp_step(self, fn, compiled=None):
        """``step(g, *args) -> (fn(*args), grads of sum(fn * g) w.r.t. every arg)``.

        ``compiled``: JAX ``jax.jit``, TensorFlow XLA, PyTorch ``torch.compile``
        of ``fn`` (its backward compiled with it); None compiles as the
        backend's default mode does (JAX, TensorFlow: yes; PyTorch: with
        ``--torch-compile`` only).
        """
        if compiled is None:
            compiled = self.name != "torch" or self.torch_compile
        if self.name == "jax":
            import jax

            def step(g, *args):
                y, vjp = jax.vjp(fn, *args)
                return y, vjp(g)

            return jax.jit(step) if compiled else step
        if self.name == "torch":
            import torch

            forward = torch.compile(fn) if compiled else fn

            def step(g, *args):
                args = [a.detach().requires_grad_(True) for a in args]
                y = forward(*args)
                return y, torch.autograd.grad(y, args, g)

            return step
        import tensorflow as tf

        def tf_step(g, *args):
            with tf.GradientTape() as tape:
                tape.watch(args)
                y = fn(*args)
            return y, tape.gradient(y, args, output_gradients=g)

        return tf.function(tf_step, jit_compile=compiled)

    def reset_compiler(self):
        """PyTorch with ``--torch-compile``: forget every compiled step.

        ``torch.compile`` recompiles a function for each closure of the same
        code and falls back to eager past its limit (8); the ops section
        calls this before each row so that every step of the row is compiled.
        """
        if self.name == "torch" and self.torch_compile:
            import torch

            torch._dynamo.reset()

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
    @property
    def tf_memory_device(self):
        """TensorFlow's device with memory counters: the GPU, or the CPU when
        its caching BFC allocator is on (``TF_CPU_ALLOCATOR_USE_BFC=true``,
        read when TensorFlow starts); else None."""
        if self.gpu:
            return "GPU:0"
        if os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("1", "true"):
            return "CPU:0"
        return None

    def reset_peak(self):
        if self.name == "torch" and self.gpu:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        elif self.name == "tensorflow" and self.tf_memory_device:
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats(self.tf_memory_device)

    def _memory(self, jax_key, torch_name, tf_key):
        """One device-memory figure from the backend's own counters, or None."""
        if self.name == "jax":
            import jax

            stats = jax.devices()[0].memory_stats()
            return None if not stats else stats.get(jax_key)
        if self.name == "torch":
            import torch

            return getattr(torch.cuda, torch_name)() if self.gpu else None
        if self.tf_memory_device:
            import tensorflow as tf

            return tf.config.experimental.get_memory_info(self.tf_memory_device)[tf_key]
        return None

    def peak_bytes(self):
        """Peak device bytes in use since the last reset (JAX: since the start), or None."""
        return self._memory("peak_bytes_in_use", "max_memory_allocated", "peak")

    def in_use_bytes(self):
        """Device bytes in use now, or None."""
        return self._memory("bytes_in_use", "memory_allocated", "current")


def time_calls(backend, call, repeats, inner, warmup=1):
    """Median and min milliseconds of one ``call()`` over ``repeats`` groups of ``inner``."""
    return time_interleaved(backend, {"call": call}, repeats, inner, warmup)["call"]


def time_interleaved(backend, calls, repeats, inner, warmup=1):
    """Like :func:`time_calls` for several calls timed in turn, one group each per round.

    ``calls`` maps names to callables. Every round times one group of
    ``inner`` calls of each, starting one later in the list each round, so
    that a drift of the machine (another job, the clock, the allocator
    warming up) falls on every call alike instead of on the ones timed first.
    Returns ``{name: (median ms, min ms)}``.
    """
    names = list(calls)
    for name in names:
        for _ in range(warmup):
            backend.sync(calls[name]())
    times = {name: [] for name in names}
    for r in range(repeats):
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            start = time.perf_counter()
            out = None
            for _ in range(inner):
                out = calls[name]()
            backend.sync(out)
            times[name].append((time.perf_counter() - start) * 1000 / inner)
            del out
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


class Clock:
    """The time cap: a row starts only where it should end within the cap.

    A row's length is judged by the longest row of the same kind so far in
    the run (:meth:`row` records it); before the first of its kind, a row
    starts while any time is left.
    """

    def __init__(self, cap):
        self.start = time.perf_counter()
        self.cap = cap
        self.longest = {}

    def left(self):
        return self.cap - (time.perf_counter() - self.start)

    def elapsed(self):
        return time.perf_counter() - self.start

    def fits(self, kind, committed=0.0):
        """Whether a row of ``kind`` started now ends within the cap, after
        ``committed`` seconds of work already promised to earlier rows."""
        return self.left() > self.longest.get(kind, 0.0) + committed

    @contextlib.contextmanager
    def row(self, kind):
        """Time the block as one row of ``kind``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.longest[kind] = max(self.longest.get(kind, 0.0), time.perf_counter() - start)


def prepare_within_cap(backend, clock, kind, makers, calls_each):
    """Build the rows that fit the cap, to be timed in turn afterwards.

    ``makers`` is a list of ``(name, make)``: ``make()`` builds a row (a
    layer or a model, compiled and called once) and returns the call to time.
    A row is built only where the cap leaves room for its build (the longest
    of ``kind`` so far) and for the timing of every row built, this one
    included (``calls_each`` calls each, at the slowest call seen so far).
    Each row's call runs once more after its build, warm, to measure it; a
    row whose own timing would then overrun the cap is dropped. Returns
    ``{name: call}`` for the rows kept, ready for :func:`time_interleaved`
    with ``warmup=0``.
    """
    calls, slowest, committed = {}, 0.0, 0.0
    for name, make in makers:
        if not clock.fits(kind, committed + calls_each * slowest):
            continue
        with clock.row(kind):
            call = make()
        start = time.perf_counter()
        backend.sync(call())
        seconds = time.perf_counter() - start
        if clock.left() <= committed + calls_each * seconds:
            print(f"  {name}: dropped, its timing ({calls_each} x {seconds:.3g} s) would "
                  f"overrun the time cap", file=sys.stderr, flush=True)
            continue
        slowest = max(slowest, seconds)
        committed += calls_each * seconds
        calls[name] = call
    return calls
