"""Tests for kgan.layers.pixel_normalization."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.pixel_normalization import PixelNormalization

pytestmark = pytest.mark.jax


def _numpy_pixel_norm(x, axis, epsilon):
    x = x.astype("float64")
    return x / np.sqrt(np.mean(x**2, axis=axis, keepdims=True) + epsilon)


@pytest.mark.parametrize(
    "shape, axis",
    [((2, 3, 3, 5), -1), ((4, 6), -1), ((2, 3, 4, 5), [1, 2]), ((3, 4, 2), 1)],
)
def test_matches_numpy(shape, axis):
    x = np.random.normal(size=shape).astype("float32") * 3.0
    out = keras.ops.convert_to_numpy(PixelNormalization(axis=axis)(x))
    expected = _numpy_pixel_norm(x, tuple(np.atleast_1d(axis)), 1e-8)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_epsilon_is_added_inside_the_root():
    x = np.zeros((1, 4), "float32") + 0.1
    out = keras.ops.convert_to_numpy(PixelNormalization(epsilon=0.03)(x))
    np.testing.assert_allclose(out, 0.1 / np.sqrt(0.01 + 0.03), rtol=1e-6)


def test_generic_layer_check(tmp_path):
    run_layer_check(
        PixelNormalization,
        {"axis": -1, "epsilon": 1e-6},
        [((2, 4, 4, 3), "float32")],
        (2, 4, 4, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
    )


def test_mixed_precision_statistics_in_float32():
    keras.config.set_dtype_policy("mixed_float16")
    # 300 ** 2 overflows float16 (max 65504): only a float32 mean square
    # gives the right answer.
    x = np.array([[300.0, -300.0, 300.0, 150.0]], "float32")
    out = PixelNormalization()(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    expected = _numpy_pixel_norm(x, -1, 1e-8)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out).astype("float32"), expected, rtol=2e-3
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"axis": "channels"}, "Received: axis='channels'"),
        ({"axis": []}, "Received: axis=\\[\\]"),
        ({"epsilon": 0.0}, "Received: epsilon=0.0"),
        ({"epsilon": -1e-3}, "Received: epsilon=-0.001"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PixelNormalization(**kwargs)


def test_axis_out_of_range():
    with pytest.raises(ValueError, match="Received: axis=3"):
        PixelNormalization(axis=3)(np.zeros((2, 4), "float32"))
