"""Adaptive instance normalization (AdaIN), the StyleGAN-form modulation."""

import keras
from keras import ops

from kgan.layers.conditional_normalization import ConditionalNormalization


@keras.saving.register_keras_serializable(package="kgan")
class AdaptiveInstanceNormalization(ConditionalNormalization):
    """Instance normalization whose scale and shift come from a style.

    Unlike conditional BN, the statistics are per sample and channel over
    the spatial axes only (no batch statistics, no moving averages), and
    the style sets them: `outputs = gamma_c * (x - mu_{n,c}) /
    sqrt(var_{n,c} + epsilon) + beta_c`. Call forms:

    - `[x, style]`: learned affine projections of a `(batch, d)` style,
      `gamma = style W_g + b_g` with `b_g` initialised to ones (StyleGAN's
      style bias, so gamma is predicted directly, starting near 1) and
      `beta = style W_b + b_b` with `b_b` initialised to zeros. With
      `equalized_lr=True` the kernels are drawn from N(0, 1) and scaled by
      `1 / sqrt(d)` on every call (StyleGAN's style affine "A", gain 1;
      PGGAN's equalised learning rate), so each step moves every
      projection at the same rate whatever `d`.
    - `[x, beta, gamma]`: externally supplied `(batch, channels)` tensors;
      gamma is used as given.

    The statistics are computed in float32 under mixed precision.

    Args:
        axis: the channel axis of x (channels-last: -1).
        epsilon: small float added to the variance.
        kernel_initializer: initializer of `W_g` and `W_b`; None means
            "glorot_uniform", or N(0, 1) with `equalized_lr`.
        equalized_lr: whether the projections use the equalised learning
            rate (runtime scale `1 / sqrt(d)`).
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: `[x, style]` or `[x, beta, gamma]`; x has rank >= 3,
            `(batch, spatial..., channels)`.
        training: unused (AdaIN behaves the same in training and
            inference); accepted for a uniform call signature.

    Example:

    >>> x = np.random.normal(size=(4, 8, 8, 16)).astype("float32")
    >>> style = np.random.normal(size=(4, 64)).astype("float32")
    >>> adain = AdaptiveInstanceNormalization()
    >>> adain([x, style]).shape
    (4, 8, 8, 16)

    Reference:

    - [Huang & Belongie, 2017](https://arxiv.org/abs/1703.06868)
    - [Karras et al., 2019 (StyleGAN)](https://arxiv.org/abs/1812.04948)
    - [Su, from DCGAN to SELF-MOD](https://kexue.fm/archives/6549)

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    call_forms = "[x, style] or [x, beta, gamma]"
    min_rank = 3

    def __init__(
        self,
        axis=-1,
        epsilon=1e-5,
        kernel_initializer=None,
        equalized_lr=False,
        **kwargs,
    ):
        super().__init__(axis=axis, epsilon=epsilon, **kwargs)
        if not isinstance(equalized_lr, bool):
            raise ValueError(
                "`equalized_lr` must be True or False. Received: "
                f"equalized_lr={equalized_lr!r}"
            )
        self.equalized_lr = equalized_lr
        if kernel_initializer is None:
            kernel_initializer = (
                keras.initializers.RandomNormal(stddev=1.0)
                if equalized_lr
                else "glorot_uniform"
            )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        x_shape, condition_shapes = self._split_input_shape(input_shape)
        if len(condition_shapes) == 2:
            self._check_beta_gamma(condition_shapes, x_shape)
        else:
            dim = self._check_condition("style", condition_shapes[0], x_shape)
            # The equalised learning rate's runtime constant (gain 1).
            self._style_scale = 1.0 / dim**0.5 if self.equalized_lr else 1.0
            self.gamma_kernel, self.gamma_bias = self._add_projection(
                "gamma", dim, self.channels, self.kernel_initializer, "ones"
            )
            self.beta_kernel, self.beta_bias = self._add_projection(
                "beta", dim, self.channels, self.kernel_initializer, "zeros"
            )
        self._spatial_axes = [
            i for i in range(1, len(x_shape)) if i != self._axis
        ]

    def call(self, inputs, training=None):
        x, condition = self._split_inputs(inputs)
        if len(condition) == 2:
            beta, gamma = condition
        else:
            style = condition[0]
            if self.equalized_lr:
                style = style * ops.cast(self._style_scale, style.dtype)
            beta = ops.matmul(style, self.beta_kernel) + self.beta_bias
            gamma = ops.matmul(style, self.gamma_kernel) + self.gamma_bias
        # float16 variances of activations overflow or lose precision.
        x = ops.cast(x, "float32")
        mean, variance = ops.moments(x, self._spatial_axes, keepdims=True)
        h = (x - mean) * ops.rsqrt(variance + self.epsilon)
        return self._modulate(h, beta, gamma)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "equalized_lr": self.equalized_lr,
        }
