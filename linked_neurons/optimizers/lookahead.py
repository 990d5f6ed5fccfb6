"""Lookahead: a wrapper that makes any Keras optimizer take k steps forward, 1 back."""

import contextlib

import keras
from keras import ops

from linked_neurons.optimizers._common import check_int, check_number, outside_trace

_REFERENCE = (
    "Zhang, Lucas, Hinton & Ba, *Lookahead Optimizer: k steps forward, 1 step back*, "
    "NeurIPS 2019, arXiv:1907.08610."
)

# Base-optimizer options that belong to the wrapped optimizer, with the value
# that means "not set" (a config from keras.optimizers.serialize may carry them).
_INNER_OPTIONS = {
    "weight_decay": None,
    "clipnorm": None,
    "clipvalue": None,
    "global_clipnorm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _resolve_optimizer(optimizer):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    if isinstance(optimizer, (str, dict)):
        try:
            resolved = keras.optimizers.get(optimizer)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"Lookahead: could not resolve optimizer={optimizer!r} with "
                f"keras.optimizers.get: {error}"
            ) from error
        if isinstance(resolved, keras.optimizers.Optimizer):
            return resolved
    raise TypeError(
        "Lookahead: `optimizer` must be a keras.optimizers.Optimizer instance, or a "
        "name or config that keras.optimizers.get turns into one; received "
        f"{optimizer!r} of type {type(optimizer).__name__}."
    )


def _value(variable_or_tensor):
    if isinstance(variable_or_tensor, keras.Variable):
        return variable_or_tensor.value
    return variable_or_tensor


def _assign(variable, value):
    variable.assign(value)


def _torch_synchronise(pairs, slow_step_size):
    """In place, with multi-tensor kernels: eager PyTorch allocates every result."""
    import torch

    slow = [s.value for _, s in pairs]
    fast = [v.value for v, _ in pairs]
    torch._foreach_lerp_(slow, fast, slow_step_size)  # slow + alpha * (fast - slow)
    for f, s in zip(fast, slow):
        f.copy_(s)


def _select_is_cheaper():
    """Whether to synchronise with ``ops.where`` rather than ``ops.cond``.

    Under XLA (JAX, or TensorFlow with ``jit_compile=True``) a conditional
    copies the weights it passes through unchanged, on every step, while
    selects fuse with the surrounding updates. Elsewhere a conditional skips
    the work on the steps between synchronisations.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return True
    if backend != "tensorflow":
        return False
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # a TensorFlow without this helper: the cond is still correct
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def _no_grad():
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


@keras.saving.register_keras_serializable(package="linked_neurons")
class Lookahead(keras.optimizers.Optimizer):
    """Lookahead wrapper: the wrapped optimizer explores, slow weights follow.

    The wrapped ("inner", or fast) optimizer updates the weights ``w`` as
    usual. Lookahead keeps a copy ``phi`` of them, the slow weights, and after
    every ``sync_period``-th inner step moves the slow weights a fraction
    ``slow_step_size`` of the way towards the fast ones and restarts the fast
    weights from there::

        phi = phi + slow_step_size * (w - phi)
        w = phi

    The slow weights start equal to the weights (when the optimizer is
    built). Lookahead counts the inner optimizer's steps itself, in its own
    step counter (the property ``iterations`` is the inner optimizer's, which
    learning-rate schedules use), from the first step it applies; steps that
    the inner optimizer does not take, because a ``LossScaleOptimizer`` skips
    non-finite gradients or because ``gradient_accumulation_steps`` is
    accumulating, are not counted. The slow weights and the counter are
    optimizer variables: ``model.save`` and ``model.save_weights`` store them
    with the rest of the optimizer state, and training resumed after
    ``keras.saving.load_model`` follows the same trajectory as uninterrupted
    training. Like any optimizer state they do not follow weights replaced
    by hand (``set_weights``); call :meth:`reset_slow_weights` then.

    Whether to synchronise is decided with tensors, never with a Python
    branch on the step counter: ``keras.ops.cond`` without XLA (TensorFlow's
    default on CPUs, PyTorch), where it skips all work between
    synchronisations, and ``keras.ops.where`` under XLA (JAX, TensorFlow
    with ``jit_compile=True``), where it fuses with the inner update while a
    conditional would copy the weights on every step. So Lookahead works with
    ``jit_compile=True``, in ``jax.jit`` (``stateless_apply``) and under
    ``tf.distribute`` strategies.

    Learning rate, loss scaling, clipping, weight decay and EMA belong to the
    wrapped optimizer: ``learning_rate`` and ``iterations`` read and write
    its attributes, and the base-optimizer options are refused here. Under
    the ``"mixed_float16"`` policy pass ``Lookahead(...)`` to ``compile``,
    which wraps it in a ``LossScaleOptimizer``; wrap a ``LossScaleOptimizer``
    yourself (``Lookahead(LossScaleOptimizer(...))``) only in custom training
    loops or under a policy where ``compile`` does not add its own.

    Args:
        optimizer: The wrapped optimizer: a ``keras.optimizers.Optimizer``
            instance (``RAdam``, ``keras.optimizers.Adam``, a
            ``LossScaleOptimizer``, ...) or a name or config that
            ``keras.optimizers.get`` resolves, such as ``"radam"``. Defaults
            to ``"adam"``, so that ``keras.optimizers.get("lookahead")`` gives
            ``Lookahead(Adam())``.
        sync_period: Number ``k`` of inner steps between synchronisations,
            an integer >= 1. Defaults to 5.
        slow_step_size: Fraction ``alpha`` of the way the slow weights move,
            in (0, 1]; 1 makes Lookahead equal to the wrapped optimizer.
            Defaults to 0.5.
        name: Name of the optimizer (its variables are named after it).

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from linked_neurons.optimizers import Lookahead
        >>> w = keras.Variable(np.zeros(1, "float32"))
        >>> opt = Lookahead(keras.optimizers.SGD(1.0), sync_period=2, slow_step_size=0.5)
        >>> for _ in range(2):
        ...     opt.apply([keras.ops.convert_to_tensor([-1.0])], [w])
        >>> keras.ops.convert_to_numpy(w)  # fast weights reached 2, slow ones move to 1
        array([1.], dtype=float32)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=Lookahead("radam", sync_period=6), loss="mse")

    Reference:
        {ref}
    """

    def __init__(self, optimizer="adam", sync_period=5, slow_step_size=0.5, name=None, **kwargs):
        inner = _resolve_optimizer(optimizer)
        sync_period = check_int("Lookahead", "sync_period", sync_period, low=1)
        slow_step_size = check_number(
            "Lookahead", "slow_step_size", slow_step_size, low=0.0, high=1.0
        )
        if slow_step_size == 0.0:
            raise ValueError(
                "Lookahead: `slow_step_size` must be in (0, 1] (0 would never move the "
                "weights); received slow_step_size=0.0."
            )
        for key, default in _INNER_OPTIONS.items():
            if key in kwargs:
                value = kwargs.pop(key)
                if value != default:
                    raise ValueError(
                        f"Lookahead does not take `{key}`; set it on the wrapped "
                        f"optimizer instead (received {key}={value!r})."
                    )
        if "learning_rate" in kwargs:
            raise ValueError(
                "Lookahead does not take `learning_rate`; set it on the wrapped "
                f"optimizer instead (received learning_rate={kwargs['learning_rate']!r})."
            )
        if kwargs:
            raise ValueError(f"Lookahead: unknown argument(s) {sorted(kwargs)}.")
        # A callable learning rate creates no variable of its own.
        super().__init__(learning_rate=self._inner_learning_rate, name=name)
        self.inner_optimizer = inner
        self.sync_period = int(sync_period)
        self.slow_step_size = slow_step_size

    def _inner_learning_rate(self):
        return self.inner_optimizer.learning_rate

    # ------------------------------------------------------------------ state
    def build(self, var_list):
        """Builds the wrapped optimizer and creates one slow weight per variable."""
        if self.built:
            return
        with outside_trace():
            if not self.inner_optimizer.built:
                self.inner_optimizer.build(var_list)
            super().build(var_list)
            # Created with zeros, then set to the weights.
            self._slow_weights = self.add_optimizer_variables(var_list, "slow")
        self._copy_weights_to_slow_weights()

    def _copy_weights_to_slow_weights(self):
        pairs = self._pairs(self._trainable_variables)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.init_scope():  # now, not as part of a traced function
                for variable, slow in pairs:
                    slow.assign(variable)
            return
        with _no_grad():
            for variable, slow in pairs:
                slow.assign(ops.copy(ops.convert_to_tensor(variable)))

    def reset_slow_weights(self):
        """Sets the slow weights to the current weights and starts a new period.

        For weights replaced by hand (``model.set_weights``, weights loaded
        from a file without optimizer state) when training goes on: otherwise
        the next synchronisation would pull them back towards the slow weights
        of the old ones. Call it outside of compiled functions.
        """
        if not self.built:
            raise ValueError(
                "Lookahead.reset_slow_weights: the optimizer is not built yet; it "
                "takes its slow weights from the weights when it is built."
            )
        self._copy_weights_to_slow_weights()
        self._iterations.assign(0)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def set_weights(self, weights):
        """Sets the values of ``variables`` (own and wrapped), in that order."""
        if not self.built:
            raise ValueError(
                "Lookahead.set_weights: the optimizer is not built yet; call "
                "`optimizer.build(trainable_variables)` first."
            )
        variables = self.variables
        if len(weights) != len(variables):
            raise ValueError(
                f"Lookahead.set_weights: expected {len(variables)} arrays, one per "
                f"optimizer variable; received {len(weights)}."
            )
        for variable, weight in zip(variables, weights):
            if tuple(variable.shape) != tuple(weight.shape):
                raise ValueError(
                    f"Lookahead.set_weights: variable {variable.path} has shape "
                    f"{variable.shape}, received an array of shape {weight.shape}."
                )
            variable.assign(weight)

    # ------------------------------------------------------------------ apply
    def _pairs(self, trainable_variables):
        """(variable, slow weight) for the variables that have a slow weight."""
        pairs = []
        for variable in trainable_variables:
            slow = self._slow_weights[self._get_variable_index(variable)]
            if slow is not None:
                pairs.append((variable, slow))
        return pairs

    def _blend(self, slow, fast):
        return ops.add(slow, ops.multiply(ops.subtract(fast, slow), self.slow_step_size))

    def _phases(self, count, inner_before, inner_after):
        """New step count and whether to synchronise, as tensors.

        ``count`` is Lookahead's step count before this call, ``inner_before``
        and ``inner_after`` the inner optimizer's ``iterations`` around its
        step: the inner step counts only if it changed them.
        """
        stepped = ops.not_equal(inner_after, inner_before)
        new_count = ops.add(count, ops.cast(stepped, count.dtype))
        sync = ops.logical_and(stepped, ops.equal(ops.mod(new_count, self.sync_period), 0))
        return new_count, sync

    def apply(self, grads, trainable_variables=None):
        """Applies ``grads`` with the wrapped optimizer, then synchronises if due."""
        if not self.built:
            if trainable_variables is None:
                raise ValueError(
                    "Lookahead.apply: the optimizer is not built; pass "
                    "`trainable_variables` or call `optimizer.build(...)` first."
                )
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
        if trainable_variables is None:
            variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            self._check_variables_are_known(trainable_variables)
            variables = trainable_variables
        pairs = self._pairs(variables)
        with _no_grad():
            count = self._snapshot(self._iterations)
            inner_before = self._snapshot(self.inner_optimizer.iterations)
            self.inner_optimizer.apply(grads, trainable_variables)
            inner_after = self._snapshot(self.inner_optimizer.iterations)
            new_count, sync = self._phases(count, inner_before, inner_after)
            self._iterations.assign(new_count)
            if _select_is_cheaper():
                fast = [self._snapshot(v) for v, _ in pairs]
                slow = [self._snapshot(s) for _, s in pairs]
                new_fast, new_slow = self._select_values(sync, fast, slow)
                assignments = [(s, value) for (_, s), value in zip(pairs, new_slow)]
                assignments += [(v, value) for (v, _), value in zip(pairs, new_fast)]
                self._assign_all(assignments)
            else:
                self._synchronise_if(sync, pairs)

    def _snapshot(self, value):
        """The current value of a variable, unaffected by later assignments."""
        if keras.backend.backend() == "jax":
            return ops.convert_to_tensor(value)  # immutable arrays
        # TensorFlow: read now (a bare variable would be read where it is used);
        # PyTorch: a copy, because variables are updated in place.
        return ops.copy(ops.convert_to_tensor(value))

    def _select_values(self, sync, fast, slow):
        """New (fast, slow) values with ``ops.where``: the form XLA fuses."""
        new_fast, new_slow = [], []
        for f, s in zip(fast, slow):
            s = ops.where(sync, self._blend(s, f), s)
            new_slow.append(s)
            # From the new slow weights, not the old ones: in-place updates of the
            # two buffers then need no copies under XLA.
            new_fast.append(ops.where(sync, s, f))
        return new_fast, new_slow

    def _assign_all(self, assignments):
        """Assigns ``(variable, value)`` pairs, in a cross-replica context on TensorFlow."""
        if keras.backend.backend() != "tensorflow":
            for variable, value in assignments:
                variable.assign(value)
            return

        import tensorflow as tf

        variables = [variable.value for variable, _ in assignments]

        def merge_fn(distribution, values):
            for variable, value in zip(variables, values):
                distribution.extended.update(variable, _assign, args=(value,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            merge_fn, self._distribution_strategy, [value for _, value in assignments]
        )

    def _synchronise_if(self, pred, pairs):
        """``ops.cond`` form: no work at all on the steps between synchronisations."""

        def synchronise(fast, slow):
            value = self._blend(ops.convert_to_tensor(slow), ops.convert_to_tensor(fast))
            slow.assign(value)
            fast.assign(value)

        if keras.backend.backend() == "torch":
            ops.cond(pred, lambda: _torch_synchronise(pairs, self.slow_step_size), lambda: None)
            return
        if keras.backend.backend() != "tensorflow":

            def body():
                for variable, slow in pairs:
                    synchronise(variable, slow)

            ops.cond(pred, body, lambda: None)
            return

        import tensorflow as tf

        # Mirrored variables are updated in a cross-replica context, one device at a
        # time, as the Keras TensorFlow optimizer does for its own updates.
        tf_pairs = [(variable.value, slow.value) for variable, slow in pairs]

        def merge_fn(distribution, pred):
            pred = distribution.experimental_local_results(pred)[0]

            def body():
                for variable, slow in tf_pairs:
                    distribution.extended.update(variable, synchronise, args=(slow,), group=False)

            tf.cond(pred, body, lambda: None)

        tf.__internal__.distribute.interim.maybe_merge_call(
            merge_fn, self._distribution_strategy, pred
        )

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Stateless form of :meth:`apply` (used by the JAX trainer)."""
        if not self.built:
            raise ValueError(
                "Lookahead.stateless_apply: the optimizer must be built first "
                "(`optimizer.build(trainable_variables)`)."
            )
        # A wrapping LossScaleOptimizer passes Keras variables, read in its own scope.
        optimizer_variables = [_value(v) for v in optimizer_variables]
        trainable_variables = [_value(v) for v in trainable_variables]
        if len(optimizer_variables) != len(self.variables):
            raise ValueError(
                f"Lookahead.stateless_apply: expected {len(self.variables)} optimizer "
                f"variable values, one per `optimizer.variables`; received "
                f"{len(optimizer_variables)}."
            )
        if len(trainable_variables) != len(self._trainable_variables):
            raise ValueError(
                f"Lookahead.stateless_apply: expected {len(self._trainable_variables)} "
                f"trainable variable values; received {len(trainable_variables)}."
            )
        n_own = len(self._variables)
        own, inner_values = optimizer_variables[:n_own], optimizer_variables[n_own:]
        inner = self.inner_optimizer

        def inner_step_count(values):
            with keras.StatelessScope(state_mapping=list(zip(inner.variables, values))):
                return ops.convert_to_tensor(inner.iterations)

        inner_before = inner_step_count(inner_values)
        new_trainable, new_inner = inner.stateless_apply(
            inner_values, grads, trainable_variables
        )
        own_index = {id(v): i for i, v in enumerate(self._variables)}
        count_index = own_index[id(self._iterations)]
        new_count, sync = self._phases(
            own[count_index], inner_before, inner_step_count(new_inner)
        )
        new_own = list(own)
        new_own[count_index] = new_count
        new_trainable = list(new_trainable)
        slots = [
            (i, own_index[id(slow)])
            for i, slow in enumerate(self._slow_weights)
            if slow is not None
        ]
        fast_values, slow_values = self._select_values(
            sync, [new_trainable[i] for i, _ in slots], [own[j] for _, j in slots]
        )
        for (i, j), f, s in zip(slots, fast_values, slow_values):
            new_trainable[i] = f
            new_own[j] = s
        return new_trainable, new_own + list(new_inner)

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "sync_period": self.sync_period,
            "slow_step_size": self.slow_step_size,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        optimizer = config.pop("optimizer", "adam")
        if isinstance(optimizer, dict):
            optimizer = keras.saving.deserialize_keras_object(
                optimizer, custom_objects=custom_objects
            )
        return cls(optimizer, **config)


Lookahead.__doc__ = Lookahead.__doc__.replace("{ref}", _REFERENCE)
