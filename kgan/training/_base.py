"""What every kgan trainer shares: data, noise, scores, checks and metrics.

A trainer is a `keras.Model` that owns a generator and a discriminator, both
ordinary Keras models. The batch a trainer sees is `images` or
`(images, labels)`; the latent noise is Gaussian (`z ~ N(0, I)`, as Su's
scripts draw it) and is drawn inside the step from a seeded
`keras.random.SeedGenerator`. What D sees, the objective's terms, the
weight EMA and saving are mixins of their own (`_inputs`, `terms`,
`_ema`, `_serialization`).
"""

import keras
from keras import ops

from kgan import losses as kgan_losses
from kgan._seed_state import SavedSeedState
from kgan.callbacks.nan import with_nan_stop
from kgan.training import checks
from kgan.training._ema import WeightAverage
from kgan.training._inputs import DiscriminatorInputs, as_augment
from kgan.training._serialization import TrainerSerialization
from kgan.training.keras_contracts import (
    replica_info,
    traced_iterations,
    unalias,
)
from kgan.training.terms import ObjectiveTerms


class GANTrainer(
    SavedSeedState,
    DiscriminatorInputs,
    ObjectiveTerms,
    WeightAverage,
    TrainerSerialization,
    keras.Model,
):
    """Base class of the kgan trainers (not used directly).

    Args:
        generator: a Keras model mapping `z` (or `[z, labels]`) to images.
        discriminator: a Keras model mapping images (or `[images, labels]`)
            to scores of shape `(batch, 1)` or `(batch, z_dim)`; a vector
            score is averaged over its last axis (O-GAN's `avg(e(x))`).
        loss: an adversarial loss name (`"hinge"`, `"ns"`, `"wgan"`, ...),
            a `kgan.losses.AdversarialLoss` or a `(d_loss, g_loss)` pair.
        regularizers: penalties from `kgan.losses` (gradient penalty, R1,
            WGAN-div on the discriminator; orthogonal regularisation on the
            generator).
        instance_noise: an optional `kgan.losses.InstanceNoise` schedule added
            to every discriminator input.
        augment: DiffAugment on every discriminator input, real and fake:
            a `kgan.layers.DiffAugment` (or any Keras layer taking
            `training=True`), a policy string such as
            `"color,translation,cutout"`, or None. Each D call draws its
            own augmentation; gradient penalties differentiate through it.
            An adaptive one (`DiffAugment(target=0.6)`, ADA's heuristic)
            is fed D's verdicts on the real images of every D step (the
            loss needs a `decision_threshold`: hinge, ns, lsgan), and its
            probability is logged as `augment_p`.
        seed: seed of the noise generator (a policy string's DiffAugment
            takes `seed + 1`).
    """

    def __init__(
        self,
        generator,
        discriminator,
        loss="hinge",
        regularizers=(),
        instance_noise=None,
        augment=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        checks.check_pair(generator, discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.adversarial_loss = kgan_losses.get_loss(loss)
        self.regularizers = list(regularizers)
        self.instance_noise = instance_noise
        self.augment = as_augment(augment, seed)
        self.adaptive_augment = (
            getattr(self.augment, "target", None) is not None
        )
        if self.adaptive_augment:
            checks.check_adaptive_augment(self.adversarial_loss)
        self.seed = seed
        self.conditional = len(generator.inputs) == 2
        self.z_dim = int(generator.inputs[0].shape[-1])
        self.image_shape = tuple(generator.outputs[0].shape[1:])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.traced_step = None  # see `compute_loss_and_updates`
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="real_score")
        self.fake_score_tracker = keras.metrics.Mean(name="fake_score")
        # ADA's probability, logged only when it adapts.
        self.augment_p_tracker = (
            keras.metrics.Mean(name="augment_p")
            if self.adaptive_augment
            else None
        )
        # Both networks are built models, so the trainer is built too (and
        # a checkpoint can be loaded before `fit`).
        self.built = True

    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit`, after a quick check of the first batch.

        `x` is an array of images in [-1, 1] (with `y` the integer labels of
        a class-conditional GAN), or a `tf.data.Dataset` of `images` or
        `(images, labels)`. A `StopOnNaN` joins the callbacks.
        """
        checks.check_fit_data(x, y, self.image_shape, self.conditional)
        if hasattr(x, "element_spec"):  # a dataset shuffles itself
            kwargs.setdefault("shuffle", False)
        kwargs["callbacks"] = with_nan_stop(kwargs.get("callbacks"))
        history = super().fit(x, y, **kwargs)
        if self.ema_optimizer() is not None:
            # Keras ended `fit` by writing the EMA into the weights; give
            # them buffers of their own (see `optimizers.unalias`).
            unalias(self.averaged_variables())
        return history

    # -- pieces of the forward pass -----------------------------------------
    def unpack(self, data):
        """`data` is `images`, `(images,)` or `(images, labels)`."""
        if isinstance(data, (tuple, list)):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            images, labels = data, None
        if self.conditional and labels is None:
            raise ValueError(
                "This GAN is class-conditional but the batch has no labels. "
                "Feed (images, labels)."
            )
        return images, labels

    def sample_z(self, batch_size):
        replicas, replica = replica_info()
        if replicas == 1:
            return keras.random.normal(
                (batch_size, self.z_dim), seed=self.seed_generator
            )
        # Under tf.distribute every replica holds the same generator state:
        # each draws the whole global batch of z and keeps its own slice, or
        # all replicas would train on the same noise.
        z = keras.random.normal(
            (replicas * batch_size, self.z_dim), seed=self.seed_generator
        )
        return ops.slice(z, [replica * batch_size, 0], [batch_size, self.z_dim])

    def generate(self, z, labels, training):
        inputs = [z, labels] if self.conditional else z
        return self.generator(inputs, training=training)

    def d_outputs(self, images, labels, training=True):
        """Raw discriminator outputs `(batch, k)`."""
        inputs = [images, labels] if self.conditional else images
        return self.discriminator(inputs, training=training)

    def fake_views(self, fake_images, labels, training):
        """D's view of the fake batch for its own loss, and G's view.

        Su's literal form: D on `sg(G(z))`, then D on `G(z)` with every
        gradient, both from the same D state. `OneStepGAN` swaps in its
        exact speed-ups.
        """
        return self.two_views(
            ops.stop_gradient(fake_images), fake_images, labels, training
        )

    def two_views(self, d_input, g_input, labels, training):
        """D's outputs on `d_input`, then on `g_input`, both from the
        state D is in now."""
        d = self.discriminator
        before = [ops.copy(v.value) for v in d.variables]  # a read, no alias
        d_view = self.d_outputs(d_input, labels, training)
        # G's pass must see the D that D's own pass saw, or the bracket does
        # not cancel in D: a training call may change D (spectral norm
        # rewrites its kernel, BN its moving statistics), so undo that pass's
        # changes; G's pass then makes the same ones again.
        for v, value in zip(d.variables, before):
            v.assign(value)
        g_view = self.d_outputs(g_input, labels, training)
        return d_view, g_view

    def call(self, data, training=False):
        """The GAN's forward pass on one batch: a dict of fixed keys.

        `data` is `images` or `(images, labels)`. Returns `z`,
        `real_images`, `fake_images` and the raw discriminator outputs
        `real_codes` (D(x)), `fake_codes` (D's view of the fakes, for its
        own loss) and `g_fake_codes` (the generator's view), shape
        `(batch, k)`: O-GAN's codes `e(x)` when k = z_dim. (To sample
        images, call the generator: `trainer.generator(z)` or
        `kgan.sample`.)
        """
        images, labels = self.unpack(data)
        z = self.sample_z(ops.shape(images)[0])
        fake = self.generate(z, labels, training)
        real_codes = self.d_outputs(self.d_input(images), labels, training)
        if training:
            self.adapt_augmentation(real_codes)
        # D's views come after D(x), the generator's last: each sees D in
        # the state the earlier passes left (spectral norm updates its
        # kernel on every training call). Both views see one augmentation
        # of the fakes, so the one-step bracket still cancels in D.
        fake_codes, g_fake_codes = self.fake_views(
            self.d_input(fake), labels, training
        )
        return {
            "z": z,
            "real_images": images,
            "fake_images": fake,
            "real_codes": real_codes,
            "fake_codes": fake_codes,
            "g_fake_codes": g_fake_codes,
        }

    def current_step(self):
        """Training steps done so far (the optimizer's iteration count)."""
        traced = getattr(self, "traced_step", None)
        if traced is not None:
            return traced
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None:
            return ops.zeros((), "int64")
        return optimizer.iterations

    def compute_loss_and_updates(self, *args, optimizer_variables=None, **kw):
        """Keras' JAX loss function, with the step readable inside it.

        During a JAX `fit` Keras detaches the optimizer variables' values
        (they travel as the step function's state), so `optimizer.iterations`
        cannot be read in the forward pass, where the instance-noise
        schedule needs it. The traced iteration count is handed to
        `current_step` for the duration of this (traced) call.
        """
        self.traced_step = traced_iterations(
            self.optimizer, optimizer_variables
        )
        try:
            return super().compute_loss_and_updates(
                *args, optimizer_variables=optimizer_variables, **kw
            )
        finally:
            self.traced_step = None

    def update_trackers(self, d_loss, g_loss, real_scores, fake_scores):
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.real_score_tracker.update_state(ops.mean(real_scores))
        self.fake_score_tracker.update_state(ops.mean(fake_scores))
        if self.adaptive_augment:
            self.augment_p_tracker.update_state(self.augment.probability.value)

    @property
    def metrics(self):
        # The trainer's own trackers (keras.io's custom-`train_step`
        # pattern); subclasses append theirs.
        trackers = [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.real_score_tracker,
            self.fake_score_tracker,
        ]
        if self.adaptive_augment:
            trackers.append(self.augment_p_tracker)
        return trackers
