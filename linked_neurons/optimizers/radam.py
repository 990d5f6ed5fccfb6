"""Rectified Adam (RAdam) for Keras 3."""

import math

import keras
from keras import ops

from linked_neurons.optimizers._common import (
    check_int,
    check_number,
    learning_rate_or_error,
    outside_trace,
)

_REFERENCE = (
    "Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*, "
    "ICLR 2020, arXiv:1908.03265."
)


def _one_minus_power(beta, log_beta, step):
    """``1 - beta ** step`` for a float ``beta`` in [0, 1) and a tensor ``step`` >= 1.

    ``-expm1(step * log(beta))`` with ``log(beta)`` taken in float64 by Python:
    no cancellation for small steps, and a float32 step keeps full precision
    instead of raising the float32 rounding of ``beta`` to the ``step``-th power.
    """
    if beta == 0.0:
        return ops.ones_like(step)
    return ops.negative(ops.expm1(step * log_beta))


def _sma_length(beta_2, step):
    """``rho_t = rho_inf - 2 t beta_2**t / (1 - beta_2**t)`` without cancellation.

    With ``h = -log(beta_2)`` and ``x = h t``, ``2 t beta_2**t / (1 - beta_2**t)
    = (2 / h) * x / expm1(x)``, so ``rho_t = (2 / (1 - beta_2) - 2 / h - 1) +
    (2 / h) * g(x)`` with ``g(x) = 1 - x / expm1(x)``. The first term is a
    float64 constant; ``g`` is taken from its Taylor series (Bernoulli numbers,
    error below 1e-7 relative) for ``x < 1``, where the direct form would
    cancel. In float32, ``rho_6`` then has an error near 1e-6 instead of the
    1e-4 of the textbook form, which matters because ``r_t`` depends on
    ``rho_t - 4``.
    """
    if beta_2 == 0.0:
        return ops.ones_like(step)  # rho_inf = 1
    h = -math.log(beta_2)
    offset = 2.0 / (1.0 - beta_2) - 2.0 / h - 1.0
    x = step * h
    x2 = x * x
    series = x * (0.5 - x * (1.0 / 12 - x2 * (1.0 / 720 - x2 * (1.0 / 30240 - x2 / 1209600))))
    direct = 1.0 - x / ops.expm1(ops.maximum(x, 1.0))
    g = ops.where(x < 1.0, series, direct)
    return offset + (2.0 / h) * g


@keras.saving.register_keras_serializable(package="linked_neurons")
class RAdam(keras.optimizers.Optimizer):
    """Rectified Adam: Adam whose adaptive step is switched on gradually.

    Early in training the second-moment estimate ``v`` rests on a few
    gradients and its variance is large, which makes Adam's first steps
    erratic (the reason for learning-rate warmup). RAdam measures that
    variance through the length ``rho_t`` of the approximated simple moving
    average and, while it is too short (``rho_t <= sma_threshold``), takes
    plain momentum-SGD steps; afterwards it takes Adam steps scaled by the
    rectification factor ``r_t``, which rises towards 1. At step ``t``
    (counted from 1), with gradient ``g``::

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        m_hat = m / (1 - beta_1**t)
        rho_inf = 2 / (1 - beta_2) - 1
        rho_t = rho_inf - 2 * t * beta_2**t / (1 - beta_2**t)
        if rho_t > sma_threshold:
            r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                       / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w = w - lr * m_hat * r_t * sqrt(1 - beta_2**t) / (sqrt(v) + epsilon)
        else:
            w = w - lr * m_hat

    This is ``torch.optim.RAdam`` (epsilon is added to the uncorrected
    ``sqrt(v)``). With the default ``beta_2 = 0.999`` steps 1 to 5 are
    momentum-SGD steps and step 6 is the first rectified one. The choice is
    made with tensor operations, not Python branches, so the update compiles
    with XLA and runs under ``jax.jit``.

    When ``total_steps > 0`` the learning rate ``lr`` (a float or the value
    of a schedule) also follows the warmup of TensorFlow Addons'
    ``RectifiedAdam``: with ``W = total_steps * warmup_proportion`` and
    ``D = max(total_steps - W, 1)`` it is ``lr * t / W`` while ``t <= W``,
    then decreases linearly to ``min_lr`` over the next ``D`` steps and stays
    there. The attribute ``learning_rate`` then reads the rate of the next
    step (the one weight decay uses too); assigning to it sets the peak
    ``lr``.

    Args:
        learning_rate: A float >= 0, a
            ``keras.optimizers.schedules.LearningRateSchedule`` or a callable
            without arguments. Defaults to ``0.001``.
        beta_1: Decay rate of the first-moment estimate, in [0, 1).
            Defaults to ``0.9``.
        beta_2: Decay rate of the second-moment estimate, in [0, 1).
            Defaults to ``0.999``.
        epsilon: Added to ``sqrt(v)``, >= 0. Defaults to ``1e-7``.
        sma_threshold: Rectified steps are taken once ``rho_t`` exceeds it;
            >= 4 (``r_t`` is undefined below). Defaults to ``5.0``.
        total_steps: Integer >= 0; 0 (default) turns the warmup off.
        warmup_proportion: Fraction of ``total_steps`` spent warming up, in
            [0, 1]. Defaults to ``0.1``.
        min_lr: Learning rate reached at the end of the decay, >= 0.
            Defaults to ``0.0``.
        amsgrad: Accepted as False only (the argument of TensorFlow Addons'
            ``RectifiedAdam``); True raises a ``ValueError`` that says why
            and what to use instead.
        **kwargs: The keyword arguments of every Keras optimizer:
            ``weight_decay`` (decoupled, ``w -= lr * weight_decay * w``
            before the update), ``clipnorm``, ``clipvalue``,
            ``global_clipnorm``, ``use_ema``, ``ema_momentum``,
            ``ema_overwrite_frequency``, ``loss_scale_factor``,
            ``gradient_accumulation_steps`` and ``name``.

    Example:

        >>> import keras
        >>> import numpy as np
        >>> from linked_neurons.optimizers import RAdam
        >>> w = keras.Variable(np.ones(3, "float32"))
        >>> opt = RAdam(learning_rate=0.1)
        >>> opt.apply([keras.ops.convert_to_tensor([1.0, -2.0, 0.5])], [w])
        >>> keras.ops.convert_to_numpy(w)  # step 1 is a momentum-SGD step
        array([0.9 , 1.2 , 0.95], dtype=float32)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=RAdam(total_steps=1000, weight_decay=1e-4), loss="mse")

    Reference:
        {ref}
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        sma_threshold=5.0,
        total_steps=0,
        warmup_proportion=0.1,
        min_lr=0.0,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        cls = "RAdam"
        if kwargs.pop("amsgrad", False):
            raise ValueError(
                "RAdam: `amsgrad=True` is not supported. The rectification factor r_t is "
                "derived for the variance of the exponential average v; AMSGrad divides by "
                "the running maximum of v instead, for which r_t is not a variance "
                "correction (torch.optim.RAdam has no amsgrad either). For AMSGrad use "
                "keras.optimizers.Adam(amsgrad=True), with a learning-rate warmup or "
                "wrapped in linked_neurons.optimizers.Lookahead."
            )
        learning_rate = learning_rate_or_error(cls, learning_rate)
        beta_1 = check_number(cls, "beta_1", beta_1, low=0.0, high=1.0, high_open=True)
        beta_2 = check_number(cls, "beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        epsilon = check_number(cls, "epsilon", epsilon, low=0.0)
        sma_threshold = check_number(cls, "sma_threshold", sma_threshold, low=4.0)
        total_steps = check_int(cls, "total_steps", total_steps, low=0)
        warmup_proportion = check_number(
            cls, "warmup_proportion", warmup_proportion, low=0.0, high=1.0
        )
        min_lr = check_number(cls, "min_lr", min_lr, low=0.0)
        if weight_decay is not None:
            weight_decay = check_number(cls, "weight_decay", weight_decay, low=0.0)
        super().__init__(
            learning_rate=learning_rate,
            name=name,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs,
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.sma_threshold = sma_threshold
        self.total_steps = int(total_steps)
        self.warmup_proportion = warmup_proportion
        self.min_lr = min_lr
        # Step-independent constants, in Python float64.
        self._log_beta_1 = math.log(beta_1) if beta_1 > 0.0 else 0.0
        self._log_beta_2 = math.log(beta_2) if beta_2 > 0.0 else 0.0
        rho_inf = 2.0 / (1.0 - beta_2) - 1.0
        # r_t**2 = (rho_t - 4) * (rho_t - 2) / rho_t * _rect_const. When
        # rho_inf <= 4 (beta_2 <= 0.6) rho_t never exceeds sma_threshold >= 4.
        self._rect_const = (
            rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0)) if rho_inf > 4.0 else 0.0
        )

    def build(self, var_list):
        """Creates the first- and second-moment variables of ``var_list``."""
        if self.built:
            return
        with outside_trace():
            super().build(var_list)
            self._momentums, self._velocities = self.add_optimizer_variables(
                var_list, ["momentum", "velocity"]
            )

    # ------------------------------------------------------------------ learning rate
    def _warmup(self, learning_rate):
        """The TensorFlow Addons warmup and linear decay applied to ``learning_rate``."""
        lr = ops.cast(learning_rate, "float32")
        step = ops.cast(self.iterations + 1, "float32")
        total = float(self.total_steps)
        warmup_steps = total * self.warmup_proportion
        decay_steps = max(total - warmup_steps, 1.0)
        # max(.., 1) only guards the branch that is not taken when W < 1.
        warm = lr * (step / max(warmup_steps, 1.0))
        decay = lr + (self.min_lr - lr) * (
            ops.minimum(step - warmup_steps, decay_steps) / decay_steps
        )
        return ops.where(step <= warmup_steps, warm, decay)

    def _get_current_learning_rate(self):
        learning_rate = super()._get_current_learning_rate()
        if self.total_steps > 0:
            return self._warmup(learning_rate)
        return learning_rate

    # ------------------------------------------------------------------ update
    def _step_coefficients(self, learning_rate, dtype):
        """Scalars ``(a, c, e)`` of the step ``w -= a * m / (sqrt(v) * c + e)``.

        Rectified step: ``a = lr * r_t * sqrt(1 - beta_2**t) / (1 - beta_1**t)``,
        ``c = 1``, ``e = epsilon``. Momentum-SGD step: ``a = lr / (1 - beta_1**t)``,
        ``c = 0``, ``e = 1``. Selecting scalars keeps the elementwise work at
        one multiply-add more than Adam's.
        """
        compute = "float64" if dtype == "float64" else "float32"
        step = ops.cast(self.iterations + 1, compute)
        lr = ops.cast(learning_rate, compute)
        bias_1 = _one_minus_power(self.beta_1, self._log_beta_1, step)
        bias_2 = _one_minus_power(self.beta_2, self._log_beta_2, step)
        rho_t = _sma_length(self.beta_2, step)
        rectified = rho_t > self.sma_threshold
        # Clamped so that the unused value stays finite while rho_t <= 4.
        r_squared = ops.maximum((rho_t - 4.0) * (rho_t - 2.0) / rho_t * self._rect_const, 0.0)
        rect_factor = ops.sqrt(r_squared) * ops.sqrt(bias_2)
        scale = ops.where(rectified, rect_factor, ops.ones_like(rect_factor)) * (lr / bias_1)
        c = ops.cast(rectified, compute)
        e = ops.where(rectified, ops.cast(self.epsilon, compute), ops.ones_like(c))
        return ops.cast(scale, dtype), ops.cast(c, dtype), ops.cast(e, dtype)

    def update_step(self, gradient, variable, learning_rate):
        """Applies one RAdam step to ``variable`` (see the class docstring)."""
        dtype = variable.dtype
        gradient = ops.cast(gradient, dtype)
        scale, c, e = self._step_coefficients(learning_rate, dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1.0 - self.beta_1))
        self.assign_add(
            v, ops.multiply(ops.subtract(ops.square(gradient), v), 1.0 - self.beta_2)
        )
        denominator = ops.add(ops.multiply(ops.sqrt(v), c), e)
        self.assign_sub(variable, ops.divide(ops.multiply(m, scale), denominator))

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if keras.backend.backend() != "torch":
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        self._torch_update_step(grads, trainable_variables, learning_rate)

    def _torch_update_step(self, grads, trainable_variables, learning_rate):
        """The same update on PyTorch, with multi-tensor ``torch._foreach`` kernels.

        Eager PyTorch runs one kernel per operation and tensor; grouping the
        variables (per dtype) and computing the scalars once per step keeps
        RAdam as fast as Keras' own PyTorch Adam, which does the same.
        """
        import torch

        groups = {}
        for grad, variable in zip(grads, trainable_variables):
            groups.setdefault(variable.dtype, []).append((grad, variable))
        with torch.no_grad():
            for dtype, pairs in groups.items():
                scale, c, e = self._step_coefficients(learning_rate, dtype)
                indices = [self._get_variable_index(v) for _, v in pairs]
                values = [v.value for _, v in pairs]
                g = [ops.cast(grad, dtype) for grad, _ in pairs]
                m = [self._momentums[i].value for i in indices]
                v = [self._velocities[i].value for i in indices]
                torch._foreach_lerp_(m, g, 1.0 - self.beta_1)
                torch._foreach_mul_(v, self.beta_2)
                torch._foreach_addcmul_(v, g, g, value=1.0 - self.beta_2)
                denominator = torch._foreach_sqrt(v)
                torch._foreach_mul_(denominator, c)
                torch._foreach_add_(denominator, e)
                step = torch._foreach_div(m, denominator)
                torch._foreach_mul_(step, scale)
                torch._foreach_sub_(values, step)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "sma_threshold": self.sma_threshold,
                "total_steps": self.total_steps,
                "warmup_proportion": self.warmup_proportion,
                "min_lr": self.min_lr,
            }
        )
        return config


RAdam.__doc__ = RAdam.__doc__.replace("{ref}", _REFERENCE)
