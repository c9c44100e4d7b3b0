"""Training tricks that act on the discriminator's inputs."""

import keras
from keras import ops

from kgan._checks import non_negative_number, positive_int


@keras.saving.register_keras_serializable(package="kgan")
class InstanceNoise:
    """Annealed instance noise on the discriminator's inputs.

    Adds `N(0, std(step)^2)` noise with
    `std(step) = initial_std * max(0, 1 - step / decay_steps)`, so the real
    and fake distributions overlap early in training (D cannot separate them
    perfectly, and its gradients stay informative) and the noise is gone after
    `decay_steps`. A trainer applies it to the real and to the fake inputs.

    Args:
        initial_std: the noise standard deviation at step 0, default 0.1
            (images are in [-1, 1]).
        decay_steps: the step at which the noise reaches zero.

    Call arguments:
        images: the images, any shape and float dtype; the output keeps it.
        step: the training step, a Python number or a scalar tensor
            (e.g. `optimizer.iterations`).
        seed_generator: a `keras.random.SeedGenerator` (the trainer's);
            None uses Keras' global generator (not allowed in JAX traces).

    Example:

    >>> noise = InstanceNoise(initial_std=0.1, decay_steps=10000)
    >>> noisy = noise(images, optimizer.iterations, seed_generator)

    Reference:
        Sønderby et al. 2016, https://arxiv.org/abs/1610.04490

    Tested on the TensorFlow backend.
    """

    def __init__(self, initial_std=0.1, decay_steps=10000):
        self.initial_std = non_negative_number("initial_std", initial_std)
        self.decay_steps = positive_int("decay_steps", decay_steps)

    def std(self, step):
        """The noise standard deviation at `step`, a float32 scalar."""
        progress = ops.cast(step, "float32") / float(self.decay_steps)
        return self.initial_std * ops.maximum(0.0, 1.0 - progress)

    def __call__(self, images, step, seed_generator=None):
        noise = keras.random.normal(
            ops.shape(images), dtype="float32", seed=seed_generator
        )
        noisy = ops.cast(images, "float32") + self.std(step) * noise
        return ops.cast(noisy, images.dtype)

    def get_config(self):
        return {
            "initial_std": self.initial_std,
            "decay_steps": self.decay_steps,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (
            f"InstanceNoise(initial_std={self.initial_std}, "
            f"decay_steps={self.decay_steps})"
        )
