"""The one-step GAN trainer: one loss, one optimizer, one `model.fit`.

Su's post (https://kexue.fm/archives/6387) folds the discriminator
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
- `"fused"`: one D pass on `G(z)` and two gradients of it: D's weights
  take the gradient of the D terms, G's that of the G terms (TensorFlow:
  one tape, two `gradient` calls; JAX: two pullbacks of one `jax.vjp`).
  Measured fastest on TensorFlow, with and without XLA
  (benchmarks/train_step.py).

`"auto"` picks reversal for zero-sum losses, else fused (on both
backends: `resolve_formulation` has the measurements).
"""

import keras
from keras import ops

from kgan._checks import non_negative_number
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

FORMULATIONS = ("auto", "literal", "reversal", "fused")


@keras.saving.register_keras_serializable(package="kgan")
class OneStepGAN(GANTrainer):
    """Trains a GAN with one single loss and one `fit` (Su's one-step form).

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
        g_weight: Su's lambda, the weight of the generator's part of the
            loss. With SGD it sets the G:D update ratio; Adam and RMSprop
            normalise each weight's gradient scale away, so there use
            `compile(g_optimizer=...)` with another learning rate (TTUR).
            Default 1.
        formulation: `"auto"`, `"literal"`, `"reversal"` (zero-sum losses)
            or `"fused"`: see the module docstring. All give
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
        # A G or shared term of a subclass may read D(G(z)): reversal then
        # needs a second D pass, which "auto" avoids.
        self.reads_generator_view = _overrides(
            self, "generator_terms", "shared_terms"
        )
        self.active_formulation = resolve_formulation(
            formulation, self.zero_sum, self.reads_generator_view
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
        if self.active_formulation == "fused":
            view = self.d_outputs(fake_images, labels, training)
            return view, view
        # Reversal: D's view hands G the reversed gradient of D's loss. A
        # term of G's own (or a shared one) that reads D must see the
        # fakes unreversed: a second pass, as Su's literal form makes.
        reversed_fakes = reverse_gradient(fake_images, self.g_weight)
        if not self.reads_generator_view:
            view = self.d_outputs(reversed_fakes, labels, training)
            return view, view
        return self.two_views(reversed_fakes, fake_images, labels, training)

    def objective(self, out, labels):
        """Su's single loss (https://kexue.fm/archives/6387), term by term,
        from the forward pass `out`: an `Objective` whose `total` one
        optimizer step minimises.

        D's, G's and the shared terms come from `discriminator_terms`,
        `generator_terms` and `shared_terms`. G's adversarial loss enters
        through the bracket `g_loss(D(G(z))) - g_loss(D(sg G(z)))`: zero in
        value, it carries only its gradient, which reaches G alone (D's
        parts of its two terms cancel). Under gradient reversal D's own
        loss already hands G that gradient, and the bracket is 0.
        """
        d_terms = self.discriminator_terms(out, labels)
        g_terms = self.generator_terms(out)
        if self.active_formulation == "reversal":
            bracket = ops.zeros((), "float32")
        else:
            real = ops.stop_gradient(reduce_scores(out["real_codes"]))
            fake = reduce_scores(out["fake_codes"])  # D(sg G(z))
            bracket = g_terms["g_loss"] - self.adversarial_loss.g_loss(
                real, fake
            )
        return Objective(
            d_terms,
            g_terms,
            self.shared_terms(out),
            g_weight=self.g_weight,
            bracket=bracket,
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        objective = self.objective(y_pred, self.unpack(x)[1])
        self.track(objective, y_pred)
        return scale_for_replicas(objective.total)

    def track(self, objective, out):
        """Updates the logged metrics from the objective's terms."""
        self.loss_tracker.update_state(objective.total)
        logged = objective.logged()
        self.update_trackers(
            logged["d_loss"],
            logged["g_loss"],
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
        if self.active_formulation == "fused" and state:
            return self._fused_jax_train_step(*state, data)
        if self.active_formulation == "fused":
            return self._fused_train_step(data)
        return super().train_step(*state, (data,))

    def _fused_train_step(self, data):
        """One tape, two gradients of the same objective (TensorFlow).

        D's view and G's view are one D pass on `G(z)`: D's weights take the
        gradient of `d_total`, G's weights that of `g_total`, which is the
        gradient of `total` each network would get from Su's form.
        """
        import tensorflow as tf

        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            out = self(data, training=True)
            objective = self.objective(out, self.unpack(data)[1])
            d_total, g_total = (
                self.optimizer.scale_loss(scale_for_replicas(part))
                for part in (objective.d_total, objective.g_total)
            )
        grads = tape.gradient(d_total, d_vars) + tape.gradient(g_total, g_vars)
        del tape
        # Keras builds (and reloads) the optimizer's slots in the order of
        # `self.trainable_variables`: keep it, so a saved trainer resumes.
        by_var = {id(v): g for v, g in zip(d_vars + g_vars, grads)}
        variables = self.trainable_variables
        self.optimizer.apply_gradients([(by_var[id(v)], v) for v in variables])
        self.track(objective, out)
        return self.get_metrics_result()

    def _fused_jax_train_step(self, state, data):
        """The fused step on JAX: Keras' `(logs, state)` from `state`.

        One forward pass; `jax.vjp` pulls back `d_total` to D's weights and
        `g_total` to G's (`keras_contracts.part_gradients`); one optimizer
        update of both, as the TensorFlow fused step.
        """
        scaler = loss_scaler(self.optimizer)

        def scale(loss):
            loss = scale_for_replicas(loss)
            return loss if scaler is None else scaler.scale_loss(loss)

        def apply(optimizer, grads, variables):
            inner = optimizer if scaler is None else scaler.inner_optimizer
            apply_with_loss_scaling(scaler, inner, grads, variables)

        def step(data, update):
            parts = (
                self.discriminator.trainable_variables,
                self.generator.trainable_variables,
            )

            def terms():
                out = self(data, training=True)
                objective = self.objective(out, self.unpack(data)[1])
                # The trackers' writes leave the pass as non-trainable state.
                self.track(objective, out)
                return ((objective.d_total, objective.g_total),)

            update(self.optimizer, self.trainable_variables, terms, parts)
            return self.get_metrics_result()

        return jax_train_step(self, state, data, step, scale, apply)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"g_weight": self.g_weight, "formulation": self.formulation}
        )
        return config


def resolve_formulation(formulation, zero_sum, reads_generator_view=False):
    """The formulation `formulation` stands for, checked; `"auto"` resolved.

    Measured (benchmarks/train_step.py, 2-core CPU, 32 px, batch 64): the
    fused step is the fastest exact form for non-zero-sum losses on both
    backends: TensorFlow 1.01x the floor (literal 1.20x), with XLA too;
    JAX on the ResNet pair 1.05x the floor (literal 1.33x). Reversal runs
    at the floor wherever it applies, unless a term of G's own or a shared
    one reads D's outputs (`reads_generator_view`): it then runs D twice on
    the fakes, like literal, and "auto" picks as for a loss that is not
    zero-sum.
    """
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
    if formulation != "auto":
        return formulation
    if zero_sum and not reads_generator_view:
        return "reversal"
    return "fused"


def _overrides(trainer, *names):
    """True if the trainer's class redefines any of the `OneStepGAN`
    methods `names`."""
    return any(
        getattr(type(trainer), name) is not getattr(OneStepGAN, name)
        for name in names
    )


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
