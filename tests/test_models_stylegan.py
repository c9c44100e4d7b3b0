"""Tests for the StyleGAN-form generator builder."""

import math
import os

import keras
import numpy as np
import pytest

from kgan.layers.adaptive_instance_normalization import (
    AdaptiveInstanceNormalization,
)
from kgan.layers.latent_average import LatentAverage
from kgan.layers.learned_constant import LearnedConstant
from kgan.layers.noise_injection import NoiseInjection
from kgan.models._common import channels_at
from kgan.models.stylegan import stylegan_generator

TINY = dict(z_dim=8, base_channels=4, max_channels=8, mapping_layers=2)


def _z(n, z_dim=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, z_dim)).astype("f4")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _randomize(model, seed=0, scale=0.3):
    """Moves every trainable weight (noise scales included) off its init."""
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(w + scale * rng.normal(size=w.shape).astype("float32"))


def _layers_of(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


@pytest.mark.parametrize("image_size,channels", [(32, 3), (64, 1)])
def test_output_shape_and_tanh_range(image_size, channels):
    g = stylegan_generator(image_size=image_size, channels=channels, **TINY)
    _randomize(g)
    out = _np(g(_z(3), training=False))
    assert out.shape == (3, image_size, image_size, channels)
    assert g.output.shape == (None, image_size, image_size, channels)
    assert np.all(np.abs(out) <= 1.0) and np.isfinite(out).all()
    # A saturated tanh would also sit in [-1, 1]: the inside must be used.
    assert np.mean(np.abs(out) < 0.99) > 0.1 and out.std() > 1e-2
    assert out.min() < 0.0 < out.max()


def test_block_layout_follows_channels_at():
    g = stylegan_generator(image_size=64, **TINY)
    num_blocks = int(math.log2(64)) - 1  # 4, 8, 16, 32, 64
    assert len(_layers_of(g, AdaptiveInstanceNormalization)) == 2 * num_blocks
    assert len(_layers_of(g, LearnedConstant)) == 1
    assert len(_layers_of(g, LatentAverage)) == 1
    assert [layer.name for layer in _layers_of(g, keras.layers.Dense)] == [
        "mapping_dense_1",
        "mapping_dense_2",
    ]
    with pytest.raises(ValueError):
        g.get_layer("block4_up")  # the constant is not upsampled
    for k in range(num_blocks):
        resolution = 4 * 2**k
        expected = channels_at(resolution, 64, 4, 8)
        for i in (1, 2):
            conv = g.get_layer(f"block{resolution}_{i}_conv")
            assert conv.kernel.shape == (3, 3, conv.kernel.shape[2], expected)
            assert conv.output.shape[1] == resolution
        if resolution > 4:
            assert g.get_layer(f"block{resolution}_up").output.shape[1] == (
                resolution
            )
    assert g.get_layer("const").output.shape == (None, 4, 4, 8)
    assert g.get_layer("to_rgb").kernel.shape == (1, 1, 2, 3)


def test_mapping_network_matches_numpy():
    g = stylegan_generator(image_size=32, w_dim=6, **TINY)
    _randomize(g)
    z = _z(4)
    w_model = keras.Model(g.input, g.get_layer("w_average").input)
    h = z / np.sqrt(np.mean(z**2, axis=-1, keepdims=True) + 1e-8)
    for i in (1, 2):
        kernel, bias = g.get_layer(f"mapping_dense_{i}").get_weights()
        h = h @ kernel + bias
        h = np.where(h > 0, h, 0.2 * h)
    np.testing.assert_allclose(_np(w_model(z)), h, rtol=1e-4, atol=1e-5)
    assert g.get_layer("w_average").output.shape == (None, 6)


def test_output_depends_on_z_through_styles():
    g = stylegan_generator(image_size=32, noise_injection=False, **TINY)
    _randomize(g)
    z = _z(2)
    out = _np(g(z, training=False))
    assert np.abs(out[0] - out[1]).max() > 1e-3
    np.testing.assert_array_equal(out, _np(g(z, training=False)))
    # Zeroing the style projections of every AdaIN removes z's influence:
    # the constant is then the only source of the image.
    for layer in _layers_of(g, AdaptiveInstanceNormalization):
        layer.set_weights(
            [
                w if w.ndim == 1 else np.zeros_like(w)
                for w in layer.get_weights()
            ]
        )
    out = _np(g(z, training=False))
    np.testing.assert_allclose(out[0], out[1], atol=1e-5)


@pytest.mark.slow
def test_learned_constant_is_trained():
    g = stylegan_generator(image_size=32, noise_injection=False, **TINY)
    const = g.get_layer("const")
    assert len(const.trainable_weights) == 1
    before = _np(const.trainable_weights[0]).copy()
    g.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    target = np.full((4, 32, 32, 3), 0.5, "float32")
    g.fit(_z(4), target, epochs=1, batch_size=4, verbose=0)
    after = _np(const.trainable_weights[0])
    assert np.abs(after - before).max() > 1e-6


def test_latent_average_tracks_w_in_training_only():
    g = stylegan_generator(image_size=32, noise_injection=False, **TINY)
    _randomize(g)
    avg = g.get_layer("w_average")
    start = _np(avg.average).copy()
    g(_z(8), training=False)
    np.testing.assert_array_equal(_np(avg.average), start)
    g(_z(8), training=True)
    moved = _np(avg.average)
    assert np.abs(moved - start).max() > 1e-6


def test_psi_zero_collapses_to_the_average_image():
    g = stylegan_generator(image_size=32, noise_injection=False, **TINY)
    _randomize(g)
    avg = g.get_layer("w_average")
    for _ in range(3):
        g(_z(16, seed=_), training=True)
    z = _z(3, seed=9)
    free = _np(g(z, training=False))
    assert np.abs(free[0] - free[1]).max() > 1e-3
    avg.truncation_psi.assign(0.0)
    pulled = _np(g(z, training=False))
    np.testing.assert_allclose(pulled[0], pulled[1], atol=1e-5)
    np.testing.assert_allclose(pulled[0], pulled[2], atol=1e-5)


def test_noise_injection_adds_one_scale_per_channel():
    with_noise = stylegan_generator(image_size=32, **TINY)
    without = stylegan_generator(image_size=32, noise_injection=False, **TINY)
    noise_layers = _layers_of(with_noise, NoiseInjection)
    assert len(noise_layers) == 8 and not _layers_of(without, NoiseInjection)
    expected = sum(2 * channels_at(r, 32, 4, 8) for r in (4, 8, 16, 32))
    assert with_noise.count_params() - without.count_params() == expected
    # The scales start at 0, so the noise changes nothing at init.
    z = _z(2)
    np.testing.assert_allclose(
        _np(with_noise(z, training=True)),
        _np(with_noise(z, training=True)),
        atol=1e-6,
    )


def test_conditional_generator():
    g = stylegan_generator(image_size=32, num_classes=5, **TINY)
    assert [t.name for t in g.inputs] == ["z", "labels"]
    embedding = g.get_layer("label_embedding")
    assert embedding.embeddings.shape == (5, 8)
    assert g.get_layer("z_pixel_norm").output.shape == (None, 16)
    _randomize(g)
    z = np.repeat(_z(1), 2, axis=0)
    out = _np(g([z, np.array([0, 3], "int32")], training=False))
    assert out.shape == (2, 32, 32, 3)
    assert np.abs(out[0] - out[1]).max() > 1e-3


def test_keras_round_trip_safe_mode(tmp_path):
    # NoiseInjection draws fresh noise on every call, so outputs are compared
    # on a noise-free model; the noisy one is checked through its weights.
    g = stylegan_generator(
        image_size=32, num_classes=3, noise_injection=False, **TINY
    )
    _randomize(g)
    inputs = [_z(4), np.array([0, 1, 2, 1], "int32")]
    g(inputs, training=True)  # non-zero running average of w
    g.get_layer("w_average").truncation_psi.assign(0.6)
    path = os.path.join(str(tmp_path), "g.keras")
    g.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        _np(loaded(inputs, training=False)), _np(g(inputs, training=False))
    )
    assert float(_np(loaded.get_layer("w_average").truncation_psi)) == (
        pytest.approx(0.6)
    )

    noisy = stylegan_generator(image_size=32, **TINY)
    _randomize(noisy)
    noisy.save(path)
    loaded = keras.models.load_model(path)
    assert len(_layers_of(loaded, NoiseInjection)) == 8
    for a, b in zip(noisy.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    g = stylegan_generator(image_size=32, num_classes=2, **TINY)
    out = g([_z(2), np.array([0, 1], "int32")], training=True)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert np.isfinite(_np(out)).all()
    for layer in _layers_of(g, LatentAverage):
        assert keras.backend.standardize_dtype(layer.average.dtype) == (
            "float32"
        )


@pytest.mark.parametrize("image_size", [8, 48, 2048, "32", True])
def test_bad_image_size(image_size):
    with pytest.raises(ValueError, match="image_size"):
        stylegan_generator(image_size=image_size, **TINY)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(w_dim=0), "w_dim=0"),
        (dict(mapping_layers=0), "mapping_layers=0"),
        (dict(channels=0), "channels=0"),
        (dict(num_classes=1), "num_classes=1"),
        (dict(noise_injection="yes"), "noise_injection='yes'"),
        (dict(w_average_momentum=1.0), "w_average_momentum=1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stylegan_generator(image_size=32, **{**TINY, **kwargs})
