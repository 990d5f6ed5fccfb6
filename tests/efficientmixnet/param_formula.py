"""Independent parameter-count formula of the EfficientMixNet models (SPEC §7).

Written from the SPEC's description of the architecture, without the
builder's code, so that the tests can check the builder's counts for every
activation, normalization and kernel layout. Returns
``(trainable, non_trainable)``.
"""

import math

B0_STAGES = [  # (repeats, kernel, stride, expand, in, out, se)
    (1, 3, 1, 1, 32, 16, 0.25),
    (2, 3, 2, 6, 16, 24, 0.25),
    (2, 5, 2, 6, 24, 40, 0.25),
    (3, 3, 2, 6, 40, 80, 0.25),
    (3, 5, 1, 6, 80, 112, 0.25),
    (4, 5, 2, 6, 112, 192, 0.25),
    (1, 3, 1, 6, 192, 320, 0.25),
]
MIXED = [[3], [3, 5, 7], [5, 7, 9], [3, 5, 7], [3, 5, 7, 9], [3, 5, 7, 9], [3]]
VARIANTS = {  # width, depth
    "B0": (1.0, 1.0), "B1": (1.0, 1.1), "B2": (1.1, 1.2), "B3": (1.2, 1.4),
    "B4": (1.4, 1.8), "B5": (1.6, 2.2), "B6": (1.8, 2.6), "B7": (2.0, 3.1),
}
LINKED = {"lkrelu", "lkprelu", "lkselu", "lkswish"}
# learnable parameters per channel (shared over the spatial axes)
ACT_PARAMS = {"lkprelu": 2, "leaf": 4, "ahaf": 2, "prelu": 1}


def norm_params(kind, c, k=5):
    if kind == "bn":  # gamma, beta | moving mean, moving variance
        return 2 * c, 2 * c
    if kind == "an":  # attention Dense C->K with bias, Gamma and B (K x C) | moving stats
        return 3 * k * c + k, 2 * c
    if kind == "iebn":  # gamma, beta, w~, b~ | moving stats
        return 4 * c, 2 * c
    raise ValueError(kind)


def round_filters(f, width, divisor=8):
    x = f * width
    n = max(divisor, int(x + divisor / 2) // divisor * divisor)
    return n + divisor if n < 0.9 * x else n


def count(variant="B0", in_channels=3, classes=1000, activation="swish", norm="bn", k=5,
          mixed=False, include_top=True):
    width, depth = VARIANTS[variant]
    mult = 2 if activation in LINKED else 1
    act_p = ACT_PARAMS.get(activation, 0)
    trainable = non_trainable = 0

    def add(t, n=0):
        nonlocal trainable, non_trainable
        trainable += t
        non_trainable += n

    def conv_act(c_in, filters, bias=False, with_norm=True):
        """Conv feeding the activation (filters halved when linked); returns the width after."""
        f = math.ceil(filters / 2) if mult == 2 else filters
        add(c_in * f + (f if bias else 0))
        if with_norm:
            add(*norm_params(norm, f, k))
        add(act_p * f)
        return mult * f

    stem = round_filters(32, width)
    c = conv_act(in_channels * 9, stem)
    for stage, (r, kernel, _stride, e, fin, fout, se) in enumerate(B0_STAGES):
        fin, fout = round_filters(fin, width), round_filters(fout, width)
        for j in range(math.ceil(depth * r)):
            block_in = fin if j == 0 else fout
            assert c == block_in
            w = conv_act(c, block_in * e) if e != 1 else c
            kernels = MIXED[stage] if mixed else [kernel]
            g = len(kernels)
            sizes = [w - (w // g) * (g - 1)] + [w // g] * (g - 1)
            add(sum(kk * kk * s for kk, s in zip(kernels, sizes)))  # depthwise, no bias
            add(*norm_params(norm, w, k))
            add(act_p * w)
            w2 = mult * w
            squeeze = max(1, int(block_in * se))
            s = conv_act(w2, squeeze, bias=True, with_norm=False)
            add(s * w2 + w2)  # SE expand conv with bias, sigmoid
            add(w2 * fout)  # project conv
            add(*norm_params(norm, fout, k))
            c = fout
    head = conv_act(c, round_filters(1280, width))
    if include_top:
        add(head * classes + classes)
    return trainable, non_trainable
