"""Block arguments, the block-string grammar and the B0..B7 table.

A network is a list of stages; each stage is described by one
:class:`BlockArgs` (or one block string) and repeated ``num_repeat`` times.

Block strings are tokens joined by ``_``; the encoder writes them in this
order, the decoder accepts any order:

================  ==============================================================
token             meaning
================  ==============================================================
``r<int>``        ``num_repeat``: how many times the block is repeated (>= 1)
``k<int>``        ``kernel_size`` of the depthwise convolution
``k[<int>,...]``  several kernel sizes: a mixed depthwise convolution
``s<d><d>``       ``strides``: two digits, rows then columns (``s11``, ``s22``)
``e<number>``     ``expand_ratio`` of the inverted bottleneck (``e1``, ``e6``)
``i<int>``        ``input_filters`` (required)
``o<int>``        ``output_filters`` (required)
``se<number>``    ``se_ratio`` of the squeeze-and-excitation (absent: no SE)
``a<name>``       ``activation``: a name of :mod:`linked_neurons.activations`
``b<name>``       ``typeBN``: a name of :mod:`linked_neurons.normalizations`
``n<int>``        ``n_mixture`` of an attentive normalization
``noskip``        no identity shortcut (``identity_skip=False``)
================  ==============================================================

Absent ``a``, ``b`` and ``n`` tokens mean "use the builder's setting". Names
may not contain ``_`` (the separator): the encoder writes ``-`` for it and a
:class:`BlockArgs` stores names with ``_`` (``"lk-relu"`` is kept as
``"lk_relu"``; the registries ignore both characters).

>>> from linked_neurons.efficientmixnet import BlockArgs
>>> block = BlockArgs.from_string("r2_k[3,5,7]_s22_e6_i16_o24_se0.25_amish")
>>> block.kernel_size, block.strides, block.activation, block.typeBN
((3, 5, 7), (2, 2), 'mish', None)
>>> block.to_string()
'r2_k[3,5,7]_s22_e6_i16_o24_se0.25_amish'
"""

import dataclasses
import math
import numbers
import re

from linked_neurons import activations, normalizations

__all__ = [
    "BlockArgs",
    "VARIANTS",
    "Variant",
    "BLOCK_STRINGS",
    "MIXED_KERNELS",
    "decode_block_list",
    "encode_block_list",
    "get_block_list",
    "get_variant",
    "round_filters",
    "round_repeats",
]


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    """A finite real number (NaN and infinities are not accepted anywhere)."""
    return (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    )


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


@dataclasses.dataclass(frozen=True)
class BlockArgs:
    """Arguments of one stage of MBConv blocks (immutable).

    Lists given for ``kernel_size`` and ``strides`` are stored as tuples, an
    integral float ``expand_ratio`` as an int and ``se_ratio`` as a float, so
    that equal blocks compare equal. Use :meth:`replace` to derive a changed
    copy; the builder never modifies a ``BlockArgs``.

    Args:
        input_filters: Channels entering the first block of the stage
            (before width scaling).
        output_filters: Channels leaving every block of the stage.
        kernel_size: Int, or a sequence of ints for a mixed depthwise
            convolution (one kernel size per channel group).
        strides: Int or pair of ints (1 to 9), the stride of the stage's first
            block; the repeats use stride 1.
        num_repeat: Positive int, number of blocks in the stage (before depth
            scaling).
        se_ratio: None (no squeeze-and-excitation) or a number in [0, 1]: the
            squeeze width is ``max(1, int(input_filters * se_ratio))``; 0
            disables it too.
        expand_ratio: Positive number; the block expands to
            ``int(input_filters * expand_ratio)`` channels (no expansion for 1).
        identity_skip: Whether blocks with stride 1 and equal input and output
            widths add their input (with drop-connect).
        activation: Activation name overriding the builder's, or None.
        typeBN: Normalization name overriding the builder's, or None.
        n_mixture: Mixture count of an attentive normalization overriding the
            builder's, or None.

    Raises:
        TypeError, ValueError: For arguments of the wrong type or range,
            naming the argument; unknown activation or normalization names.
    """

    input_filters: int
    output_filters: int
    kernel_size: object = 3
    strides: tuple = (1, 1)
    num_repeat: int = 1
    se_ratio: float = None
    expand_ratio: object = 1
    identity_skip: bool = True
    activation: str = None
    typeBN: str = None
    n_mixture: int = None

    def __post_init__(self):
        def fail(message, error=ValueError):
            raise error(f"BlockArgs: {message}")

        def put(name, value):
            object.__setattr__(self, name, value)

        for name in ("input_filters", "output_filters", "num_repeat"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                fail(f"`{name}` must be a positive int, got {value!r}.")
            put(name, int(value))
        kernel = self.kernel_size
        if _is_int(kernel):
            if kernel < 1:
                fail(f"`kernel_size` must be positive, got {kernel!r}.")
            put("kernel_size", int(kernel))
        elif isinstance(kernel, (list, tuple)) and kernel and all(_is_int(k) for k in kernel):
            if min(kernel) < 1:
                fail(f"every kernel size must be positive, got {list(kernel)!r}.")
            put("kernel_size", tuple(int(k) for k in kernel))
        else:
            fail(
                f"`kernel_size` must be an int or a non-empty list of ints, got {kernel!r}.",
                TypeError,
            )
        strides = self.strides
        if _is_int(strides):
            strides = (strides, strides)
        if (
            not isinstance(strides, (list, tuple))
            or len(strides) != 2
            or not all(_is_int(s) for s in strides)
        ):
            fail(f"`strides` must be an int or a pair of ints, got {self.strides!r}.", TypeError)
        if not all(1 <= s <= 9 for s in strides):
            fail(f"`strides` must be between 1 and 9, got {self.strides!r}.")
        put("strides", tuple(int(s) for s in strides))
        if self.se_ratio is not None:
            if not _is_number(self.se_ratio) or not 0 <= self.se_ratio <= 1:
                fail(f"`se_ratio` must be None or a number in [0, 1], got {self.se_ratio!r}.")
            put("se_ratio", float(self.se_ratio))
        expand = self.expand_ratio
        if not _is_number(expand) or not expand > 0 or not math.isfinite(expand):
            fail(f"`expand_ratio` must be a positive number, got {expand!r}.")
        expand = float(expand)
        put("expand_ratio", int(expand) if expand.is_integer() else expand)
        if not isinstance(self.identity_skip, bool):
            fail(f"`identity_skip` must be a bool, got {self.identity_skip!r}.", TypeError)
        for name, check in (
            ("activation", activations.channel_multiplier),
            ("typeBN", normalizations.canonical_name),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str) or not _NAME.match(value):
                fail(
                    f"`{name}` must be None or a name (a letter, then letters, digits, "
                    f"'-' or '_'), got {value!r}.",
                    TypeError if not isinstance(value, str) else ValueError,
                )
            value = value.replace("-", "_")
            try:
                check(value)
            except ValueError as err:
                fail(f"unknown `{name}` {value!r}: {err}")
            put(name, value)
        if self.n_mixture is not None and (not _is_int(self.n_mixture) or self.n_mixture < 1):
            fail(f"`n_mixture` must be None or a positive int, got {self.n_mixture!r}.")
        if self.n_mixture is not None:
            put("n_mixture", int(self.n_mixture))

    # ------------------------------------------------------------------ helpers
    @property
    def mixed(self):
        """Whether the block uses a mixed depthwise convolution (several kernels)."""
        return isinstance(self.kernel_size, tuple) and len(self.kernel_size) > 1

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated like the constructor)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ strings
    def to_string(self):
        """Encodes the block as a block string (see the module docstring)."""
        if isinstance(self.kernel_size, tuple):
            kernel = "[" + ",".join(str(k) for k in self.kernel_size) + "]"
        else:
            kernel = str(self.kernel_size)
        tokens = [
            f"r{self.num_repeat}",
            f"k{kernel}",
            f"s{self.strides[0]}{self.strides[1]}",
            f"e{self.expand_ratio!r}",
            f"i{self.input_filters}",
            f"o{self.output_filters}",
        ]
        if self.se_ratio is not None:
            tokens.append(f"se{self.se_ratio!r}")
        if self.activation is not None:
            tokens.append("a" + self.activation.replace("_", "-"))
        if self.typeBN is not None:
            tokens.append("b" + self.typeBN.replace("_", "-"))
        if self.n_mixture is not None:
            tokens.append(f"n{self.n_mixture}")
        if not self.identity_skip:
            tokens.append("noskip")
        return "_".join(tokens)

    @classmethod
    def from_string(cls, block_string):
        """Decodes a block string (see the module docstring).

        Raises:
            ValueError: For a malformed string, naming the bad token: an
                unknown prefix, a bad value, a repeated token, a missing
                ``i`` or ``o`` token, or an unknown activation or norm name.
            TypeError: If ``block_string`` is not a string.
        """
        if not isinstance(block_string, str):
            raise TypeError(
                f"BlockArgs.from_string: expected a block string, got {block_string!r} "
                f"of type {type(block_string).__name__}."
            )
        values = {}
        for token in block_string.strip().split("_"):
            field, value = _decode_token(token, block_string)
            if field in values:
                raise ValueError(
                    f"BlockArgs.from_string: token {token!r} repeats the "
                    f"`{field}` given earlier in {block_string!r}."
                )
            values[field] = value
        for field, prefix in (("input_filters", "i"), ("output_filters", "o")):
            if field not in values:
                raise ValueError(
                    f"BlockArgs.from_string: {block_string!r} has no {prefix!r} token "
                    f"(`{field}` is required)."
                )
        try:
            return cls(**values)
        except (TypeError, ValueError) as err:
            raise ValueError(f"BlockArgs.from_string: {block_string!r}: {err}") from None

    #: The original library's name of :meth:`from_string`.
    from_block_string = from_string

    def __str__(self):
        return self.to_string()


_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"

_TOKENS = (
    # (regex, field, converter); "noskip" and "se" are matched before "n" and "s".
    (re.compile(r"noskip\Z"), "identity_skip", lambda m: False),
    (re.compile(rf"se(None|{_NUMBER})\Z"), "se_ratio", None),
    (re.compile(r"r(\d+)\Z"), "num_repeat", lambda m: int(m.group(1))),
    (re.compile(r"k(\d+)\Z"), "kernel_size", lambda m: int(m.group(1))),
    (
        re.compile(r"k\[\s*(\d+(?:\s*,\s*\d+)*)\s*,?\s*\]\Z"),
        "kernel_size",
        lambda m: tuple(int(k) for k in m.group(1).split(",")),
    ),
    (re.compile(r"s(\d)(\d)\Z"), "strides", lambda m: (int(m.group(1)), int(m.group(2)))),
    (re.compile(r"e(\d+)\Z"), "expand_ratio", lambda m: int(m.group(1))),
    (re.compile(rf"e({_NUMBER})\Z"), "expand_ratio", lambda m: float(m.group(1))),
    (re.compile(r"i(\d+)\Z"), "input_filters", lambda m: int(m.group(1))),
    (re.compile(r"o(\d+)\Z"), "output_filters", lambda m: int(m.group(1))),
    (re.compile(r"a([A-Za-z][A-Za-z0-9-]*)\Z"), "activation", None),
    (re.compile(r"b([A-Za-z][A-Za-z0-9-]*)\Z"), "typeBN", None),
    (re.compile(r"n(None|\d+)\Z"), "n_mixture", None),
)

_PREFIXES = {
    "identity_skip": "noskip",
    "se_ratio": "se<ratio>",
    "num_repeat": "r<int>",
    "kernel_size": "k<int> or k[<int>,...]",
    "strides": "s<digit><digit>",
    "expand_ratio": "e<number>",
    "input_filters": "i<int>",
    "output_filters": "o<int>",
    "activation": "a<name>",
    "typeBN": "b<name>",
    "n_mixture": "n<int>",
}


def _decode_token(token, block_string):
    for regex, field, convert in _TOKENS:
        match = regex.match(token)
        if match is None:
            continue
        text = match.group(1) if regex.groups else None
        if convert is not None:
            return field, convert(match)
        if text == "None":  # written by the original encoder
            return field, None
        if field == "se_ratio":
            return field, float(text)
        if field == "n_mixture":
            return field, int(text)
        return field, text  # activation and norm names: checked by BlockArgs
    expected = None
    for prefix, field in (("noskip", "identity_skip"), ("se", "se_ratio"), ("r", "num_repeat"),
                          ("k", "kernel_size"), ("s", "strides"), ("e", "expand_ratio"),
                          ("i", "input_filters"), ("o", "output_filters"),
                          ("a", "activation"), ("b", "typeBN"), ("n", "n_mixture")):
        if token.startswith(prefix):
            expected = f"`{field}` as {_PREFIXES[field]}"
            break
    if not token:
        detail = "an empty token (two '_' in a row, or a leading or trailing '_')"
    elif expected is not None:
        detail = f"a malformed token: expected {expected}"
    else:
        detail = f"an unknown token: expected one of {', '.join(_PREFIXES.values())}"
    raise ValueError(
        f"BlockArgs.from_string: bad token {token!r} in {block_string!r}: {detail}."
    )


def decode_block_list(block_strings):
    """Decodes a list of block strings into a list of :class:`BlockArgs`."""
    if isinstance(block_strings, str):
        raise TypeError(
            "decode_block_list: expected a list of block strings, got a single string; "
            "use BlockArgs.from_string or wrap it in a list."
        )
    return [BlockArgs.from_string(s) for s in block_strings]


def encode_block_list(block_list):
    """Encodes a list of :class:`BlockArgs` into a list of block strings."""
    out = []
    for block in block_list:
        if not isinstance(block, BlockArgs):
            raise TypeError(
                f"encode_block_list: expected BlockArgs, got {type(block).__name__}."
            )
        out.append(block.to_string())
    return out


#: The B0 stages (the other variants scale them).
BLOCK_STRINGS = (
    "r1_k3_s11_e1_i32_o16_se0.25",
    "r2_k3_s22_e6_i16_o24_se0.25",
    "r2_k5_s22_e6_i24_o40_se0.25",
    "r3_k3_s22_e6_i40_o80_se0.25",
    "r3_k5_s11_e6_i80_o112_se0.25",
    "r4_k5_s22_e6_i112_o192_se0.25",
    "r1_k3_s11_e6_i192_o320_se0.25",
)

#: Kernel sizes of each stage with ``mixed=True``.
MIXED_KERNELS = (3, (3, 5, 7), (5, 7, 9), (3, 5, 7), (3, 5, 7, 9), (3, 5, 7, 9), 3)


def get_block_list(mixed=False, activation=None, typeBN=None, n_mixture=None):
    """The B0 stages as a list of :class:`BlockArgs`.

    Args:
        mixed: If True, the stages use the mixed kernel sizes of
            :data:`~linked_neurons.efficientmixnet.config.MIXED_KERNELS`.
        activation: Activation name written into every block, or None (the
            builder's).
        typeBN: Normalization name written into every block, or None.
        n_mixture: Mixture count written into every block, or None.

    Returns:
        A new list of seven :class:`BlockArgs`.
    """
    if not isinstance(mixed, bool):
        raise TypeError(f"get_block_list: `mixed` must be a bool, got {mixed!r}.")
    blocks = []
    for string, kernels in zip(BLOCK_STRINGS, MIXED_KERNELS):
        block = BlockArgs.from_string(string)
        changes = {"activation": activation, "typeBN": typeBN, "n_mixture": n_mixture}
        if mixed:
            changes["kernel_size"] = kernels
        blocks.append(block.replace(**changes))
    return blocks


@dataclasses.dataclass(frozen=True)
class Variant:
    """Compound scaling of one EfficientNet variant.

    Attributes:
        width: Width coefficient (channel multiplier).
        depth: Depth coefficient (repeat multiplier).
        resolution: Default input size.
        dropout: Dropout rate before the classifier.
    """

    width: float
    depth: float
    resolution: int
    dropout: float


#: The B0..B7 table.
VARIANTS = {
    "B0": Variant(1.0, 1.0, 224, 0.2),
    "B1": Variant(1.0, 1.1, 240, 0.2),
    "B2": Variant(1.1, 1.2, 260, 0.3),
    "B3": Variant(1.2, 1.4, 300, 0.3),
    "B4": Variant(1.4, 1.8, 380, 0.4),
    "B5": Variant(1.6, 2.2, 456, 0.4),
    "B6": Variant(1.8, 2.6, 528, 0.5),
    "B7": Variant(2.0, 3.1, 600, 0.5),
}


def get_variant(name):
    """The :class:`~linked_neurons.efficientmixnet.config.Variant` of ``"B0"`` .. ``"B7"``.

    The name is case-insensitive.

    Raises:
        TypeError: For a variant that is not a string.
        ValueError: For an unknown variant.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"EfficientNet: `variant` must be a string such as 'B0'; received "
            f"variant={name!r} of type {type(name).__name__}."
        )
    key = name.upper()
    if key not in VARIANTS:
        raise ValueError(
            f"EfficientNet: unknown variant {name!r}; expected one of "
            f"{', '.join(VARIANTS)}."
        )
    return VARIANTS[key]


def round_filters(filters, width_coefficient, depth_divisor=8, min_depth=None):
    """Scales a channel count by the width and rounds it to the divisor.

    ``x = filters * width``; ``n = max(min_depth or depth_divisor,
    int(x + depth_divisor / 2) // depth_divisor * depth_divisor)``, plus one
    more ``depth_divisor`` if that fell below ``0.9 * x``.

    >>> round_filters(1280, 2.0), round_filters(32, 1.1), round_filters(40, 1.4)
    (2560, 32, 56)
    """
    x = filters * width_coefficient
    divisor = depth_divisor
    n = max(min_depth or divisor, int(x + divisor / 2) // divisor * divisor)
    if n < 0.9 * x:
        n += divisor
    return int(n)


def round_repeats(repeats, depth_coefficient):
    """Scales a repeat count by the depth: ``ceil(depth * repeats)``."""
    return int(math.ceil(depth_coefficient * repeats))
