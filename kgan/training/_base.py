"""What every kgan trainer shares: data, noise, scores, checks and metrics.

A trainer is a `keras.Model` that owns a generator and a discriminator, both
ordinary Keras models. The batch a trainer sees is `images` or
`(images, labels)`; the latent noise is Gaussian (SPEC: `z ~ N(0, I)`) and is
drawn inside the step from a seeded `keras.random.SeedGenerator`.
"""

import keras
from keras import ops

from kgan import losses as kgan_losses
from kgan._seed_state import SavedSeedState
from kgan.callbacks.nan import with_nan_stop
from kgan.layers.diff_augment import DiffAugment
from kgan.training import checks
from kgan.training.optimizers import (
    network_optimizers,
    swapped_ema_weights,
    unalias,
)


class GANTrainer(SavedSeedState, keras.Model):
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

    def finalize_ema_weights(self):
        """Writes the weight EMA into the weights, as Keras does when `fit`
        ends: for a trainer restored from a checkpoint that has nothing
        left to train (a no-op without EMA)."""
        ema = self.ema_optimizer()
        if ema is not None:
            ema.finalize_variable_values(self.averaged_variables())
            unalias(self.averaged_variables())

    def ema_weights(self):
        """Context manager: the generator holds its EMA weights inside.

        With `compile(..., ema_momentum=m)`, sample from the averaged weights
        during training: `with gan.ema_weights(): gan.generator.predict(z)`.
        (After `fit`, Keras has already written the EMA into the generator.)
        A no-op without EMA.
        """
        ema = self.ema_optimizer()
        if ema is None:
            return swapped_ema_weights(None, [])
        return swapped_ema_weights(ema, self.averaged_variables())

    def averaged_variables(self):
        """The variables the weight EMA averages, in its optimizer's order:
        every trained one when one optimizer trains (and averages) both
        networks, else the generator's."""
        if self.ema_optimizer() is network_optimizers(self.optimizer)[0]:
            return self.trainable_variables
        return self.generator.trainable_variables

    def generator_optimizer(self):
        """The optimizer that updates the generator (under mixed_float16,
        the one inside Keras' `LossScaleOptimizer`)."""
        return network_optimizers(getattr(self, "optimizer", None))[1]

    def ema_optimizer(self):
        """The optimizer keeping the generator's EMA, or None."""
        optimizer = self.generator_optimizer()
        return optimizer if getattr(optimizer, "use_ema", False) else None

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
        replicas, replica = _replica_info()
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

    def augmented(self, images):
        """DiffAugment, if any, with a fresh draw on every call."""
        if self.augment is None:
            return images
        return self.augment(images, training=True)

    def d_input(self, images):
        """What D sees of a batch: augmented, then noised.

        Noise comes last so that every pixel D sees carries it, the zeros
        of a cutout or translation included.
        """
        return self.noisy(self.augmented(images))

    def adapt_augmentation(self, real_outputs):
        """ADA: hands D's verdicts on this step's augmented real images to
        an adaptive augmentation (a no-op otherwise)."""
        if not self.adaptive_augment:
            return
        signs = self.adversarial_loss.verdicts(
            ops.stop_gradient(reduce_scores(real_outputs))
        )
        replicas, _ = _replica_info()
        batch = ops.shape(signs)[0] * replicas  # the global batch
        self.augment.update_probability(signs, batch_size=batch)

    def noisy(self, images):
        """Adds the annealed instance noise, if any, to a D input."""
        if self.instance_noise is None:
            return images
        return self.instance_noise(
            images, self.current_step(), self.seed_generator
        )

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
        d = self.discriminator
        before = [ops.copy(v.value) for v in d.variables]  # a read, no alias
        sg_fakes = ops.stop_gradient(fake_images)
        d_view = self.d_outputs(sg_fakes, labels, training)
        # G's pass must see the D that D's own pass saw, or the bracket does
        # not cancel in D: a training call may change D (spectral norm
        # rewrites its kernel, BN its moving statistics), so undo that pass's
        # changes; G's pass then makes the same ones again.
        for v, value in zip(d.variables, before):
            v.assign(value)
        g_view = self.d_outputs(fake_images, labels, training)
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

    def score_fn(self, labels):
        """`images -> scores` for the gradient penalties, labels bound.

        With `augment`, the critic is D of the augmented images, a fresh
        draw on each call, and the penalty differentiates through the
        augmentation, as the official DiffAugment code does for R1
        (`grad_x D(T(x))`). Instance noise is not applied here.

        D runs through `stateless_call` on its current weights (gradients
        reach them) and its state updates are dropped: a penalty's pass
        must not move BatchNorm's moving statistics, and on JAX it runs
        inside `jax.grad`, where such an update would leak a tracer.
        """
        d = self.discriminator
        trainable = [v.value for v in d.trainable_variables]
        non_trainable = [v.value for v in d.non_trainable_variables]

        def scores(images):
            images = self.augmented(images)
            inputs = [images, labels] if self.conditional else images
            outputs, _ = d.stateless_call(
                trainable, non_trainable, inputs, training=True
            )
            return reduce_scores(outputs)

        return scores

    def penalties(self, real_images, fake_images, labels):
        """Sum of the discriminator-side regularisers (fakes carry no grad)."""
        total = 0.0
        fake_images = ops.stop_gradient(fake_images)
        for reg in self.regularizers:
            if getattr(reg, "target", "discriminator") == "discriminator":
                total += reg(
                    self.score_fn(labels),
                    real_images,
                    fake_images,
                    seed_generator=self.seed_generator,
                )
        return total

    def generator_penalties(self):
        total = 0.0
        for reg in self.regularizers:
            if getattr(reg, "target", None) == "generator":
                total += reg(generator_kernels(self.generator))
        return total

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
        self.traced_step = _traced_iterations(
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

    def compile_from_config(self, config):
        """Recompiles a reloaded trainer (Keras skips a custom `compile`)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None:  # create its slots, so they load
            optimizer.build(self.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(
                    self.generator
                ),
                "discriminator": keras.saving.serialize_keras_object(
                    self.discriminator
                ),
                "loss": keras.saving.serialize_keras_object(
                    self.adversarial_loss
                ),
                "regularizers": [
                    keras.saving.serialize_keras_object(r)
                    for r in self.regularizers
                ],
                "instance_noise": keras.saving.serialize_keras_object(
                    self.instance_noise
                ),
                "augment": keras.saving.serialize_keras_object(self.augment),
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in (
            "generator",
            "discriminator",
            "loss",
            "instance_noise",
            "augment",
        ):
            if key in config:  # O-GAN's config has no `loss`: it is fixed
                config[key] = keras.saving.deserialize_keras_object(
                    config[key], custom_objects=custom_objects
                )
        config["regularizers"] = [
            keras.saving.deserialize_keras_object(r, custom_objects)
            for r in config.get("regularizers", [])
        ]
        return cls(**config)


def as_augment(augment, seed=None):
    """The trainer's `augment=` as a layer (or None)."""
    if augment is None or isinstance(augment, keras.layers.Layer):
        return augment
    if isinstance(augment, str):
        # A stream of its own: the trainer's seed would replay z's keys.
        return DiffAugment(augment, seed=None if seed is None else seed + 1)
    raise ValueError(
        "`augment` must be None, a DiffAugment policy string such as "
        "'color,translation,cutout' or a Keras layer. Received: "
        f"augment={augment!r}"
    )


def _traced_iterations(optimizer, optimizer_variables):
    """The value `optimizer.iterations` has in `optimizer_variables` (the
    optimizer's variables, in its order), or None."""
    if optimizer is None or not optimizer_variables:
        return None
    for variable, value in zip(optimizer.variables, optimizer_variables):
        if variable is optimizer.iterations:
            return value
    return None


def reduce_scores(outputs):
    """(batch, k) discriminator outputs -> (batch,) float32 scores."""
    return ops.mean(ops.cast(outputs, "float32"), axis=-1)


def generator_kernels(generator):
    """The generator's conv / dense kernels (for orthogonal regularisation)."""
    return [
        v
        for v in generator.trainable_variables
        if len(v.shape) >= 2 and "embedding" not in v.path
    ]


def scale_for_replicas(loss):
    """Divides by the replica count under `tf.distribute`, as Keras does.

    Optimizers sum gradients across replicas, so a per-replica mean loss
    must be scaled by `1 / num_replicas` for the global step to match one
    device with the same global batch.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss / replicas


def _replica_info():
    """(replica count, this replica's index) under tf.distribute."""
    if keras.backend.backend() != "tensorflow":
        return 1, 0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group
