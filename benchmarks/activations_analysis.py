"""What a step of ``benchmarks/activations.py`` keeps and runs: the bytes the
autodiff saves for the backward pass and the kernels it launches.

* :func:`analyse_tensorflow`: the forward tensors that the ops built by
  ``tape.gradient`` consume (their bytes), and the graph ops and optimised HLO
  instructions that write at least half as many elements as the input;
* :func:`saved_bytes_jax`: the residuals of ``jax.vjp(jax.jit(fn), x)``.

The script's docstring explains how the columns built from these are read.
Nothing here imports a framework at module level: the script calls these in a
subprocess with the backend set.
"""

from __future__ import annotations

# Ops that only relabel a buffer: not counted as kernels.
_VIEW_OPS = {"Identity", "IdentityN", "Reshape", "ExpandDims", "Squeeze", "Placeholder",
             "Const", "StopGradient", "NoOp"}
_HLO_VIEWS = {"parameter", "tuple", "get-tuple-element", "bitcast", "constant"}


def _big(num_elements, n):
    return num_elements is not None and num_elements * 2 >= n


def _hlo_kernels(hlo_text, n):
    """Instructions of the optimised HLO entry computation that write >= n/2 elements."""
    import re

    count, in_entry = 0, False
    for line in hlo_text.splitlines():
        if line.startswith("ENTRY"):
            in_entry = True
            continue
        if in_entry and line.startswith("}"):
            break
        if not in_entry or "=" not in line:
            continue
        rhs = line.split("=", 1)[1].strip()
        m = re.match(r"(\(.*?\)|\S+)\s+([\w-]+)\(", rhs)
        if not m or m.group(2) in _HLO_VIEWS:
            continue
        sizes = []
        for dims in re.findall(r"\w+\[([\d,]*)\]", m.group(1)):
            size = 1
            for d in filter(None, dims.split(",")):
                size *= int(d)
            sizes.append(size)
        if sizes and _big(max(sizes), n):
            count += 1
    return count


def analyse_tensorflow(fn, shape):
    """Saved bytes and kernel counts of one variant on the TensorFlow backend.

    Returns ``{"saved": bytes, "graph": (fwd, bwd), "xla": kernels}``: the bytes
    of the forward tensors consumed by the ops that ``tape.gradient`` creates;
    the number of graph ops writing at least half as many elements as ``x``
    (views excluded) in the forward part and in the part ``tape.gradient``
    builds, before Grappler; and the number of such instructions in the
    XLA-optimised HLO of the whole step.
    """
    import numpy as np
    import tensorflow as tf

    n = int(np.prod(shape))
    fwd_names, bwd_names = set(), set()

    def step(x, g):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        graph = tf.compat.v1.get_default_graph()
        fwd_names.update(o.name for o in graph.get_operations())
        dx = tape.gradient(y, x, output_gradients=g)
        bwd_names.update(o.name for o in graph.get_operations() if o.name not in fwd_names)
        return y, dx

    y_shape = fn(tf.zeros([1] * (len(shape) - 1) + [shape[-1]])).shape[-1]
    g_shape = list(shape[:-1]) + [y_shape]
    concrete = tf.function(step, autograph=False).get_concrete_function(
        tf.TensorSpec(shape, tf.float32), tf.TensorSpec(g_shape, tf.float32)
    )
    graph = concrete.graph
    upstream = graph.inputs[1]
    kept = {}
    kernels = {"fwd": 0, "bwd": 0}
    for o in graph.get_operations():
        if o.type not in _VIEW_OPS and any(
            t.shape.is_fully_defined() and _big(t.shape.num_elements(), n) for t in o.outputs
        ):
            if o.name in bwd_names:
                kernels["bwd"] += 1
            elif o.name in fwd_names:
                kernels["fwd"] += 1
        if o.name not in bwd_names:
            continue
        for t in o.inputs:
            src = t.op
            if src.name not in fwd_names or src.type == "Const" or t.name == upstream.name:
                continue
            if t.shape.is_fully_defined() and t.dtype.size:
                kept[t.name] = t.shape.num_elements() * t.dtype.size
    try:
        xla = tf.function(step, jit_compile=True, autograph=False)
        hlo = xla.experimental_get_compiler_ir(tf.zeros(shape), tf.zeros(g_shape))(
            stage="optimized_hlo"
        )
        xla_kernels = _hlo_kernels(hlo, n)
    except Exception:  # noqa: BLE001 - the count is informative only
        xla_kernels = None
    return {"saved": sum(kept.values()), "graph": (kernels["fwd"], kernels["bwd"]),
            "xla": xla_kernels}


def saved_bytes_jax(fn, shape, seed):
    """Summed ``nbytes`` of the residual leaves of ``jax.vjp(jax.jit(fn), x)``."""
    import jax
    import numpy as np

    x = jax.numpy.asarray(3 * np.random.default_rng(seed).standard_normal(shape, np.float32))
    _, pullback = jax.vjp(jax.jit(fn), x)
    seen = {}
    for leaf in jax.tree_util.tree_leaves(pullback):
        if not hasattr(leaf, "nbytes") or not hasattr(leaf, "dtype"):
            continue
        try:
            key = leaf.unsafe_buffer_pointer()
        except Exception:  # noqa: BLE001 - not a single-device buffer
            key = id(leaf)
        seen[key] = int(leaf.nbytes)
    del pullback
    return sum(seen.values())

