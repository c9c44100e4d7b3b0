"""Progressive growing of the StyleGAN form, and progressive growing with
every trainer (OneStepGAN, AlternatingGAN, OGAN) through `kgan.recipes`."""

import keras
import numpy as np
import pytest

from kgan import recipes
from kgan.callbacks.progressive import ProgressiveSchedule
from kgan.layers.progressive import schedule_level, set_level
from kgan.models.stylegan import stylegan_generator


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _up(x, size):  # nearest upsampling, written independently of the layer
    f = size // x.shape[1]
    return np.repeat(np.repeat(x, f, axis=1), f, axis=2)


def _generator(**kwargs):
    return stylegan_generator(
        image_size=16, channels=1, z_dim=8, base_channels=8, max_channels=16,
        noise_injection=False, progressive=True, **kwargs,
    )  # fmt: skip


@pytest.mark.jax
def test_the_output_fades_between_the_stages_to_rgb_images():
    generator = _generator()
    assert generator.get_layer("progressive_blend").num_stages == 3
    names = [f"tanh_{r}x{r}" for r in (4, 8, 16)]
    stages = keras.Model(
        generator.inputs,
        [generator.get_layer(n).output for n in names] + generator.outputs,
    )
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    for level in (0.0, 0.25, 1.0, 1.75, 2.0):
        set_level(generator, level)
        *rgb, image = (_np(x) for x in stages(z))
        k, alpha = int(level), level - int(level)
        expected = _up(rgb[k], 16)
        if alpha:
            expected = (1 - alpha) * expected + alpha * _up(rgb[k + 1], 16)
        np.testing.assert_allclose(image, expected, atol=1e-6, err_msg=level)
    np.testing.assert_array_equal(image, rgb[-1])  # the last level: 16x16


def test_the_plain_form_keeps_its_layer_names():
    # Generators saved before `progressive` existed must still load.
    plain = stylegan_generator(image_size=16, z_dim=8, base_channels=8)
    names = {layer.name for layer in plain.layers}
    assert {"to_rgb", "tanh"} <= names
    assert not any("progressive" in n or "x" in n[-3:] for n in names)


def test_progressive_stylegan_round_trips_in_safe_mode(tmp_path):
    generator = _generator(style_mixing=0.5, equalized_lr=True)
    set_level(generator, 1.5)
    z = np.random.default_rng(1).normal(size=(2, 8)).astype("float32")
    expected = _np(generator(z))
    generator.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras", safe_mode=True)
    level = loaded.get_layer("progressive_blend").level
    assert float(_np(level)) == 1.5
    np.testing.assert_allclose(_np(loaded(z)), expected, atol=1e-6)


def test_progressive_must_be_a_bool():
    with pytest.raises(ValueError, match="`progressive` must be True or"):
        stylegan_generator(image_size=16, progressive="yes")


# -- every trainer grows: the compiled step reads the level -------------------
def _config(**settings):
    return recipes.RunConfig(
        image_size=16, channels=1, z_dim=8, base_channels=8, max_channels=16,
        batch_size=4, steps=8, progressive=True, xla="off", seed=0,
        **settings,
    )  # fmt: skip


def _upper_stage(path):
    """Weights that reach only the 8x8 and 16x16 images (both forms)."""
    return any(k in path for k in ("block8", "block16", "8x8", "16x16"))


TRAINERS = [
    pytest.param({"arch": "stylegan"}, id="stylegan-onestep"),
    pytest.param(
        {"arch": "stylegan", "num_classes": 10}, id="stylegan-conditional"
    ),
    pytest.param(
        {"arch": "stylegan", "trainer": "alternating"},
        id="stylegan-alternating",
    ),
    pytest.param({"arch": "stylegan", "ogan": True}, id="stylegan-ogan"),
    pytest.param({"trainer": "alternating"}, id="dcgan-alternating"),
    pytest.param({"ogan": True}, id="dcgan-ogan"),
]


def _data(config):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    if config.num_classes is None:
        return images
    return images, rng.integers(0, 10, (8,)).astype("int32")


@pytest.mark.slow
@pytest.mark.parametrize("settings", TRAINERS)
def test_at_level_zero_only_the_4x4_stage_of_g_trains(settings):
    config = _config(**settings)
    gan, generator, discriminator = recipes.build(config)
    set_level(generator, 2.0)  # the schedule must bring both back to 0
    set_level(discriminator, 2.0)
    before = {v.path: _np(v).copy() for v in generator.trainable_weights}
    data = _data(config)
    x, y = data if isinstance(data, tuple) else (data, None)
    gan.fit(
        x,
        y,
        batch_size=4,
        epochs=1,
        verbose=0,
        callbacks=[ProgressiveSchedule(stage_steps=100, fade_steps=50)],
    )
    down = discriminator.get_layer("progressive_downsample")
    assert float(_np(down.level)) == 0
    moved = {
        v.path: not np.array_equal(_np(v), before[v.path])
        for v in generator.trainable_weights
    }
    upper = [p for p in moved if _upper_stage(p)]
    assert upper and not any(moved[p] for p in upper)
    assert any(moved[p] for p in moved if "4x4" in p or "block4" in p)


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings", [{"arch": "stylegan"}, {"arch": "stylegan", "ogan": True}]
)
def test_the_schedule_grows_a_stylegan_run_to_full_size(settings):
    config = _config(**settings)
    gan, generator, discriminator = recipes.build(config)
    stage_steps, fade_steps = config.progressive_schedule
    assert (stage_steps, fade_steps) == (3, 1)  # 8 steps, 3 stages
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(
            float(_np(generator.get_layer("progressive_blend").level))
        )
    )
    images = _data(config)
    gan.fit(
        np.concatenate([images] * 4),
        batch_size=4,
        epochs=1,
        verbose=0,
        callbacks=[ProgressiveSchedule(stage_steps, fade_steps), record],
    )
    assert seen == [schedule_level(s, 3, 1, 3) for s in range(8)]
    assert seen[-1] == 2.0  # the saved generator is the 16x16 one
    out = generator(np.zeros((1, 8), "float32"))
    assert tuple(out.shape) == (1, 16, 16, 1)
