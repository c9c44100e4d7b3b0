"""The alternating GAN trainer: the baseline kgan's one-step trainer beats.

This is the `train_step` a Keras user writes today (keras.io's WGAN-GP and
conditional GAN examples), done with care: `d_steps` discriminator updates
(WGAN's n_critic) then one generator update, each with its own optimizer and
a fresh noise batch, the same losses, penalties and metrics as `OneStepGAN`.
The discriminator steps reuse the batch of real images, as keras.io does.

Both optimizers travel in the one `model.optimizer` Keras knows (a
`MultiOptimizer`, see `kgan.training.keras_contracts`), so Keras saves, restores
and, on JAX, carries their state like any model's. The step itself is
written once, with ordinary variable reads and writes; only the gradient
differs by backend (a `tf.GradientTape`, or `jax.value_and_grad`). On JAX
the step must be a pure function of Keras' state, so it runs inside a
`keras.StatelessScope` holding every variable's value and returns the
values the step wrote.
"""

import keras
from keras import ops

from kgan._checks import positive_int
from kgan.training._base import GANTrainer
from kgan.training.keras_contracts import (
    apply_with_loss_scaling,
    jax_train_step,
    loss_scaler,
    network_optimizers,
    scale_for_replicas,
    split_optimizer,
)
from kgan.training.objective import Objective
from kgan.training.terms import reduce_scores

BACKENDS = ("tensorflow", "jax")


@keras.saving.register_keras_serializable(package="kgan")
class AlternatingGAN(GANTrainer):
    """Trains D then G in two passes per step, with two optimizers.

    TensorFlow and JAX backends.

    Args:
        generator, discriminator, loss, regularizers, instance_noise,
            augment, seed: as `kgan.training.OneStepGAN`.
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
        if keras.backend.backend() not in BACKENDS:
            raise ValueError(
                f"AlternatingGAN runs on {' or '.join(BACKENDS)}, not "
                f"{keras.backend.backend()}: use OneStepGAN."
            )
        d_steps = positive_int("d_steps", d_steps)
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        self.d_steps = d_steps

    # -- optimizers -----------------------------------------------------------
    def compile(
        self, d_optimizer=None, g_optimizer=None, ema_momentum=None, **kwargs
    ):
        """Keras' `compile`, with one optimizer per network.

        Args:
            d_optimizer: the discriminator's optimizer (RMSprop(1e-4,
                rho=0.99), Su's setting, when not given).
            g_optimizer: the generator's (likewise).
            ema_momentum: keep an EMA of the generator's weights; sample
                from it with `ema_weights()`; `fit` ends by writing it into
                the generator. (Or pass a `g_optimizer` with `use_ema`.)
            **kwargs: Keras' `compile` arguments (`jit_compile`, ...).
                Under `mixed_float16` Keras wraps the pair in a
                `LossScaleOptimizer`, whose dynamic scale both steps share.
        """
        if kwargs.get("optimizer") is not None:
            raise ValueError(
                "AlternatingGAN takes `d_optimizer` and `g_optimizer`, not "
                "`optimizer`."
            )
        kwargs.pop("optimizer", None)
        d_optimizer = keras.optimizers.get(d_optimizer or _default())
        g_optimizer = keras.optimizers.get(g_optimizer or _default())
        for name, opt in (("d", d_optimizer), ("g", g_optimizer)):
            if isinstance(opt, keras.optimizers.LossScaleOptimizer):
                raise ValueError(
                    f"Pass `{name}_optimizer` unwrapped: under "
                    "mixed_float16 the trainer scales the loss itself."
                )
        if d_optimizer is g_optimizer:
            raise ValueError(
                "`d_optimizer` and `g_optimizer` must be two optimizer "
                "objects: each keeps its own network's state."
            )
        optimizer = split_optimizer(
            d_optimizer, self.generator, g_optimizer, ema_momentum, split=True
        )
        super().compile(optimizer=optimizer, **kwargs)
        if not self.optimizer.built:  # so both optimizers' state exists now
            self.optimizer.build(self.trainable_variables)

    @property
    def d_optimizer(self):
        """The discriminator's optimizer (part of `self.optimizer`)."""
        return self._network_optimizers()[0]

    @property
    def g_optimizer(self):
        """The generator's optimizer (part of `self.optimizer`)."""
        return self._network_optimizers()[1]

    def _network_optimizers(self):
        return network_optimizers(getattr(self, "optimizer", None))

    def get_compile_config(self):
        # The parts, not the MultiOptimizer: `compile` rebuilds the split
        # (and binds it to this generator) when the trainer is reloaded.
        config = super().get_compile_config()
        if not config:
            return config
        config.pop("optimizer", None)
        config["d_optimizer"] = keras.optimizers.serialize(self.d_optimizer)
        config["g_optimizer"] = keras.optimizers.serialize(self.g_optimizer)
        return config

    def compile_from_config(self, config):
        # `compile` builds the optimizer; building it again (as the base
        # class does) would give a LossScaleOptimizer two sets of slots.
        self.compile(**keras.saving.deserialize_keras_object(config))

    # -- the step -------------------------------------------------------------
    def d_step(self, images, labels):
        """One discriminator step's loss, from the objective's groups: D's
        terms and the shared ones (`Objective.d_total`).

        The fakes come from a fresh z through G in training mode (its
        BatchNorm statistics move, as in any alternating trainer) and carry
        no gradient. Returns `(loss, out, logged)`: arrays only, as JAX's
        gradient of the step hands them back.
        """
        z = self.sample_z(ops.shape(images)[0])
        fake = ops.stop_gradient(self.generate(z, labels, training=True))
        real_codes = self.d_outputs(self.d_input(images), labels)
        self.adapt_augmentation(real_codes)
        fake_codes = self.d_outputs(self.d_input(fake), labels)
        out = {
            "z": z, "real_images": images, "fake_images": fake,
            "real_codes": real_codes, "fake_codes": fake_codes,
            "g_fake_codes": fake_codes,  # D's only view: no gradient to G
        }  # fmt: skip
        objective = Objective(
            self.discriminator_terms(out, labels), {}, self.shared_terms(out)
        )
        return objective.d_total, out, objective.logged()

    def g_step(self, images, labels, real_codes):
        """The generator step's loss against the updated discriminator: G's
        terms and the shared ones (`Objective.g_total`).

        `real_codes` (from the last D step) enter as constants, for the
        losses that compare fake scores with real ones (relativistic).
        Only G's weights are differentiated: D runs as usual.
        """
        z = self.sample_z(ops.shape(images)[0])
        fake = self.generate(z, labels, training=True)
        g_fake_codes = self.d_outputs(self.d_input(fake), labels)
        out = {
            "z": z, "real_images": images, "fake_images": fake,
            "real_codes": ops.stop_gradient(real_codes),
            "fake_codes": ops.stop_gradient(g_fake_codes),
            "g_fake_codes": g_fake_codes,
        }  # fmt: skip
        objective = Objective(
            {}, self.generator_terms(out), self.shared_terms(out)
        )
        return objective.g_total, out, objective.logged()

    def train_step(self, *args):
        # Keras' TensorFlow trainer calls `train_step(data)`; its JAX
        # trainer `train_step(state, data)` and expects `(logs, state)`.
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        (data,) = args
        return self._step(data, self._tape_update)

    def _step(self, data, update):
        """`d_steps` D updates, then one G update; returns the logs.

        `update(optimizer, variables, terms)` runs `terms()`, whose first
        output is a loss, and updates `variables` with its gradient.
        """
        images, labels = self.unpack(data)
        d_optimizer, g_optimizer = self._network_optimizers()
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        for _ in range(self.d_steps):
            _, d_out, d_logged = update(
                d_optimizer, d_vars, lambda: self.d_step(images, labels)
            )
        _, _, g_logged = update(
            g_optimizer,
            g_vars,
            lambda: self.g_step(images, labels, d_out["real_codes"]),
        )
        # `model.optimizer.iterations` counts training steps, as Keras'
        # callbacks expect: the generator's updates.
        self.optimizer.iterations.assign(g_optimizer.iterations)
        self.update_trackers(
            d_logged["d_loss"],
            g_logged["g_loss"],
            reduce_scores(d_out["real_codes"]),
            reduce_scores(d_out["fake_codes"]),
        )
        return self.get_metrics_result()

    def _tape_update(self, optimizer, variables, terms):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = terms()
            loss = self._scale_loss(outputs[0])
        self._apply(optimizer, tape.gradient(loss, variables), variables)
        return outputs

    def _jax_train_step(self, state, data):
        """Keras' JAX `train_step`: `(logs, new state)` from `state`, the
        step written once (`_step`) run statelessly."""
        return jax_train_step(
            self, state, data, self._step, self._scale_loss, self._apply
        )

    def _scale_loss(self, loss):
        """The loss to differentiate: per replica, times the loss scale."""
        loss = scale_for_replicas(loss)
        scaler = loss_scaler(getattr(self, "optimizer", None))
        return loss if scaler is None else scaler.scale_loss(loss)

    def _apply(self, optimizer, grads, variables):
        """`optimizer.apply`, with Keras' dynamic loss scaling under
        mixed_float16 (`keras_contracts.apply_with_loss_scaling`)."""
        scaler = loss_scaler(getattr(self, "optimizer", None))
        apply_with_loss_scaling(scaler, optimizer, grads, variables)

    def get_config(self):
        config = super().get_config()
        config["d_steps"] = self.d_steps
        return config


def _default():
    return keras.optimizers.RMSprop(1e-4, rho=0.99)
