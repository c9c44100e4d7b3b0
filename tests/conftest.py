"""Test-wide setup: quiet TensorFlow, seeded NumPy, float32 after each test.

Fast tier: `python -m pytest -q -m "not slow"` (~100 s); CI runs everything.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_keras_state():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session(free_memory=False)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "jax: part of the JAX tier (KERAS_BACKEND=jax runs it)"
    )
    config.addinivalue_line(
        "markers",
        "tensorflow_only: needs the TensorFlow backend (skipped on others)",
    )
    config.addinivalue_line(
        "markers",
        "slow: a subprocess, notebook or long training run (the fast tier, "
        '-m "not slow", leaves it out)',
    )


def pytest_collection_modifyitems(config, items):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow only (backend: {backend})")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)
