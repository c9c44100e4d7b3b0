"""OneStepGAN / AlternatingGAN behaviour: training, metrics, errors, saving."""

import keras
import numpy as np
import pytest
from helpers.gan_fixtures import (
    mlp_discriminator,
    mlp_generator,
    ring_of_gaussians,
)

import kgan
from kgan.training import AlternatingGAN, OneStepGAN

pytestmark = pytest.mark.jax


def _points(n=256):
    return ring_of_gaussians(n)[0]


@pytest.mark.parametrize("trainer", ["onestep", "alternating"])
def test_history_logs_the_losses_and_scores_of_the_step(trainer):
    """With the learning rate 0 and a fixed z, the logged values are the
    losses and mean scores of D and G at the initial weights, against
    hinge written out here."""
    from helpers import reference_losses as ref
    from keras import ops

    g, d = mlp_generator(), mlp_discriminator()
    if trainer == "onestep":
        gan = OneStepGAN(g, d, seed=0)
        gan.compile(optimizer=keras.optimizers.SGD(0.0))
    else:
        gan = AlternatingGAN(g, d, seed=0)
        gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    x = _points(32)
    z = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    gan.sample_z = lambda batch_size: ops.convert_to_tensor(z)
    s_r = ops.reshape(d(x), (-1,))
    s_f = ops.reshape(d(g(z)), (-1,))
    want = {
        "d_loss": ref.hinge_d(s_r, s_f),
        "g_loss": ref.hinge_g(s_f),
        "real_score": ops.mean(s_r),
        "fake_score": ops.mean(s_f),
    }
    if trainer == "onestep":  # Su's loss: D's terms, the bracket is 0
        want["loss"] = want["d_loss"]
    history = gan.fit(x, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert set(history.history) == set(want)
    for key, value in want.items():
        np.testing.assert_allclose(
            history.history[key][0], float(value), rtol=1e-5, err_msg=key
        )


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
@pytest.mark.parametrize("trainer", ["onestep", "alternating"])
@pytest.mark.parametrize("loss", ["hinge", "wgan"])
def test_mixed_float16_takes_the_float32_step_to_its_precision(trainer, loss):
    """Under mixed_float16 (a `LossScaleOptimizer` around the one-step
    trainer's optimizer, or the alternating trainer's own scaling of each
    part), one step moves the weights as in float32, to float16's
    precision."""

    def one_step(policy):
        keras.config.set_dtype_policy(policy)
        keras.utils.set_random_seed(0)
        g = kgan.models.dcgan_generator(16, channels=1, z_dim=8,
                                        base_channels=8)  # fmt: skip
        d = kgan.models.dcgan_discriminator(16, channels=1, base_channels=8)
        if trainer == "onestep":
            gan = OneStepGAN(g, d, loss=loss, seed=0)
            gan.compile(optimizer=keras.optimizers.SGD(1e-2))
        else:
            gan = AlternatingGAN(g, d, loss=loss, seed=0)
            gan.compile(keras.optimizers.SGD(1e-2), keras.optimizers.SGD(1e-2))
        scaled = isinstance(gan.optimizer, keras.optimizers.LossScaleOptimizer)
        before = [v.numpy().copy() for v in gan.trainable_variables]
        images = np.random.default_rng(1).uniform(-1, 1, (16, 16, 16, 1))
        gan.fit(images.astype("float32")[:8], batch_size=8, epochs=1,
                verbose=0, shuffle=False)  # fmt: skip
        after = [v.numpy() for v in gan.trainable_variables]
        keras.config.set_dtype_policy("float32")
        return [a - b for a, b in zip(after, before)], scaled

    full, scaled = one_step("float32")
    mixed, scaled_mixed = one_step("mixed_float16")
    assert (scaled, scaled_mixed) == (False, True)
    assert all(a.dtype == b.dtype == np.float32 for a, b in zip(full, mixed))
    # The same step, to float16's precision (its per-weight errors reach a
    # few percent through BatchNorm): the same direction and size.
    a, b = (np.concatenate([x.ravel() for x in step]) for step in (full, mixed))
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert cosine > 0.995
    assert np.linalg.norm(b) == pytest.approx(np.linalg.norm(a), rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    "loss,formulation",
    [
        ("hinge", "fused"),
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
