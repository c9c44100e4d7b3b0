"""PGGAN's equalised learning rate for a 2D convolution."""

import keras
from keras import ops

from kgan._checks import is_int, positive_int
from kgan.layers.equalized import EqualizedLayer


def _pair(name, value):
    values = value if isinstance(value, (list, tuple)) else (value, value)
    if len(values) != 2 or not all(is_int(v) and v >= 1 for v in values):
        raise ValueError(
            f"`{name}` must be a positive integer or a pair of them. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


@keras.saving.register_keras_serializable(package="kgan")
class EqualizedConv2D(EqualizedLayer):
    """A 2D convolution whose kernel is scaled by He's constant at run time.

    PGGAN's equalised learning rate for convolutions: the raw kernel
    `(kernel_h, kernel_w, in_channels, filters)` is drawn from `N(0, 1)` and
    multiplied by `c = gain / sqrt(fan_in)` on every call, with
    `fan_in = kernel_h * kernel_w * in_channels`:
    `outputs = conv(inputs, c * kernel) + lr_multiplier * bias`. The forward
    pass at initialisation is He's, while the gradient with respect to the
    raw kernel is `c` times the gradient with respect to the weights in use,
    so that Adam's per-parameter normalisation gives every layer the same
    relative speed. `lr_multiplier` scales the effective learning rate as in
    `EqualizedDense` (raw init `N(0, 1 / lr_multiplier ** 2)`, run-time
    scale `c * lr_multiplier`, effective bias `lr_multiplier * bias`).

    `kernel` and `bias` are the raw weights; `effective_kernel` and
    `effective_bias` are what the layer computes with. Channels-last only,
    no dilation.

    Args:
        filters: positive integer, the number of output channels.
        kernel_size: positive integer or pair, the window's height and
            width.
        strides: positive integer or pair.
        padding: "valid" or "same" (as `keras.layers.Conv2D`).
        use_bias: whether to add a bias.
        gain: positive float, the numerator of He's constant (`sqrt(2)` for
            ReLU-like activations, 1 for a linear output such as to-RGB).
        lr_multiplier: positive float, the factor on this layer's
            effective learning rate.
        bias_initializer: initializer of the raw bias.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: tensor of shape `(batch, height, width, in_channels)`.
        training: unused; accepted for a uniform call signature.

    Example:

    >>> x = np.random.normal(size=(2, 8, 8, 3)).astype("float32")
    >>> EqualizedConv2D(16, 3, padding="same")(x).shape
    (2, 8, 8, 16)

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 4.1.
    - [Karras et al., 2019 (StyleGAN)](https://arxiv.org/abs/1812.04948).

    Tested on the TensorFlow and JAX backends (tests/test_equalized.py).
    """

    def __init__(
        self, filters, kernel_size, strides=1, padding="valid", **kwargs
    ):
        super().__init__(**kwargs)
        self.filters = positive_int("filters", filters)
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.strides = _pair("strides", strides)
        if padding not in ("valid", "same"):
            raise ValueError(
                "`padding` must be 'valid' or 'same'. "
                f"Received: padding={padding!r}"
            )
        self.padding = padding

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if len(input_shape) != 4 or in_channels is None:
            raise ValueError(
                "`EqualizedConv2D` expects inputs of shape (batch, height, "
                "width, channels) with known channels. Received: "
                f"input_shape={input_shape}"
            )
        fan_in = self.kernel_size[0] * self.kernel_size[1] * in_channels
        self._add_equalized_weights(
            self.kernel_size + (in_channels, self.filters), fan_in
        )
        self.built = True

    def call(self, inputs, training=None):
        outputs = ops.conv(
            inputs,
            self.effective_kernel,
            strides=self.strides,
            padding=self.padding,
            data_format="channels_last",
        )
        return self._add_bias(outputs)

    def compute_output_shape(self, input_shape):
        spatial = []
        for size, kernel, stride in zip(
            input_shape[1:3], self.kernel_size, self.strides
        ):
            if size is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-size // stride))
            else:
                spatial.append((size - kernel) // stride + 1)
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
        }
