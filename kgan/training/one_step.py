"""The one-step GAN trainer: one loss, one optimizer, one `model.fit`.

Su's post (https://kexue.fm/archives/6387) folds the discriminator and
generator updates into a single loss with `stop_gradient`:

    L = d_loss(D(x), D(sg(G(z))))
        + lambda * [g_loss(D(G(z))) - g_loss(D(sg(G(z))))]

The bracket is zero in value; it carries only its gradient, which reaches
the generator alone (the discriminator's parts of its two terms cancel). One
optimizer step on L is a simultaneous 1:1 update of both networks.

The literal formula runs D twice on the fake batch and then throws away the
weight gradients of both runs. kgan computes the same gradients with less:

- `"reversal"` (zero-sum losses, the WGAN family): g_loss = -d_fake, so the
  generator's gradient is the discriminator's reversed; one D pass on the
  fake batch with a gradient-reversal identity in front of it is exact.
- `"fused"` (TensorFlow): one forward pass, one tape, two gradients: the
  discriminator's loss w.r.t. D's weights and lambda * g_loss w.r.t. G's.
  The default without XLA (the default on CPU).
- `"frozen"` (any backend): D on `sg(G(z))` for its own update, and D with
  stop-gradient weights (`stateless_call`) on `G(z)` for the generator's;
  Keras' own `train_step` does the update, so JAX and PyTorch work too.
- `"literal"`: Su's formula as written; the default under XLA, where it
  measured faster than the other two.
"""

import keras
from keras import ops

from kgan.training._base import GANTrainer, reduce_scores, scale_for_replicas
from kgan.training.optimizers import bind_generator, split_optimizer

FORMULATIONS = ("auto", "reversal", "fused", "frozen", "literal")


@keras.saving.register_keras_serializable(package="kgan")
class OneStepGAN(GANTrainer):
    """Trains a GAN with one single loss and one `fit` (SPEC §3).

    Every weight of D receives exactly the gradient of the discriminator's
    loss, and every weight of G exactly `g_weight` times the gradient of the
    generator's loss, whichever formulation computes them.

    Args:
        generator: a Keras model, `z` (or `[z, labels]`) -> images in [-1, 1].
        discriminator: a Keras model, images (or `[images, labels]`) -> scores
            `(batch, 1)` (or `(batch, z_dim)`, averaged).
        loss: adversarial loss name, `kgan.losses.AdversarialLoss` or a
            `(d_loss, g_loss)` pair. Default `"hinge"`.
        g_weight: SPEC §3's lambda, the weight of the generator's part of the
            loss. With SGD it sets the G:D update ratio; Adam and RMSprop
            normalise each weight's gradient scale away, so there use
            `compile(g_optimizer=...)` with another learning rate (TTUR).
            Default 1.
        formulation: `"auto"` (reversal for zero-sum losses, else fused on
            TensorFlow without XLA, literal with XLA, frozen on other
            backends; measured in benchmarks/train_step.py) or one of
            `"reversal"`,
            `"fused"`, `"frozen"`, `"literal"` (see the module docstring).
        regularizers, instance_noise, seed: see `GANTrainer`.

    Example:

    ```python
    gan = kgan.training.OneStepGAN(
        kgan.models.dcgan_generator(32, channels=1, z_dim=64),
        kgan.models.dcgan_discriminator(32, channels=1),
        loss="hinge",
    )
    gan.compile(optimizer=keras.optimizers.RMSprop(1e-4, rho=0.99))
    gan.fit(images, batch_size=64, epochs=1)
    ```

    Reference:
        Su Jianlin, "Training a GAN in one step with Keras",
        https://kexue.fm/archives/6387.
    """

    def __init__(
        self,
        generator,
        discriminator,
        loss="hinge",
        g_weight=1.0,
        formulation="auto",
        **kwargs,
    ):
        super().__init__(generator, discriminator, loss=loss, **kwargs)
        if formulation not in FORMULATIONS:
            raise ValueError(
                f"`formulation` must be one of {FORMULATIONS}. "
                f"Received: formulation={formulation!r}"
            )
        self.g_weight = float(g_weight)
        self.formulation = formulation

    def compile(
        self, optimizer="rmsprop", g_optimizer=None, ema_momentum=None, **kwargs
    ):
        """Keras' `compile`, plus TTUR and a generator EMA in one optimizer.

        Args:
            optimizer: the optimizer (of both networks, or of D alone when
                `g_optimizer` is given).
            g_optimizer: an optimizer for the generator (TTUR: e.g. Adam with
                another learning rate); both travel in one Keras
                `MultiOptimizer`.
            ema_momentum: keep an EMA of the generator's weights; sample
                from it with `ema_weights()`; `fit` ends by writing it into
                the generator (Keras' `use_ema` behaviour).
            **kwargs: Keras' `compile` arguments (`jit_compile`, ...).
        """
        optimizer = split_optimizer(
            optimizer, self.generator, g_optimizer, ema_momentum
        )
        super().compile(optimizer=optimizer, **kwargs)
        bind_generator(self.optimizer, self.generator)

    @property
    def active_formulation(self):
        """The formulation `"auto"` resolves to for this loss and backend."""
        if self.formulation == "reversal" and not self.zero_sum:
            raise ValueError(
                f"`formulation='reversal'` needs a zero-sum loss (WGAN); "
                f"{self.adversarial_loss.name!r} is not."
            )
        if self.formulation == "fused" and not _is_tensorflow():
            raise ValueError(
                "`formulation='fused'` needs the TensorFlow backend; use "
                "'frozen' on JAX / PyTorch."
            )
        if self.formulation != "auto":
            return self.formulation
        if self.zero_sum:
            return "reversal"
        if not _is_tensorflow():
            return "frozen"
        # Measured (benchmarks/train_step.py, 32 px, CPU): under XLA the
        # two-tape fused step slows to ~2x the floor, Su's literal form runs
        # at ~1.2x, the frozen one at ~1.3x.
        return "literal" if self._xla() else "fused"

    def _xla(self):
        return bool(getattr(self, "compiled", False) and self.jit_compile)

    @property
    def zero_sum(self):
        return bool(getattr(self.adversarial_loss, "zero_sum", False))

    # -- the step ------------------------------------------------------------
    def train_step(self, *args):
        # Keras hands `fit`'s batch over as (x, y); the whole batch, labels
        # included, is the input of the GAN's forward pass, so it goes in x.
        *state, data = args
        if self.active_formulation == "fused":
            return self._fused_train_step(data)
        return super().train_step(*state, (data,))

    def call(self, data, training=False):
        """The forward pass of one step; returns the tensors of the loss.

        `fake_scores` is D's view of the fake batch (its own gradient);
        `g_fake_scores`, where present, the generator's. `*_codes` are the
        raw discriminator outputs (O-GAN's codes `e(x)`).
        """
        images, labels = self.unpack(data)
        z = self.sample_z(ops.shape(images)[0])
        fake = self.generate(z, labels, training)
        real_in, fake_in = self.noisy(images), self.noisy(fake)
        out = {"z": z, "real_images": images, "fake_images": fake}
        out["real_codes"] = self.d_outputs(real_in, labels, training)
        mode = self.active_formulation
        if mode == "reversal":
            d_view = reverse_gradient(fake_in, self.g_weight)
        elif mode == "fused":
            d_view = fake_in
        else:
            d_view = ops.stop_gradient(fake_in)
        out["fake_codes"] = self.d_outputs(d_view, labels, training)
        # The generator's own view comes last, so it sees D in the state its
        # own passes left (spectral norm updates its kernel on every call).
        if mode == "frozen":
            out["g_fake_codes"] = self.frozen_d_outputs(fake_in, labels)
        elif mode == "literal":  # D(G(z)) with every gradient, as Su wrote it
            out["g_fake_codes"] = self.d_outputs(fake_in, labels, training)
        for key in ("real", "fake", "g_fake"):
            if f"{key}_codes" in out:
                out[f"{key}_scores"] = reduce_scores(out[f"{key}_codes"])
        return out

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        out = y_pred
        d_loss = self.d_loss_of(out, self.unpack(x)[1])
        g_loss = self.g_loss_of(out, out.get("g_fake_scores"))
        shared = self.shared_loss_of(out)
        mode = self.active_formulation
        if mode == "reversal":
            # The reversal identity already hands G its gradient: g_loss is
            # reported, not optimised.
            total = d_loss + shared
        elif mode == "literal":
            # Zero in value: it carries only G's gradient (Su's t2_loss).
            g_zero = g_loss - self.g_loss_of(out, out["fake_scores"])
            total = d_loss + self.g_weight * g_zero + shared
        else:
            # Gradient of lambda * g_loss, value 0: the reported loss is the
            # value of Su's single loss whatever the formulation.
            g_zero = g_loss - ops.stop_gradient(g_loss)
            total = d_loss + self.g_weight * g_zero + shared
        self.update_trackers(
            d_loss, g_loss, out["real_scores"], out["fake_scores"]
        )
        return scale_for_replicas(total)

    def g_loss_of(self, out, fake_scores=None):
        if fake_scores is None:
            fake_scores = out["fake_scores"]
        return (
            self.adversarial_loss.g_loss(
                ops.stop_gradient(out["real_scores"]), fake_scores
            )
            + self.generator_penalties()
        )

    def shared_loss_of(self, out):
        """A term whose gradient both networks take in full (O-GAN's
        correlation); none for a plain GAN."""
        return 0.0

    def d_loss_of(self, out, labels):
        return self.adversarial_loss.d_loss(
            out["real_scores"],
            out["fake_scores"],
            out["real_images"],
            ops.stop_gradient(out["fake_images"]),
        ) + self.penalties(out["real_images"], out["fake_images"], labels)

    def _fused_train_step(self, data):
        import tensorflow as tf

        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            out = self(data, training=True)
            d_loss = self.d_loss_of(out, self.unpack(data)[1])
            g_loss = self.g_loss_of(out)
            shared = self.shared_loss_of(out)
            d_total = self.optimizer.scale_loss(
                scale_for_replicas(d_loss + shared)
            )
            g_total = self.optimizer.scale_loss(
                scale_for_replicas(self.g_weight * g_loss + shared)
            )
        grads = tape.gradient(d_total, d_vars) + tape.gradient(g_total, g_vars)
        del tape
        # Keras builds (and reloads) the optimizer's slots in the order of
        # `self.trainable_variables`: keep it, so a saved trainer resumes.
        by_var = {id(v): g for v, g in zip(d_vars + g_vars, grads)}
        variables = self.trainable_variables
        self.optimizer.apply_gradients([(by_var[id(v)], v) for v in variables])
        self.update_trackers(
            d_loss, g_loss, out["real_scores"], out["fake_scores"]
        )
        self._loss_tracker.update_state(d_loss + shared)
        return self.get_metrics_result()

    def get_config(self):
        config = super().get_config()
        config.update(
            {"g_weight": self.g_weight, "formulation": self.formulation}
        )
        return config


def reverse_gradient(x, scale):
    """Identity forward; the backward pass multiplies by `-scale`."""

    @ops.custom_gradient
    def _reverse(t):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.multiply(upstream, ops.cast(-scale, upstream.dtype))

        return ops.copy(t), grad

    return _reverse(x)


def _is_tensorflow():
    return keras.backend.backend() == "tensorflow"
