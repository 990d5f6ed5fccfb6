"""Training procedures for learnable activations (SPEC §3).

Three pieces, usable with any Keras model, not only with the experiments:

- :func:`activation_parameters` lists a model's activation parameters (the
  weights of :class:`~linked_neurons.layers.learnable.LEAF`,
  :class:`~linked_neurons.layers.learnable.AHAF` and the other activation
  layers).
- :class:`GroupedOptimizer` routes each variable to one of several Keras
  optimizers; :func:`p24sl_optimizer` builds the "P24Sl" setup of the LEAF
  paper with it: LEAF's ``p2`` and ``p4`` get their own, slower learning rate.
- :class:`DSPTMixin` (with the ready-made :class:`DSPTModel` and
  :class:`DSPTSequential`, and :func:`with_dspt`) trains with double-stage
  parameter tuning ("DSPT"): on every batch, a first forward/backward pass
  updates only the activation parameters, a second one on the same batch
  updates only the other weights, each with its own optimizer.

All of it works with ``model.fit`` on the TensorFlow, JAX and PyTorch
backends, under ``tf.distribute`` strategies and mixed precision, and is
saved and restored with the model (``.keras`` files keep the optimizers'
state).

Example:

    >>> import keras
    >>> from linked_neurons.layers.learnable import LEAF
    >>> from linked_neurons import training
    >>> model = training.DSPTSequential([
    ...     keras.Input((4,)), keras.layers.Dense(3), LEAF(init="tanh"), keras.layers.Dense(1)])
    >>> [v.name for v in training.activation_parameters(model)]
    ['p1', 'p2', 'p3', 'p4']
    >>> model.compile(optimizer="adam",
    ...               activation_optimizer=training.p24sl_optimizer(model, "adam"),
    ...               loss="mse")
    >>> [type(o).__name__ for o in model.optimizer.optimizers]
    ['Adam', 'Adam', 'Adam']
    >>> [round(float(o.learning_rate), 9) for o in model.optimizer.optimizers]
    [1e-06, 0.001, 0.001]
"""

import math
import numbers
import re
import warnings

import keras
from keras import ops

from linked_neurons.layers.base import ActivationLayer
from linked_neurons.layers.learnable import LEAF
from linked_neurons.optimizers._common import learning_rate_or_error

__all__ = [
    "ACTIVATION_LAYER_TYPES",
    "DSPTMixin",
    "DSPTModel",
    "DSPTSequential",
    "GroupedOptimizer",
    "P24SL_FACTORS",
    "activation_parameters",
    "count_activation_parameters",
    "p24sl_optimizer",
    "with_dspt",
]

#: Layer types whose trainable weights are "activation parameters" by default.
ACTIVATION_LAYER_TYPES = (ActivationLayer, keras.layers.PReLU)


# ============================================================================ parameters
def _all_layers(model):
    """``model`` and every layer nested in it (each once)."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    seen, out, stack = set(), [], [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
    return out


def activation_parameters(model, names=None, layer_types=None):
    """The trainable weights of a model's activation layers.

    Activation layers are, by default, the library's activation layers
    (:class:`~linked_neurons.layers.learnable.LEAF`,
    :class:`~linked_neurons.layers.learnable.AHAF`, ``LKPReLU``, ``Swish``
    with a trainable beta, ... : every
    :class:`~linked_neurons.layers.ActivationLayer`) and
    ``keras.layers.PReLU``, searched through nested models and layers.
    These are the weights that DSPT updates in its first stage.

    Args:
        model: A Keras model or layer (built, or the list is empty).
        names: Optional variable names to keep, e.g. ``("p2", "p4")``.
        layer_types: Optional tuple of layer classes that replaces the
            default :data:`ACTIVATION_LAYER_TYPES`.

    Returns:
        A list of variables, in the order of ``model.trainable_variables``.

    Raises:
        TypeError: If ``model`` is not a Keras layer or model.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import AHAF
        >>> from linked_neurons.training import activation_parameters
        >>> model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), AHAF()])
        >>> [(v.name, tuple(v.shape)) for v in activation_parameters(model)]
        [('beta', (4,)), ('gamma', (4,))]
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            f"activation_parameters: expected a Keras model or layer, got "
            f"{type(model).__name__}."
        )
    types = tuple(layer_types) if layer_types is not None else ACTIVATION_LAYER_TYPES
    if isinstance(names, str):
        names = (names,)
    keep = set(names) if names is not None else None
    ids = set()
    for layer in _all_layers(model):
        if isinstance(layer, types) and layer.trainable:
            ids.update(id(v) for v in layer.trainable_weights)
    return [
        v
        for v in model.trainable_variables
        if id(v) in ids and (keep is None or v.name in keep)
    ]


def count_activation_parameters(model, **kwargs):
    """Number of scalars in :func:`activation_parameters` (same arguments).

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import LEAF
        >>> from linked_neurons.training import count_activation_parameters
        >>> count_activation_parameters(keras.Sequential([keras.Input((6, 5)), LEAF()]))
        120
    """
    return sum(math.prod(v.shape) for v in activation_parameters(model, **kwargs))


# ============================================================================ optimizer
def _get_optimizer(identifier, who):
    if isinstance(identifier, keras.optimizers.LossScaleOptimizer):
        raise ValueError(
            f"{who}: a LossScaleOptimizer cannot be a sub-optimizer; wrap the whole "
            f"GroupedOptimizer instead (model.compile does it under mixed_float16)."
        )
    try:
        optimizer = keras.optimizers.get(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{who}: could not interpret {identifier!r} as a Keras optimizer: {error}"
        ) from None
    if isinstance(optimizer, GroupedOptimizer):
        raise ValueError(
            f"{who}: a GroupedOptimizer cannot be nested in another one; list all of its "
            f"groups in a single GroupedOptimizer."
        )
    return optimizer


class _Group:
    """One group of a :class:`GroupedOptimizer` (internal)."""

    def __init__(self, optimizer, patterns=(), indices=None, names=None, resolver=None):
        self.optimizer = optimizer
        self.patterns = tuple(patterns)
        self.compiled = [re.compile(p) for p in self.patterns]
        self.indices = None if indices is None else tuple(int(i) for i in indices)
        self.names = None if names is None else tuple(str(n) for n in names)
        self.resolver = resolver

    def config(self, who):
        if self.resolver is not None and self.indices is None:
            raise ValueError(
                f"{who}: a group given by variables is serialized as their positions in "
                f"the variable list, known once the optimizer is built. Build it first "
                f"(model.fit or optimizer.build(model.trainable_variables))."
            )
        config = {"optimizer": keras.optimizers.serialize(self.optimizer)}
        if self.patterns:
            config["patterns"] = list(self.patterns)
        if self.indices is not None:
            config["indices"] = list(self.indices)
            config["names"] = list(self.names) if self.names is not None else None
        return config


@keras.saving.register_keras_serializable(package="linked_neurons")
class GroupedOptimizer(keras.optimizers.Optimizer):
    """Routes each variable to one of several Keras optimizers.

    Every group pairs an optimizer with a selection of variables; a variable
    goes to the first group that selects it, and to ``default_optimizer``
    when none does. Each sub-optimizer keeps its own state and step count,
    and only advances on the steps where one of its variables has a
    gradient, which is what DSPT's two stages need. The sub-optimizers'
    variables are part of ``variables`` (so JAX's stateless training and
    ``LossScaleOptimizer`` see them) and are saved and restored with a
    ``.keras`` model.

    (``keras.optimizers.MultiOptimizer`` of Keras 3.15 routes by variable
    path, but a saved model's paths change on reload, its state does not
    load back from ``.keras`` files, and it only applies all variables at
    once.)

    A selection is one of:

    - a regular expression, or a list of them, searched in each variable's
      ``path`` (e.g. ``r"(^|/)p[24]$"``);
    - a list of variables, or a callable returning one, called when the
      optimizer is built (the model need not be built before);
    - in configs, ``{"indices": [...], "names": [...]}``: positions in the
      variable list the optimizer is built on (a model's
      ``trainable_variables``), with the expected variable names, which the
      two forms above are saved as.

    Args:
        default_optimizer: Optimizer (instance, name or config) of the
            variables no group selects.
        groups: Sequence of ``(optimizer, selection)`` pairs or config dicts
            ``{"optimizer": ..., "patterns": [...], "indices": [...],
            "names": [...]}``.
        loss_scale_factor: Optional loss scale, passed on to every
            sub-optimizer (their own settings are replaced).
        name: Optimizer name.

    Attributes:
        optimizers: The sub-optimizers, groups first, the default last.

    ``learning_rate`` reads and sets the default optimizer's learning rate;
    ``iterations`` counts the calls to ``apply``.

    Example:

        >>> import keras
        >>> from linked_neurons.training import GroupedOptimizer
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="head")])
        >>> optimizer = GroupedOptimizer(
        ...     keras.optimizers.SGD(0.1), [(keras.optimizers.SGD(0.0), r"head/bias$")])
        >>> model.compile(optimizer=optimizer, loss="mse")
        >>> optimizer.build(model.trainable_variables)
        >>> [optimizer.group_of(v) for v in model.trainable_variables]
        [1, 0]
    """

    def __init__(self, default_optimizer, groups=(), loss_scale_factor=None, name=None, **kwargs):
        for key, value in kwargs.items():
            if value not in (None, False):
                raise ValueError(
                    f"GroupedOptimizer does not support `{key}`; set it on the "
                    f"sub-optimizers instead."
                )
        who = f"GroupedOptimizer '{name or 'grouped_optimizer'}'"
        super().__init__(
            learning_rate=0.0,
            loss_scale_factor=loss_scale_factor,
            name=name or "grouped_optimizer",
        )
        default = _get_optimizer(default_optimizer, who)
        parsed = []
        for k, group in enumerate(groups):
            parsed.append(self._parse_group(group, k, who))
        optimizers = [g.optimizer for g in parsed] + [default]
        if len({id(o) for o in optimizers}) != len(optimizers):
            raise ValueError(
                f"{who}: each group needs its own optimizer instance (an optimizer keeps "
                f"one step count for all its variables)."
            )
        self._groups = parsed
        self._optimizers = optimizers
        self._route = {}
        self.loss_scale_factor = loss_scale_factor

    @staticmethod
    def _parse_group(group, k, who):
        if isinstance(group, dict):
            unknown = set(group) - {"optimizer", "patterns", "indices", "names"}
            if "optimizer" not in group or unknown:
                raise ValueError(
                    f"{who}: group {k} must have the keys 'optimizer' and some of "
                    f"'patterns', 'indices', 'names'; got {sorted(group)}."
                )
            optimizer = _get_optimizer(group["optimizer"], who)
            patterns = group.get("patterns") or ()
            indices = group.get("indices")
            names = group.get("names")
            resolver = None
        else:
            try:
                optimizer, selection = group
            except (TypeError, ValueError):
                raise TypeError(
                    f"{who}: group {k} must be an (optimizer, selection) pair or a dict, "
                    f"got {group!r}."
                ) from None
            optimizer = _get_optimizer(optimizer, who)
            patterns, indices, names, resolver = (), None, None, None
            if isinstance(selection, str):
                patterns = (selection,)
            elif callable(selection) and not isinstance(selection, keras.Variable):
                resolver = selection
            else:
                try:
                    items = list(selection)
                except TypeError:
                    items = None
                if items is not None and all(isinstance(s, str) for s in items):
                    patterns = tuple(items)
                elif items is not None and all(isinstance(s, keras.Variable) for s in items):
                    resolver = lambda items=items: items  # noqa: E731
                else:
                    raise TypeError(
                        f"{who}: the selection of group {k} must be a regular expression, "
                        f"a list of them, a list of variables or a callable returning "
                        f"one; got {selection!r}."
                    )
        for pattern in patterns:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as error:
                raise ValueError(
                    f"{who}: invalid regular expression {pattern!r} in group {k}: {error}."
                ) from None
        if indices is not None and (
            isinstance(indices, (str, bytes))
            or not all(isinstance(i, numbers.Integral) and i >= 0 for i in indices)
        ):
            raise ValueError(f"{who}: group {k} has invalid `indices` {indices!r}.")
        if names is not None and indices is not None and len(names) != len(indices):
            raise ValueError(
                f"{who}: group {k} has {len(indices)} indices but {len(names)} names."
            )
        return _Group(optimizer, patterns, indices, names, resolver)

    # ------------------------------------------------------------------ routing
    @property
    def optimizers(self):
        """The sub-optimizers, one per group, then the default optimizer."""
        return list(self._optimizers)

    @property
    def default_optimizer(self):
        """The optimizer of the variables that no group selects."""
        return self._optimizers[-1]

    def assignment(self, variables):
        """Group index of each variable (``len(groups)`` for the default).

        Resolves the groups' selections against ``variables`` (the list the
        optimizer is built on) and checks the saved positions and names.
        """
        variables = list(variables)
        n = len(variables)
        position = {id(v): i for i, v in enumerate(variables)}
        claimed = []
        for k, group in enumerate(self._groups):
            indices = set()
            if group.indices is not None:
                for j, i in enumerate(group.indices):
                    if i >= n:
                        raise ValueError(
                            f"GroupedOptimizer '{self.name}': group {k} selects variable "
                            f"#{i}, but the optimizer is built on {n} variables. Build it "
                            f"on the variable list it was configured for (the model's "
                            f"trainable_variables)."
                        )
                    expected = group.names[j] if group.names is not None else None
                    if expected is not None and variables[i].name != expected:
                        raise ValueError(
                            f"GroupedOptimizer '{self.name}': group {k} expects variable "
                            f"'{expected}' at position {i}, found '{variables[i].name}' "
                            f"({variables[i].path}). Build it on the variable list it was "
                            f"configured for (the model's trainable_variables)."
                        )
                    indices.add(i)
            elif group.resolver is not None:
                for v in group.resolver():
                    if id(v) not in position:
                        raise ValueError(
                            f"GroupedOptimizer '{self.name}': group {k} selects "
                            f"{v.path}, which is not among the variables the optimizer is "
                            f"built on."
                        )
                    indices.add(position[id(v)])
            for i, v in enumerate(variables):
                if any(p.search(v.path) for p in group.compiled):
                    indices.add(i)
            claimed.append(indices)
        out = []
        for i in range(n):
            out.append(next((k for k, s in enumerate(claimed) if i in s), len(self._groups)))
        return out

    def build(self, var_list):
        if self.built:
            return
        var_list = list(var_list)
        assignment = self.assignment(var_list)
        for k, group in enumerate(self._groups):
            if group.indices is None and group.resolver is not None:
                group.indices = tuple(i for i, a in enumerate(assignment) if a == k)
                group.names = tuple(var_list[i].name for i in group.indices)
        buckets = [[] for _ in self._optimizers]
        self._route = {}
        for v, k in zip(var_list, assignment):
            buckets[k].append(v)
            self._route[self._var_key(v)] = k
        for optimizer, variables in zip(self._optimizers, buckets):
            if variables:
                optimizer.build(variables)
        super().build(var_list)

    def group_of(self, variable):
        """Index of the group (``len(groups)``: the default) that updates ``variable``."""
        if not self.built:
            raise ValueError(f"GroupedOptimizer '{self.name}' is not built yet.")
        try:
            return self._route[self._var_key(variable)]
        except KeyError:
            raise ValueError(
                f"GroupedOptimizer '{self.name}' was not built with {variable.path}."
            ) from None

    # ------------------------------------------------------------------ updates
    def apply(self, grads, trainable_variables=None):
        """Applies ``grads`` to ``trainable_variables`` (default: all built ones).

        ``trainable_variables`` may be any subset of the variables the
        optimizer was built on, and gradients may be None: sub-optimizers
        with no gradient in this call are left untouched.
        """
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"GroupedOptimizer '{self.name}': pass `trainable_variables` or build "
                    f"the optimizer first."
                )
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"GroupedOptimizer '{self.name}': got {len(grads)} gradients for "
                f"{len(trainable_variables)} variables."
            )
        if not self.built:
            self.build(trainable_variables)
        buckets = [[] for _ in self._optimizers]
        for grad, variable in zip(grads, trainable_variables):
            if grad is not None:
                buckets[self.group_of(variable)].append((grad, variable))
        for optimizer, pairs in zip(self._optimizers, buckets):
            if pairs:
                optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        self._iterations.assign_add(1)

    def finalize_variable_values(self, var_list):
        buckets = [[] for _ in self._optimizers]
        for variable in var_list:
            k = self._route.get(self._var_key(variable))
            if k is not None:
                buckets[k].append(variable)
        for optimizer, variables in zip(self._optimizers, buckets):
            if variables:
                optimizer.finalize_variable_values(variables)

    # ------------------------------------------------------------------ state
    @property
    def variables(self):
        out = self._variables[:]
        for optimizer in getattr(self, "_optimizers", ()):
            out.extend(optimizer.variables)
        return out

    def save_own_variables(self, store):
        """Saves this optimizer's own variables; the sub-optimizers save theirs."""
        for i, variable in enumerate(self._variables):
            store[str(i)] = keras.ops.convert_to_numpy(variable)

    def load_own_variables(self, store):
        if len(store.keys()) != len(self._variables):
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}': it has "
                f"{len(self._variables)} own variables, the saved one "
                f"{len(store.keys())}.",
                stacklevel=2,
            )
            return
        for i, variable in enumerate(self._variables):
            variable.assign(store[str(i)])

    @property
    def learning_rate(self):
        return self._optimizers[-1].learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if hasattr(self, "_optimizers"):
            self._optimizers[-1].learning_rate = value

    @property
    def loss_scale_factor(self):
        return getattr(self, "_loss_scale_factor", None)

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        self._loss_scale_factor = value
        for optimizer in getattr(self, "_optimizers", ()):
            optimizer.loss_scale_factor = value

    # ------------------------------------------------------------------ config
    def get_config(self):
        who = f"GroupedOptimizer '{self.name}'"
        return {
            "name": self.name,
            "default_optimizer": keras.optimizers.serialize(self._optimizers[-1]),
            "groups": [group.config(who) for group in self._groups],
            "loss_scale_factor": self.loss_scale_factor,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["default_optimizer"] = keras.optimizers.deserialize(
            config["default_optimizer"], custom_objects=custom_objects
        )
        groups = []
        for group in config.get("groups", ()):
            group = dict(group)
            group["optimizer"] = keras.optimizers.deserialize(
                group["optimizer"], custom_objects=custom_objects
            )
            groups.append(group)
        config["groups"] = groups
        return cls(**config)


# ============================================================================ P24Sl
#: Default ratio of the slow (p2, p4) to the base learning rate, per optimizer class
#: name: base/1000 with the Adam family, base/10 with RMSprop (the LEAF paper's setup).
P24SL_FACTORS = {"adam": 1e-3, "adamw": 1e-3, "adamax": 1e-3, "nadam": 1e-3, "rmsprop": 1e-1}


def _clone_optimizer(optimizer, **overrides):
    config = {**optimizer.get_config(), **overrides}
    return type(optimizer).from_config(config)


def _slow_rate_or_error(rate):
    try:
        return learning_rate_or_error("p24sl_optimizer", rate)
    except (TypeError, ValueError) as err:
        raise type(err)(str(err).replace("`learning_rate`", "`slow_learning_rate`").replace(
            "received learning_rate=", "received slow_learning_rate=")) from None


def p24sl_optimizer(
    model, optimizer="adam", learning_rate=None, slow_learning_rate=None, name="p24sl"
):
    """The "P24Sl" optimizer setup: a slower learning rate for LEAF's p2 and p4.

    LEAF used as ReLU is unstable when ``p2`` drifts (its slope at 0 is about
    ``p2 * p3 / 4`` with ``p3 = 2**16``); the LEAF paper trains ``p2`` and
    ``p4`` of every :class:`~linked_neurons.layers.learnable.LEAF` layer with
    their own, slower learning rate: base/1000 with Adam (1e-3 -> 1e-6),
    base/10 with RMSprop (1e-4 -> 1e-5). Everything else (``p1``, ``p3``,
    every other weight) keeps the base rate.

    Args:
        model: The model (built or not: its LEAF parameters are looked up
            when the optimizer is built).
        optimizer: Base optimizer: a name (``"adam"``, ``"rmsprop"``, ...),
            config or instance. Its copy with the slow rate updates p2/p4.
        learning_rate: Base learning rate when ``optimizer`` is a name or
            config (default: Keras' default of that optimizer).
        slow_learning_rate: Learning rate (or schedule) of p2 and p4.
            Default: the base rate times :data:`P24SL_FACTORS` of the
            optimizer class; other optimizers need it given.
        name: Name of the returned optimizer.

    Returns:
        A :class:`GroupedOptimizer` with one group (p2/p4 of every LEAF
        layer) and the base optimizer as default. Pass it to
        ``model.compile``, or as ``activation_optimizer`` of a DSPT model.

    Raises:
        ValueError: If the slow rate cannot be derived, or the model is
            built and has no LEAF layer.

    Example:

        >>> import keras
        >>> from linked_neurons.layers.learnable import LEAF
        >>> from linked_neurons.training import p24sl_optimizer
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), LEAF()])
        >>> optimizer = p24sl_optimizer(model, "rmsprop", learning_rate=1e-4)
        >>> model.compile(optimizer=optimizer, loss="mse")
        >>> [round(float(o.learning_rate), 9) for o in optimizer.optimizers]  # p2/p4, the rest
        [1e-05, 0.0001]
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"p24sl_optimizer: expected a Keras model, got {type(model).__name__}.")
    if learning_rate is not None:
        learning_rate = learning_rate_or_error("p24sl_optimizer", learning_rate)
    if slow_learning_rate is not None:
        slow_learning_rate = _slow_rate_or_error(slow_learning_rate)
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None:
            raise ValueError(
                "p24sl_optimizer: `learning_rate` is only for an optimizer given by name or "
                "config; set it on the optimizer instance."
            )
        base = _get_optimizer(optimizer, "p24sl_optimizer")
    else:
        base = _get_optimizer(optimizer, "p24sl_optimizer")
        if learning_rate is not None:
            base = _clone_optimizer(base, learning_rate=learning_rate)
    if slow_learning_rate is None:
        kind = type(base).__name__.lower()
        factor = P24SL_FACTORS.get(kind)
        rate = base.get_config().get("learning_rate")
        if factor is None:
            raise ValueError(
                f"p24sl_optimizer: no default slow learning rate for {type(base).__name__} "
                f"(known: {', '.join(sorted(P24SL_FACTORS))}); pass `slow_learning_rate`."
            )
        if not isinstance(rate, numbers.Real):
            raise ValueError(
                "p24sl_optimizer: the base learning rate is a schedule; pass "
                "`slow_learning_rate` (a number or a schedule)."
            )
        slow_learning_rate = float(rate) * factor
    slow = _clone_optimizer(base, learning_rate=slow_learning_rate, name=f"{base.name}_p24")

    def select():
        return activation_parameters(model, names=("p2", "p4"), layer_types=(LEAF,))

    if model.built and not any(isinstance(layer, LEAF) for layer in _all_layers(model)):
        raise ValueError("p24sl_optimizer: the model has no LEAF layer.")
    return GroupedOptimizer(base, [(slow, select)], name=name)


# ============================================================================ DSPT
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
