"""What a model leaves behind after ``keras.backend.clear_session()``.

The mechanisms, not RSS thresholds: ``benchmarks/memory.py`` measures the
resident memory (ours against Keras' own layers, same run).
"""

import gc
import weakref

import keras
import numpy as np
import pytest
from conftest import BACKEND

import linked_neurons as ln
from linked_neurons.optimizers import InnerRMSprop, Lookahead, RAdam

#: Optimizer state names the library's optimizers create, one variable per weight.
_SLOTS = ("momentum", "velocity", "slow", "square")


def _model():
    return keras.Sequential([
        keras.Input((6, 6, 3)),
        keras.layers.Conv2D(4, 3),
        ln.LKReLU(),
        ln.IEBN(),
        ln.Swish(trainable_beta=True),
        keras.layers.GlobalAveragePooling2D(),
        ln.LEAF(),
        keras.layers.Dense(2),
    ])


def _fit(model, optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6, 6, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)


def test_a_fitted_model_and_its_optimizer_die_after_clear_session():
    model = _model()
    _fit(model, Lookahead(RAdam(1e-3)))
    refs = [weakref.ref(obj) for obj in
            [model, model.optimizer, model.optimizer.inner_optimizer, *model.layers,
             *model.weights]]
    del model
    keras.backend.clear_session()
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert not alive, f"kept alive: {[type(a).__name__ for a in alive]}"


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's function library")
@pytest.mark.parametrize(
    "make",
    [lambda: Lookahead(RAdam(1e-3)), lambda: RAdam(1e-3),
     lambda: Lookahead(InnerRMSprop(1e-3))],
    ids=["Lookahead(RAdam)", "RAdam", "Lookahead(InnerRMSprop)"],
)
def test_optimizer_state_is_not_created_inside_the_traced_train_function(make):
    """A variable created while Keras traces the train function keeps two ``cond``
    branch graphs in TensorFlow's function library after ``clear_session()``."""
    from tensorflow.python.eager import context

    def slot_graphs():
        return [name for name in context.context().list_function_names()
                if "_cond_" in name and any(slot in name for slot in _SLOTS)]

    before = set(slot_graphs())
    model = _model()
    optimizer = make()
    _fit(model, optimizer)
    assert optimizer.built
    keras.backend.clear_session()
    gc.collect()
    assert set(slot_graphs()) - before == set()


def _new_train_steps(run):
    """Names of the ``one_step_on_data`` graphs TensorFlow traced during ``run()``."""
    from tensorflow.python.eager import context

    def steps():
        return {n for n in context.context().list_function_names() if "one_step_on_data" in n}

    before = steps()
    run()
    return steps() - before


def _compiled_model():
    model = _model()
    model.compile(optimizer=Lookahead(RAdam(1e-3)), loss="mse", metrics=["mae"])
    return model


_X = np.random.default_rng(1).normal(size=(8, 6, 6, 3)).astype("float32")
_Y = np.random.default_rng(2).normal(size=(8, 2)).astype("float32")


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow traces the train function")
@pytest.mark.parametrize("prebuilt", [False, True], ids=["as-is", "build_before_fit"])
def test_build_before_fit_makes_tensorflow_trace_the_train_function_once(prebuilt):
    """Optimizer slots and metric variables created inside the first trace make
    TensorFlow trace it again; each traced graph stays in the process."""
    model = _compiled_model()

    def run():
        if prebuilt:
            ln.training.build_before_fit(model, _X, _Y)
            assert model.optimizer.built
        model.fit(_X, _Y, batch_size=4, epochs=2, verbose=0)

    assert len(_new_train_steps(run)) == (1 if prebuilt else 2)
    keras.backend.clear_session()


def test_build_before_fit_changes_no_result():
    weights = []
    for prebuilt in (False, True):
        keras.utils.set_random_seed(3)
        model = _compiled_model()
        if prebuilt:
            ln.training.build_before_fit(model, _X, _Y, sample_weight=np.ones(len(_X)))
        model.fit(_X, _Y, batch_size=4, epochs=2, verbose=0, shuffle=False)
        weights.append([keras.ops.convert_to_numpy(w) for w in model.weights])
        keras.backend.clear_session()
    for before, after in zip(*weights):
        np.testing.assert_array_equal(before, after)


def test_build_before_fit_needs_a_compiled_model():
    with pytest.raises(ValueError, match="build_before_fit: .* not compiled"):
        ln.training.build_before_fit(_model(), _X, _Y)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow traces the train function")
def test_the_studies_trainings_trace_once(monkeypatch):
    """``fit_and_score`` (every paper study's training) builds before ``fit``."""
    from linked_neurons import datasets
    from linked_neurons.experiments import classify

    data = datasets.prepare("digits", max_train_samples=64)
    counts = []
    for prebuild in (True, False):
        if not prebuild:
            monkeypatch.setattr(ln.training, "build_before_fit", lambda *args, **kwargs: None)
        model = keras.Sequential([keras.Input(data.input_shape), keras.layers.Flatten(),
                                  ln.LKReLU(), keras.layers.Dense(data.num_classes)])
        counts.append(len(_new_train_steps(lambda model=model: classify.fit_and_score(
            model, data, epochs=1, batch_size=32, restore_best=False,
            test_every_epoch=False))))
        keras.backend.clear_session()
    assert counts[0] == counts[1] - 1


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "tensorflow", reason="the benchmark counts TensorFlow graphs")
def test_memory_benchmark_reports_rss_variables_and_graph_nodes():
    import json
    import os
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "memory.py")
    out = subprocess.run([sys.executable, script, "--cycles", "4", "--layers", "library",
                          "--optimizer", "lookahead-prebuilt"], capture_output=True, text=True,
                         check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout
    rss, variables, nodes = json.loads(out.strip().splitlines()[-1])
    assert len(rss) == 4 and all(r > 0 for r in rss)
    assert variables == 17 and nodes > 100
