"""BigGAN's split of the latent into one chunk per generator block."""

import keras
from keras import ops

from kgan._checks import positive_int


@keras.saving.register_keras_serializable(package="kgan")
class LatentSplit(keras.layers.Layer):
    """Splits a latent vector into equal chunks along its last axis.

    BigGAN's hierarchical latent space feeds a different chunk of `z` to each
    generator resolution: `z` of shape `(B, D)` becomes `num_chunks` tensors
    `z[:, i * D // num_chunks:(i + 1) * D // num_chunks]`, one for the
    initial projection and one concatenated to the class embedding of each
    residual block's conditional batch norms. `D` must be divisible by
    `num_chunks` (checked at build time).

    Args:
        num_chunks: Positive integer, the number of chunks.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Tensor of shape `(B, D)` (or `(B, ..., D)`).
        training: Unused.

    Returns:
        A list of `num_chunks` tensors of shape `(B, D // num_chunks)`.

    Example:

    >>> z = np.random.normal(size=(2, 120)).astype("float32")
    >>> [tuple(c.shape) for c in LatentSplit(6)(z)][:2]
    [(2, 20), (2, 20)]

    Reference:

    - [Brock et al., 2019, Large Scale GAN Training for High Fidelity
      Natural Image Synthesis](https://arxiv.org/abs/1809.11096),
      section 3 and appendix B ("hierarchical latent spaces").

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    def __init__(self, num_chunks, **kwargs):
        super().__init__(**kwargs)
        self.num_chunks = positive_int("num_chunks", num_chunks)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "`LatentSplit` expects inputs of shape (B, D). "
                f"Received: input_shape={input_shape}"
            )
        dim = input_shape[-1]
        if dim is None or dim % self.num_chunks:
            raise ValueError(
                f"The last axis ({dim}) must be known and divisible by "
                f"`num_chunks`. Received: num_chunks={self.num_chunks}, "
                f"input_shape={input_shape}"
            )
        self.built = True

    def call(self, inputs, training=None):
        return ops.split(inputs, self.num_chunks, axis=-1)

    def compute_output_shape(self, input_shape):
        chunk = tuple(input_shape[:-1]) + (input_shape[-1] // self.num_chunks,)
        return [chunk for _ in range(self.num_chunks)]

    def get_config(self):
        base_config = super().get_config()
        config = {"num_chunks": self.num_chunks}
        return {**base_config, **config}
