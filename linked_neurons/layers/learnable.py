"""Learnable activation layers LEAF and AHAF (Bodyanskiy & Kostiuk)."""

import numbers

import keras
from keras import backend

from linked_neurons._validation import check_number
from linked_neurons.layers.base import ChannelActivationLayer
from linked_neurons.ops import learnable as learnable_ops

_SHARED_KEYWORDS = ("all", "spatial")


class LearnableActivation(ChannelActivationLayer):
    """Base class of the activation layers with learnable shape parameters.

    Subclasses set ``PARAMS`` (the weight names), ``INITS`` (the named inits,
    name -> one value per parameter) and ``_op`` (the function of
    :mod:`linked_neurons.ops.learnable` computing the activation).

    The parameters are float32 variables whatever the compute dtype (float64
    for a float64 layer), created with ``autocast=False`` so that they are
    never rounded to float16: the "relu" inits hold ``2**16``, which is
    beyond float16's range.

    Args:
        init: A name of ``INITS`` or one value (a number or a Keras
            initializer) per parameter.
        shared_axes: None (one parameter set per neuron, i.e. per element
            of the non-batch shape), ``"spatial"`` (one set per channel,
            shared over every other non-batch axis), ``"all"`` (one scalar
            set), or an int or list of ints: the non-batch axes along which
            the parameters are shared, as in ``keras.layers.PReLU``.
        regularizers: Dict from parameter name to regularizer.
        constraints: Dict from parameter name to constraint.
        axis: Channel axis: -1 (default) or 1 (channels_first).
        fused: None (default): the form measured to be at most as slow and
            as large as the other where the layer is traced (see
            ``linked_neurons.ops._policy``: plain everywhere measured);
            True: the backward pass keeps only the input and the
            parameters, and its gradient of the sharpness parameter is the
            more accurate in float32; False: plain autodiff.
        **kwargs: Base layer keyword arguments.
    """

    PARAMS = ()
    INITS = {}
    _op = None

    def __init__(
        self,
        init="relu",
        shared_axes=None,
        regularizers=None,
        constraints=None,
        axis=-1,
        fused=None,
        **kwargs,
    ):
        super().__init__(axis=axis, fused=fused, **kwargs)
        self.init, self._initializers = self._parse_init(init)
        self.shared_axes = self._parse_shared_axes(shared_axes)
        regularizers = regularizers or {}
        constraints = constraints or {}
        self._regularizers = {p: keras.regularizers.get(regularizers.get(p)) for p in self.PARAMS}
        self._constraints = {p: keras.constraints.get(constraints.get(p)) for p in self.PARAMS}

    # --------------------------------------------------------------- arguments
    def _parse_init(self, init):
        names = ", ".join(repr(n) for n in self.INITS)
        count = len(self.PARAMS)
        expected = (
            f"one of {names} or a sequence of {count} values "
            f"({', '.join(self.PARAMS)})"
        )
        if isinstance(init, str):
            key = init.strip().lower()
            if key not in self.INITS:
                raise ValueError(f"{self._kind()}: unknown `init` {init!r}; expected {expected}.")
            values = self.INITS[key]
            return key, [keras.initializers.Constant(v) for v in values]
        if isinstance(init, dict) or not hasattr(init, "__len__"):
            raise TypeError(
                f"{self._kind()}: `init` must be {expected}, got {init!r} of type "
                f"{type(init).__name__}."
            )
        values = list(init)
        if len(values) != count:
            raise ValueError(
                f"{self._kind()}: `init` needs {count} values ({', '.join(self.PARAMS)}), "
                f"got {len(values)}: {init!r}."
            )
        stored, initializers = [], []
        for name, value in zip(self.PARAMS, values):
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                value = check_number(self._kind(), f"init ({name})", value)
                stored.append(value)
                initializers.append(keras.initializers.Constant(value))
                continue
            try:
                initializer = keras.initializers.get(value)
            except (ValueError, TypeError):
                initializer = None
            if initializer is None or isinstance(value, bool):
                raise TypeError(
                    f"{self._kind()}: the initial value of `{name}` must be a number or a "
                    f"Keras initializer, got {value!r}."
                )
            stored.append(keras.initializers.serialize(initializer))
            initializers.append(initializer)
        return stored, initializers

    def _parse_shared_axes(self, shared_axes):
        if shared_axes is None:
            return None
        if isinstance(shared_axes, str):
            key = shared_axes.strip().lower()
            if key not in _SHARED_KEYWORDS:
                raise ValueError(
                    f"{self._kind()}: unknown `shared_axes` {shared_axes!r}; expected None, "
                    f"'spatial', 'all', an int or a list of ints."
                )
            return key
        if isinstance(shared_axes, numbers.Integral) and not isinstance(shared_axes, bool):
            return [int(shared_axes)]
        try:
            axes = list(shared_axes)
        except TypeError:
            axes = None
        if axes is None or not all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes
        ):
            raise TypeError(
                f"{self._kind()}: `shared_axes` must be None, 'spatial', 'all', an int or a "
                f"list of ints, got {shared_axes!r}."
            )
        return [int(a) for a in axes]

    # ------------------------------------------------------------------ shapes
    def param_shape(self, input_shape):
        """Shape of each parameter for an input of ``input_shape`` (batch first).

        Raises:
            ValueError: For a shared axis outside the input's rank, or an
                unknown size on an axis that is not shared.
        """
        rank = self._check_rank(input_shape)
        channel = self._channel_axis(rank)
        if self.shared_axes == "all":
            return ()
        if self.shared_axes is None:
            shared = set()
        elif self.shared_axes == "spatial":
            shared = {i for i in range(1, rank) if i != channel}
        else:
            shared = set()
            for a in self.shared_axes:
                if not -rank <= a < rank or a % rank == 0:
                    raise ValueError(
                        f"{self._kind()}: invalid shared axis {a} for an input of rank "
                        f"{rank} (shape {tuple(input_shape)}); expected non-batch axes in "
                        f"[1, {rank - 1}] (or [-{rank - 1}, -1])."
                    )
                shared.add(a % rank)
        shape = []
        for i in range(1, rank):
            if i in shared:
                shape.append(1)
            elif input_shape[i] is None:
                raise ValueError(
                    f"{self._kind()} keeps one parameter set per neuron along axis {i}, but "
                    f"the input shape {tuple(input_shape)} leaves its size unknown. Give the "
                    f"input a known size there, or share the parameters along it with "
                    f"`shared_axes` (e.g. shared_axes='spatial' for one set per channel)."
                )
            else:
                shape.append(int(input_shape[i]))
        return tuple(shape)

    def build(self, input_shape):
        shape = self.param_shape(input_shape)
        rank = len(input_shape)
        axes = {i + 1: d for i, d in enumerate(shape) if d != 1} if shape else {}
        self.input_spec = keras.InputSpec(ndim=rank, axes=axes)
        dtype = backend.standardize_dtype(self.variable_dtype)
        if dtype in ("float16", "bfloat16"):
            dtype = "float32"
        for name, initializer in zip(self.PARAMS, self._initializers):
            variable = self.add_weight(
                name=name,
                shape=shape,
                initializer=initializer,
                regularizer=self._regularizers[name],
                constraint=self._constraints[name],
                dtype=dtype,
                autocast=False,
            )
            setattr(self, name, variable)
        self.built = True

    @property
    def shape_parameters(self):
        """The parameter variables, in the order of ``PARAMS``."""
        return [getattr(self, name) for name in self.PARAMS]

    def call(self, inputs):
        self._check_dtype(inputs)
        return type(self)._op(inputs, *self.shape_parameters, fused=self.fused)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "init": self.init,
                "shared_axes": self.shared_axes,
            }
        )
        for name in self.PARAMS:
            config[f"{name}_regularizer"] = keras.regularizers.serialize(self._regularizers[name])
            config[f"{name}_constraint"] = keras.constraints.serialize(self._constraints[name])
        return config


_LEAF_REFERENCE = (
    "Bodyanskiy & Kostiuk, *Learnable Extended Activation Function for Deep "
    "Neural Networks*, International Journal of Computing 22(3), 2023."
)
_AHAF_REFERENCE = (
    "Bodyanskiy & Kostiuk, *Adaptive hybrid activation function for deep neural "
    "networks*, System Research and Information Technologies, 2022."
)


@keras.saving.register_keras_serializable(package="linked_neurons")
class LEAF(LearnableActivation):
    """Learnable extended activation: ``(p1 * x + p2) * sigmoid(p3 * x) + p4``.

    Four learnable parameters per neuron (every element of the non-batch
    shape, as in the paper and ``keras.layers.PReLU``) by default; use
    ``shared_axes`` to share them. Named inits give a known activation at the
    start of training:

    =============  ========================  ==========================
    init           (p1, p2, p3, p4)          equals
    =============  ========================  ==========================
    "relu"         (1, 0, 2**16, 0)          ReLU (to 4.2e-6)
    "relu_smooth"  (1, 0, 2**8, 0)           ReLU (to 1.1e-3)
    "silu"         (1, 0, 1, 0)              x * sigmoid(x), exactly
    "tanh"         (0, 2, 2, -1)             tanh, exactly
    "sigmoid"      (0, 1, 1, 0)              sigmoid, exactly
    =============  ========================  ==========================

    The "relu" init (the paper's) is ill-conditioned: the slope of
    ``x * sigmoid(2**16 x)`` goes from 0 to 1 within about 1e-5 of 0, so
    round-off in the weights (another seed, worker count or reduction
    order) is amplified: runs starting 1e-7 apart differ by 1.6e-2 after 8
    Adam steps. "relu_smooth" is 140 times less sensitive (1.1e-4) and trained
    as well in our measurements (``benchmarks/leaf_conditioning.py``); prefer
    it unless the paper's exact init matters.

    The parameters are float32 variables named ``"p1"`` to ``"p4"`` (so
    that, e.g., :func:`linked_neurons.training.p24sl_optimizer` can give
    ``p2`` and ``p4`` a slower learning rate). Under ``mixed_float16`` and
    ``mixed_bfloat16`` the activation is evaluated in float32 and cast to the
    compute dtype, so the ``2**16`` of the "relu" init cannot overflow.

    Args:
        init: ``"relu"`` (default), ``"relu_smooth"``, ``"silu"``, ``"tanh"``,
            ``"sigmoid"``, or four values ``(p1, p2, p3, p4)``, each a number or a Keras
            initializer.
        shared_axes: None (default): one parameter set per neuron.
            ``"spatial"``: one set per channel (the channel axis is
            ``axis``), needed for inputs of variable spatial size. ``"all"``:
            one scalar set. Or the non-batch axes along which the parameters
            are shared, as in ``keras.layers.PReLU``.
        p1_regularizer, p2_regularizer, p3_regularizer, p4_regularizer:
            Regularizers of each parameter.
        p1_constraint, p2_constraint, p3_constraint, p4_constraint:
            Constraints of each parameter.
        axis: Channel axis, used by ``shared_axes="spatial"``: -1 (default)
            or 1 (channels_first).
        fused: None (default): the form measured to be at most as slow and
            as large as the other where the layer is traced (see
            ``linked_neurons.ops._policy``: plain everywhere measured);
            True: the backward pass keeps only the input and the
            parameters, and its gradient of the sharpness parameter is the
            more accurate in float32; False: plain autodiff.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Input shape:
        Rank >= 2, floating point. The size of every axis that is not shared
        must be known when the layer is built.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import LEAF
        >>> layer = LEAF(init="tanh")
        >>> x = keras.ops.convert_to_tensor([[-1.0, 0.0, 2.0]])
        >>> keras.ops.convert_to_numpy(layer(x)).round(4)
        array([[-0.7616,  0.    ,  0.964 ]], dtype=float32)
        >>> [(w.name, tuple(w.shape)) for w in layer.weights]
        [('p1', (3,)), ('p2', (3,)), ('p3', (3,)), ('p4', (3,))]
        >>> per_channel = LEAF(shared_axes="spatial")
        >>> _ = per_channel(keras.ops.ones((2, 5, 5, 8)))
        >>> per_channel.count_params()
        32

    Reference:
        {ref}
    """

    PARAMS = ("p1", "p2", "p3", "p4")
    INITS = learnable_ops.LEAF_INITS
    _op = staticmethod(learnable_ops.leaf)

    def __init__(
        self,
        init="relu",
        shared_axes=None,
        p1_regularizer=None,
        p2_regularizer=None,
        p3_regularizer=None,
        p4_regularizer=None,
        p1_constraint=None,
        p2_constraint=None,
        p3_constraint=None,
        p4_constraint=None,
        axis=-1,
        fused=None,
        **kwargs,
    ):
        super().__init__(
            init=init,
            shared_axes=shared_axes,
            regularizers={
                "p1": p1_regularizer,
                "p2": p2_regularizer,
                "p3": p3_regularizer,
                "p4": p4_regularizer,
            },
            constraints={
                "p1": p1_constraint,
                "p2": p2_constraint,
                "p3": p3_constraint,
                "p4": p4_constraint,
            },
            axis=axis,
            fused=fused,
            **kwargs,
        )


@keras.saving.register_keras_serializable(package="linked_neurons")
class AHAF(LearnableActivation):
    """Adaptive hybrid activation: ``beta * x * sigmoid(gamma * x)``.

    Two learnable parameters per neuron by default (``shared_axes`` shares
    them). The "relu" init (``beta = 1, gamma = 2**16``) makes it ReLU to
    4.2e-6 (ill-conditioned, see :class:`LEAF`); "relu_smooth" (``gamma =
    2**8``) to 1.1e-3, well-conditioned; the "silu" init (``beta = gamma = 1``) makes it SiLU
    exactly. The parameters are float32 variables named ``"beta"`` and
    ``"gamma"``; under mixed precision the activation is evaluated in
    float32, so ``gamma = 2**16`` cannot overflow float16.

    Args:
        init: ``"relu"`` (default), ``"relu_smooth"``, ``"silu"``, or two values
            ``(beta, gamma)``, each a number or a Keras initializer.
        shared_axes: None (default, one set per neuron), ``"spatial"`` (one
            set per channel), ``"all"`` (one scalar set), or the non-batch
            axes along which the parameters are shared.
        beta_regularizer, gamma_regularizer: Regularizers of each parameter.
        beta_constraint, gamma_constraint: Constraints of each parameter.
        axis: Channel axis, used by ``shared_axes="spatial"``: -1 (default)
            or 1 (channels_first).
        fused: None (default): the form measured to be at most as slow and
            as large as the other where the layer is traced (see
            ``linked_neurons.ops._policy``: plain everywhere measured);
            True: the backward pass keeps only the input and the
            parameters, and its gradient of the sharpness parameter is the
            more accurate in float32; False: plain autodiff.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Input shape:
        Rank >= 2, floating point. The size of every axis that is not shared
        must be known when the layer is built.

    Output shape:
        Same as the input.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import AHAF
        >>> model = keras.Sequential([
        ...     keras.Input((6, 6, 4)),
        ...     keras.layers.Conv2D(8, 3),
        ...     AHAF(),  # one (beta, gamma) pair per neuron: 4 * 4 * 8 pairs
        ... ])
        >>> model.layers[-1].count_params()
        256
        >>> x = keras.ops.convert_to_tensor([[-2.0, 0.5, 3.0]])
        >>> keras.ops.convert_to_numpy(AHAF()(x)) + 0.0  # ReLU at init (+ 0.0 drops -0.)
        array([[0. , 0.5, 3. ]], dtype=float32)

    Reference:
        {ref}
    """

    PARAMS = ("beta", "gamma")
    INITS = learnable_ops.AHAF_INITS
    _op = staticmethod(learnable_ops.ahaf)

    def __init__(
        self,
        init="relu",
        shared_axes=None,
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        axis=-1,
        fused=None,
        **kwargs,
    ):
        super().__init__(
            init=init,
            shared_axes=shared_axes,
            regularizers={"beta": beta_regularizer, "gamma": gamma_regularizer},
            constraints={"beta": beta_constraint, "gamma": gamma_constraint},
            axis=axis,
            fused=fused,
            **kwargs,
        )


LEAF.__doc__ = LEAF.__doc__.replace("{ref}", _LEAF_REFERENCE)
AHAF.__doc__ = AHAF.__doc__.replace("{ref}", _AHAF_REFERENCE)

__all__ = ["AHAF", "LEAF", "LearnableActivation"]
