"""StyleGAN's learned constant input."""

import keras
from keras import ops

from kgan._checks import is_int


@keras.saving.register_keras_serializable(package="kgan")
class LearnedConstant(keras.layers.Layer):
    """A trainable tensor repeated over the batch of its input.

    The StyleGAN-form generator starts from a learned constant `c` of
    `shape` (e.g. `(4, 4, 512)`) instead of a projection of the noise; the
    noise reaches the generator only through the AdaIN styles. The input is
    read only for its batch size: the output is `c` tiled to
    `(batch,) + shape`, so the layer can be called on the latent `z` in a
    Functional model. The gradient of every sample's output reaches the
    single constant. The output has the compute dtype.

    Args:
        shape: Tuple of positive integers, the shape of the constant without
            the batch axis.
        initializer: Initializer for the constant (StyleGAN uses ones).
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Any tensor whose first axis is the batch, e.g. `z`.
        training: Unused.

    Example:

    >>> z = np.random.normal(size=(3, 128)).astype("float32")
    >>> tuple(LearnedConstant((4, 4, 32))(z).shape)
    (3, 4, 4, 32)

    Reference:

    - [Karras et al., 2019, A Style-Based Generator Architecture for GANs](
      https://arxiv.org/abs/1812.04948), section 2.
    - Su Jianlin, [From DCGAN to SELF-MOD](https://kexue.fm/archives/6549):
      "replace the noise input at the top with a trainable constant".

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    def __init__(self, shape, initializer="ones", **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(shape, (list, tuple))
            or not shape
            or not all(is_int(d) and d >= 1 for d in shape)
        ):
            raise ValueError(
                "`shape` must be a non-empty tuple of positive integers, "
                f"e.g. (4, 4, 512). Received: shape={shape!r}"
            )
        self.shape = tuple(int(d) for d in shape)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(
                "`LearnedConstant` needs an input with a batch axis. "
                f"Received: input_shape={input_shape}"
            )
        self.constant = self.add_weight(
            name="constant",
            shape=self.shape,
            initializer=self.initializer,
            trainable=True,
        )
        self.built = True

    def call(self, inputs, training=None):
        batch = ops.shape(inputs)[0]
        constant = ops.cast(self.constant, self.compute_dtype)
        return ops.broadcast_to(
            ops.expand_dims(constant, 0), (batch,) + self.shape
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self.shape

    def get_config(self):
        base_config = super().get_config()
        config = {
            "shape": self.shape,
            "initializer": keras.initializers.serialize(self.initializer),
        }
        return {**base_config, **config}
