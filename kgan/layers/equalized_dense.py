"""PGGAN's equalised learning rate for a densely connected layer."""

import keras
from keras import ops

from kgan._checks import positive_int
from kgan.layers.equalized import EqualizedLayer


@keras.saving.register_keras_serializable(package="kgan")
class EqualizedDense(EqualizedLayer):
    """A dense layer whose weights are scaled by He's constant at run time.

    PGGAN's equalised learning rate: instead of drawing the kernel from
    He's `N(0, 2 / fan_in)`, store a raw kernel drawn from `N(0, 1)` and
    multiply it by `c = gain / sqrt(fan_in)` on every call,
    `outputs = inputs @ (c * kernel) + lr_multiplier * bias`. The forward
    pass at initialisation is the one He's init gives, but the gradient with
    respect to the raw kernel is `c` times the gradient with respect to the
    weights the layer actually uses, so adaptive optimisers (Adam, RMSprop),
    which normalise the step per parameter, move every layer's effective
    weights at the same relative speed whatever its fan-in.

    `lr_multiplier` slows one layer further, as StyleGAN does for its
    mapping network (0.01): the raw kernel is drawn from
    `N(0, 1 / lr_multiplier ** 2)` and scaled by `c * lr_multiplier`, so
    the effective init is still He's while an Adam step changes the
    effective kernel `lr_multiplier` times less. The effective bias is the
    raw bias times `lr_multiplier`.

    `kernel` and `bias` are the raw weights (what the optimiser sees);
    `effective_kernel` and `effective_bias` are what the layer computes
    with.

    Args:
        units: positive integer, the output size.
        use_bias: whether to add a bias.
        gain: positive float, the numerator of He's constant (`sqrt(2)` for
            ReLU-like activations, 1 for a linear output).
        lr_multiplier: positive float, the factor on this layer's
            effective learning rate.
        bias_initializer: initializer of the raw bias.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: tensor of shape `(batch, ..., fan_in)`.
        training: unused; accepted for a uniform call signature.

    Example:

    >>> x = np.random.normal(size=(4, 16)).astype("float32")
    >>> layer = EqualizedDense(8, lr_multiplier=0.01)
    >>> layer(x).shape
    (4, 8)

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 4.1.
    - [Karras et al., 2019 (StyleGAN)](https://arxiv.org/abs/1812.04948),
      appendix C (learning rate 0.01x in the mapping network).
    - [Su, from DCGAN to SELF-MOD](https://kexue.fm/archives/6549).

    Tested on the TensorFlow and JAX backends (tests/test_equalized.py).
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int("units", units)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        if len(input_shape) < 2 or fan_in is None:
            raise ValueError(
                "`EqualizedDense` expects inputs of shape (batch, ..., "
                f"fan_in) with a known fan_in. Received: input_shape="
                f"{input_shape}"
            )
        self._add_equalized_weights((fan_in, self.units), fan_in)
        self.built = True

    def call(self, inputs, training=None):
        return self._add_bias(ops.matmul(inputs, self.effective_kernel))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
