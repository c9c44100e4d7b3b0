"""Tests of the SELF-MOD generator builder (kgan.models.self_modulated)."""

import keras
import numpy as np
import pytest

from kgan.layers.conditional_batch_normalization import (
    ConditionalBatchNormalization,
)
from kgan.layers.self_modulated_batch_normalization import (
    SelfModulatedBatchNormalization,
)
from kgan.models.dcgan import dcgan_generator
from kgan.models.resnet import resnet_generator
from kgan.models.self_modulated import selfmod_generator

RNG = np.random.default_rng(0)


def _z(batch, z_dim):
    return RNG.normal(size=(batch, z_dim)).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _smbns(model):
    return [
        layer
        for layer in model.layers
        if isinstance(layer, SelfModulatedBatchNormalization)
    ]


def _perturb(layers, scale=0.3):
    """Moves the zero-initialised modulation MLPs off plain BN."""
    for layer in layers:
        for weight in layer.trainable_weights:
            noise = RNG.normal(scale=scale, size=weight.shape)
            weight.assign(_np(weight) + noise.astype("float32"))


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "body, plain, kwargs",
    [
        ("dcgan", dcgan_generator, dict(kernel_size=5)),
        ("resnet", resnet_generator, dict(attention_resolution=16)),
    ],
)
def test_reuses_the_body_with_every_bn_self_modulated(body, plain, kwargs):
    generator = selfmod_generator(
        32, 3, 16, body=body, hidden_units=8, base_channels=16, **kwargs
    )
    reference = plain(32, 3, 16, base_channels=16, **kwargs)
    names = {layer.name for layer in generator.layers}
    assert names == {layer.name for layer in reference.layers}
    bn_names = {
        layer.name
        for layer in reference.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    smbns = _smbns(generator)
    assert {layer.name for layer in smbns} == bn_names
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in generator.layers
    )
    z = generator.inputs[0]
    assert all(layer.input[1] is z for layer in smbns)
    # Each SMBN adds two MLPs z -> 8 -> C on top of BN's own weights
    # (BN's gamma, beta become the MLPs' output biases).
    extra = sum(
        2 * (16 * 8 + 8 + 8 * layer.input[0].shape[-1]) for layer in smbns
    )
    assert _trainable_count(generator) == _trainable_count(reference) + extra
    images = _np(generator(_z(4, 16), training=True))
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.float32
    assert np.all(np.abs(images) <= 1.0)


@pytest.mark.parametrize("body", ["dcgan", "resnet"])
def test_output_depends_on_z_through_the_bns(body):
    generator = selfmod_generator(16, 3, 8, body=body, base_channels=8)
    z = _z(4, 8)
    smbns = _smbns(generator)
    _perturb(smbns)
    modulated = _np(generator(z, training=True))
    # Zero the modulation MLPs' output layers: every BN is plain again, and
    # z reaches the image through the Dense only.
    for layer in smbns:
        for weight in layer.trainable_weights:
            if "hidden" not in weight.path:
                weight.assign(np.zeros(weight.shape, "float32"))
    plain = _np(generator(z, training=True))
    assert np.abs(modulated - plain).max() > 1e-3


def test_conditional_self_modulation_latent_matches_numpy():
    z_dim, num_classes = 6, 4
    generator = selfmod_generator(
        16, 3, z_dim, num_classes=num_classes, base_channels=8
    )
    latent = generator.get_layer("modulation_latent").output
    assert all(layer.input[1] is latent for layer in _smbns(generator))
    # The Dense still takes z itself.
    assert generator.get_layer("dense").input is generator.inputs[0]
    assert not any(
        isinstance(layer, ConditionalBatchNormalization)
        for layer in generator.layers
    )
    probe = keras.Model(generator.inputs, latent)
    z, labels = _z(4, z_dim), np.array([0, 3, 1, 3])
    shift = _np(generator.get_layer("class_shift").embeddings)
    scale = _np(generator.get_layer("class_scale").embeddings)
    expected = z + shift[labels] + scale[labels] * z
    np.testing.assert_allclose(
        _np(probe([z, labels])), expected, rtol=1e-6, atol=1e-6
    )
    _perturb(_smbns(generator))
    a = _np(generator([z, labels], training=True))
    b = _np(generator([z, np.array([2, 2, 2, 2])], training=True))
    assert np.abs(a - b).max() > 1e-3
    with pytest.raises(ValueError, match="labels"):
        generator(z)


@pytest.mark.parametrize(
    "kwargs, inputs",
    [
        (dict(body="dcgan"), lambda: _z(4, 8)),
        (
            dict(body="resnet", num_classes=3, attention_resolution=8),
            lambda: [_z(4, 8), np.array([0, 1, 2, 0])],
        ),
    ],
)
def test_keras_round_trip_in_safe_mode(kwargs, inputs, tmp_path):
    generator = selfmod_generator(16, 3, 8, base_channels=8, **kwargs)
    _perturb(_smbns(generator))
    values = inputs()
    for _ in range(2):  # moves the moving statistics
        generator(values, training=True)
    path = tmp_path / "selfmod.keras"
    generator.save(path)
    loaded = keras.models.load_model(path)  # safe_mode=True
    np.testing.assert_allclose(
        _np(loaded(values, training=False)),
        _np(generator(values, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_mixed_precision_and_a_training_step():
    keras.config.set_dtype_policy("mixed_float16")
    generator = selfmod_generator(
        16, 3, 8, num_classes=2, body="resnet", base_channels=8
    )
    assert generator.get_layer("block_8x8_conv1").output.dtype == "float16"
    assert generator.get_layer("block_8x8_bn1").output.dtype == "float16"
    values = [_z(4, 8), np.array([0, 1, 1, 0])]
    images = generator(values, training=True)
    assert keras.backend.standardize_dtype(images.dtype) == "float32"
    generator.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    history = generator.fit(values, np.zeros((4, 16, 16, 3)), verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_1024px_builds_with_the_width_cap():
    generator = selfmod_generator(1024, body="resnet", base_channels=16)
    assert generator.output.shape[1:] == (1024, 1024, 3)
    widths = [layer.input[0].shape[-1] for layer in _smbns(generator)]
    assert max(widths) == 512 and min(widths) == 8


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="body='vgg'"):
        selfmod_generator(body="vgg")
    with pytest.raises(ValueError, match=r"hierarchical_latent"):
        selfmod_generator(body="resnet", hierarchical_latent=False)
    with pytest.raises(ValueError, match=r"kernel_size"):
        selfmod_generator(body="resnet", kernel_size=4)
    with pytest.raises(ValueError, match="hidden_units=0"):
        selfmod_generator(hidden_units=0)
    with pytest.raises(ValueError, match=r"image_size=28.*32"):
        selfmod_generator(image_size=28)
    with pytest.raises(ValueError, match="channels=0"):
        selfmod_generator(body="resnet", channels=0)
    with pytest.raises(ValueError, match="num_classes=1"):
        selfmod_generator(num_classes=1)
