"""A fresh latent shaped like the input: the second latent of style mixing."""

import keras
from keras import ops

from kgan._checks import integer


@keras.saving.register_keras_serializable(package="kgan")
class LatentResample(keras.layers.Layer):
    """Draws a fresh `N(0, I)` latent of the input's shape in training mode.

    StyleGAN's mixing regularisation needs a second latent per sample,
    independent of the first; its code draws it fresh from `N(0, I)` and
    maps it with the same mapping network (and, for a conditional model,
    the same label). This layer is that draw inside a Functional model: in
    training mode it returns `keras.random.normal(shape(inputs))` from a
    `keras.random.SeedGenerator(seed)` (a layer variable, so the layer works
    inside a stateless JAX train step); in inference it returns the inputs
    unchanged, like `Dropout`, so an inference call stays deterministic and
    draws nothing.

    A fresh draw rather than the batch rolled by one (`roll(z, 1)`, also
    independent of each sample's own latent): a roll puts every latent in
    two images of the batch (the coarse styles of one, the fine styles of
    its neighbour), so the images of a batch are no longer independent, a
    dependence a minibatch-statistics discriminator can see; and with a
    batch of one it would mix a latent with itself.

    Args:
        seed: optional integer seed of the draws.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: the latent `z`, any shape; only its shape is read in
            training mode.
        training: Python boolean; a fresh latent is drawn only in training
            mode.

    Example:

    >>> z = np.zeros((4, 8), "float32")
    >>> LatentResample(seed=0)(z, training=True).shape
    (4, 8)

    Reference:

    - [Karras et al., 2019, A Style-Based Generator Architecture for GANs](
      https://arxiv.org/abs/1812.04948), section 3.1 (style mixing).

    Tested on the TensorFlow and JAX backends
    (tests/test_stylegan_styles.py).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = integer("seed", seed, allow_none=True)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        return keras.random.normal(
            ops.shape(inputs),
            dtype=self.compute_dtype,
            seed=self.seed_generator,
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {"seed": self.seed}
        return {**base_config, **config}
