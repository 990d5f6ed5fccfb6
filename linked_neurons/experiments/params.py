"""Parameter-matched study of the linked-neurons paper: single, √2-widened and linked networks.

``linked-neurons params`` trains :func:`linked_neurons.paper_models.extended_net`
(C32 same, C32 valid, MaxPool, C64 same, C64 valid, MaxPool, D512, D10;
``glorot_normal``, RMSprop 1e-4, epsilon 1e-8) in the ``--kinds`` of every
plain activation of ``--variants`` (ReLU, PReLU, SELU, Swish): *single* (the
plain activation), *sqrt2* (every hidden layer ``int(sqrt(2) * W)`` wide,
about the linked network's parameters) and *linked* (the widths of *single*
with the linked activation). ``accuracy_by_kind.png`` draws the paper's score.
The paper's CIFAR-10 results (single / √2 / linked): ReLU .7337/.7581/.7696,
PReLU .7201/.7568/.7687, SELU .6981/.7012/.7559, Swish .6961/.7376/.7368.
The network needs 10x10 pixels: the 8x8 digits are resized to 16x16.
"""

from types import SimpleNamespace

from linked_neurons.experiments import classify
from linked_neurons.experiments.cli import choice

__all__ = ["KINDS", "LINKED", "STUDY"]

#: The linked counterpart of every plain activation of the study.
LINKED = {"relu": "lkrelu", "prelu": "lkprelu", "selu": "lkselu", "swish": "lkswish"}
#: The networks trained per activation.
KINDS = ("single", "sqrt2", "linked")


def _parse(name):
    variant = classify.parse_variant(name)
    if variant.key not in LINKED:
        raise ValueError(f"params: unknown variant {name!r}; valid: {', '.join(LINKED)}.")
    return variant


def _grid(options):
    if len(set(options["kinds"])) != len(options["kinds"]):
        raise ValueError(f"params: `kinds` must be distinct, got {list(options['kinds'])}.")
    names = {"single": "{}", "sqrt2": "{}_sqrt2", "linked": "lk{}"}
    return [SimpleNamespace(key=net.key, label=net.label, net=net, kind=kind, activation=p.label)
            for p in map(_parse, options["variants"]) for kind in options["kinds"]
            for net in [classify.parse_variant(names[kind].format(p.key))]]


def _train(task):
    from linked_neurons.paper_models import extended_net

    v, data = task.variant, task.data
    model = extended_net(data.input_shape, data.num_classes, v.net.activation,
                         batch_norm=v.net.batch_norm, sqrt2=v.net.sqrt2,
                         kernel_initializer=task.options["kernel_initializer"])
    row, history = classify.fit_task(task, model, "rmsprop")
    return {"activation": v.activation, "kind": v.kind, **row}, history


def _arguments(parser):
    classify.paper_arguments(parser, "params", "epsilon", "shuffle", "kernel_initializer",
                             "image_size")
    parser.add_argument("--kinds", nargs="+", type=choice(*KINDS), default=None, metavar="KIND",
                        help="networks per activation (default: single sqrt2 linked)")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = classify.paper_study(
    "params", "RMSprop", extra={"kinds": KINDS}, description=__doc__, parse_variant=_parse,
    summary="parameter-matched single / sqrt2-widened / linked networks (paper)", train=_train,
    grid=_grid, arguments=_arguments,
    columns=(("activation", "activation"), ("kind", "network"), ("label", "variant"),
             ("params", "params"), *classify.PAPER_COLUMNS, ("seconds_per_epoch", "s/epoch"),
             ("runs", "seeds")),
    report=classify.bar_report("accuracy_by_kind.png", "kind", "Parameter-matched networks"),
)
