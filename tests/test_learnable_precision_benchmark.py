"""``benchmarks/learnable_precision.py``: the gradient-accuracy table of LEAF and AHAF."""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "learnable_precision", os.path.join(ROOT, "benchmarks", "learnable_precision.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # compiles 16 steps on TensorFlow (~10 s); .ci/run's slow step runs it
def test_table_covers_every_case_and_shows_the_fused_sharpness_gradient_ahead(capsys):
    bench = _load()
    bench.main(["--markdown"])
    lines = [ln for ln in capsys.readouterr().out.splitlines()
             if ln.startswith("| ") and not ln.startswith("| op ")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    modes = {r[3] for r in rows}
    assert len(rows) == 2 * 2 * 2 * len(modes) > 0
    assert {(r[0], r[1], r[2]) for r in rows} == {
        (op, init, form) for op in ("leaf", "ahaf") for init in ("relu", "relu_smooth")
        for form in ("fused", "plain")}
    err = {(r[0], r[1], r[2], r[3]): [float(c) for c in r[4:]] for r in rows}
    for (op, init, form, mode), (dx, sharp, others) in err.items():
        assert dx < 1e-5 and others < 1e-5, (op, init, form, mode)
        assert sharp < (1e-5 if form == "fused" else 3e-4), (op, init, form, mode)
        if form == "fused":
            assert sharp < err[op, init, "plain", mode][1], (op, init, mode)


def test_size_must_allow_a_sum():
    bench = _load()
    with pytest.raises(SystemExit):
        bench.main(["--size", "1"])
