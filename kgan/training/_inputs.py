"""What D sees of a batch: DiffAugment (and ADA's adaptive probability),
then instance noise."""

import keras
from keras import ops

from kgan.layers.diff_augment import DiffAugment
from kgan.training.keras_contracts import replica_info
from kgan.training.terms import reduce_scores


class DiscriminatorInputs:
    """The augmentation and noise on every D input (a mixin of
    `GANTrainer`, which sets `augment`, `adaptive_augment` and
    `instance_noise`)."""

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
        replicas, _ = replica_info()
        batch = ops.shape(signs)[0] * replicas  # the global batch
        self.augment.update_probability(signs, batch_size=batch)

    def noisy(self, images):
        """Adds the annealed instance noise, if any, to a D input."""
        if self.instance_noise is None:
            return images
        return self.instance_noise(
            images, self.current_step(), self.seed_generator
        )


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
