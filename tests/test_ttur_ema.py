"""TTUR and the generator's weight EMA, through one Keras optimizer."""

import keras
import numpy as np
import pytest
from helpers.gan_fixtures import (
    RecordGenerator,
    mlp_discriminator,
    mlp_generator,
    ring_of_gaussians,
)

from kgan.training import AlternatingGAN, OneStepGAN

pytestmark = pytest.mark.jax


def _values(variables):
    return [v.numpy().copy() for v in variables]


def test_ttur_gives_each_network_its_own_learning_rate(tmp_path):
    g, d = mlp_generator(), mlp_discriminator()
    gan = OneStepGAN(g, d, seed=0)
    gan.compile(
        optimizer=keras.optimizers.SGD(0.1),
        g_optimizer=keras.optimizers.SGD(0.0),
    )
    g0, d0 = _values(g.trainable_variables), _values(d.trainable_variables)
    gan.fit(ring_of_gaussians(32)[0], batch_size=32, epochs=1, verbose=0)
    assert all(
        np.array_equal(a, b) for a, b in zip(g0, _values(g.trainable_variables))
    )
    assert any(
        not np.allclose(a, b)
        for a, b in zip(d0, _values(d.trainable_variables))
    )
    # The split optimizer saves and reloads with the trainer.
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded.optimizer, keras.optimizers.MultiOptimizer)
    g1 = _values(reloaded.generator.trainable_variables)
    reloaded.fit(ring_of_gaussians(32)[0], batch_size=32, epochs=1, verbose=0)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(g1, _values(reloaded.generator.trainable_variables))
    )


def _numpy_ema(steps, momentum):
    ema = [w.copy() for w in steps[0]]
    for weights in steps[1:]:
        ema = [momentum * e + (1 - momentum) * w for e, w in zip(ema, weights)]
    return ema


def test_generator_ema_matches_the_recurrence_and_ends_in_the_generator():
    g, d = mlp_generator(), mlp_discriminator()
    gan = OneStepGAN(g, d, seed=0)
    gan.compile(optimizer=keras.optimizers.SGD(0.05), ema_momentum=0.8)
    record = RecordGenerator()
    gan.fit(ring_of_gaussians(8 * 16)[0], batch_size=16, epochs=1,
            verbose=0, callbacks=[record], shuffle=False)  # fmt: skip
    raw = record.steps[-1]
    expected = _numpy_ema(record.steps, 0.8)
    for got, want in zip(_values(g.trainable_variables), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(raw, expected))
    # The discriminator is not averaged.
    assert len(gan.optimizer.optimizers) == 2
    assert not gan.optimizer.optimizers[0].use_ema


def test_ema_weights_swaps_in_and_out_during_training():
    g, d = mlp_generator(), mlp_discriminator()
    gan = OneStepGAN(g, d, seed=0)
    gan.compile(optimizer=keras.optimizers.SGD(0.05), ema_momentum=0.9)
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 5:
                # `self.model` (not `gan`): on JAX it syncs the trained state.
                generator = self.model.generator
                seen["raw"] = _values(generator.trainable_variables)
                with self.model.ema_weights():
                    seen["ema"] = _values(generator.trainable_variables)
                seen["after"] = _values(generator.trainable_variables)

    gan.fit(ring_of_gaussians(8 * 16)[0], batch_size=16, epochs=1,
            verbose=0, callbacks=[Probe()])  # fmt: skip
    assert any(not np.allclose(a, b) for a, b in zip(seen["raw"], seen["ema"]))
    for a, b in zip(seen["raw"], seen["after"]):
        np.testing.assert_array_equal(a, b)


def test_alternating_gan_ends_fit_with_the_generator_ema():
    g, d = mlp_generator(), mlp_discriminator()
    gan = AlternatingGAN(g, d, seed=0)
    g_opt = keras.optimizers.SGD(0.05, use_ema=True, ema_momentum=0.8)
    gan.compile(keras.optimizers.SGD(0.05), g_opt)
    record = RecordGenerator()
    gan.fit(ring_of_gaussians(6 * 16)[0], batch_size=16, epochs=1,
            verbose=0, callbacks=[record], shuffle=False)  # fmt: skip
    expected = _numpy_ema(record.steps, 0.8)
    for got, want in zip(_values(g.trainable_variables), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_mixed_precision_keeps_the_generator_ema_and_the_ttur_split():
    """Under mixed_float16 Keras wraps the split optimizer in a
    LossScaleOptimizer: the EMA and the saved split must see through it."""
    keras.config.set_dtype_policy("mixed_float16")
    g, d = mlp_generator(), mlp_discriminator()
    gan = OneStepGAN(g, d, seed=0)
    gan.compile(
        optimizer=keras.optimizers.SGD(0.05),
        g_optimizer=keras.optimizers.SGD(0.02),
        ema_momentum=0.5,
    )
    assert isinstance(gan.optimizer, keras.optimizers.LossScaleOptimizer)
    config = gan.get_compile_config()
    assert config["ema_momentum"] == 0.5
    g_learning_rate = config["g_optimizer"]["config"]["learning_rate"]
    assert g_learning_rate == pytest.approx(0.02)
    assert gan.ema_optimizer() is gan.generator_optimizer()
    record = RecordGenerator()
    gan.fit(ring_of_gaussians(4 * 16)[0], batch_size=16, epochs=1,
            verbose=0, callbacks=[record], shuffle=False)  # fmt: skip
    expected = _numpy_ema(record.steps, 0.5)
    for got, want in zip(_values(g.trainable_variables), expected):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("trainer", [OneStepGAN, AlternatingGAN])
def test_a_restored_trainer_writes_the_ema_as_fit_leaves_it(tmp_path, trainer):
    """A run that reached its steps but never wrote its generator is
    finished from the checkpoint: `finalize_ema_weights` gives the weights
    Keras' `fit` ends with (the EMA), not the trained ones."""
    from kgan.callbacks import Checkpoint

    def make():
        gan = trainer(mlp_generator(), mlp_discriminator(), seed=0)
        optimizers = [keras.optimizers.SGD(0.1) for _ in range(2)]
        if trainer is OneStepGAN:
            gan.compile(optimizers[0], ema_momentum=0.5)
        else:
            gan.compile(*optimizers, ema_momentum=0.5)
        return gan

    gan = make()
    checkpoint = Checkpoint(str(tmp_path), save_freq=3)
    gan.fit(ring_of_gaussians(64)[0], batch_size=16, epochs=1,
            steps_per_epoch=3, callbacks=[checkpoint], verbose=0)  # fmt: skip
    after_fit = _values(gan.generator.trainable_variables)

    restored = make()
    assert Checkpoint(str(tmp_path)).load(restored) == 3
    trained = _values(restored.generator.trainable_variables)
    restored.finalize_ema_weights()
    averaged = _values(restored.generator.trainable_variables)
    for want, got, raw in zip(after_fit, averaged, trained):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(a, b) for a, b in zip(averaged, trained))
