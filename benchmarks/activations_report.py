"""The header lines of ``benchmarks/activations.py``'s table (hardware, versions,
allocator) and the formats of its ratio and megabyte cells."""

from __future__ import annotations

import os
import platform

from shared import cpu_name


def hardware_lines(args):
    import keras
    import numpy as np

    model = cpu_name()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 2**20:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    thp = ""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as fh:
            thp = ", transparent huge pages: " + fh.read().strip()
    except OSError:
        pass
    lines = [
        f"CPU: {model}; {os.cpu_count()} logical cores"
        + (f" ({usable} usable)" if usable is not None else "") + mem + thp,
    ]
    versions = [f"Python {platform.python_version()}", f"Keras {keras.__version__}"]
    try:
        import tensorflow as tf

        versions.append(f"TensorFlow {tf.__version__}")
    except ImportError:
        pass
    try:
        import jax

        versions.append(f"JAX {jax.__version__}")
    except ImportError:
        pass
    versions.append(f"NumPy {np.__version__}")
    lines.append(", ".join(versions) + f"; timing backend: {args.backend}")
    if args.backend == "tensorflow":
        lines.append(
            "TensorFlow CPU allocator: "
            + ("BFC (TF_CPU_ALLOCATOR_USE_BFC=true)" if args.bfc else "default")
        )
    return lines


def fmt_ratio(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}x"


def fmt_mb(b):
    return "-" if b is None else f"{b / 1e6:.1f}"

