"""Meta-learning of the sub-networks of a NeuralActivation (:func:`meta_learn`)."""

import dataclasses
import time

import keras
import numpy as np
from keras import ops

from linked_neurons.diversity.unrolled import (
    _Autodiff,
    _Spec,
    accuracy,
    init_classifier,
    unrolled_loss,
)
from linked_neurons.layers.diversity import NeuralActivation, block_assignment, resolve_base

#: The settings of the DiversityNN paper, used by the ``"paper"`` preset.
PAPER_DEFAULTS = {
    "outer_steps": 300,
    "inner_epochs": 5,
    "batch_size": 200,
    "inner_hidden": 200,
    "inner_lr": 0.01,
    "inner_decay": 0.8,
    "inner_eps": 1e-8,
    "outer_lr": 0.4,
    "outer_momentum": 0.8,
    "clip": 0.1,
}

#: Settings of :func:`meta_learn` by preset name: ``"paper"`` (SPEC §4, 300
#: outer steps of 5 inner epochs) and ``"quick"`` (20 outer steps of one
#: inner epoch, the rest as in the paper; for examples and smoke runs).
PRESETS = {
    "paper": dict(PAPER_DEFAULTS),
    "quick": dict(PAPER_DEFAULTS, outer_steps=20, inner_epochs=1),
}


def resolve_preset(preset, caller="meta_learn", **overrides):
    """The settings of ``preset`` with the non-``None`` ``overrides`` applied.

    Raises:
        ValueError: For an unknown preset name.
    """
    if preset not in PRESETS:
        raise ValueError(f"{caller}: `preset` must be one of {sorted(PRESETS)}, got {preset!r}.")
    settings = dict(PRESETS[preset])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


@dataclasses.dataclass
class MetaLearningResult:
    """What :func:`meta_learn` returns.

    Attributes:
        layer: The learned :class:`~linked_neurons.layers.NeuralActivation` (built for
            ``inner_hidden`` channels).
        history: Dict of per-outer-step lists: ``"outer_loss"`` (mean inner
            training loss), ``"test_accuracy"`` (of the inner classifier
            after its training, on the test set), ``"meta_grad_norm"``
            (global L2 norm of the unclipped meta-gradient), ``"diversity"``
            (:meth:`~linked_neurons.layers.NeuralActivation.diversity` after the update) and
            ``"seconds"`` (wall time of the step).
        config: The settings used.
    """

    layer: NeuralActivation
    history: dict
    config: dict

    def curves(self, num_points=201, x_range=(-5.0, 5.0)):
        """``(x, y)``: the grid and the ``(K, N)`` learned curves on it."""
        x = np.linspace(float(x_range[0]), float(x_range[1]), int(num_points))
        return x, np.asarray(ops.convert_to_numpy(self.layer.sample(x)), dtype="float64")

    def save(self, path, num_points=201, x_range=(-5.0, 5.0)):
        """Saves the learned curves, their x grid and metadata (``.npz`` or ``.json``)."""
        interp = self.layer.to_interpolated(num_points=num_points, x_range=x_range)
        metadata = {k: v for k, v in self.config.items() if _jsonable(v)}
        metadata["final_outer_loss"] = (self.history["outer_loss"] or [None])[-1]
        interp.save(path, metadata=metadata)
        return path


def _jsonable(value):
    return isinstance(value, (str, int, float, bool, type(None), list, tuple))


def meta_learn(
    x_train,
    y_train,
    x_test=None,
    y_test=None,
    base="sin",
    n_activations=2,
    hidden_units=50,
    hidden_activation="tanh",
    residual_scale=0.2,
    outer_steps=None,
    inner_epochs=None,
    batch_size=None,
    inner_hidden=None,
    inner_lr=None,
    inner_decay=None,
    inner_eps=None,
    outer_lr=None,
    outer_momentum=None,
    clip=None,
    first_order=False,
    max_inner_steps=None,
    resample_inner=True,
    seed=0,
    dtype="float32",
    verbose=1,
    save_path=None,
    layer=None,
    preset="paper",
):
    """Learns K diverse activations by meta-learning (DiversityNN defaults).

    The settings from ``outer_steps`` to ``clip`` default to ``None``, which
    takes them from ``preset`` (:data:`PRESETS`); a value given explicitly
    wins over the preset.

    Args:
        x_train, y_train: Training data of the inner classifiers (features
            ``(n, d)``, integer labels ``(n,)``).
        x_test, y_test: Data for the inner test accuracy (optional).
        base: Base function of the sub-networks (``"sin"``, ``"tanh"``,
            ``"elu"``...).
        n_activations: K; must divide ``inner_hidden``.
        hidden_units, hidden_activation, residual_scale: Sub-network
            settings (see :class:`~linked_neurons.layers.NeuralActivation`).
        outer_steps: Number of outer (meta) steps (300 in the paper, 20 in
            ``"quick"``).
        inner_epochs: Epochs of each inner training (5; 1 in ``"quick"``).
        batch_size: Inner mini-batch size (200).
        inner_hidden: Hidden width of the inner classifier (200).
        inner_lr, inner_decay, inner_eps: RMSprop-like inner update.
        outer_lr, outer_momentum: Outer SGD with momentum (0.4, 0.8).
        clip: Elementwise clip of the meta-gradient (0.1).
        first_order: Drop the second-order terms (see the module docstring).
        max_inner_steps: Optional cap on the inner steps per outer step.
        resample_inner: True (default, as in the paper): every outer step
            draws a new inner initialisation and batch order. False: draws
            them once, so that the outer loss is one fixed function of the
            sub-network weights (for checks and ablations).
        seed: Seed of the weights and of the batch order.
        dtype: ``"float32"`` or ``"float64"``.
        verbose: 0 silent, 1 one line per outer step.
        save_path: If given, the learned curves are saved there (``.npz`` or
            ``.json``) at the end.
        layer: An existing :class:`~linked_neurons.layers.NeuralActivation` to start from (its
            weights are used and updated); default a new one.
        preset: ``"paper"`` (default) or ``"quick"``, see :data:`PRESETS`.

    Returns:
        A :class:`MetaLearningResult`.

    Raises:
        NotImplementedError: On a backend without nested autodiff.
        ValueError: For inconsistent sizes.

    Example:

        >>> import numpy as np
        >>> from linked_neurons.diversity import meta_learn
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(64, 8)), rng.integers(0, 3, 64)
        >>> result = meta_learn(x, y, n_activations=2, outer_steps=2, inner_hidden=8,
        ...                     batch_size=32, inner_epochs=1, verbose=0)
        >>> sorted(result.history)[:3], len(result.history["outer_loss"])
        (['diversity', 'meta_grad_norm', 'outer_loss'], 2)
        >>> result.layer.n_activations, result.curves(num_points=5)[1].shape
        (2, (2, 5))
    """
    settings = resolve_preset(
        preset, outer_steps=outer_steps, inner_epochs=inner_epochs, batch_size=batch_size,
        inner_hidden=inner_hidden, inner_lr=inner_lr, inner_decay=inner_decay,
        inner_eps=inner_eps, outer_lr=outer_lr, outer_momentum=outer_momentum, clip=clip)
    (outer_steps, inner_epochs, batch_size, inner_hidden, inner_lr, inner_decay, inner_eps,
     outer_lr, outer_momentum, clip) = (settings[k] for k in PAPER_DEFAULTS)
    backend = keras.backend.backend()
    autodiff = _Autodiff(backend, first_order)
    x_train = np.asarray(x_train, dtype=dtype)
    y_train = np.asarray(y_train).astype("int32")
    if x_train.ndim != 2 or y_train.shape != (len(x_train),):
        raise ValueError(
            f"meta_learn: expected x_train of shape (n, d) and y_train of shape (n,), got "
            f"{x_train.shape} and {y_train.shape}."
        )
    n_classes = int(max(y_train.max(), -1 if y_test is None else np.max(y_test))) + 1
    if len(x_train) < batch_size:
        raise ValueError(f"meta_learn: batch_size={batch_size} exceeds the {len(x_train)} "
                         f"training samples.")
    assignment = block_assignment(inner_hidden, n_activations, "meta_learn")
    if layer is None:
        layer = NeuralActivation(n_activations, hidden_units=hidden_units, base=base,
                                 hidden_activation=hidden_activation,
                                 residual_scale=residual_scale, seed=seed, dtype=dtype)
    if not layer.built:
        layer.build((None, inner_hidden))
    _, base_fn = resolve_base(layer.base, "meta_learn")
    spec = _Spec(assignment, base_fn, layer.residual_scale, layer.hidden_activation)
    theta = [np.asarray(ops.convert_to_numpy(w), dtype=dtype) for w in layer.weights]
    momentum = [np.zeros_like(t) for t in theta]
    rng = np.random.default_rng(seed)
    steps_per_epoch = len(x_train) // batch_size
    n_inner = inner_epochs * steps_per_epoch
    if max_inner_steps is not None:
        n_inner = min(n_inner, int(max_inner_steps))
    config = {
        "base": layer.base, "n_activations": layer.n_activations,
        "hidden_units": layer.hidden_units, "residual_scale": layer.residual_scale,
        "outer_steps": outer_steps, "inner_epochs": inner_epochs, "batch_size": batch_size,
        "inner_hidden": inner_hidden, "inner_lr": inner_lr, "inner_decay": inner_decay,
        "inner_eps": inner_eps, "outer_lr": outer_lr, "outer_momentum": outer_momentum,
        "clip": clip, "first_order": first_order, "inner_steps": n_inner, "seed": seed,
        "resample_inner": resample_inner, "preset": preset,
        "backend": backend,
    }
    sizes = (x_train.shape[1], inner_hidden, n_classes)

    def outer_fn(theta_t, params0, xb, yb):
        batches = [(xb[i], yb[i]) for i in range(n_inner)]
        loss, params = unrolled_loss(theta_t, params0, batches, spec, autodiff,
                                     inner_lr, inner_decay, inner_eps)
        return (loss, *params)

    step_fn = _compile(backend, lambda th, p0, xb, yb: autodiff.outer_value_and_grad(
        lambda t: outer_fn(t, p0, xb, yb), th))

    history = {"outer_loss": [], "test_accuracy": [], "meta_grad_norm": [], "diversity": [],
               "seconds": []}
    drawn = None
    for step in range(outer_steps):
        start = time.perf_counter()
        if resample_inner or drawn is None:
            order = np.concatenate([rng.permutation(len(x_train)) for _ in range(inner_epochs)])
            idx = order[: n_inner * batch_size].reshape(n_inner, batch_size)
            drawn = idx, init_classifier(rng, sizes, dtype)
        idx, init = drawn
        params0 = [autodiff.tensor(p, dtype, watch=True) for p in init]
        theta_t = [autodiff.tensor(t, dtype, watch=True) for t in theta]
        xb = ops.convert_to_tensor(x_train[idx])
        yb = ops.convert_to_tensor(y_train[idx])
        out, grads = step_fn(theta_t, params0, xb, yb)
        loss, final = out[0], list(out[1:])
        grads = [np.asarray(ops.convert_to_numpy(g), dtype="float64") for g in grads]
        norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
        for i, g in enumerate(grads):
            g = np.clip(g, -clip, clip)
            momentum[i] = outer_momentum * momentum[i] + g
            theta[i] = (theta[i] - outer_lr * momentum[i]).astype(dtype)
        layer.set_weights(theta)
        acc = float("nan")
        if x_test is not None:
            final = autodiff.stop(final)
            acc = accuracy(final, [ops.convert_to_tensor(t) for t in theta],
                           ops.convert_to_tensor(np.asarray(x_test, dtype=dtype)), y_test, spec)
        history["outer_loss"].append(float(ops.convert_to_numpy(loss)))
        history["test_accuracy"].append(acc)
        history["meta_grad_norm"].append(norm)
        history["diversity"].append(layer.diversity())
        history["seconds"].append(time.perf_counter() - start)
        if verbose:
            print(
                f"meta step {step + 1}/{outer_steps}: outer loss "
                f"{history['outer_loss'][-1]:.4f}, inner test acc {acc:.4f}, "
                f"|meta-grad| {norm:.4f}, diversity {history['diversity'][-1]:.4f} "
                f"({history['seconds'][-1]:.1f} s)",
                flush=True,
            )
    result = MetaLearningResult(layer=layer, history=history, config=config)
    if save_path is not None:
        result.save(save_path)
    return result


def _compile(backend, fn):
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def meta_gradient(theta, params, batches, spec_kwargs, first_order=False, lr=0.01, decay=0.8,
                  eps=1e-8):
    """The outer loss and meta-gradient of one unrolled inner loop (for checks).

    Args:
        theta: ``[w1, b1, w2, b2]`` NumPy arrays of the sub-networks.
        params: Initial inner weights (NumPy).
        batches: List of ``(x, y)`` NumPy arrays.
        spec_kwargs: ``assignment``, ``base``, ``residual_scale``,
            ``hidden_activation``.
        first_order, lr, decay, eps: As in :func:`meta_learn`.

    Returns:
        ``(loss, [gradients])`` as NumPy arrays.
    """
    autodiff = _Autodiff(keras.backend.backend(), first_order)
    _, base_fn = resolve_base(spec_kwargs.get("base", "sin"), "meta_gradient")
    spec = _Spec(np.asarray(spec_kwargs["assignment"]), base_fn,
                 spec_kwargs.get("residual_scale", 0.2),
                 spec_kwargs.get("hidden_activation", "tanh"))
    dtype = str(np.asarray(theta[0]).dtype)
    theta_t = [autodiff.tensor(t, dtype, watch=True) for t in theta]
    params_t = [autodiff.tensor(p, dtype, watch=True) for p in params]
    batches_t = [(ops.convert_to_tensor(np.asarray(x, dtype)), ops.convert_to_tensor(y))
                 for x, y in batches]
    (loss, *_), grads = autodiff.outer_value_and_grad(
        lambda th: (unrolled_loss(th, params_t, batches_t, spec, autodiff, lr, decay, eps)[0],),
        theta_t)
    return float(ops.convert_to_numpy(loss)), [np.asarray(ops.convert_to_numpy(g)) for g in grads]
