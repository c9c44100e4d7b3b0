"""Tests for progressive growing: kgan.layers.progressive*, the progressive
generator and the ProgressiveSchedule callback."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.callbacks.progressive import ProgressiveSchedule
from kgan.layers.progressive import schedule_level, set_level
from kgan.layers.progressive_blend import ProgressiveBlend
from kgan.layers.progressive_downsample import ProgressiveDownsample
from kgan.models.dcgan import dcgan_discriminator
from kgan.models.progressive import progressive_dcgan_generator
from kgan.training import OneStepGAN

pytestmark = pytest.mark.jax

SIZES = (4, 8, 16)


# Building the two models takes ~0.3 s on TensorFlow but 6-12 s on JAX
# (every initializer and eager op compiles), so those tests are slow there.
def slow_on_jax(test):
    if keras.backend.backend() == "jax":
        return pytest.mark.slow(test)
    return test


# -- numpy references, written without the layers' hat-weight trick --------
def _up(x, size):
    f = size // x.shape[1]
    return np.repeat(np.repeat(x, f, axis=1), f, axis=2)


def _pool(x, size):
    b, s, _, c = x.shape
    f = s // size
    return x.reshape(b, size, f, size, f, c).mean(axis=(2, 4))


def _faded(stage_images, level):
    """PGGAN's fade-in: blend at the resolution of stage k + 1, then up."""
    last = len(stage_images) - 1
    level = min(level, last)
    k = int(np.floor(level))
    alpha = level - k
    size = stage_images[-1].shape[1]
    if k == last:
        return stage_images[-1]
    if alpha == 0:
        return _up(stage_images[k], size)
    low, high = stage_images[k], stage_images[k + 1]
    blended = (1 - alpha) * _up(low, high.shape[1]) + alpha * high
    return _up(blended, size)


def _rgb(seed=0, batch=2, channels=3):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(-1, 1, size=(batch, s, s, channels)).astype("float32")
        for s in SIZES
    ]


def _np(x):
    return keras.ops.convert_to_numpy(x)


LEVELS = [0.0, 1.0, 2.0, 0.3, 1.7, 0.5, 1.25, 7.0]


@pytest.mark.parametrize("level", LEVELS)
def test_blend_matches_numpy_fade_in(level):
    rgb = _rgb()
    out = _np(ProgressiveBlend(level=level)(rgb))
    np.testing.assert_allclose(out, _faded(rgb, level), rtol=1e-6, atol=1e-6)


def test_blend_integer_and_last_levels_exactly():
    rgb = _rgb(1)
    layer = ProgressiveBlend()
    layer(rgb)  # builds the level
    for k, images in enumerate(rgb):
        set_level(layer, k)
        np.testing.assert_array_equal(_np(layer(rgb)), _up(images, 16))
    np.testing.assert_array_equal(_np(layer(rgb)), rgb[-1])


def test_blend_fade_at_stage_resolution():
    # The paper's order of operations, spelled out for level 0.3.
    rgb = _rgb(2)
    out = _np(ProgressiveBlend(level=0.3)(rgb))
    at_8 = 0.7 * np.repeat(np.repeat(rgb[0], 2, 1), 2, 2) + 0.3 * rgb[1]
    np.testing.assert_allclose(out, _up(at_8, 16), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("level", LEVELS)
def test_downsample_matches_numpy_average_pool(level):
    x = np.random.normal(size=(2, 16, 16, 3)).astype("float32")
    out = _np(ProgressiveDownsample(level=level)(x))
    stage_images = [_pool(x, s) for s in SIZES]
    np.testing.assert_allclose(
        out, _faded(stage_images, level), rtol=1e-5, atol=1e-6
    )


def test_downsample_min_resolution_and_last_level_identity():
    x = np.random.normal(size=(1, 32, 32, 2)).astype("float32")
    layer = ProgressiveDownsample(min_resolution=8, level=0.5)
    out = _np(layer(x))
    assert layer.num_stages == 3
    stage_images = [_pool(x, s) for s in (8, 16, 32)]
    np.testing.assert_allclose(
        out, _faded(stage_images, 0.5), rtol=1e-5, atol=1e-6
    )
    set_level(layer, 2.0)
    np.testing.assert_array_equal(_np(layer(x)), x)


def test_downsample_keeps_generated_images_at_integer_levels():
    rgb = _rgb(3)
    for level in (0.0, 1.0, 2.0):
        fake = _np(ProgressiveBlend(level=level)(rgb))
        seen = _np(ProgressiveDownsample(level=level)(fake))
        np.testing.assert_allclose(seen, fake, rtol=1e-6, atol=1e-6)


def test_compiled_model_follows_the_level_without_retracing():
    traces = []

    class CountingBlend(ProgressiveBlend):
        def call(self, inputs, training=None):
            traces.append(1)
            return super().call(inputs, training=training)

    rgb = _rgb(4)
    inputs = [keras.Input(shape=(s, s, 3)) for s in SIZES]
    model = keras.Model(inputs, CountingBlend()(inputs))
    for i, level in enumerate((0.0, 0.4, 1.0, 1.9, 2.0)):
        set_level(model, level)
        out = model.predict(rgb, verbose=0, batch_size=2)
        np.testing.assert_allclose(
            out, _faded(rgb, level), rtol=1e-6, atol=1e-6
        )
        if i == 0:
            traced = len(traces)
    assert len(traces) == traced  # the level is read, never traced in


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.0),
        (99, 0.0),
        (100, 0.0),
        (125, 0.5),
        (149, 0.98),
        (150, 1.0),
        (199, 1.0),
        (200, 1.0),
        (210, 1.2),
        (250, 2.0),
        (300, 2.0),  # capped: 3 stages
        (10**6, 2.0),
    ],
)
def test_schedule_level(step, expected):
    assert schedule_level(step, 100, 50, 3) == pytest.approx(expected)


def test_schedule_level_edge_cases():
    # No fade: the stage switches at once.
    assert schedule_level(100, 100, 0, 3) == 1.0
    assert schedule_level(99, 100, 0, 3) == 0.0
    # Fading for the whole stage.
    assert schedule_level(150, 100, 100, 3) == pytest.approx(0.5)
    assert schedule_level(5, 10, 5, 1) == 0.0
    with pytest.raises(ValueError, match="Received: fade_steps=11"):
        schedule_level(0, 10, 11, 3)
    with pytest.raises(ValueError, match="Received: stage_steps=0"):
        schedule_level(0, 0, 0, 3)
    with pytest.raises(ValueError, match="Received: step=-1"):
        schedule_level(-1, 10, 5, 3)


def _discriminator(image_size=16, channels=3, base_channels=8):
    body = dcgan_discriminator(
        image_size, channels, base_channels=base_channels, max_channels=32
    )
    images = keras.Input(
        shape=(image_size, image_size, channels), name="images"
    )
    x = ProgressiveDownsample(name="progressive_downsample")(images)
    return keras.Model(images, body(x), name="progressive_discriminator")


def _generator(**kwargs):
    kwargs = {
        "image_size": 16,
        "channels": 3,
        "z_dim": 8,
        "base_channels": 8,
        "max_channels": 16,
        **kwargs,
    }
    return progressive_dcgan_generator(**kwargs)


@slow_on_jax
def test_generator_shapes_and_stages():
    generator = _generator(channels=1)
    blend = generator.get_layer("progressive_blend")
    assert blend.num_stages == 3
    z = np.random.normal(size=(2, 8)).astype("float32")
    for level in (0.0, 0.5, 1.0, 2.0):
        set_level(generator, level)
        images = _np(generator(z))
        assert images.shape == (2, 16, 16, 1)
        assert np.all(np.abs(images) <= 1.0)
    # At level 0 the image is 4x4 blocks.
    set_level(generator, 0.0)
    images = _np(generator(z))
    np.testing.assert_array_equal(images, _up(images[:, ::4, ::4], 16))


@slow_on_jax
def test_set_level_touches_only_the_level():
    generator, discriminator = _generator(), _discriminator()
    for model in (generator, discriminator):
        before = {v.path: _np(v).copy() for v in model.weights}
        assert set_level(model, 1.5) == 1
        for v in model.weights:
            if v.path.endswith("level"):
                assert float(_np(v)) == 1.5
            else:
                np.testing.assert_array_equal(_np(v), before[v.path])
        levels = [v for v in model.weights if v.path.endswith("level")]
        assert len(levels) == 1 and not levels[0].trainable
    # Nested: the discriminator model inside a wrapper is still found.
    wrapper = keras.Sequential([discriminator])
    assert set_level(wrapper, 0.25) == 1
    layer = discriminator.get_layer("progressive_downsample")
    assert float(_np(layer.level)) == 0.25


def test_generator_safe_mode_round_trip_keeps_level(tmp_path):
    generator = _generator()
    set_level(generator, 1.3)
    z = np.random.normal(size=(2, 8)).astype("float32")
    expected = _np(generator(z))
    path = tmp_path / "generator.keras"
    generator.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    level = loaded.get_layer("progressive_blend").level
    assert float(_np(level)) == pytest.approx(1.3)
    np.testing.assert_allclose(_np(loaded(z)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_fit_with_progressive_schedule_moves_the_level():
    generator, discriminator = _generator(), _discriminator()
    gan = OneStepGAN(generator, discriminator, loss="hinge", seed=0)
    gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    blend = generator.get_layer("progressive_blend")
    down = discriminator.get_layer("progressive_downsample")
    seen = []

    def record(batch, logs):
        seen.append((float(_np(blend.level)), float(_np(down.level))))

    images = np.random.uniform(-1, 1, size=(24, 16, 16, 3)).astype("float32")
    schedule = ProgressiveSchedule(stage_steps=2, fade_steps=1)
    history = gan.fit(
        images,
        batch_size=4,  # six steps
        epochs=1,
        verbose=0,
        callbacks=[
            schedule,
            keras.callbacks.LambdaCallback(on_train_batch_begin=record),
        ],
    )
    # Steps 0..5 with stage_steps=2, fade_steps=1 and 3 stages.
    expected = [schedule_level(s, 2, 1, 3) for s in range(6)]
    assert expected == [0.0, 0.0, 0.0, 1.0, 1.0, 2.0]
    assert seen == [(level, level) for level in expected]
    assert all(np.isfinite(v[-1]) for v in history.history.values())


def test_schedule_rejects_mismatched_stages():
    generator = _generator()
    discriminator = keras.Sequential(
        [
            keras.Input(shape=(16, 16, 3)),
            ProgressiveDownsample(min_resolution=8),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    gan = OneStepGAN(generator, discriminator, loss="hinge")
    gan.compile(optimizer="sgd")
    images = np.zeros((4, 16, 16, 3), "float32")
    with pytest.raises(ValueError, match="num_stages=\\[2, 3\\]"):
        gan.fit(
            images,
            batch_size=4,
            verbose=0,
            callbacks=[ProgressiveSchedule(2, 1)],
        )


def test_blend_generic_layer_check(tmp_path):
    layer = run_layer_check(
        ProgressiveBlend,
        {"level": 0.5},
        [((2, 4, 4, 3), "float32"), ((2, 8, 8, 3), "float32")],
        (2, 8, 8, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=1,
        tmp_path=tmp_path,
    )
    assert layer.num_stages == 2


def test_downsample_generic_layer_check(tmp_path):
    run_layer_check(
        ProgressiveDownsample,
        {"min_resolution": 2, "level": 1.5},
        [((2, 8, 8, 3), "float32")],
        (2, 8, 8, 3),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=1,
        tmp_path=tmp_path,
    )


def test_mixed_precision_level_stays_float32():
    keras.config.set_dtype_policy("mixed_float16")
    x = np.random.normal(size=(2, 16, 16, 3)).astype("float32")
    layer = ProgressiveDownsample(level=1.3)
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert keras.backend.standardize_dtype(layer.level.dtype) == "float32"
    stage_images = [_pool(x, s) for s in SIZES]
    np.testing.assert_allclose(
        _np(out).astype("float32"), _faded(stage_images, 1.3), atol=1e-2
    )
    generator = _generator()
    images = generator(np.zeros((2, 8), "float32"))
    assert keras.backend.standardize_dtype(images.dtype) == "float32"


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (ProgressiveBlend, {"level": -1.0}, "Received: level=-1.0"),
        (ProgressiveBlend, {"level": "a"}, "Received: level='a'"),
        (ProgressiveDownsample, {"min_resolution": 0}, "min_resolution=0"),
    ],
)
def test_invalid_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_invalid_shapes():
    with pytest.raises(ValueError, match="twice the size"):
        ProgressiveBlend()([np.zeros((1, 4, 4, 3)), np.zeros((1, 16, 16, 3))])
    with pytest.raises(ValueError, match="same channels"):
        ProgressiveBlend()([np.zeros((1, 4, 4, 3)), np.zeros((1, 8, 8, 1))])
    with pytest.raises(ValueError, match="power of two"):
        ProgressiveDownsample()(np.zeros((1, 12, 12, 3)))
    with pytest.raises(ValueError, match="not built"):
        set_level(ProgressiveBlend(), 1.0)
    with pytest.raises(ValueError, match="Received: level=-0.5"):
        set_level(_generator(), -0.5)


@pytest.mark.slow
def test_train_step_reads_the_level_stages_above_stay_untouched():
    # At level 0 the 8x8 and 16x16 blocks reach the image with weight 0:
    # zero gradient, so Adam leaves them exactly as they were. This checks
    # that the compiled step (JAX's included) sees the level the callback set.
    generator, discriminator = _generator(), _discriminator()
    set_level(generator, 2.0)  # the schedule must bring it back to 0
    gan = OneStepGAN(generator, discriminator, loss="hinge", seed=0)
    gan.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = {v.path: _np(v).copy() for v in generator.trainable_weights}
    images = np.random.uniform(-1, 1, size=(8, 16, 16, 3)).astype("float32")
    gan.fit(
        images,
        batch_size=4,
        epochs=1,
        verbose=0,
        callbacks=[ProgressiveSchedule(stage_steps=100, fade_steps=50)],
    )
    for v in generator.trainable_weights:
        frozen = any(k in v.path for k in ("8x8", "16x16"))
        changed = not np.array_equal(_np(v), before[v.path])
        assert changed != frozen, v.path


@pytest.mark.slow
def test_trainer_round_trip_restores_both_levels(tmp_path):
    generator, discriminator = _generator(), _discriminator()
    gan = OneStepGAN(generator, discriminator, loss="hinge", seed=0)
    gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    images = np.random.uniform(-1, 1, size=(16, 16, 16, 3)).astype("float32")
    gan.fit(
        images,
        batch_size=4,  # steps 0 to 3: the last one runs at level 0.5
        epochs=1,
        verbose=0,
        callbacks=[ProgressiveSchedule(stage_steps=2, fade_steps=2)],
    )
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)  # safe mode
    for network, name in (
        (reloaded.generator, "progressive_blend"),
        (reloaded.discriminator, "progressive_downsample"),
    ):
        assert float(_np(network.get_layer(name).level)) == 0.5


def test_equalized_progressive_generator_keeps_names_and_fades(tmp_path):
    from kgan.layers import EqualizedConv2D, EqualizedDense

    generator = _generator(channels=1, equalized_lr=True)
    assert isinstance(generator.get_layer("dense"), EqualizedDense)
    assert generator.get_layer("dense").gain == pytest.approx(2**0.5 / 4)
    conv = generator.get_layer("block_8x8_conv1")
    rgb = generator.get_layer("to_rgb_8x8_conv")
    assert isinstance(conv, EqualizedConv2D) and conv.gain == pytest.approx(
        2**0.5
    )
    assert isinstance(rgb, EqualizedConv2D) and rgb.gain == 1.0
    z = np.random.normal(size=(2, 8)).astype("float32")
    set_level(generator, 0.0)  # 4x4 blocks, as without equalisation
    images = _np(generator(z))
    np.testing.assert_array_equal(images, _up(images[:, ::4, ::4], 16))
    set_level(generator, 1.5)
    expected = _np(generator(z))
    generator.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras", safe_mode=True)
    np.testing.assert_allclose(_np(loaded(z)), expected, atol=1e-6)
    with pytest.raises(ValueError, match="Received: equalized_lr=1"):
        _generator(equalized_lr=1)
