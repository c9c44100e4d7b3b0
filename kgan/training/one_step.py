"""The one-step GAN trainer: one loss, one optimizer, one `model.fit`.

Su's post (https://kexue.fm/archives/6387, SPEC §3) folds the discriminator
and generator updates into a single loss with `stop_gradient`:

    L = d_loss(D(x), D(sg G(z))) + D penalties
        + lambda * [g_loss(D(G(z))) - g_loss(D(sg G(z)))]
        + G penalties + shared

`OneStepGAN.objective` writes exactly this, one term a line. The bracket is
zero in value; it carries only its gradient, which reaches the generator
alone (D's parts of its two terms cancel). Terms that belong to one network
and are not adversarial (a generator regulariser, a D penalty) and terms
both networks take in full (O-GAN's correlation, `shared`) stand outside
the bracket, added once. One optimizer step on L is a simultaneous 1:1
update of both networks.

Written literally, L runs D twice on the fake batch and throws away the
weight gradients of both runs. A *formulation* is an exact speed-up of the
same objective, chosen once, at construction:

- `"literal"`: Su's formula as written; any backend, the reference. D sees
  `sg(G(z))` for its own loss and `G(z)` for the generator's term.
- `"reversal"` (zero-sum losses, the WGAN family): g_loss = -(fake part of
  d_loss), so the generator's gradient is D's reversed: one D pass on the
  fakes behind a gradient-reversal identity (scaled by lambda) is exact,
  and the bracket is identically zero. Runs at the cost of a plain step.
- `"fused"` (TensorFlow): one D pass on `G(z)`, one tape, two gradients:
  D's weights take the gradient of the D terms, G's that of the G terms.
  Measured fastest on TensorFlow, with and without XLA
  (benchmarks/train_step.py).

`"auto"` picks reversal for zero-sum losses, else fused on TensorFlow,
else literal.
"""

import keras
from keras import ops

from kgan._checks import non_negative_number
from kgan.training._base import GANTrainer, reduce_scores, scale_for_replicas
from kgan.training.optimizers import network_optimizers, split_optimizer

FORMULATIONS = ("auto", "literal", "reversal", "fused")


@keras.saving.register_keras_serializable(package="kgan")
class OneStepGAN(GANTrainer):
    """Trains a GAN with one single loss and one `fit` (SPEC §3).

    Every weight of D receives exactly the gradient of the discriminator's
    loss (plus its penalties), and every weight of G exactly `g_weight`
    times the gradient of the generator's loss (plus its regularisers),
    whichever formulation computes them.

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
        formulation: `"auto"`, `"literal"`, `"reversal"` (zero-sum losses)
            or `"fused"` (TensorFlow): see the module docstring. All give
            the same update.
        regularizers, instance_noise, augment, seed: see `GANTrainer`.

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
        self.g_weight = non_negative_number("g_weight", g_weight)
        self.formulation = formulation
        self.active_formulation = resolve_formulation(
            formulation, self.zero_sum
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ema_momentum = None

    @property
    def zero_sum(self):
        return bool(getattr(self.adversarial_loss, "zero_sum", False))

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
        self.ema_momentum = ema_momentum
        super().compile(optimizer=optimizer, **kwargs)

    def get_compile_config(self):
        # The parts, not the MultiOptimizer: `compile` rebuilds the split
        # (and binds it to this generator) when the trainer is reloaded.
        config = super().get_compile_config()
        d_optimizer, g_optimizer = network_optimizers(self.optimizer)
        config["optimizer"] = keras.optimizers.serialize(d_optimizer)
        if g_optimizer is not d_optimizer:
            config["g_optimizer"] = keras.optimizers.serialize(g_optimizer)
        config["ema_momentum"] = self.ema_momentum
        return config

    # -- the objective -------------------------------------------------------
    def fake_views(self, fake_images, labels, training):
        if self.active_formulation == "literal":
            return super().fake_views(fake_images, labels, training)
        if self.active_formulation == "reversal":
            fake_images = reverse_gradient(fake_images, self.g_weight)
        view = self.d_outputs(fake_images, labels, training)
        return view, view

    def objective(self, out, labels):
        """SPEC §3's single loss, term by term, from the forward pass `out`.

        Returns a dict of scalars; `total` is the loss one optimizer step
        minimises. `g_loss` is the generator's adversarial loss itself (the
        bracket's value is zero).
        """
        loss = self.adversarial_loss
        real = reduce_scores(out["real_codes"])
        fake = reduce_scores(out["fake_codes"])  # D(sg G(z))
        g_fake = reduce_scores(out["g_fake_codes"])  # D(G(z))
        real_images = out["real_images"]
        sg_fake_images = ops.stop_gradient(out["fake_images"])
        t = {}
        t["d_loss"] = loss.d_loss(real, fake, real_images, sg_fake_images)
        t["d_penalty"] = self.penalties(real_images, sg_fake_images, labels)
        t["g_loss"] = loss.g_loss(ops.stop_gradient(real), g_fake)
        t["g_zero"] = t["g_loss"] - loss.g_loss(ops.stop_gradient(real), fake)
        t["g_penalty"] = self.generator_penalties()
        t["shared"] = self.shared_loss(out)
        t["total"] = (
            t["d_loss"]
            + t["d_penalty"]
            + self.g_weight * t["g_zero"]
            + t["g_penalty"]
            + t["shared"]
        )
        return t

    def shared_loss(self, out):
        """A term both networks take in full (O-GAN's correlation); none
        for a plain GAN."""
        return ops.zeros((), "float32")

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        terms = self.objective(y_pred, self.unpack(x)[1])
        self.track(terms, y_pred)
        return scale_for_replicas(terms["total"])

    def track(self, terms, out):
        """Updates the logged metrics from the objective's terms."""
        self.loss_tracker.update_state(terms["total"])
        self.update_trackers(
            terms["d_loss"] + terms["d_penalty"],
            terms["g_loss"] + terms["g_penalty"],
            reduce_scores(out["real_codes"]),
            reduce_scores(out["fake_codes"]),
        )

    @property
    def metrics(self):
        return [self.loss_tracker] + super().metrics

    def train_step(self, *args):
        # Keras hands `fit`'s batch over as (x, y); the whole batch, labels
        # included, is the input of the GAN's forward pass, so it goes in x.
        *state, data = args
        if self.active_formulation == "fused":
            return self._fused_train_step(data)
        return super().train_step(*state, (data,))

    def _fused_train_step(self, data):
        """One tape, two gradients of the same objective (TensorFlow).

        D's view and G's view are one D pass on `G(z)`: D's weights take the
        gradient of the D terms, G's weights that of the G terms, which is
        the gradient of `total` each network would get from Su's form.
        """
        import tensorflow as tf

        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            out = self(data, training=True)
            t = self.objective(out, self.unpack(data)[1])
            d_total = t["d_loss"] + t["d_penalty"] + t["shared"]
            g_total = self.g_weight * t["g_loss"] + t["g_penalty"] + t["shared"]
            d_total, g_total = (
                self.optimizer.scale_loss(scale_for_replicas(part))
                for part in (d_total, g_total)
            )
        grads = tape.gradient(d_total, d_vars) + tape.gradient(g_total, g_vars)
        del tape
        # Keras builds (and reloads) the optimizer's slots in the order of
        # `self.trainable_variables`: keep it, so a saved trainer resumes.
        by_var = {id(v): g for v, g in zip(d_vars + g_vars, grads)}
        variables = self.trainable_variables
        self.optimizer.apply_gradients([(by_var[id(v)], v) for v in variables])
        self.track(t, out)
        return self.get_metrics_result()

    def get_config(self):
        config = super().get_config()
        config.update(
            {"g_weight": self.g_weight, "formulation": self.formulation}
        )
        return config


def resolve_formulation(formulation, zero_sum):
    """The formulation `formulation` stands for, checked; `"auto"` resolved.

    Measured (benchmarks/train_step.py, CPU, 32 px): the fused step is the
    fastest exact form for non-zero-sum losses on TensorFlow, with XLA
    (1.27x the floor vs literal's 1.36x) and without (1.10x vs 1.24x).
    Reversal runs at the floor wherever it applies.
    """
    tensorflow = keras.backend.backend() == "tensorflow"
    if formulation not in FORMULATIONS:
        raise ValueError(
            f"`formulation` must be one of {FORMULATIONS}. "
            f"Received: formulation={formulation!r}"
        )
    if formulation == "reversal" and not zero_sum:
        raise ValueError(
            "`formulation='reversal'` needs a zero-sum loss (WGAN): use "
            "'auto' or 'literal' for this loss."
        )
    if formulation == "fused" and not tensorflow:
        raise ValueError(
            "`formulation='fused'` needs the TensorFlow backend: use 'auto' "
            f"or 'literal' on {keras.backend.backend()}."
        )
    if formulation != "auto":
        return formulation
    if zero_sum:
        return "reversal"
    return "fused" if tensorflow else "literal"


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
