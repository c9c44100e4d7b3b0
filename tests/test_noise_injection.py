"""Tests for kgan.layers.noise_injection."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.noise_injection import NoiseInjection

pytestmark = pytest.mark.jax


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_identity_at_initialisation():
    x = np.random.normal(size=(2, 4, 4, 3)).astype("float32")
    layer = NoiseInjection(seed=3)
    np.testing.assert_array_equal(_np(layer(x, training=True)), x)
    np.testing.assert_array_equal(_np(layer.scale), np.zeros(3))


def test_explicit_noise_is_scaled_per_channel():
    x = np.random.normal(size=(2, 4, 4, 3)).astype("float32")
    noise = np.random.normal(size=(2, 4, 4, 1)).astype("float32")
    scale = np.array([0.5, -2.0, 3.0], "float32")
    layer = NoiseInjection()
    layer.build(x.shape)
    layer.scale.assign(scale)
    out = _np(layer(x, noise=noise))
    np.testing.assert_allclose(out - x, noise * scale, rtol=1e-5, atol=1e-6)


def test_random_noise_is_seeded_shared_and_fresh_each_call():
    x = np.zeros((2, 3, 3, 4), "float32")
    layers = [NoiseInjection(seed=7), NoiseInjection(seed=7)]
    for layer in layers:
        layer.build(x.shape)
        layer.scale.assign(np.ones(4))
    first = _np(layers[0](x))
    second = _np(layers[0](x))
    assert not np.allclose(first, second)  # a new draw each call
    np.testing.assert_array_equal(_np(layers[1](x)), first)  # same seed
    # One value per pixel, shared by the channels, roughly N(0, 1).
    np.testing.assert_array_equal(first, np.repeat(first[..., :1], 4, -1))
    draws = np.concatenate([_np(layers[0](x)) for _ in range(50)])
    assert abs(draws.mean()) < 0.15 and abs(draws.std() - 1.0) < 0.15


def test_noise_is_added_in_inference_too():
    x = np.zeros((2, 3, 3, 2), "float32")
    layer = NoiseInjection(seed=1)
    layer.build(x.shape)
    layer.scale.assign(np.ones(2))
    assert np.abs(_np(layer(x, training=False))).max() > 0.0


def test_explicit_noise_in_a_functional_model(tmp_path):
    images = keras.Input((4, 4, 2))
    noise = keras.Input((4, 4, 1))
    layer = NoiseInjection()
    model = keras.Model([images, noise], layer(images, noise=noise))
    layer.scale.assign([1.0, 2.0])
    x = np.random.normal(size=(3, 4, 4, 2)).astype("float32")
    n = np.random.normal(size=(3, 4, 4, 1)).astype("float32")
    np.testing.assert_allclose(
        _np(model([x, n])), x + n * np.array([1.0, 2.0]), rtol=1e-6
    )
    path = str(tmp_path / "noise.keras")
    model.save(path)
    np.testing.assert_allclose(
        _np(keras.models.load_model(path)([x, n])), _np(model([x, n]))
    )


def test_generic_layer_check(tmp_path):
    run_layer_check(
        NoiseInjection,
        {"seed": 5},
        [((2, 4, 4, 3), "float32")],
        (2, 4, 4, 3),
        expected_num_trainable_weights=1,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
    )


def test_scale_learns_from_the_noise():
    inputs = keras.Input((4, 4, 2))
    layer = NoiseInjection(seed=2)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = np.zeros((4, 4, 4, 2), "float32")
    target = np.ones_like(x)
    model.fit(x, target, epochs=1, batch_size=4, verbose=0)
    assert np.all(_np(layer.scale) != 0.0)


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    layer = NoiseInjection(seed=1)
    out = layer(np.ones((2, 3, 3, 2), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert layer.scale.dtype == "float32"


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Received: seed='1'"):
        NoiseInjection(seed="1")


def test_invalid_noise_rank():
    layer = NoiseInjection()
    with pytest.raises(ValueError, match="Received: noise.shape"):
        layer(np.zeros((2, 3, 3, 2), "float32"), noise=np.zeros((2, 9)))
