"""Float32 gradient accuracy of LEAF's and AHAF's fused and plain forms.

Run from the root of a clone with the backend chosen by ``KERAS_BACKEND``::

    python benchmarks/learnable_precision.py
    KERAS_BACKEND=jax python benchmarks/learnable_precision.py --markdown

For each op (``linked_neurons.ops.learnable.leaf`` and ``.ahaf``), each
"relu"-like init (``relu``: p3 = gamma = 2**16, ``relu_smooth``: 2**8; LEAF's
p2 moved by 0.01, as training moves it), each form (``fused=True``,
``fused=False``) and each compile mode of the backend (TensorFlow: XLA and the
graph runtime; JAX: ``jit``; PyTorch: eager), the script differentiates
``sum(op(x, *params) * g)`` in float32 for unit normal ``x`` and ``g`` and
compares every gradient with the float64 NumPy formula of SPEC §3. An error is
``max |got - want|`` over the largest absolute term of that gradient (``dx``:
of its elements; a parameter's gradient is a sum over the inputs, so: of the
summed terms), which puts float32 summation at about 1e-6.

Where ``s = sigmoid(z)`` rounds towards 1, autodiff's ``s * (1 - s)`` loses
``sigmoid'(z)``; the fused backward takes it as ``s * sigmoid(-z)``. The
``sharpness`` column (p3, gamma) shows what that costs.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gpu_backend import Backend  # noqa: E402
from shared import render  # noqa: E402

INITS = ("relu", "relu_smooth")


def _sigmoid(z):
    """float64 sigmoid, to full relative precision in both tails."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def reference_terms(op, x, g, params):
    """float64 terms of each gradient: ``dx`` elementwise, then one array per parameter."""
    if op == "leaf":
        p1, p2, p3, _ = params
        s, ds = _sigmoid(p3 * x), _sigmoid(p3 * x) * _sigmoid(-p3 * x)
        lin = p1 * x + p2
        return [g * (p1 * s + lin * ds * p3), g * x * s, g * s, g * lin * ds * x, g]
    beta, gamma = params
    s, ds = _sigmoid(gamma * x), _sigmoid(gamma * x) * _sigmoid(-gamma * x)
    return [g * beta * (s + x * ds * gamma), g * x * s, g * beta * x * x * ds]


def init_params(op, init):
    """float32 parameters of ``init``; LEAF's p2 moved by 0.01."""
    from linked_neurons.ops import learnable

    if op == "leaf":
        p1, p2, p3, p4 = learnable.LEAF_INITS[init]
        return [np.float32(v) for v in (p1, p2 + 0.01, p3, p4)]
    return [np.float32(v) for v in learnable.AHAF_INITS[init]]


def gradient_errors(backend, op, init, fused, compiled, size=20000, seed=21):
    """Errors of ``dx`` and of each parameter's gradient (see the module docstring)."""
    from keras import ops

    from linked_neurons.ops import learnable

    rng = np.random.default_rng(seed)
    x = rng.normal(size=size).astype("float32")
    g = rng.normal(size=size).astype("float32")
    params = init_params(op, init)
    fn = getattr(learnable, op)
    step = backend.vjp_step(lambda x, *p: fn(x, *p, fused=fused), compiled)
    _, grads = step(backend.tensor(g), backend.tensor(x), *(backend.tensor(p) for p in params))
    terms = reference_terms(op, x.astype("float64"), g.astype("float64"),
                            [np.float64(p) for p in params])
    errors = []
    for i, (got, term) in enumerate(zip(grads, terms)):
        want = term if i == 0 else term.sum()
        got = np.asarray(ops.convert_to_numpy(got), "float64")
        errors.append(float(np.max(np.abs(got - want)) / np.max(np.abs(term))))
    return errors


def table(backend, size=20000):
    """Rows: op, init, form, mode, dx error, sharpness error, largest other parameter error."""
    rows = []
    for op in ("leaf", "ahaf"):
        sharp = 3 if op == "leaf" else 2  # p3, gamma (index in the gradients, dx first)
        for init in INITS:
            for fused in (True, False):
                for mode, compiled in backend.modes():
                    err = gradient_errors(backend, op, init, fused, compiled, size)
                    others = max(e for i, e in enumerate(err[1:], 1) if i != sharp)
                    rows.append([op, init, "fused" if fused else "plain", mode,
                                 f"{err[0]:.1e}", f"{err[sharp]:.1e}", f"{others:.1e}"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=20000, help="number of inputs (default 20000)")
    p.add_argument("--markdown", action="store_true", help="print Markdown")
    args = p.parse_args(argv)
    if args.size < 2:
        p.error("--size must be at least 2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    backend = Backend()
    print(f"{backend.versions}; device: {backend.device}; {args.size} unit normal inputs\n")
    headers = ["op", "init", "form", "mode", "dx", "sharpness (p3 / gamma)", "other parameters"]
    print(render(headers, table(backend, args.size), args.markdown, left=4))


if __name__ == "__main__":
    main()
