"""SAGAN's self-attention block for NHWC feature maps."""

import keras
from keras import ops

from kgan._checks import positive_int


@keras.saving.register_keras_serializable(package="kgan")
class SelfAttention2D(keras.layers.Layer):
    """Self-attention over the spatial positions of a feature map (SAGAN).

    Three 1x1 convolutions of `x` (shape `(B, H, W, C)`) give the queries
    `f(x)` and keys `g(x)` with `C // key_ratio` channels and the values
    `h(x)` with `C // value_ratio` channels. Over the `N = H * W` positions,
    `beta = softmax(f(x) g(x)^T)` (softmax over the keys, one row per query
    position), `o = v(beta h(x))` with `v` a 1x1 convolution back to `C`
    channels, and the layer returns `x + gamma * o`. The scalar `gamma` starts
    at 0, so the layer is the identity at initialisation and the network
    learns to lean on non-local evidence gradually.

    With `downsample_key_value=True` the keys and values are 2x2 max-pooled
    first, as in BigGAN, which divides the attention cost by four (H and W
    must then be even). With `use_spectral_norm=True` each convolution is
    wrapped in `keras.layers.SpectralNormalization`, as SAGAN does in both
    networks. The attention logits and softmax are computed in float32 under
    mixed precision; the output has the compute dtype.

    Args:
        key_ratio: Positive integer, channel reduction of queries and keys.
        value_ratio: Positive integer, channel reduction of the values.
        use_spectral_norm: Whether to spectrally normalise the convolutions.
        downsample_key_value: Whether to max-pool keys and values 2x2.
        use_bias: Whether the 1x1 convolutions have biases (BigGAN's have
            none; SAGAN's reference code has them).
        kernel_initializer: Initializer for the 1x1 convolution kernels.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Feature map of shape `(B, H, W, C)`.
        training: Python boolean; in training mode the spectral norm
            wrappers update their power-iteration estimates.

    Example:

    >>> x = np.random.normal(size=(2, 8, 8, 16)).astype("float32")
    >>> layer = SelfAttention2D()
    >>> np.allclose(layer(x), x)  # gamma is 0 at initialisation
    True

    Reference:

    - [Zhang et al., 2019, Self-Attention Generative Adversarial Networks](
      https://arxiv.org/abs/1805.08318).
    - [Brock et al., 2019, BigGAN](https://arxiv.org/abs/1809.11096), for
      the pooled keys and values.
    - Su Jianlin, [From DCGAN to SELF-MOD](https://kexue.fm/archives/6549):
      SAGAN inserts one such layer into a DCGAN or ResNet generator.

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    def __init__(
        self,
        key_ratio=8,
        value_ratio=2,
        use_spectral_norm=False,
        downsample_key_value=False,
        use_bias=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.key_ratio = positive_int("key_ratio", key_ratio)
        self.value_ratio = positive_int("value_ratio", value_ratio)
        self.use_spectral_norm = bool(use_spectral_norm)
        self.downsample_key_value = bool(downsample_key_value)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "`SelfAttention2D` expects inputs of shape (B, H, W, C). "
                f"Received: input_shape={input_shape}"
            )
        height, width, channels = input_shape[1:]
        if channels is None:
            raise ValueError(
                "The channel axis of the inputs must be known. "
                f"Received: input_shape={input_shape}"
            )
        for name, ratio in (
            ("key_ratio", self.key_ratio),
            ("value_ratio", self.value_ratio),
        ):
            if channels // ratio < 1:
                raise ValueError(
                    f"`{name}` leaves no channels: the inputs have {channels} "
                    f"channels. Received: {name}={ratio}"
                )
        if self.downsample_key_value and any(
            d is not None and d % 2 for d in (height, width)
        ):
            raise ValueError(
                "`downsample_key_value=True` needs an even height and width. "
                f"Received: input_shape={input_shape}"
            )
        widths = {
            "query": channels // self.key_ratio,
            "key": channels // self.key_ratio,
            "value": channels // self.value_ratio,
        }
        self.query_conv = self._conv(widths["query"], "query")
        self.key_conv = self._conv(widths["key"], "key")
        self.value_conv = self._conv(widths["value"], "value")
        self.output_conv = self._conv(channels, "output")
        self.query_conv.build(input_shape)
        self.key_conv.build(input_shape)
        self.value_conv.build(input_shape)
        self.output_conv.build(tuple(input_shape[:3]) + (widths["value"],))
        self.gamma = self.add_weight(
            name="gamma", shape=(), initializer="zeros", trainable=True
        )
        self.built = True

    def call(self, inputs, training=None):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        query = self.query_conv(inputs, training=training)
        key = self.key_conv(inputs, training=training)
        value = self.value_conv(inputs, training=training)
        if self.downsample_key_value:
            key = ops.max_pool(key, 2, 2, data_format="channels_last")
            value = ops.max_pool(value, 2, 2, data_format="channels_last")
        query = ops.reshape(query, (batch, -1, query.shape[-1]))
        key = ops.reshape(key, (batch, -1, key.shape[-1]))
        value = ops.reshape(value, (batch, -1, value.shape[-1]))
        # float16 logits overflow easily over many positions and channels.
        logits = ops.matmul(
            ops.cast(query, "float32"),
            ops.transpose(ops.cast(key, "float32"), (0, 2, 1)),
        )
        attention = ops.cast(ops.softmax(logits, axis=-1), value.dtype)
        attended = ops.matmul(attention, value)
        attended = ops.reshape(
            attended, (batch, height, width, attended.shape[-1])
        )
        outputs = self.output_conv(attended, training=training)
        gamma = ops.cast(self.gamma, outputs.dtype)
        return ops.cast(inputs + gamma * outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "key_ratio": self.key_ratio,
            "value_ratio": self.value_ratio,
            "use_spectral_norm": self.use_spectral_norm,
            "downsample_key_value": self.downsample_key_value,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }
        return {**base_config, **config}

    def _conv(self, filters, name):
        conv = keras.layers.Conv2D(
            filters,
            1,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        if not self.use_spectral_norm:
            return conv
        return keras.layers.SpectralNormalization(
            conv, dtype=self.dtype_policy, name=f"{name}_sn"
        )
