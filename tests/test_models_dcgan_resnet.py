"""Tests of the DCGAN and ResNet builders (kgan.models.dcgan / .resnet)."""

import keras
import numpy as np
import pytest

from kgan.layers.conditional_batch_normalization import (
    ConditionalBatchNormalization,
)
from kgan.layers.latent_split import LatentSplit
from kgan.layers.self_attention_2d import SelfAttention2D
from kgan.models import dcgan
from kgan.models.dcgan import dcgan_discriminator, dcgan_generator
from kgan.models.resnet import resnet_discriminator, resnet_generator

RNG = np.random.default_rng(0)


def _z(batch, z_dim):
    return RNG.normal(size=(batch, z_dim)).astype("float32")


def _images(batch, size, channels=3):
    return RNG.uniform(-1, 1, size=(batch, size, size, channels)).astype(
        "float32"
    )


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _layers_of(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


def _perturb(layers, scale=0.5):
    """Moves trainable weights off their identity init (gamma 1, beta 0)."""
    for layer in layers:
        for weight in layer.trainable_weights:
            noise = RNG.normal(scale=scale, size=weight.shape)
            weight.assign(_np(weight) + noise.astype("float32"))


def _assert_round_trip(model, inputs, tmp_path):
    # Training-mode calls move BN statistics and spectral-norm vectors off
    # their initial values, so the round trip covers that state too.
    for _ in range(2):
        model(inputs, training=True)
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode=True
    expected = _np(model(inputs, training=False))
    np.testing.assert_allclose(
        _np(loaded(inputs, training=False)), expected, rtol=1e-5, atol=1e-6
    )
    assert loaded.count_params() == model.count_params()


# Independent numpy versions of the blocks.


def _conv_same(x, kernel, bias=None):
    kh, kw = kernel.shape[:2]
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)))
    height, width = x.shape[1:3]
    out = sum(
        padded[:, i : i + height, j : j + width, :] @ kernel[i, j]
        for i in range(kh)
        for j in range(kw)
    )
    return out if bias is None else out + bias


def _avg_pool(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _upsample(x):
    return x.repeat(2, axis=1).repeat(2, axis=2)


def _relu(x):
    return np.maximum(x, 0.0)


def _weights(model, name):
    return [_np(w) for w in model.get_layer(name).weights]


def _bn_inference(model, name, x):
    gamma, beta, mean, variance = _weights(model, name)
    epsilon = model.get_layer(name).epsilon
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


# DCGAN generator.


@pytest.mark.parametrize("image_size", [32, 64])
def test_dcgan_generator_shapes_range_and_param_count(image_size):
    z_dim, base, k = 16, 8, 4
    generator = dcgan_generator(image_size, 3, z_dim, base_channels=base)
    images = _np(generator(_z(4, z_dim), training=True))
    assert images.shape == (4, image_size, image_size, 3)
    assert images.dtype == np.float32
    assert np.all(np.abs(images) <= 1.0) and images.std() > 0
    # Independent count: Dense (no bias), BN (4 per channel), deconvs (no
    # bias before BN), last deconv with bias.
    sizes = [2**i for i in range(2, int(np.log2(image_size)))]  # 4 .. S/2
    widths = [base * image_size // 2 // r for r in sizes]
    expected = z_dim * 16 * widths[0] + 4 * widths[0]
    for w_in, w_out in zip(widths, widths[1:]):
        expected += k * k * w_in * w_out + 4 * w_out
    expected += k * k * widths[-1] * 3 + 3
    assert generator.count_params() == expected


def test_dcgan_generator_follows_su_widths_at_64px():
    generator = dcgan_generator(64, 3, 100)
    assert generator.get_layer("reshape").output.shape[1:] == (4, 4, 512)
    for resolution, width in [(8, 256), (16, 128), (32, 64)]:
        name = f"block_{resolution}x{resolution}_deconv"
        shape = generator.get_layer(name).output.shape
        assert shape[1:] == (resolution, resolution, width)
    assert generator.output.shape[1:] == (64, 64, 3)
    assert not _layers_of(generator, ConditionalBatchNormalization)
    deconv = generator.get_layer("block_8x8_deconv")
    std = _np(deconv.kernel).std()
    assert 0.018 < std < 0.022  # N(0, 0.02)


def test_dcgan_generator_128px_and_grows_with_size():
    small = dcgan_generator(64, 1, 16, base_channels=4)
    large = dcgan_generator(128, 1, 16, base_channels=4)
    assert large.count_params() > small.count_params()
    images = _np(large(_z(2, 16), training=False))
    assert images.shape == (2, 128, 128, 1)


def test_dcgan_generator_1024px_width_is_capped(monkeypatch):
    # Drawing 64M normal weights takes seconds; zeros build the same graph.
    monkeypatch.setattr(dcgan, "normal_init", lambda stddev=0.02: "zeros")
    generator = dcgan_generator(1024)  # defaults: base 64, max 1024
    widths = [min(1024, 64 * 512 // 2**i) for i in range(2, 10)]
    assert widths[:4] == [1024] * 4 and widths[-1] == 64
    expected = 128 * 16 * 1024 + 4 * 1024
    for w_in, w_out in zip(widths, widths[1:]):
        expected += 16 * w_in * w_out + 4 * w_out
    expected += 16 * widths[-1] * 3 + 3
    assert generator.count_params() == expected < 70_000_000
    assert generator.output.shape[1:] == (1024, 1024, 3)


def test_dcgan_conditional_generator_uses_class_bn_and_labels_matter():
    generator = dcgan_generator(32, 3, 16, num_classes=5, base_channels=8)
    cbns = _layers_of(generator, ConditionalBatchNormalization)
    assert len(cbns) == 3  # 4x4, 8x8, 16x16: every BN
    assert not _layers_of(generator, keras.layers.BatchNormalization)
    assert all(layer.num_classes == 5 for layer in cbns)
    z = _z(4, 16)
    _perturb(cbns)
    a = _np(generator([z, np.array([0, 1, 2, 3])], training=True))
    b = _np(generator([z, np.array([4, 4, 4, 4])], training=True))
    assert a.shape == (4, 32, 32, 3)
    assert np.abs(a - b).max() > 1e-3


def test_conditional_generator_without_labels_raises():
    generator = dcgan_generator(16, 3, 8, num_classes=3, base_channels=4)
    with pytest.raises(ValueError, match="labels"):
        generator(_z(2, 8))
    generator = resnet_generator(16, 3, 9, num_classes=3, base_channels=4)
    with pytest.raises(ValueError, match="labels"):
        generator(_z(2, 9))


# DCGAN discriminator.


def test_dcgan_discriminator_shapes_bn_and_param_count():
    base, k = 8, 4
    discriminator = dcgan_discriminator(32, 3, base_channels=base)
    scores = _np(discriminator(_images(4, 32), training=True))
    assert scores.shape == (4, 1) and scores.dtype == np.float32
    widths = [8, 16, 32]  # at 16, 8, 4
    expected = k * k * 3 * 8 + 8  # first conv: bias, no BN
    for w_in, w_out in zip(widths, widths[1:]):
        expected += k * k * w_in * w_out + 4 * w_out
    expected += 16 * widths[-1] + 1
    assert discriminator.count_params() == expected
    assert "block_16x16_bn" not in [
        layer.name for layer in discriminator.layers
    ]
    assert discriminator.get_layer("block_8x8_bn")
    assert discriminator.get_layer("flatten").output.shape[-1] == 16 * 32


def test_dcgan_discriminator_spectral_norm_drops_bn():
    plain = dcgan_discriminator(32, 3, base_channels=8, batch_norm=False)
    sn = dcgan_discriminator(32, 3, base_channels=8, spectral_norm=True)
    assert not _layers_of(sn, keras.layers.BatchNormalization)
    wrappers = _layers_of(sn, keras.layers.SpectralNormalization)
    assert len(wrappers) == 4  # three convs and the Dense
    # Same trainable weights as without BN; one u vector per wrapper.
    assert len(sn.trainable_weights) == len(plain.trainable_weights)
    extra = sum(w.shape[-1] for w in sn.non_trainable_weights)
    assert sn.count_params() == plain.count_params() + extra
    assert extra == 8 + 16 + 32 + 1
    assert sn(_images(2, 32), training=True).shape == (2, 1)


def test_dcgan_discriminator_minibatch_std_and_encoder_output():
    discriminator = dcgan_discriminator(
        32, 1, output_dim=24, base_channels=4, minibatch_std=True
    )
    assert discriminator.get_layer("minibatch_std")
    # 4x4 x (16 + 1 std channel) flattened.
    assert discriminator.get_layer("flatten").output.shape[-1] == 16 * 17
    scores = _np(discriminator(_images(4, 32, 1), training=True))
    assert scores.shape == (4, 24)


def test_dcgan_projection_discriminator_matches_numpy():
    discriminator = dcgan_discriminator(
        16, 3, num_classes=4, output_dim=3, base_channels=4
    )
    probe = keras.Model(
        discriminator.inputs,
        [discriminator.get_layer("flatten").output, discriminator.output],
    )
    images, labels = _images(4, 16), np.array([0, 1, 3, 3])
    phi, scores = (_np(t) for t in probe([images, labels], training=False))
    kernel, bias = _weights(discriminator, "score")
    table = _np(
        discriminator.get_layer("class_projection_embedding").weights[0]
    )
    projection = np.sum(table[labels] * phi, axis=-1, keepdims=True)
    expected = phi @ kernel + bias + projection  # added to every output
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    other = _np(discriminator([images, np.array([2, 2, 2, 2])]))
    assert np.abs(other - scores).max() > 1e-4


# ResNet generator.


def test_resnet_generator_block_matches_numpy():
    generator = resnet_generator(16, 3, 8, base_channels=4, residual_scale=0.5)
    probe = keras.Model(
        generator.input,
        [
            generator.get_layer("reshape").output,
            generator.get_layer("block_8x8_add").output,
            generator.output,
        ],
    )
    _perturb(_layers_of(generator, keras.layers.BatchNormalization), 0.3)
    x, block, images = (_np(t) for t in probe(_z(2, 8), training=False))
    assert x.shape == (2, 4, 4, 8) and block.shape == (2, 8, 8, 4)
    h = _relu(_bn_inference(generator, "block_8x8_bn1", x))
    h = _conv_same(_upsample(h), *_weights(generator, "block_8x8_conv1"))
    h = _relu(_bn_inference(generator, "block_8x8_bn2", h))
    h = _conv_same(h, *_weights(generator, "block_8x8_conv2"))
    shortcut = _conv_same(
        _upsample(x), *_weights(generator, "block_8x8_shortcut_conv")
    )
    np.testing.assert_allclose(block, shortcut + 0.5 * h, rtol=1e-4, atol=1e-5)
    assert images.shape == (2, 16, 16, 3) and np.all(np.abs(images) <= 1)


def test_resnet_generator_widths_attention_and_size():
    generator = resnet_generator(
        32, 3, 16, base_channels=16, attention_resolution=16
    )
    widths = {
        r: generator.get_layer(f"block_{r}x{r}_add").output.shape[-1]
        for r in (8, 16, 32)
    }
    assert widths == {8: 32, 16: 16, 32: 8}
    attention = generator.get_layer("attention_16x16")
    assert isinstance(attention, SelfAttention2D)
    assert attention.input is generator.get_layer("block_16x16_add").output
    assert generator(_z(2, 16)).shape == (2, 32, 32, 3)
    smaller = resnet_generator(32, 3, 16, base_channels=16)
    assert generator.count_params() > smaller.count_params()
    larger = resnet_generator(64, 3, 16, base_channels=16)
    assert larger.count_params() > smaller.count_params()


def test_resnet_generator_hierarchical_biggan_conditioning():
    generator = resnet_generator(
        32, 3, 16, num_classes=3, base_channels=8, embedding_dim=6
    )
    split = _layers_of(generator, LatentSplit)
    assert len(split) == 1 and split[0].num_chunks == 4  # dense + 3 blocks
    assert len(_layers_of(generator, keras.layers.Embedding)) == 1  # shared
    assert generator.get_layer("dense").input.shape[-1] == 4
    for r in (8, 16, 32):
        condition = generator.get_layer(f"block_{r}x{r}_condition").output
        assert condition.shape[-1] == 4 + 6
        for bn in ("bn1", "bn2"):
            cbn = generator.get_layer(f"block_{r}x{r}_{bn}")
            assert isinstance(cbn, ConditionalBatchNormalization)
            assert cbn.input[1] is condition
    assert type(generator.get_layer("final_bn")) is (
        keras.layers.BatchNormalization
    )
    _perturb(_layers_of(generator, ConditionalBatchNormalization), 0.2)
    z, labels = _z(4, 16), np.array([0, 1, 2, 0])
    base = _np(generator([z, labels], training=True))
    z_last = z.copy()
    z_last[:, -4:] += 1.0  # the last chunk feeds only the 32x32 block
    changed = _np(generator([z_last, labels], training=True))
    assert np.abs(changed - base).max() > 1e-4
    other = _np(generator([z, np.array([2, 2, 1, 1])], training=True))
    assert np.abs(other - base).max() > 1e-3


def test_resnet_generator_flat_latent_and_z_dim_check():
    generator = resnet_generator(
        16, 3, 10, num_classes=3, base_channels=4, hierarchical_latent=False
    )
    condition = generator.get_layer("condition").output
    assert condition.shape[-1] == 10 + 128
    cbns = _layers_of(generator, ConditionalBatchNormalization)
    assert len(cbns) == 4 and all(c.input[1] is condition for c in cbns)
    assert not _layers_of(generator, LatentSplit)
    with pytest.raises(ValueError, match=r"divisible by 5.*z_dim=130"):
        resnet_generator(64, num_classes=10)


# ResNet discriminator.


def test_resnet_discriminator_blocks_and_head_match_numpy():
    discriminator = resnet_discriminator(
        16,
        3,
        num_classes=3,
        base_channels=4,
        spectral_norm=False,
        residual_scale=0.5,
    )
    probe = keras.Model(
        discriminator.inputs,
        [
            discriminator.get_layer("block_8x8_add").output,
            discriminator.get_layer("block_4x4_add").output,
            discriminator.output,
        ],
    )
    images, labels = _images(2, 16), np.array([0, 2])
    first, second, scores = (_np(t) for t in probe([images, labels]))
    w = lambda name: _weights(discriminator, name)  # noqa: E731
    # Optimised block: no activation on the image; the shortcut pools first.
    h = _conv_same(
        _relu(_conv_same(images, *w("block_8x8_conv1"))), *w("block_8x8_conv2")
    )
    shortcut = _conv_same(_avg_pool(images), *w("block_8x8_shortcut_conv"))
    expected = shortcut + 0.5 * _avg_pool(h)
    np.testing.assert_allclose(first, expected, rtol=1e-4, atol=1e-5)
    h = _conv_same(
        _relu(_conv_same(_relu(first), *w("block_4x4_conv1"))),
        *w("block_4x4_conv2"),
    )
    shortcut = _avg_pool(_conv_same(first, *w("block_4x4_shortcut_conv")))
    expected = shortcut + 0.5 * _avg_pool(h)
    np.testing.assert_allclose(second, expected, rtol=1e-4, atol=1e-5)
    phi = _relu(second).sum(axis=(1, 2))  # global sum pooling
    kernel, bias = w("score")
    table = _np(
        discriminator.get_layer("class_projection_embedding").weights[0]
    )
    expected = phi @ kernel + bias + np.sum(table[labels] * phi, -1)[:, None]
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)


def test_resnet_discriminator_spectral_norm_attention_minibatch_std():
    discriminator = resnet_discriminator(
        32,
        3,
        output_dim=12,
        base_channels=8,
        attention_resolution=8,
        minibatch_std=True,
    )
    assert not _layers_of(discriminator, keras.layers.BatchNormalization)
    # 3 blocks x (two 3x3 convs + 1x1 shortcut) + the Dense.
    wrappers = _layers_of(discriminator, keras.layers.SpectralNormalization)
    assert len(wrappers) == 10
    attention = discriminator.get_layer("attention_8x8")
    assert attention.input is discriminator.get_layer("block_8x8_add").output
    assert discriminator.get_layer("global_sum").output.shape[-1] == 32 + 1
    assert discriminator(_images(4, 32), training=True).shape == (4, 12)
    plain = resnet_discriminator(
        32, 3, output_dim=12, base_channels=8, spectral_norm=False
    )
    assert len(plain.non_trainable_weights) == 0
    bigger = resnet_discriminator(
        64, 3, output_dim=12, base_channels=8, spectral_norm=False
    )
    assert bigger.count_params() > plain.count_params()


# Shared behaviour.


@pytest.mark.parametrize(
    "builder, kwargs, inputs",
    [
        (
            dcgan_generator,
            dict(num_classes=3),
            lambda: [_z(4, 8), [0, 1, 2, 0]],
        ),
        (
            resnet_generator,
            dict(num_classes=3, attention_resolution=8),
            lambda: [_z(4, 9), np.array([0, 1, 2, 0])],
        ),
        (
            dcgan_discriminator,
            dict(num_classes=3, minibatch_std=True),
            lambda: [_images(4, 16), np.array([0, 1, 2, 0])],
        ),
        (resnet_discriminator, dict(output_dim=8), lambda: _images(4, 16)),
    ],
)
def test_keras_round_trip_in_safe_mode(builder, kwargs, inputs, tmp_path):
    values = inputs()
    if isinstance(values, list):
        values = [np.asarray(v) for v in values]
    extra = {}
    if "generator" in builder.__name__:
        extra["z_dim"] = values[0].shape[-1]
    model = builder(16, 3, base_channels=8, **kwargs, **extra)
    _assert_round_trip(model, values, tmp_path)


def test_every_generator_weight_gets_a_gradient():
    generator = resnet_generator(
        16, 3, 6, num_classes=2, base_channels=8, attention_resolution=8
    )
    # Zero-initialised weights (attention gamma, CBN projections) block the
    # gradient of the weights behind them until they move.
    _perturb(_layers_of(generator, ConditionalBatchNormalization), 0.2)
    _perturb(_layers_of(generator, SelfAttention2D), 0.2)
    before = [_np(w) for w in generator.trainable_weights]
    generator.compile(
        optimizer=keras.optimizers.SGD(1.0), loss="mse", run_eagerly=True
    )
    target = _images(4, 16)
    generator.fit([_z(4, 6), np.array([0, 1, 0, 1])], target, verbose=0)
    unchanged = [
        w.path
        for w, old in zip(generator.trainable_weights, before)
        if np.array_equal(_np(w), old)
    ]
    assert not unchanged


def test_mixed_precision_outputs_float32_and_compute_float16():
    keras.config.set_dtype_policy("mixed_float16")
    generator = dcgan_generator(16, 3, 8, num_classes=2, base_channels=4)
    assert generator.get_layer("block_8x8_deconv").output.dtype == "float16"
    images = generator([_z(2, 8), np.array([0, 1])], training=True)
    assert keras.backend.standardize_dtype(images.dtype) == "float32"
    for discriminator in (
        dcgan_discriminator(16, 3, num_classes=2, base_channels=4),
        resnet_discriminator(16, 3, num_classes=2, base_channels=4),
    ):
        scores = discriminator([_np(images), np.array([0, 1])], training=True)
        assert keras.backend.standardize_dtype(scores.dtype) == "float32"
        assert np.all(np.isfinite(_np(scores)))
    generator = resnet_generator(16, 3, 9, num_classes=2, base_channels=4)
    images = generator([_z(2, 9), np.array([0, 1])], training=True)
    assert keras.backend.standardize_dtype(images.dtype) == "float32"
    assert generator.get_layer("block_8x8_conv1").output.dtype == "float16"


BAD_ARGUMENTS = [
    (dict(image_size=28), r"image_size=28.*[Pp]ad.*32"),
    (dict(image_size=48), r"power of two.*image_size=48"),
    (dict(image_size=2048), r"image_size=2048"),
    (dict(channels=0), r"channels=0"),
    (dict(base_channels=0), r"base_channels=0"),
    (dict(num_classes=1), r"num_classes=1"),
]


@pytest.mark.parametrize(
    "builder",
    [
        dcgan_generator,
        dcgan_discriminator,
        resnet_generator,
        resnet_discriminator,
    ],
)
def test_bad_arguments_raise(builder):
    # One test per builder: the per-test session reset costs about a second.
    for kwargs, message in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=message):
            builder(**kwargs)


def test_bad_specific_arguments_raise():
    with pytest.raises(ValueError, match="attention_resolution=4"):
        resnet_generator(32, attention_resolution=4)
    with pytest.raises(ValueError, match="attention_resolution=32"):
        resnet_discriminator(32, attention_resolution=32)
    with pytest.raises(ValueError, match="residual_scale=0"):
        resnet_generator(32, residual_scale=0)
    with pytest.raises(ValueError, match="output_dim=0"):
        dcgan_discriminator(32, output_dim=0)
    with pytest.raises(ValueError, match="kernel_size=0"):
        dcgan_generator(32, kernel_size=0)
    with pytest.raises(ValueError, match="z_dim=0"):
        dcgan_generator(32, z_dim=0)
