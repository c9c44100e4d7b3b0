"""OneStepGAN / AlternatingGAN behaviour: training, metrics, errors, saving."""

import keras
import numpy as np
import pytest
from gan_fixtures import mlp_discriminator, mlp_generator, ring_of_gaussians

import kgan
from kgan.training import AlternatingGAN, OneStepGAN

pytestmark = pytest.mark.jax


def _points(n=256):
    return ring_of_gaussians(n)[0]


@pytest.mark.parametrize("trainer", ["onestep", "alternating"])
def test_history_reports_d_and_g_losses_and_scores(trainer):
    g, d = mlp_generator(), mlp_discriminator()
    if trainer == "onestep":
        gan = OneStepGAN(g, d, seed=0)
        gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    else:
        gan = AlternatingGAN(g, d, seed=0)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    history = gan.fit(_points(), batch_size=32, epochs=1, verbose=0)
    for key in ("d_loss", "g_loss", "real_score", "fake_score"):
        assert key in history.history, history.history.keys()
        assert np.isfinite(history.history[key][0])


def test_one_step_fit_updates_both_networks():
    g, d = mlp_generator(), mlp_discriminator()
    before = [v.numpy().copy() for v in g.weights + d.weights]
    gan = OneStepGAN(g, d, seed=0)
    gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    gan.fit(_points(64), batch_size=32, epochs=1, verbose=0)
    after = [v.numpy() for v in g.weights + d.weights]
    n_g = len(g.weights)
    assert any(not np.allclose(a, b) for a, b in zip(before[:n_g], after))
    assert any(not np.allclose(a, b) for a, b in zip(before[n_g:], after[n_g:]))


def test_images_outside_minus_one_one_are_rejected():
    gan = OneStepGAN(mlp_generator(), mlp_discriminator())
    gan.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        gan.fit(_points() * 255, batch_size=32, verbose=0)


def test_data_of_the_wrong_shape_is_rejected():
    gan = OneStepGAN(mlp_generator(out_dim=2), mlp_discriminator(in_dim=2))
    gan.compile(optimizer="adam")
    with pytest.raises(ValueError, match="shape"):
        gan.fit(np.zeros((8, 3), "float32"), batch_size=4, verbose=0)


def test_discriminator_output_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(batch, 1\)"):
        OneStepGAN(mlp_generator(z_dim=4), mlp_discriminator(out_dim=3))


def test_generator_and_discriminator_shapes_must_match():
    with pytest.raises(ValueError, match="same `image_size`"):
        OneStepGAN(mlp_generator(out_dim=2), mlp_discriminator(in_dim=3))


def test_nan_loss_stops_training_with_a_message(capsys):
    g, d = mlp_generator(), mlp_discriminator()
    gan = OneStepGAN(g, d, loss="wgan")
    gan.compile(optimizer=keras.optimizers.SGD(1e30))
    history = gan.fit(_points(512), batch_size=32, epochs=1, verbose=0)
    assert len(history.history["d_loss"]) == 1
    assert "became NaN or infinite" in capsys.readouterr().out


def test_trainer_saves_and_reloads_then_continues_identically(tmp_path):
    points = _points(128)

    def make():
        gan = OneStepGAN(mlp_generator(), mlp_discriminator(), seed=5)
        gan.compile(optimizer=keras.optimizers.Adam(1e-3))
        return gan

    gan = make()
    gan.fit(points, batch_size=32, epochs=1, verbose=0, shuffle=False)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, OneStepGAN)
    for a, b in zip(gan.weights, reloaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    gan.fit(points, batch_size=32, epochs=1, verbose=0, shuffle=False)
    reloaded.fit(points, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(gan.generator.weights, reloaded.generator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_generator_saved_after_fit_loads_in_safe_mode(tmp_path):
    g = kgan.models.dcgan_generator(16, channels=1, z_dim=8, base_channels=8)
    d = kgan.models.dcgan_discriminator(16, channels=1, base_channels=8)
    gan = OneStepGAN(g, d, seed=0)
    gan.compile(optimizer=keras.optimizers.RMSprop(1e-4, rho=0.99))
    images = np.random.uniform(-1, 1, (16, 16, 16, 1)).astype("float32")
    gan.fit(images, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "g.keras")
    gan.generator.save(path)
    loaded = keras.models.load_model(path)
    z = np.random.normal(size=(4, 8)).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(z, verbose=0), g.predict(z, verbose=0), atol=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["hinge", "wgan"])
def test_mixed_float16_trains_without_nan(loss):
    keras.config.set_dtype_policy("mixed_float16")
    g = kgan.models.dcgan_generator(16, channels=1, z_dim=8, base_channels=8)
    d = kgan.models.dcgan_discriminator(16, channels=1, base_channels=8)
    gan = OneStepGAN(g, d, loss=loss, seed=0)
    gan.compile(optimizer=keras.optimizers.RMSprop(1e-4, rho=0.99))
    assert isinstance(gan.optimizer, keras.optimizers.LossScaleOptimizer)
    images = np.random.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
    history = gan.fit(images, batch_size=8, epochs=2, verbose=0)
    for values in history.history.values():
        assert np.all(np.isfinite(values))


@pytest.mark.slow
@pytest.mark.parametrize(
    "loss,formulation",
    [
        pytest.param("hinge", "fused", marks=pytest.mark.tensorflow_only),
        ("hinge", "literal"),
        ("wgan", "reversal"),
    ],
)
def test_xla_compiled_step_trains(loss, formulation):
    # XLA draws other random numbers than TF's kernels for the same seed, so
    # the check is that the compiled step runs and moves every network.
    gan = OneStepGAN(mlp_generator(), mlp_discriminator(norm="batch"),
                     loss=loss, formulation=formulation, seed=0)  # fmt: skip
    gan.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=True)
    before = [v.numpy().copy() for v in gan.trainable_variables]
    history = gan.fit(_points(64), batch_size=32, epochs=1, verbose=0)
    assert gan.jit_compile
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    after = [v.numpy() for v in gan.trainable_variables]
    n_g = len(gan.generator.trainable_variables)
    moved = [not np.allclose(a, b) for a, b in zip(before, after)]
    assert any(moved[:n_g]) and any(moved[n_g:])


@pytest.mark.slow
def test_alternating_gan_saves_and_reloads(tmp_path):
    gan = AlternatingGAN(mlp_generator(), mlp_discriminator(), d_steps=2)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(2e-3))
    gan.fit(_points(64), batch_size=32, epochs=1, verbose=0)
    path = str(tmp_path / "alt.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.d_steps == 2
    assert float(reloaded.g_optimizer.learning_rate) == pytest.approx(2e-3)
    for a, b in zip(gan.g_optimizer.variables, reloaded.g_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    history = reloaded.fit(_points(64), batch_size=32, epochs=1, verbose=0)
    assert "loss" not in history.history


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["onestep", "alternating"])
def test_class_conditional_gan_trains_from_arrays_and_datasets(trainer):
    import tensorflow as tf

    g = kgan.models.dcgan_generator(
        16, channels=1, z_dim=8, num_classes=3, base_channels=8
    )
    d = kgan.models.dcgan_discriminator(
        16, channels=1, num_classes=3, base_channels=8
    )
    if trainer == "onestep":
        gan = OneStepGAN(g, d, seed=0)
        gan.compile(optimizer=keras.optimizers.Adam(1e-3))
    else:
        gan = AlternatingGAN(g, d, seed=0)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    images = np.random.uniform(-1, 1, (16, 16, 16, 1)).astype("float32")
    labels = np.arange(16) % 3
    history = gan.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][-1])
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    history = gan.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][-1])
    with pytest.raises(ValueError, match="labels"):
        gan.fit(images, batch_size=8, verbose=0)
