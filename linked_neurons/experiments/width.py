"""Width study of the linked-neurons paper: one convolution of W filters per activation.

``linked-neurons width`` trains :func:`linked_neurons.paper_models.width_net`
(``Conv2D(W, 3x3, valid) -> activation -> Flatten -> Dense(softmax)``) for
every ``W`` of ``--widths`` (50 and 400) and every activation, with SGD
(learning rate 0.01, batch 32, no shuffling). ``accuracy_by_width.png`` draws
the paper's score per activation and width.

The paper's medians on CIFAR-10 (W=50 / W=400): ReLU .5767/.6154, LK-ReLU
.5909/.6165, PReLU .5771/.6156, LK-PReLU .5908/.6168, SELU .4992/.5227,
LK-SELU .5730/.599, Swish .5559/.5442, LK-Swish .5488/.5405.
"""

from types import SimpleNamespace

from linked_neurons.experiments import classify
from linked_neurons.experiments.cli import positive_int

__all__ = ["STUDY"]


def _grid(options):
    if len(set(options["widths"])) != len(options["widths"]):
        raise ValueError(f"width: `widths` must be distinct, got {list(options['widths'])}.")
    return [SimpleNamespace(key=f"{v.key}_w{w}", label=f"{v.label} W={w}", net=v, width=w)
            for w in options["widths"] for v in map(classify.parse_variant, options["variants"])]


def _train(task):
    from linked_neurons.paper_models import width_net

    v, data = task.variant, task.data
    model = width_net(data.input_shape, data.num_classes, v.net.activation, width=v.width,
                      batch_norm=v.net.batch_norm, sqrt2=v.net.sqrt2,
                      kernel_initializer=task.options["kernel_initializer"])
    row, history = classify.fit_task(task, model, "sgd")
    return {"width": v.width, "activation": v.net.label, **row}, history


def _arguments(parser):
    classify.paper_arguments(parser, "width", "shuffle", "kernel_initializer", "image_size")
    parser.add_argument("--widths", nargs="+", type=positive_int, default=None, metavar="W",
                        help="filters of the convolution, one network each (default: 50 400)")


#: The declaration of the study (see :class:`~linked_neurons.experiments.runner.Study`).
STUDY = classify.paper_study(
    "width", "SGD", extra={"widths": (50, 400)}, description=__doc__, train=_train, grid=_grid,
    summary="one convolution of W filters per activation (paper)", arguments=_arguments,
    columns=(("width", "W"), ("activation", "activation"), *classify.PAPER_COLUMNS,
             ("params", "params"), ("seconds_per_epoch", "s/epoch"), ("runs", "seeds")),
    report=classify.bar_report("accuracy_by_width.png", "width", "One convolution of W filters"),
)
