"""Tests for kgan.layers.self_attention_2d."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.self_attention_2d import SelfAttention2D

pytestmark = pytest.mark.jax


def _np(x):
    return keras.ops.convert_to_numpy(x).astype("float64")


def _numpy_self_attention(layer, x, downsample=False):
    """SAGAN from the layer's 1x1 kernels: each is a (C_in, C_out) matrix."""
    x = x.astype("float64")
    batch, height, width, channels = x.shape

    def conv(t, sublayer):
        out = t @ _np(sublayer.kernel)[0, 0]
        return out + _np(sublayer.bias) if layer.use_bias else out

    def pool(t):
        b, h, w, c = t.shape
        return t.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))

    query = conv(x, layer.query_conv)
    key = conv(x, layer.key_conv)
    value = conv(x, layer.value_conv)
    if downsample:
        key, value = pool(key), pool(value)
    out = np.zeros(x.shape[:3] + (value.shape[-1],))
    for b in range(batch):
        q = query[b].reshape(height * width, -1)
        k = key[b].reshape(-1, key.shape[-1])
        v = value[b].reshape(-1, value.shape[-1])
        logits = q @ k.T
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        out[b] = (weights @ v).reshape(height, width, -1)
    return x + _np(layer.gamma) * conv(out, layer.output_conv)


def test_identity_at_initialisation():
    x = np.random.normal(size=(2, 4, 4, 16)).astype("float32")
    layer = SelfAttention2D()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    assert float(_np(layer.gamma)) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"key_ratio": 2, "value_ratio": 1, "use_bias": True},
        {"downsample_key_value": True},
    ],
)
def test_matches_numpy_with_nonzero_gamma(kwargs):
    x = np.random.normal(size=(2, 4, 6, 16)).astype("float32")
    layer = SelfAttention2D(**kwargs)
    layer.build(x.shape)
    layer.gamma.assign(0.7)
    if layer.use_bias:
        for conv in (layer.query_conv, layer.key_conv, layer.value_conv):
            conv.bias.assign(np.random.normal(size=conv.bias.shape))
    out = keras.ops.convert_to_numpy(layer(x))
    expected = _numpy_self_attention(
        layer, x, kwargs.get("downsample_key_value", False)
    )
    assert np.abs(expected - x).max() > 1e-2  # the attention term matters
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_sublayer_widths():
    layer = SelfAttention2D(key_ratio=4, value_ratio=2)
    layer.build((None, 4, 4, 16))
    assert tuple(layer.query_conv.kernel.shape) == (1, 1, 16, 4)
    assert tuple(layer.key_conv.kernel.shape) == (1, 1, 16, 4)
    assert tuple(layer.value_conv.kernel.shape) == (1, 1, 16, 8)
    assert tuple(layer.output_conv.kernel.shape) == (1, 1, 8, 16)


@pytest.mark.parametrize(
    "kwargs, trainable, non_trainable",
    [
        ({"key_ratio": 8, "value_ratio": 2}, 5, 0),
        ({"use_spectral_norm": True, "downsample_key_value": True}, 5, 4),
        ({"use_bias": True, "kernel_initializer": "orthogonal"}, 9, 0),
    ],
)
def test_generic_layer_check(tmp_path, kwargs, trainable, non_trainable):
    run_layer_check(
        SelfAttention2D,
        kwargs,
        [((2, 4, 4, 16), "float32")],
        (2, 4, 4, 16),
        expected_num_trainable_weights=trainable,
        expected_num_non_trainable_weights=non_trainable,
        tmp_path=tmp_path,
    )


def test_gamma_receives_a_gradient_at_initialisation():
    # gamma = 0 zeroes the attention path, but d(out)/d(gamma) = o does not.
    inputs = keras.Input((4, 4, 8))
    layer = SelfAttention2D(key_ratio=2)
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.normal(size=(4, 4, 4, 8)).astype("float32")
    model.fit(x, np.zeros_like(x), epochs=1, batch_size=4, verbose=0)
    assert float(_np(layer.gamma)) != 0.0


def test_spectral_norm_wraps_the_convolutions():
    layer = SelfAttention2D(use_spectral_norm=True)
    layer.build((None, 4, 4, 16))
    for sub in (layer.query_conv, layer.key_conv, layer.output_conv):
        assert isinstance(sub, keras.layers.SpectralNormalization)
        assert isinstance(sub.layer, keras.layers.Conv2D)


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    # Logits of inputs this large overflow float16: they are float32.
    x = 200.0 * np.random.normal(size=(2, 4, 4, 16)).astype("float32")
    layer = SelfAttention2D()
    layer.build(x.shape)
    layer.gamma.assign(0.5)
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert layer.gamma.dtype == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"key_ratio": 0}, "Received: key_ratio=0"),
        ({"value_ratio": 1.5}, "Received: value_ratio=1.5"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SelfAttention2D(**kwargs)


@pytest.mark.parametrize(
    "kwargs, shape, match",
    [
        ({}, (2, 4, 4, 4), "Received: key_ratio=8"),
        ({"downsample_key_value": True}, (2, 3, 4, 16), "even height"),
        ({}, (2, 4, 16), "\\(B, H, W, C\\)"),
    ],
)
def test_invalid_inputs(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        SelfAttention2D(**kwargs)(np.zeros(shape, "float32"))
