"""GroupedOptimizer: each variable updated by one of several Keras optimizers."""

import numbers
import re
import warnings

import keras


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


def _clone_optimizer(optimizer, **overrides):
    config = {**optimizer.get_config(), **overrides}
    return type(optimizer).from_config(config)
