"""Tests for kgan.layers.latent_average."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.latent_average import LatentAverage

pytestmark = pytest.mark.jax


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_moving_average_recurrence_in_training_only():
    momentum = 0.8
    layer = LatentAverage(momentum=momentum)
    expected = np.zeros(5)
    for step in range(4):
        w = np.random.normal(loc=step, size=(6, 5)).astype("float32")
        out = _np(layer(w, training=True))
        expected = momentum * expected + (1 - momentum) * w.mean(axis=0)
        np.testing.assert_allclose(_np(layer.average), expected, rtol=1e-5)
        np.testing.assert_array_equal(out, w)  # psi = 1: w unchanged
    for training in (False, None):
        layer(
            np.random.normal(size=(6, 5)).astype("float32"), training=training
        )
        np.testing.assert_allclose(_np(layer.average), expected, rtol=1e-5)


def test_rank_3_latents_average_over_all_but_the_last_axis():
    layer = LatentAverage(momentum=0.5)
    w = np.random.normal(size=(2, 3, 4)).astype("float32")
    layer(w, training=True)
    np.testing.assert_allclose(
        _np(layer.average), 0.5 * w.mean(axis=(0, 1)), rtol=1e-5
    )


@pytest.mark.parametrize("psi", [0.0, 0.5, 0.7, 1.5])
def test_truncation_formula(psi):
    layer = LatentAverage()
    layer.build((None, 4))
    average = np.array([1.0, -2.0, 0.5, 3.0], "float32")
    layer.average.assign(average)
    layer.truncation_psi.assign(psi)
    w = np.random.normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(
        _np(layer(w)), average + psi * (w - average), rtol=1e-5, atol=1e-6
    )


def test_fit_updates_the_average_and_save_keeps_it(tmp_path):
    w_in = keras.Input((3,))
    layer = LatentAverage(momentum=0.5)
    model = keras.Model(w_in, keras.layers.Dense(3)(layer(w_in)))
    model.compile(optimizer="sgd", loss="mse")
    w = np.random.normal(loc=2.0, size=(4, 3)).astype("float32")
    model.fit(w, np.zeros_like(w), epochs=1, batch_size=4, verbose=0)
    np.testing.assert_allclose(_np(layer.average), 0.5 * w.mean(0), rtol=1e-5)
    assert [v.name for v in layer.non_trainable_weights] == [
        "average",
        "truncation_psi",
    ]
    layer.truncation_psi.assign(0.5)
    path = str(tmp_path / "avg.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(_np(loaded(w)), _np(model(w)), rtol=1e-6)


def test_generic_layer_check(tmp_path):
    run_layer_check(
        LatentAverage,
        {"momentum": 0.9},
        [((4, 6), "float32")],
        (4, 6),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=2,
        tmp_path=tmp_path,
        fit=False,  # no trainable weights; fit is tested above with a Dense
    )


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    layer = LatentAverage(momentum=0.5)
    # A float16 batch sum of 300 * 300 overflows; the mean is float32.
    w = np.full((300, 2), 300.0, "float32")
    out = layer(w, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert layer.average.dtype == "float32"
    np.testing.assert_allclose(_np(layer.average), [150.0, 150.0], rtol=1e-6)


@pytest.mark.parametrize("momentum", [-0.1, 1.5, "0.9", True])
def test_invalid_momentum(momentum):
    with pytest.raises(ValueError, match="Received: momentum="):
        LatentAverage(momentum=momentum)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="\\(B, w_dim\\)"):
        LatentAverage()(np.zeros((4,), "float32"))
