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
