"""The alternating GAN trainer: the baseline kgan's one-step trainer beats.

This is the `train_step` a Keras user writes today (keras.io's WGAN-GP and
conditional GAN examples), done with care: `d_steps` discriminator updates
(WGAN's n_critic) then one generator update, each with its own optimizer and
a fresh noise batch, the same losses, penalties and metrics as `OneStepGAN`.
The discriminator steps reuse the batch of real images, as keras.io does.

Both optimizers travel in the one `model.optimizer` Keras knows (a
`MultiOptimizer`, see `kgan.training.optimizers`), so Keras saves, restores
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
from kgan.training._base import (
    GANTrainer,
    reduce_scores,
    scale_for_replicas,
)
from kgan.training.optimizers import network_optimizers, split_optimizer

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

    def _loss_scaler(self):
        optimizer = getattr(self, "optimizer", None)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer
        return None

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
    def d_terms(self, images, labels):
        """One discriminator step's loss, D(real) and D(fake) scores.

        The fakes come from a fresh z through G in training mode (its
        BatchNorm statistics move, as in any alternating trainer) and carry
        no gradient.
        """
        z = self.sample_z(ops.shape(images)[0])
        fake = ops.stop_gradient(self.generate(z, labels, training=True))
        real_outputs = self.d_outputs(self.d_input(images), labels)
        self.adapt_augmentation(real_outputs)
        real_scores = reduce_scores(real_outputs)
        fake_scores = self.d_scores(fake, labels)
        d_loss = self.adversarial_loss.d_loss(
            real_scores, fake_scores, images, fake
        ) + self.penalties(images, fake, labels)
        return d_loss, real_scores, fake_scores

    def d_scores(self, images, labels):
        """D's scores of `images`, as D sees them (augmented, noised)."""
        return reduce_scores(self.d_outputs(self.d_input(images), labels))

    def g_terms(self, images, labels, real_scores):
        """The generator step's loss, against the updated discriminator.

        `real_scores` (from the last D step) enter as constants, for the
        losses that compare fake scores with real ones (relativistic).
        """
        z = self.sample_z(ops.shape(images)[0])
        fake = self.generate(z, labels, training=True)
        # Only G's weights are differentiated: D runs as usual.
        g_fake_scores = self.d_scores(fake, labels)
        g_loss = self.adversarial_loss.g_loss(
            ops.stop_gradient(real_scores), g_fake_scores
        )
        return (g_loss + self.generator_penalties(),)

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
            d_loss, real_scores, fake_scores = update(
                d_optimizer, d_vars, lambda: self.d_terms(images, labels)
            )
        (g_loss,) = update(
            g_optimizer,
            g_vars,
            lambda: self.g_terms(images, labels, real_scores),
        )
        # `model.optimizer.iterations` counts training steps, as Keras'
        # callbacks expect: the generator's updates.
        self.optimizer.iterations.assign(g_optimizer.iterations)
        self.update_trackers(d_loss, g_loss, real_scores, fake_scores)
        return self.get_metrics_result()

    def _tape_update(self, optimizer, variables, terms):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = terms()
            loss = self._scale_loss(outputs[0])
        self._apply(optimizer, tape.gradient(loss, variables), variables)
        return outputs

    def _jax_train_step(self, state, data):
        """Keras' JAX `train_step`: `(logs, new state)` from `state`.

        `state` holds the values of the trainable, non-trainable,
        optimizer and metric variables, in Keras' order; the step reads
        and writes them through a stateless scope.
        """
        groups = [
            self.trainable_variables,
            self.non_trainable_variables,
            self.optimizer.variables,
            self.metrics_variables,
        ]
        variables = [v for group in groups for v in group]
        values = [x for group in state for x in group]
        if len(values) != len(variables):
            raise ValueError(
                f"The JAX state holds {len(values)} values for "
                f"{len(variables)} variables."
            )

        def update(optimizer, trainable, terms):
            return self._jax_update(variables, optimizer, trainable, terms)

        mapping = list(zip(variables, values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._step(data, update)
        new_state = tuple(
            [scope.get_current_value(v) for v in group] for group in groups
        )
        return logs, new_state

    def _jax_update(self, variables, optimizer, trainable, terms):
        """`_tape_update` on JAX, inside the step's stateless scope.

        `terms()` runs in a scope of its own in which `trainable` hold the
        traced arguments of `jax.value_and_grad`; what it writes (moving
        statistics, the noise generator's state) is then written to the
        step's scope.
        """
        import jax

        values = [v.value for v in variables]  # the step's current values
        position = {id(v): i for i, v in enumerate(variables)}

        def loss_fn(trainable_values):
            current = list(values)
            for v, value in zip(trainable, trainable_values):
                current[position[id(v)]] = value
            mapping = list(zip(variables, current))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                outputs = terms()
                loss = self._scale_loss(outputs[0])
            written = [scope.get_current_value(v) for v in variables]
            return loss, (outputs, written)

        start = [values[position[id(v)]] for v in trainable]
        (_, (outputs, written)), grads = jax.value_and_grad(
            loss_fn, has_aux=True
        )(start)
        for v, value in zip(variables, written):
            v.assign(value)
        self._apply(optimizer, grads, trainable)
        return outputs

    def _scale_loss(self, loss):
        """The loss to differentiate: per replica, times the loss scale."""
        loss = scale_for_replicas(loss)
        scaler = self._loss_scaler()
        return loss if scaler is None else scaler.scale_loss(loss)

    def _apply(self, optimizer, grads, variables):
        """`optimizer.apply`, with dynamic loss scaling under mixed_float16.

        Keras' `LossScaleOptimizer` cannot step one part of a
        `MultiOptimizer`, so this follows its rule with its scale: unscale
        finite gradients and apply them, growing the scale after
        `dynamic_growth_steps` finite steps in a row; skip a step with
        non-finite gradients and halve the scale. The skip restores the
        values instead of branching, so the same code runs in a
        `tf.function` and in a JAX stateless scope.
        """
        scaler = self._loss_scaler()
        if scaler is None:
            optimizer.apply(grads, variables)
            return
        finite = scaler.check_finite(grads)
        scale = ops.convert_to_tensor(scaler.dynamic_scale)
        grads = [
            ops.where(finite, ops.divide(g, ops.cast(scale, g.dtype)), 0.0)
            for g in grads
        ]
        touched = list(variables) + list(optimizer.variables)
        before = [ops.copy(v.value) for v in touched]
        optimizer.apply(grads, variables)
        for v, old in zip(touched, before):
            v.assign(ops.where(finite, v.value, old))
        counter = ops.convert_to_tensor(scaler.step_counter)
        grow = ops.logical_and(
            finite, ops.equal(counter, scaler.dynamic_growth_steps - 1)
        )
        scaler.step_counter.assign(
            ops.where(
                ops.logical_and(finite, ops.logical_not(grow)),
                counter + 1,
                ops.zeros_like(counter),
            )
        )
        scaler.dynamic_scale.assign(
            ops.where(grow, scale * 2.0, ops.where(finite, scale, scale / 2.0))
        )

    def get_config(self):
        config = super().get_config()
        config["d_steps"] = self.d_steps
        return config


def _default():
    return keras.optimizers.RMSprop(1e-4, rho=0.99)
