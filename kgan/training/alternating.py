"""The alternating GAN trainer: the baseline kgan's one-step trainer beats.

This is the `train_step` a Keras user writes today (keras.io's WGAN-GP and
conditional GAN examples), done with care: `d_steps` discriminator updates
(WGAN's n_critic) then one generator update, each with its own optimizer and
a fresh noise batch, the same losses, penalties and metrics as `OneStepGAN`.
The discriminator steps reuse the batch of real images, as keras.io does.
"""

import keras
from keras import ops

from kgan.training._base import (
    GANTrainer,
    reduce_scores,
    scale_for_replicas,
)
from kgan.training.optimizers import unalias


@keras.saving.register_keras_serializable(package="kgan")
class AlternatingGAN(GANTrainer):
    """Trains D then G in two passes per step, with two optimizers.

    TensorFlow backend (its `train_step` uses `tf.GradientTape`).

    Args:
        generator, discriminator, loss, regularizers, instance_noise, seed:
            as `kgan.training.OneStepGAN`.
        d_steps: discriminator updates per generator update (n_critic).

    Example:

    ```python
    gan = kgan.training.AlternatingGAN(g, d, loss="wgan", d_steps=5,
                                       regularizers=[GradientPenalty(10)])
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-4, 0.0, 0.9),
                g_optimizer=keras.optimizers.Adam(1e-4, 0.0, 0.9))
    gan.fit(images, batch_size=64)
    ```

    Reference:
        Goodfellow et al., "Generative Adversarial Networks",
        https://arxiv.org/abs/1406.2661; n_critic from Arjovsky et al.,
        https://arxiv.org/abs/1701.07875.
    """

    def __init__(
        self, generator, discriminator, loss="hinge", d_steps=1, **kwargs
    ):
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        if (
            isinstance(d_steps, bool)
            or not isinstance(d_steps, int)
            or (d_steps < 1)
        ):
            raise ValueError(
                f"`d_steps` must be a positive integer. Received: "
                f"d_steps={d_steps!r}"
            )
        self.d_steps = d_steps

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Keras' `compile` arguments (`jit_compile`, `steps_per_execution`,
        ...) plus one optimizer per network (RMSprop(1e-4, rho=0.99) each,
        Su's setting, when not given)."""
        kwargs.setdefault("optimizer", None)
        super().compile(**kwargs)
        self.d_optimizer = _loss_scaled(
            d_optimizer or keras.optimizers.RMSprop(1e-4, rho=0.99)
        )
        self.g_optimizer = _loss_scaled(
            g_optimizer or keras.optimizers.RMSprop(1e-4, rho=0.99)
        )
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def train_step(self, data):
        import tensorflow as tf

        images, labels = self.unpack(data)
        batch = ops.shape(images)[0]
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        for _ in range(self.d_steps):
            fake = self.generate(self.sample_z(batch), labels, training=True)
            fake = ops.stop_gradient(fake)
            with tf.GradientTape() as tape:
                real_scores = reduce_scores(self.d_outputs(self.noisy(images), labels))
                fake_scores = reduce_scores(self.d_outputs(self.noisy(fake), labels))
                d_loss = self.adversarial_loss.d_loss(
                    real_scores, fake_scores, images, fake
                ) + self.penalties(images, fake, labels)
                scaled = self.d_optimizer.scale_loss(scale_for_replicas(d_loss))
            grads = tape.gradient(scaled, d_vars)
            self.d_optimizer.apply_gradients(zip(grads, d_vars))

        with tf.GradientTape() as tape:
            fake = self.generate(self.sample_z(batch), labels, training=True)
            # Only G's weights are differentiated: D runs as usual.
            g_fake_scores = reduce_scores(self.d_outputs(self.noisy(fake), labels))
            g_loss = (
                self.adversarial_loss.g_loss(
                    ops.stop_gradient(real_scores), g_fake_scores
                )
                + self.generator_penalties()
            )
            scaled = self.g_optimizer.scale_loss(scale_for_replicas(g_loss))
        grads = tape.gradient(scaled, g_vars)
        self.g_optimizer.apply_gradients(zip(grads, g_vars))

        self.update_trackers(d_loss, g_loss, real_scores, fake_scores)
        return self.get_metrics_result()

    def get_compile_config(self):
        config = super().get_compile_config()
        config.pop("optimizer", None)
        config["d_optimizer"] = keras.optimizers.serialize(self.d_optimizer)
        config["g_optimizer"] = keras.optimizers.serialize(self.g_optimizer)
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)

    def generator_optimizer(self):
        return self.g_optimizer

    def fit(self, *args, **kwargs):
        history = super().fit(*args, **kwargs)
        # Keras finalises only `model.optimizer`; do the same for G's EMA so
        # both trainers end `fit` with the averaged generator.
        ema = self.ema_optimizer()
        if ema is not None:
            ema.finalize_variable_values(self.generator.trainable_variables)
            unalias(self.generator.trainable_variables)
        return history

    def current_step(self):
        return self.g_optimizer.iterations

    def get_config(self):
        config = super().get_config()
        config["d_steps"] = self.d_steps
        return config


def _loss_scaled(optimizer):
    """Wraps an optimizer for loss scaling under `mixed_float16`, as Keras'
    `compile` does for `model.optimizer`."""
    optimizer = keras.optimizers.get(optimizer)
    policy = keras.config.dtype_policy()
    if policy.name == "mixed_float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
