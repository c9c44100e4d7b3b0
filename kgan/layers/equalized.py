"""PGGAN's equalised learning rate: the part its dense and conv layers share.

`EqualizedDense` and `EqualizedConv2D` differ only in the kernel's shape and
the product they compute with it; the raw weights, the run-time constant,
the effective weights and the configuration live here once.
"""

import math

import keras

from kgan._checks import positive_number


class EqualizedLayer(keras.layers.Layer):
    """Base of the equalised-learning-rate layers.

    Holds the raw `kernel` (drawn from `N(0, 1 / lr_multiplier ** 2)`) and
    `bias`, and the run-time constant `scale = gain / sqrt(fan_in) *
    lr_multiplier`, so that `effective_kernel = kernel * scale` starts as
    He's init while Adam moves every layer's effective weights at the same
    relative speed. Subclasses call `_add_equalized_weights` in `build` and
    compute with `effective_kernel` and `_add_bias`.

    Args:
        use_bias: whether to add a bias.
        gain: positive float, the numerator of He's constant.
        lr_multiplier: positive float, the factor on this layer's
            effective learning rate.
        bias_initializer: initializer of the raw bias.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 4.1.
    """

    def __init__(
        self,
        use_bias=True,
        gain=math.sqrt(2.0),
        lr_multiplier=1.0,
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(use_bias, bool):
            raise ValueError(
                "`use_bias` must be True or False. "
                f"Received: use_bias={use_bias!r}"
            )
        self.use_bias = use_bias
        self.gain = positive_number("gain", gain)
        self.lr_multiplier = positive_number("lr_multiplier", lr_multiplier)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _add_equalized_weights(self, kernel_shape, fan_in):
        """Creates `kernel` and `bias` (last axis = outputs) and `scale`."""
        self.scale = self.gain / math.sqrt(fan_in) * self.lr_multiplier
        self.kernel = self.add_weight(
            name="kernel",
            shape=tuple(kernel_shape),
            initializer=keras.initializers.RandomNormal(
                stddev=1.0 / self.lr_multiplier
            ),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(kernel_shape[-1],),
                initializer=self.bias_initializer,
            )

    @property
    def effective_kernel(self):
        """The kernel the layer computes with, `kernel * scale`."""
        return self.kernel * self.scale

    @property
    def effective_bias(self):
        """The bias the layer adds, `bias * lr_multiplier` (None if none)."""
        return None if self.bias is None else self.bias * self.lr_multiplier

    def _add_bias(self, outputs):
        return outputs if self.bias is None else outputs + self.effective_bias

    def get_config(self):
        return {
            **super().get_config(),
            "use_bias": self.use_bias,
            "gain": self.gain,
            "lr_multiplier": self.lr_multiplier,
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
        }
