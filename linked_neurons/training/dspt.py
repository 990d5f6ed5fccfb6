"""Double-stage parameter tuning (DSPT): activations first, then the other weights."""

import keras
from keras import ops

from linked_neurons.training.grouped import GroupedOptimizer, _clone_optimizer, _get_optimizer
from linked_neurons.training.parameters import activation_parameters


def _unscale_for_distribution(loss):
    """Undoes the 1/replicas scaling Keras applies to a loss under tf.distribute."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = ops.multiply(loss, ops.cast(replicas, loss.dtype))
    return loss


def _batch_size(x):
    first = next(t for t in keras.tree.flatten(x) if t is not None)
    return ops.shape(first)[0]


class DSPTMixin:
    """Double-stage parameter tuning (DSPT) as a ``train_step`` mix-in.

    On every training batch: (1) a forward/backward pass whose gradients
    update only the activation parameters (:func:`activation_parameters`),
    with the activation optimizer; (2) a second forward/backward pass on the
    same batch, with the updated activations, whose gradients update only
    the other trainable weights, with the main optimizer. Metrics and the
    loss reported by ``fit`` are those of the second pass. Evaluation and
    prediction are unchanged.

    Put it before the Keras model class: ``class Net(DSPTMixin,
    keras.Model)``; :class:`DSPTModel` (functional) and
    :class:`DSPTSequential` are ready-made, and :func:`with_dspt` turns a
    built model into one. Works with ``model.fit`` on TensorFlow (also under
    ``tf.distribute`` strategies), JAX and PyTorch, with mixed precision, and
    saves and reloads with the optimizers' state.

    ``compile`` takes one more (keyword) argument than Keras':

    - ``activation_optimizer``: optimizer of the first stage (an instance,
      name or config, or a :func:`p24sl_optimizer` result for DSPT+P24Sl).
      Default: a copy of ``optimizer`` with its own state.

    Both optimizers live in one :class:`GroupedOptimizer` (``model.optimizer``;
    a ``GroupedOptimizer`` given as ``optimizer`` without
    ``activation_optimizer`` is used as it is, as on reload), so that each
    keeps its own step count and state. A ``LossScaleOptimizer`` given as
    ``optimizer`` keeps its settings and wraps both.
    """

    def compile(self, optimizer="rmsprop", *args, activation_optimizer=None, **kwargs):
        who = f"{type(self).__name__}.compile"
        loss_scale = None
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            loss_scale, optimizer = optimizer, optimizer.inner_optimizer
        if isinstance(optimizer, GroupedOptimizer) and activation_optimizer is None:
            composed = optimizer
        else:
            if isinstance(optimizer, GroupedOptimizer):
                raise ValueError(
                    f"{who}: with `activation_optimizer`, `optimizer` must be a plain "
                    f"optimizer (it updates the weights that are not activation parameters)."
                )
            main = _get_optimizer(optimizer, who)
            if activation_optimizer is None:
                activation_optimizer = _clone_optimizer(main, name=f"{main.name}_activation")
            composed = self._dspt_compose(main, activation_optimizer, who)
        if loss_scale is not None:  # the same loss scaling, around both stages' optimizers
            composed = keras.optimizers.LossScaleOptimizer(
                composed,
                initial_scale=loss_scale.initial_scale,
                dynamic_growth_steps=loss_scale.dynamic_growth_steps,
                name=loss_scale.name,
            )
        super().compile(composed, *args, **kwargs)

    def _dspt_compose(self, main, activation_optimizer, who):
        def select(model=self):
            return activation_parameters(model)

        if isinstance(activation_optimizer, GroupedOptimizer):
            if activation_optimizer.built:
                raise ValueError(
                    f"{who}: `activation_optimizer` is already built; pass a fresh one."
                )
            groups = [
                (g.optimizer, g.resolver)
                if g.resolver is not None
                else {
                    "optimizer": g.optimizer,
                    "patterns": list(g.patterns),
                    "indices": g.indices,
                    "names": g.names,
                }
                for g in activation_optimizer._groups
            ]
            groups.append((activation_optimizer.default_optimizer, select))
        else:
            groups = [(_get_optimizer(activation_optimizer, who), select)]
        return GroupedOptimizer(main, groups, name="dspt_optimizer")

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built and getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)

    # ------------------------------------------------------------------ stages
    def _dspt_grouped(self):
        optimizer = self.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        if not isinstance(optimizer, GroupedOptimizer):
            raise ValueError(
                f"{type(self).__name__}: DSPT needs the model compiled by its own "
                f"`compile` (got optimizer {type(optimizer).__name__})."
            )
        return optimizer

    def dspt_variables(self):
        """``(activation_parameters, other_trainable_variables)``, checked.

        Raises:
            ValueError: If the model has no activation parameters, or one
                sub-optimizer would update variables of both stages.
        """
        activation = activation_parameters(self)
        if not activation:
            raise ValueError(
                f"{type(self).__name__}: DSPT needs activation parameters (e.g. LEAF or "
                f"AHAF layers); the model has none."
            )
        ids = {id(v) for v in activation}
        others = [v for v in self.trainable_variables if id(v) not in ids]
        grouped = self._dspt_grouped()
        if not self.optimizer.built:
            # Build on every trainable variable: a lazy build at the first stage's
            # `apply` would only see the activation parameters.
            self.optimizer.build(self.trainable_variables)
        if grouped.built:
            stage_of = {}
            for stage, variables in ((1, activation), (2, others)):
                for v in variables:
                    k = grouped.group_of(v)
                    if stage_of.setdefault(k, stage) != stage:
                        raise ValueError(
                            f"{type(self).__name__}: the optimizer '"
                            f"{grouped.optimizers[k].name}' updates variables of both DSPT "
                            f"stages (e.g. {v.path}); each stage needs its own optimizers."
                        )
        return activation, others

    def _dspt_forward(self, x):
        if self._call_has_training_arg:
            return self(x, training=True)
        return self(x)

    def _dspt_loss(self, x, y, y_pred, sample_weight):
        return self._compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
        )

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "tensorflow":
            return self._dspt_train_step_tensorflow(*args)
        if backend == "jax":
            return self._dspt_train_step_jax(*args)
        if backend == "torch":
            return self._dspt_train_step_torch(*args)
        raise NotImplementedError(f"DSPT has no train step for the {backend} backend.")

    def _dspt_train_step_tensorflow(self, data):
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        stages = None
        for stage in range(2):
            with tf.GradientTape() as tape:
                y_pred = self._dspt_forward(x)
                loss = self._dspt_loss(x, y, y_pred, sample_weight)
                scaled = self.optimizer.scale_loss(loss)
            if stages is None:  # after the first call: a model built on first use has weights
                stages = self.dspt_variables()
            variables = stages[stage]
            if variables:
                self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self._loss_tracker.update_state(
            _unscale_for_distribution(loss), sample_weight=_batch_size(x)
        )
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _dspt_train_step_torch(self, data):
        import torch

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        stages = None
        for stage in range(2):
            y_pred = self._dspt_forward(x)
            if stages is None:
                stages = self.dspt_variables()
            variables = stages[stage]
            self.zero_grad()
            loss = self._dspt_loss(x, y, y_pred, sample_weight)
            self.optimizer.scale_loss(loss).backward()
            if variables:
                grads = [v.value.grad for v in variables]
                with torch.no_grad():
                    self.optimizer.apply(grads, variables)
        self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _dspt_train_step_jax(self, state, data):
        import jax

        trainable, non_trainable, optimizer_vars, metrics_vars = state
        trainable = list(trainable)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        position = {id(v): i for i, v in enumerate(self.trainable_variables)}
        for variables in self.dspt_variables():
            index = [position[id(v)] for v in variables]
            if not index:
                continue

            def loss_fn(sub, trainable=trainable, non_trainable=non_trainable,
                        metrics_vars=metrics_vars, optimizer_vars=optimizer_vars, index=index):
                full = list(trainable)
                for i, value in zip(index, sub):
                    full[i] = value
                return self.compute_loss_and_updates(
                    full, non_trainable, metrics_vars, x, y, sample_weight,
                    training=True, optimizer_variables=optimizer_vars,
                )

            (_, aux), sub_grads = jax.value_and_grad(loss_fn, has_aux=True)(
                [trainable[i] for i in index]
            )
            unscaled_loss, y_pred, non_trainable, metrics_vars = aux
            grads = [None] * len(trainable)
            for i, grad in zip(index, sub_grads):
                grads[i] = grad
            trainable, optimizer_vars = self.optimizer.stateless_apply(
                optimizer_vars, grads, trainable
            )
            trainable = list(trainable)
        logs, metrics_vars = self._update_metrics_variables(
            metrics_vars, unscaled_loss, x, y, y_pred, sample_weight
        )
        return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)


@keras.saving.register_keras_serializable(package="linked_neurons")
class DSPTModel(DSPTMixin, keras.Model):
    """A Keras ``Model`` trained with double-stage parameter tuning.

    Build it like ``keras.Model``, functionally (``DSPTModel(inputs,
    outputs)``) or by subclassing; see :class:`DSPTMixin` for the training
    step and the extra ``activation_optimizer`` argument of ``compile``.

    Example:

        >>> import keras, numpy as np
        >>> from linked_neurons.layers.learnable import AHAF
        >>> from linked_neurons.training import DSPTModel
        >>> inputs = keras.Input((4,))
        >>> outputs = keras.layers.Dense(1)(AHAF(init="silu")(keras.layers.Dense(3)(inputs)))
        >>> model = DSPTModel(inputs, outputs)
        >>> model.compile(optimizer=keras.optimizers.SGD(0.1),
        ...               activation_optimizer=keras.optimizers.SGD(0.01), loss="mse")
        >>> history = model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=2, verbose=0)
        >>> [int(o.iterations) for o in model.optimizer.optimizers]  # one step per batch each
        [2, 2]
    """


@keras.saving.register_keras_serializable(package="linked_neurons")
class DSPTSequential(DSPTMixin, keras.Sequential):
    """A ``keras.Sequential`` model trained with double-stage parameter tuning.

    See :class:`DSPTMixin`.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import LEAF
        >>> from linked_neurons.training import DSPTSequential
        >>> model = DSPTSequential([keras.Input((4,)), keras.layers.Dense(3), LEAF()])
        >>> model.compile(optimizer="adam", loss="mse")  # stage one gets a copy of Adam
        >>> [type(o).__name__ for o in model.optimizer.optimizers]
        ['Adam', 'Adam']
    """


def with_dspt(model, name=None):
    """A DSPT model sharing the layers (and weights) of a built ``model``.

    Args:
        model: A built Sequential or functional Keras model.
        name: Name of the new model (default: ``model.name``).

    Returns:
        A :class:`DSPTModel` with the same inputs and outputs.

    Raises:
        ValueError: If ``model`` is not built or has no symbolic inputs.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import LEAF
        >>> from linked_neurons.training import with_dspt
        >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), LEAF()])
        >>> model = with_dspt(base)
        >>> type(model).__name__, model.count_params() == base.count_params()
        ('DSPTModel', True)
    """
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
            f"with_dspt: {type(model).__name__} '{getattr(model, 'name', '?')}' must be a "
            f"built Sequential or functional model (with an Input); subclass "
            f"DSPTMixin for other models."
        )
    if len(inputs) == 1:
        inputs = inputs[0]
    if len(outputs) == 1:
        outputs = outputs[0]
    return DSPTModel(inputs, outputs, name=name or model.name)
