"""StyleGAN's tracked average latent, for the truncation trick."""

import keras
from keras import ops

from kgan._checks import number_in


@keras.saving.register_keras_serializable(package="kgan")
class LatentAverage(keras.layers.Layer):
    """Tracks the mean intermediate latent `w` and truncates towards it.

    Put after the mapping network of a StyleGAN-form generator. In training
    mode the layer updates a moving average of `w`,
    `average = momentum * average + (1 - momentum) * mean(w)`, the mean taken
    over the batch (and any axis but the last), in float32. It always returns
    the truncated latent
    `average + truncation_psi * (w - average)`, computed as
    `truncation_psi * w + (1 - truncation_psi) * average` (with the updated
    average in training mode) so that the default `truncation_psi = 1`
    returns `w` exactly. Smaller `truncation_psi` trades
    variety for typical, higher-quality samples (the truncation trick).

    `average` (shape `(w_dim,)`, zeros at first) and `truncation_psi` (a
    scalar, 1.0) are non-trainable weights, saved with the model. Leave
    `truncation_psi` at 1 while training;
    `kgan.sampling.sample(..., truncation=psi)` assigns `psi` for the
    duration of one sampling call and restores the previous value
    afterwards (assign `layer.truncation_psi` yourself to truncate in a
    plain `predict`).

    Args:
        momentum: Float in [0, 1], the decay of the moving average.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Latent `w` of shape `(B, w_dim)` (or `(B, ..., w_dim)`).
        training: Python boolean; the average is only updated in training
            mode.

    Example:

    >>> w = np.random.normal(size=(4, 8)).astype("float32")
    >>> layer = LatentAverage(momentum=0.9)
    >>> _ = layer(w, training=True)
    >>> np.allclose(layer.average.numpy(), 0.1 * w.mean(axis=0))
    True

    Reference:

    - [Karras et al., 2019, A Style-Based Generator Architecture for GANs](
      https://arxiv.org/abs/1812.04948), appendix B (truncation in W).
    - [Brock et al., 2019, BigGAN](https://arxiv.org/abs/1809.11096),
      section 3.1 (the truncation trick).

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    def __init__(self, momentum=0.995, **kwargs):
        super().__init__(**kwargs)
        self.momentum = number_in("momentum", momentum, 0, 1)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                "`LatentAverage` expects inputs of shape (B, w_dim) with a "
                f"known w_dim. Received: input_shape={input_shape}"
            )
        self.average = self.add_weight(
            name="average",
            shape=(input_shape[-1],),
            initializer="zeros",
            trainable=False,
            autocast=False,
        )
        self.truncation_psi = self.add_weight(
            name="truncation_psi",
            shape=(),
            initializer="ones",
            trainable=False,
            autocast=False,
        )
        self.built = True

    def call(self, inputs, training=None):
        w = ops.cast(inputs, "float32")
        average = ops.cast(self.average, "float32")
        if training:
            batch_mean = ops.mean(w, axis=tuple(range(len(w.shape) - 1)))
            average = self.momentum * average + (1.0 - self.momentum) * (
                batch_mean
            )
            self.average.assign(ops.cast(average, self.average.dtype))
        psi = ops.cast(self.truncation_psi, "float32")
        outputs = psi * w + (1.0 - psi) * average
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {"momentum": self.momentum}
        return {**base_config, **config}
