"""StyleGAN's per-pixel noise inputs."""

import keras
from keras import ops

from kgan._checks import integer


@keras.saving.register_keras_serializable(package="kgan")
class NoiseInjection(keras.layers.Layer):
    """Adds per-pixel Gaussian noise scaled by a learned per-channel factor.

    StyleGAN feeds the generator explicit noise after each convolution so that
    stochastic detail (hair, freckles) need not be faked from the latent:
    `out = x + scale_c * noise`, with one `noise ~ N(0, 1)` value per pixel
    (shape `(B, H, W, 1)`, shared by all channels) and a learned `scale` per
    channel `c`, initialised to 0 so the layer is the identity at first.

    As in StyleGAN the noise is added in training and in inference alike (the
    `training` flag does not switch it off); to make an inference call
    deterministic, pass `noise` explicitly (e.g. zeros, or a fixed draw).
    Random noise comes from a `keras.random.SeedGenerator(seed)`, so it
    changes from call to call and is reproducible for a given `seed`.

    Args:
        seed: Optional integer seed for the noise.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Tensor of shape `(B, ..., C)`, usually `(B, H, W, C)`.
        training: Unused; noise is added in both modes.
        noise: Optional tensor of shape `(B, ..., 1)` (or broadcastable to
            the inputs) used instead of a fresh draw.

    Example:

    >>> x = np.random.normal(size=(2, 4, 4, 8)).astype("float32")
    >>> layer = NoiseInjection(seed=1)
    >>> np.allclose(layer(x), x)  # the scale starts at 0
    True

    Reference:

    - [Karras et al., 2019, A Style-Based Generator Architecture for GANs](
      https://arxiv.org/abs/1812.04948), section 2 ("stochastic variation").
    - Su Jianlin, [From DCGAN to SELF-MOD](https://kexue.fm/archives/6549),
      on the StyleGAN-form generator.

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = integer("seed", seed, allow_none=True)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                "`NoiseInjection` expects inputs of shape (B, ..., C) with a "
                f"known channel axis. Received: input_shape={input_shape}"
            )
        self.scale = self.add_weight(
            name="scale",
            shape=(input_shape[-1],),
            initializer="zeros",
            trainable=True,
        )
        self.built = True

    def call(self, inputs, training=None, noise=None):
        if noise is None:
            noise = keras.random.normal(
                tuple(ops.shape(inputs)[:-1]) + (1,),
                dtype=self.compute_dtype,
                seed=self.seed_generator,
            )
        elif len(noise.shape) != len(inputs.shape):
            raise ValueError(
                f"`noise` must have the rank of the inputs ({len(inputs.shape)}"
                f"), e.g. (B, H, W, 1). Received: noise.shape={noise.shape}"
            )
        noise = ops.cast(noise, self.compute_dtype)
        scale = ops.cast(self.scale, self.compute_dtype)
        return inputs + scale * noise

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {"seed": self.seed}
        return {**base_config, **config}
