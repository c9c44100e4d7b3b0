"""PGGAN's pixelwise feature-vector normalization."""

import keras
from keras import ops

from kgan._checks import is_int, positive_number


@keras.saving.register_keras_serializable(package="kgan")
class PixelNormalization(keras.layers.Layer):
    """Normalizes each feature vector to unit root mean square.

    PGGAN divides the feature vector of every pixel by its root mean square
    over the channels, `x / sqrt(mean(x ** 2, axis) + epsilon)`, after each
    convolution of the generator (and on the input noise) so that the
    magnitudes of the generator and discriminator cannot escalate. There are
    no learned weights and no batch statistics, so training and inference
    behave the same. The mean square is computed in float32 under mixed
    precision (a sum of squares overflows float16 quickly) and the output is
    cast back to the compute dtype.

    Args:
        axis: Integer or list of integers, the axes to average over (the
            channel axis, `-1`, for NHWC feature maps and for vectors).
        epsilon: Small positive float added to the mean square.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Input tensor of any rank.
        training: Unused; accepted for a uniform call signature.

    Example:

    >>> x = np.random.normal(size=(2, 4, 4, 8)).astype("float32")
    >>> y = PixelNormalization()(x)
    >>> np.allclose(np.mean(np.square(y), axis=-1), 1.0, atol=1e-4)
    True

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 4.2.

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    def __init__(self, axis=-1, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(is_int(a) for a in axes):
            raise ValueError(
                "`axis` must be an integer or a non-empty list of integers. "
                f"Received: axis={axis!r}"
            )
        self.epsilon = positive_number("epsilon", epsilon)
        axes = [int(a) for a in axes]
        self.axis = axes if isinstance(axis, (list, tuple)) else axes[0]
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(
                    f"`axis` is out of range for an input of rank {rank} "
                    f"(shape {tuple(input_shape)}). Received: axis={self.axis}"
                )
        self._axes = tuple(sorted(a % rank for a in axes))
        self.built = True

    def call(self, inputs, training=None):
        x = ops.cast(inputs, "float32")
        mean_square = ops.mean(ops.square(x), axis=self._axes, keepdims=True)
        outputs = x * ops.rsqrt(mean_square + self.epsilon)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {"axis": self.axis, "epsilon": self.epsilon}
        return {**base_config, **config}
