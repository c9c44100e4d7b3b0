"""Tests for kgan.layers.learned_constant."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.learned_constant import LearnedConstant

pytestmark = pytest.mark.jax


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_tiles_the_constant_over_the_batch():
    layer = LearnedConstant((2, 2, 3), initializer="random_normal")
    out = _np(layer(np.zeros((5, 7), "float32")))
    assert out.shape == (5, 2, 2, 3)
    constant = _np(layer.constant)
    for sample in out:
        np.testing.assert_array_equal(sample, constant)
    assert np.std(constant) > 0.0


def test_default_initializer_is_ones():
    out = _np(LearnedConstant((3,))(np.zeros((2, 1), "float32")))
    np.testing.assert_array_equal(out, np.ones((2, 3)))


def test_gradient_reaches_the_constant():
    # mse against 0 averages c**2 over B * P outputs, all copies of c, so
    # d loss / d c = 2 c / P and one SGD step scales c by 1 - 2 lr / P.
    z = keras.Input((4,))
    layer = LearnedConstant((2, 3), initializer="random_normal")
    model = keras.Model(z, layer(z))
    before = _np(layer.constant).copy()
    lr, size = 0.3, 6
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    model.fit(
        np.zeros((8, 4), "float32"),
        np.zeros((8, 2, 3), "float32"),
        epochs=1,
        batch_size=8,
        verbose=0,
    )
    np.testing.assert_allclose(
        _np(layer.constant), before * (1 - 2 * lr / size), rtol=1e-5
    )


def test_symbolic_batch():
    z = keras.Input((16,))
    out = LearnedConstant((4, 4, 8))(z)
    assert tuple(out.shape) == (None, 4, 4, 8)
    model = keras.Model(z, out)
    assert model.predict(np.zeros((3, 16)), verbose=0).shape == (3, 4, 4, 8)


def test_generic_layer_check(tmp_path):
    run_layer_check(
        LearnedConstant,
        {"shape": (4, 4, 2), "initializer": "random_normal"},
        [((3, 5), "float32")],
        (3, 4, 4, 2),
        expected_num_trainable_weights=1,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
    )


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    layer = LearnedConstant((2, 2, 4))
    out = layer(np.zeros((3, 8), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert layer.constant.dtype == "float32"


@pytest.mark.parametrize(
    "shape, match",
    [
        ((), "Received: shape=\\(\\)"),
        ((4, 0, 3), "Received: shape=\\(4, 0, 3\\)"),
        (4, "Received: shape=4"),
        ((4, 2.0), "Received: shape=\\(4, 2.0\\)"),
    ],
)
def test_invalid_shape(shape, match):
    with pytest.raises(ValueError, match=match):
        LearnedConstant(shape)
