"""``benchmarks/gpu.py --small``: the GPU benchmark runs end to end on a CPU."""

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    spec = importlib.util.spec_from_file_location(
        "gpu_benchmark", os.path.join(ROOT, "benchmarks", "gpu.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tables(text):
    """Data rows of every Markdown table, as lists of cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


@pytest.mark.slow  # whole-command smoke run (~10 s); .ci/run's slow step runs it
def test_small_ops_and_mixconv(tmp_path):
    out = tmp_path / "small.md"
    gpu = _load()
    assert gpu.main(["--small", "--sections", "ops", "mixconv", "--ops", "lkrelu",
                     "--dtypes", "float32", "--repeats", "1", "--output", str(out)]) == 0
    text = out.read_text()
    assert f"backend {BACKEND}" in text
    rows = {tuple(r[:2]): r for r in _tables(text)}
    for op in ("lkrelu",):
        row = rows[(op, "float32")]
        assert row[4] in ("fused", "plain")  # the form the default picked
        assert all(float(v) > 0 for v in row[3:4] + row[5:9])
    mixconv = [r for r in _tables(text) if r[0].startswith("MixedDepthwiseConv2D")]
    modes = [mode for mode, _ in gpu.Backend().modes()]
    assert sorted({r[2] for r in mixconv}) == sorted(modes)
    for mode in modes:  # each implementation once per mode, and the one auto picked
        impls = [r[1] for r in mixconv if r[2] == mode]
        auto = [impl[len("auto: "):] for impl in impls if impl.startswith("auto: ")]
        forced = sorted(impl for impl in impls if not impl.startswith("auto: "))
        assert forced == ["blocks", "groups", "padded", "shifts"] and len(auto) == 1, impls
        assert auto[0] in forced, impls
    for row in mixconv:
        assert float(row[3]) > 0, row
        assert float(row[5]) < 1e-5, row  # same output as the grouped convolutions


@pytest.mark.slow  # the mixconv section in every mode (~20 s on TensorFlow)
def test_mixconv_under_a_mixed_policy(tmp_path):
    import keras

    out = tmp_path / "bf16.md"
    gpu = _load()
    assert gpu.main(["--small", "--sections", "mixconv", "--mixconv-dtype-policy",
                     "mixed_bfloat16", "--repeats", "1", "--output", str(out)]) == 0
    text = out.read_text()
    assert "x = [2, 16, 16, 12] bfloat16 (policy mixed_bfloat16)" in text
    mixconv = [r for r in _tables(text) if r[0].startswith("MixedDepthwiseConv2D")]
    assert len(mixconv) == 5 * len(gpu.Backend().modes())
    for row in mixconv:
        assert float(row[3]) > 0, row
        # bfloat16 outputs: the implementations round differently, within a few units
        # in the last place of outputs of magnitude ~3 (not 0: they are rounded)
        assert float(row[5]) < 0.1, row
    assert keras.config.dtype_policy().name == "float32"  # the layers' own policy only


@pytest.mark.slow  # two small B0 trainings under mixed_bfloat16 (~40 s on TensorFlow)
def test_b0_under_a_mixed_policy(tmp_path):
    import keras

    out = tmp_path / "b0_bf16.md"
    gpu = _load()
    assert gpu.main(["--small", "--sections", "b0", "--b0-rows", "b0", "mixed",
                     "--b0-dtype-policy", "mixed_bfloat16", "--repeats", "1",
                     "--output", str(out)]) == 0
    text = out.read_text()
    assert f"(backend {BACKEND}, dtype policy mixed_bfloat16)" in text
    rows = {r[0]: r for r in _tables(text) if r[0] != "model"}
    assert sorted(rows) == ["B0, mixed=True (automatic MixConv)", "EfficientNetBuilder B0"]
    assert all(float(r[1]) > 0 for r in rows.values())
    assert keras.config.dtype_policy().name == "float32"  # restored after the section


@pytest.mark.parametrize("op, width", [("lkprelu", 8), ("leaf", 4), ("ahaf", 4)])
def test_forms_of_ops_with_parameters_give_the_same_output_and_gradients_of_every_argument(
        op, width):
    # The ops section differentiates x and the per-channel parameters (LKPReLU's
    # slopes, LEAF's p1-p4, AHAF's beta and gamma); the default, fused, plain
    # and framework forms compute the same thing.
    import keras
    import numpy as np

    gpu = _load()
    backend = gpu.Backend()
    rng = np.random.default_rng(3)
    x = backend.tensor(3 * rng.standard_normal(size=(2, 3, 3, 4)).astype("float32"))
    g = backend.tensor(rng.standard_normal(size=(2, 3, 3, width)).astype("float32"))
    params = [backend.tensor(a) for a in gpu.op_params(op, 4, rng)]
    picked = [None]
    fns = {"default": gpu.library_fn(op, None, picked),
           "fused": gpu.library_fn(op, True), "plain": gpu.library_fn(op, False),
           "framework": gpu.framework_fn(backend, op)}
    results = {}
    for name, fn in fns.items():
        y, grads = backend.vjp_step(fn)(g, x, *params)
        results[name] = [keras.ops.convert_to_numpy(t) for t in (y, *grads)]
    assert picked[0] is not None and [r.shape for r in results["plain"]] == [
        (2, 3, 3, width), (2, 3, 3, 4)] + [(1, 1, 4)] * len(gpu.PARAM_MEANS[op])
    for grad in results["plain"][2:]:
        assert np.abs(grad).min() > 0  # the parameters' gradients are computed
    for name, arrays in results.items():
        for a, b in zip(arrays, results["plain"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def test_time_cap_skips_rows(tmp_path):
    out = tmp_path / "capped.md"
    gpu = _load()
    assert gpu.main(["--small", "--sections", "mixconv", "--time-cap", "0",
                     "--output", str(out)]) == 0
    rows = [r for r in _tables(out.read_text()) if r[0] != "layer"]
    assert rows and all(r[3] == "skipped (time cap)" for r in rows)


@pytest.mark.slow  # two small B0 trainings (~40 s on TensorFlow)
def test_b0_rows_and_batch_are_picked(tmp_path):
    out = tmp_path / "b0.md"
    gpu = _load()
    assert gpu.main(["--small", "--sections", "b0", "--b0-rows", "b0", "mixed",
                     "--b0-batch", "3", "--repeats", "1", "--output", str(out)]) == 0
    text = out.read_text()
    assert "batch 3 at 32x32x3" in text
    rows = {r[0]: r for r in _tables(text) if r[0] != "model"}
    assert sorted(rows) == ["B0, mixed=True (automatic MixConv)", "EfficientNetBuilder B0"]
    mixed, plain = rows["B0, mixed=True (automatic MixConv)"], rows["EfficientNetBuilder B0"]
    assert float(mixed[4]) == pytest.approx(float(mixed[1]) / float(plain[1]), abs=0.01)


@pytest.mark.parametrize("flag", ["--b0-batch", "--memory-batch", "--repeats"])
def test_sizes_below_one_are_argparse_errors(flag, capsys):
    gpu = _load()
    with pytest.raises(SystemExit) as info:
        gpu.parse_args([flag, "0"])
    assert info.value.code == 2
    assert flag in capsys.readouterr().err


@pytest.mark.slow
def test_small_every_section(tmp_path):
    out = tmp_path / "all.md"
    gpu = _load()
    assert gpu.main(["--small", "--repeats", "1", "--time-cap", "3000",
                     "--output", str(out)]) == 0
    text = out.read_text()
    assert "skipped" not in text
    for title in ("Activation ops", "MixedDepthwiseConv2D", "EfficientNet B0",
                  "ResNet50-CIFAR", "Peak memory"):
        assert title in text


@pytest.mark.slow  # six small training steps (JAX: each in a subprocess), ~30 s
def test_small_memory_rows_per_activation_name_the_default_form(tmp_path):
    from linked_neurons.ops import _policy

    out = tmp_path / "memory.md"
    gpu = _load()
    assert gpu.main(["--small", "--sections", "memory", "--memory-ops", "lkselu", "swish",
                     "--repeats", "1", "--time-cap", "3000", "--output", str(out)]) == 0
    rows = {tuple(r[:2]): r for r in _tables(out.read_text()) if r[0] != "activation"}
    assert set(rows) == {(name, v) for name in ("LKSELU", "Swish")
                         for v in ("default", "fused", "plain")}
    mode = {"jax": "jit", "torch": "eager", "tensorflow": "graph"}[BACKEND]
    for name, op in (("LKSELU", "lk_selu"), ("Swish", "swish")):
        fused = _policy.fused_by_default(op, (BACKEND, mode, "cpu"), "float32")
        assert rows[(name, "default")][2] == ("fused" if fused else "plain")
        assert rows[(name, "fused")][2] == "fused" and rows[(name, "plain")][2] == "plain"
        for variant in ("default", "fused", "plain"):
            row = rows[(name, variant)]
            assert float(row[6]) > 0  # step ms
            if BACKEND in ("jax", "torch"):  # XLA's temp bytes / autograd's saved bytes
                assert float(row[5].replace(",", "")) > 0
            else:  # TensorFlow's BFC allocator counts the CPU's peak
                assert float(row[3].replace(",", "")) > 0


def _small_memory_rows(tmp_path, op, label, flag):
    """``--small`` memory section of ``op`` with ``flag``: its Markdown, and the rows
    of the ``label`` layer keyed by variant (default, fused, plain)."""
    out = tmp_path / f"memory_{op}.md"
    assert _load().main(["--small", "--sections", "memory", "--memory-ops", op, flag,
                         "--repeats", "1", "--time-cap", "3000", "--output", str(out)]) == 0
    text = out.read_text()
    return text, {r[1]: r for r in _tables(text) if r[0] == label}


@pytest.mark.slow  # three small XLA training steps, each in a subprocess (~25 s)
@pytest.mark.skipif(BACKEND != "tensorflow", reason="--memory-xla is TensorFlow's")
def test_small_memory_rows_under_xla_name_the_xla_default(tmp_path):
    from linked_neurons.ops import _policy

    text, rows = _small_memory_rows(tmp_path, "lkselu", "LKSELU", "--memory-xla")
    assert "XLA (--memory-xla)" in text
    fused = _policy.fused_by_default("lk_selu", ("tensorflow", "xla", "cpu"), "float32")
    assert rows["default"][2] == ("fused" if fused else "plain")
    assert all(float(rows[v][3].replace(",", "")) > 0 for v in ("default", "fused", "plain"))


@pytest.mark.slow  # six small training steps (TensorFlow, JAX: each in a subprocess), ~40 s
def test_small_memory_rows_under_a_mixed_policy_compute_in_bfloat16(tmp_path):
    import keras

    from linked_neurons.ops import _policy

    gpu = _load()
    texts = {}
    for policy in ("float32", "mixed_bfloat16"):
        out = tmp_path / f"{policy}.md"
        assert gpu.main(["--small", "--sections", "memory", "--memory-ops", "mish",
                         "--memory-dtype-policy", policy, "--repeats", "1",
                         "--time-cap", "3000", "--output", str(out)]) == 0
        texts[policy] = out.read_text()
        assert f"dtype policy {policy}" in texts[policy]
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    rows = {p: {r[1]: r for r in _tables(t) if r[0] == "Mish"} for p, t in texts.items()}
    mode = {"jax": "jit", "torch": "eager", "tensorflow": "graph"}[BACKEND]
    for policy, dtype in (("float32", "float32"), ("mixed_bfloat16", "bfloat16")):
        fused = _policy.fused_by_default("mish", (BACKEND, mode, "cpu"), dtype)
        assert rows[policy]["default"][2] == ("fused" if fused else "plain")
    if BACKEND in ("jax", "torch"):  # bfloat16 activations: fewer bytes kept or planned
        for variant in ("fused", "plain"):
            half, full = (float(rows[p][variant][5].replace(",", ""))
                          for p in ("mixed_bfloat16", "float32"))
            assert 0 < half < full, (variant, half, full)


@pytest.mark.slow  # small ops rows in two more dtypes, ~10 s
def test_small_ops_rows_in_float16_and_float64_name_their_default(tmp_path):
    from linked_neurons.ops import _policy

    dtypes = ["float16", "float64"]  # JAX: the test suite enables 64-bit arrays
    out = tmp_path / "dtypes.md"
    gpu = _load()
    # a shape whose floor is well above the table's 0.001 ms resolution
    assert gpu.main(["--small", "--sections", "ops", "--ops", "lkselu", "mish",
                     "--ops-shape", "4", "32", "32", "16", "--dtypes", *dtypes,
                     "--repeats", "1", "--output", str(out)]) == 0
    rows = [r for r in _tables(out.read_text()) if r[0] in ("lkselu", "mish")]
    modes = {"jax": {"jit"}, "torch": {"eager"}, "tensorflow": {"xla", "graph"}}[BACKEND]
    assert {(r[0], r[1], r[2]) for r in rows} == {
        (op, d, m) for op in ("lkselu", "mish") for d in dtypes for m in modes}
    for op, dtype, mode, *cells in rows:
        fused = _policy.fused_by_default(gpu.POLICY_NAME[op], (BACKEND, mode, "cpu"), dtype)
        assert cells[1] == ("fused" if fused else "plain"), (op, dtype, mode)
        assert all(float(v) > 0 for v in cells[:1] + cells[2:5])
    if "float64" in dtypes:  # the floor counts 8 bytes an element against float16's 2
        floor = {(r[0], r[1], r[2]): float(r[8]) for r in rows}
        for op in ("lkselu", "mish"):
            for mode in modes:
                assert floor[(op, "float64", mode)] == pytest.approx(
                    4 * floor[(op, "float16", mode)], rel=0.1)


@pytest.mark.skipif(BACKEND != "jax", reason="float64 needs JAX_ENABLE_X64 on JAX only")
@pytest.mark.parametrize("flags", [["--sections", "ops", "--dtypes", "float64"],
                                   ["--sections", "memory", "--memory-dtype-policy", "float64"]])
def test_float64_without_x64_is_refused_on_jax(flags, capsys):
    import jax

    gpu = _load()
    enabled = jax.config.read("jax_enable_x64")  # the test suite turns it on
    jax.config.update("jax_enable_x64", False)
    try:
        assert gpu.main(["--small", *flags]) == 2
    finally:
        jax.config.update("jax_enable_x64", enabled)
    assert "set JAX_ENABLE_X64=1" in capsys.readouterr().err


@pytest.mark.skipif(BACKEND == "tensorflow", reason="the flag is refused on JAX and PyTorch")
def test_memory_xla_is_refused_on_other_backends(capsys):
    gpu = _load()
    assert gpu.main(["--small", "--sections", "memory", "--memory-xla"]) == 2
    assert "--memory-xla is for the TensorFlow backend" in capsys.readouterr().err


@pytest.mark.skipif(BACKEND == "jax", reason="the flags are refused on TensorFlow and PyTorch")
@pytest.mark.parametrize("section, flag", [("memory", "--memory-eager"), ("ops", "--ops-eager")])
def test_jax_eager_flags_are_refused_on_other_backends(section, flag, capsys):
    gpu = _load()
    assert gpu.main(["--small", "--sections", section, flag]) == 2
    assert f"{flag} is for the JAX backend" in capsys.readouterr().err


@pytest.mark.slow  # a JAX process (~15 s); .ci/run's slow step has JAX
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX")
def test_small_ops_rows_without_jit_name_the_eager_default_of_each_dtype(tmp_path):
    # --ops-eager times the op steps without jax.jit, and each default row
    # names the form of ("jax", "eager", "cpu") for its dtype.
    from linked_neurons.ops import _policy

    ops, dtypes = ("lkrelu", "mish", "selu"), ("float32", "bfloat16", "float64")
    out = tmp_path / "eager.md"
    _python("jax", os.path.join(ROOT, "benchmarks", "gpu.py"), "--small", "--ops-eager",
            "--sections", "ops", "--ops", *ops, "--dtypes", *dtypes, "--repeats", "1",
            "--output", out, JAX_ENABLE_X64="1")
    gpu = _load()
    rows = [r for r in _tables(out.read_text()) if r[0] in ops]
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(
        (op, d, "eager") for op in ops for d in dtypes)
    for op, dtype, _mode, *cells in rows:
        fused = _policy.fused_by_default(gpu.POLICY_NAME[op], ("jax", "eager", "cpu"), dtype)
        assert cells[1] == ("fused" if fused else "plain"), (op, dtype)
        assert all(float(v) > 0 for v in cells[:1] + cells[2:5])


@pytest.mark.slow  # three small op-by-op training steps, each in a subprocess, ~35 s
@pytest.mark.skipif(BACKEND != "jax", reason="--memory-eager is JAX's")
def test_small_memory_rows_without_jit_name_the_eager_default_and_count_residuals(tmp_path):
    from linked_neurons.ops import _policy

    text, rows = _small_memory_rows(tmp_path, "lkrelu", "LKReLU", "--memory-eager")
    assert "op by op (--memory-eager)" in text and "vjp residuals MiB (JAX)" in text
    fused = _policy.fused_by_default("lk_relu", ("jax", "eager", "cpu"), "float32")
    assert rows["default"][2] == ("fused" if fused else "plain")
    saved = {v: float(rows[v][5].replace(",", "")) for v in ("default", "fused", "plain")}
    assert 0 < saved["fused"] < saved["plain"]  # the fused backward keeps only x
    assert saved["default"] == saved["fused" if fused else "plain"]


def _python(backend, *args, timeout=900, **env_vars):
    """``python *args`` in a process on ``backend``; asserts it exits 0."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", **env_vars}
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                            env=env, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.skipif(BACKEND == "torch", reason="the flag is refused on TensorFlow and JAX")
def test_torch_compile_is_refused_on_other_backends(capsys):
    gpu = _load()
    assert gpu.main(["--small", "--sections", "ops", "--torch-compile"]) == 2
    assert "--torch-compile is for the PyTorch backend" in capsys.readouterr().err


@pytest.mark.slow  # torch.compile of four op steps and three train steps (~2.5 min)
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs PyTorch")
def test_small_torch_compile_rows_name_the_compile_default(tmp_path):
    # The ops and memory sections run under torch.compile, and the default
    # rows name the form of ("torch", "compile", "cpu").
    from linked_neurons.ops import _policy

    out = tmp_path / "compile.md"
    _python("torch", os.path.join(ROOT, "benchmarks", "gpu.py"), "--small", "--torch-compile",
            "--sections", "ops", "memory", "--ops", "lkrelu", "--dtypes", "float32",
            "--memory-ops", "lkrelu", "--repeats", "1", "--time-cap", "3000", "--output", out)
    text = out.read_text()
    assert "torch.compile (--torch-compile)" in text
    fused = _policy.fused_by_default("lk_relu", ("torch", "compile", "cpu"), "float32")
    form = "fused" if fused else "plain"
    ops_row = next(r for r in _tables(text) if r[0] == "lkrelu")
    assert ops_row[2] == "compile" and ops_row[4] == form
    memory = {r[1]: r for r in _tables(text) if r[0] == "LKReLU"}
    assert [memory[v][2] for v in ("default", "fused", "plain")] == [form, "fused", "plain"]
    for row in memory.values():
        assert float(row[5].replace(",", "")) > 0 and float(row[6]) > 0  # saved MiB, ms


RECOMPILES = """
import importlib.util, sys
import numpy as np
import torch
spec = importlib.util.spec_from_file_location("gpu", sys.argv[1])
gpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu)
graphs = []

def counting(gm, example_inputs):
    graphs.append(gm)
    return gm.forward

picked = [None]
step = torch.compile(gpu.library_fn("lkrelu", None, picked), backend=counting)
x = torch.tensor(np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32"))
step(x)
compiled = len(graphs)
for _ in range(3):
    step(x)
print(compiled, len(graphs), picked[0])
"""


@pytest.mark.slow  # a PyTorch process (~15 s); .ci/run's slow step has PyTorch
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs PyTorch")
def test_the_default_step_records_its_form_without_recompiling(tmp_path):
    # The default's form is recorded from inside the compiled step: a record
    # that changed a guard (a list that grows) would recompile at every call.
    script = tmp_path / "recompiles.py"
    script.write_text(RECOMPILES)
    result = _python("torch", script, os.path.join(ROOT, "benchmarks", "gpu.py"), timeout=300)
    first, after, form = result.stdout.split()[-3:]
    assert int(first) >= 1 and after == first and form in ("True", "False")


def _backend_module():
    spec = importlib.util.spec_from_file_location(
        "gpu_backend_module", os.path.join(ROOT, "benchmarks", "gpu_backend.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _NoSync:
    """A backend whose calls end when they return."""

    def sync(self, out):
        pass


class _FakeTime:
    """``time`` for gpu_backend: seconds advance only when a row says so."""

    now = 0.0

    def perf_counter(self):
        return self.now

    def row(self, build_s, call_s, built=None, name=None):
        """A row's ``make``: a build of ``build_s`` s returning a call of ``call_s`` s."""

        def call():
            self.now += call_s

        def build():
            self.now += build_s
            if built is not None:
                built.append(name)
            return call

        return build


def test_interleaved_timing_rotates_the_order_and_times_every_call():
    module = _backend_module()
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in ("a", "b", "c")}
    timed = module.time_interleaved(_NoSync(), calls, repeats=3, inner=2, warmup=1)
    assert order[:3] == ["a", "b", "c"]  # one warm-up call each
    rounds = order[3:]
    firsts = [rounds[i] for i in range(0, len(rounds), 6)]  # 3 names x 2 inner per round
    assert firsts == ["a", "b", "c"]  # each round starts one later
    assert sorted(rounds) == sorted(["a", "b", "c"] * 6)
    assert set(timed) == {"a", "b", "c"}
    assert all(median >= low >= 0 for median, low in timed.values())


def test_rows_are_built_only_where_their_build_and_timing_fit_the_cap(monkeypatch):
    module = _backend_module()
    fake = _FakeTime()
    monkeypatch.setattr(module, "time", fake)
    built = []
    clock = module.Clock(100)
    # every row: a build and first call of 30 s, then calls of 1 s
    calls = module.prepare_within_cap(
        _NoSync(), clock, "models", [(n, fake.row(30.0, 1.0, built, n)) for n in "abcd"],
        calls_each=5)
    # a: 30 s build + 1 s warm call; b starts with 69 s left, more than its
    # build (30) + the timing of a and b (2 x 5 x 1 s); c would not end in time.
    assert built == ["a", "b"] and list(calls) == ["a", "b"]
    assert clock.longest == {"models": 30.0}
    module.time_interleaved(_NoSync(), calls, repeats=5, inner=1, warmup=0)
    assert fake.now == 72.0 and clock.left() > 0  # the run ended within the cap
    assert not clock.fits("models") and clock.fits("ops")  # 28 s left: no 30 s row

    with clock.row("ops"):
        fake.now += 20.0
    assert clock.longest["ops"] == 20.0 and not clock.fits("ops")  # 8 s left


def test_a_row_whose_own_timing_would_overrun_the_cap_is_dropped(monkeypatch):
    module = _backend_module()
    fake = _FakeTime()
    monkeypatch.setattr(module, "time", fake)
    clock = module.Clock(100)
    # slow: built (1 s), but 10 calls of 20 s would end far beyond the cap.
    calls = module.prepare_within_cap(
        _NoSync(), clock, "layers",
        [("fast", fake.row(1.0, 0.5)), ("slow", fake.row(1.0, 20.0)),
         ("also fast", fake.row(1.0, 0.5))],
        calls_each=10)
    assert list(calls) == ["fast", "also fast"]
    module.time_interleaved(_NoSync(), calls, repeats=10, inner=1, warmup=0)
    assert clock.left() > 0
