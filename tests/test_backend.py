"""The backend's hardware record and the compiled inference call that predict and serve use."""

import keras
import numpy as np
import pytest

from mnistlab import config, devices, models
from mnistlab.backend import CompiledInference, hardware


@pytest.fixture
def determinism_off():
    """XLA stays off while op determinism is on, which any test that trained earlier in this process left."""
    from tensorflow.python.framework.config import (
        disable_op_determinism,
        enable_op_determinism,
        is_op_determinism_enabled,
    )

    was = is_op_determinism_enabled()
    disable_op_determinism()
    yield enable_op_determinism
    (enable_op_determinism if was else disable_op_determinism)()


@pytest.mark.parametrize("name, shape", [("ex2.cnn", (28, 28, 1)), ("ex1", (28, 28))])
@pytest.mark.parametrize("jit", [True, False])
def test_compiled_inference_gives_predict_on_batchs_probabilities(name, shape, jit, determinism_off):
    keras.utils.set_random_seed(3)
    model = models.build(config.load(name))
    forward = CompiledInference(model, jit=jit)
    x = np.random.default_rng(0).random((5, *shape), dtype=np.float32)
    for batch in (x[:1], x):  # one image (serve), several (predict); one signature for any batch size
        out = forward(batch)
        assert isinstance(out, np.ndarray) and out.shape == (len(batch), 10)
        np.testing.assert_allclose(out, model.predict_on_batch(batch), rtol=1e-5, atol=1e-6)
    assert forward.jit is jit


def test_no_xla_while_op_determinism_is_on(determinism_off):
    model = models.build(config.load("ex1"))
    assert CompiledInference(model).jit is True and CompiledInference(model, jit=False).jit is False
    determinism_off()  # enable_op_determinism, as seed_everything does before training
    assert CompiledInference(model, jit=True).jit is False


def test_hardware_names_the_cpu_flags_and_kind():
    hw = hardware()
    found = devices.facts()["cpu"]
    assert hw["cpu"] == found["model"] and hw["cpu_flags"] == found["flags"] and hw["cpu_kind"] == found["kind"]
    assert hw["gpus"] == devices.facts()["gpus"] and "CPU" in hw["devices"]
