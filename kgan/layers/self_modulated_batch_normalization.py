"""SELF-MOD batch normalization: CBN whose condition is the noise z."""

import keras
from keras import ops

from kgan._checks import positive_int
from kgan.layers.conditional_normalization import ConditionalNormalization


@keras.saving.register_keras_serializable(package="kgan")
class SelfModulatedBatchNormalization(ConditionalNormalization):
    """Batch normalization modulated by the generator's own noise (SELF-MOD).

    SELF-MOD turns every generator BN into a conditional BN whose condition
    is the latent z itself. `h = (x - mu_c) / sqrt(var_c + epsilon)` uses
    batch statistics while training and moving averages at inference (as
    `BatchNormalization`), then `outputs = gamma(z) * h + beta(z)` with two
    separate one-hidden-layer MLPs:
    `beta(z) = W2 relu(W1 z + b1) + b2` and
    `gamma(z) = 1 + V2 relu(V1 z + c1) + c2` (gamma predicted as a delta from
    1). The output layers `W2, b2, V2, c2` start at zero, so the layer starts
    exactly as plain BN (gamma 1, beta 0); the hidden layers `W1, V1` use
    `kernel_initializer`, their biases zeros. For the conditional variant,
    feed `z' = z + E(c) + E'(c) * z` as the condition.

    Args:
        hidden_units: width of each MLP's hidden layer (32 in the paper's
            code; Su's O-GAN scripts use `z_dim`).
        axis: the channel axis of x (channels-last: -1).
        momentum: momentum of the moving mean and variance.
        epsilon: small float added to the variance.
        kernel_initializer: initializer of the hidden kernels `W1`, `V1`.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: `[x, z]`, x of rank >= 2 `(batch, ..., channels)` and z of
            shape `(batch, z_dim)`.
        training: whether to use (and update) batch statistics rather than
            the moving averages.

    Example:

    >>> x = np.random.normal(size=(4, 8, 8, 16)).astype("float32")
    >>> z = np.random.normal(size=(4, 128)).astype("float32")
    >>> smbn = SelfModulatedBatchNormalization(hidden_units=32)
    >>> smbn([x, z], training=True).shape
    (4, 8, 8, 16)

    Reference:

    - [Chen et al., 2018](https://arxiv.org/abs/1810.01365)
    - [Su, from DCGAN to SELF-MOD](https://kexue.fm/archives/6549)
    - [Su, O-GAN](https://kexue.fm/archives/6409)

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    call_forms = "[x, z]"
    max_num_inputs = 2

    def __init__(
        self,
        hidden_units=32,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(axis=axis, epsilon=epsilon, **kwargs)
        self.hidden_units = positive_int("hidden_units", hidden_units)
        self._use_batch_statistics(momentum)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        x_shape, (z_shape,) = self._split_input_shape(input_shape)
        z_dim = self._check_condition("z", z_shape, x_shape)
        hidden, channels = self.hidden_units, self.channels
        self.beta_hidden_kernel, self.beta_hidden_bias = self._add_projection(
            "beta_hidden", z_dim, hidden, self.kernel_initializer, "zeros"
        )
        self.beta_kernel, self.beta_bias = self._add_projection(
            "beta", hidden, channels, "zeros", "zeros"
        )
        self.gamma_hidden_kernel, self.gamma_hidden_bias = self._add_projection(
            "gamma_hidden", z_dim, hidden, self.kernel_initializer, "zeros"
        )
        self.gamma_kernel, self.gamma_bias = self._add_projection(
            "gamma", hidden, channels, "zeros", "zeros"
        )
        self.batch_norm.build(x_shape)

    def call(self, inputs, training=None):
        x, (z,) = self._split_inputs(inputs)
        beta = self._mlp(
            z,
            self.beta_hidden_kernel,
            self.beta_hidden_bias,
            self.beta_kernel,
            self.beta_bias,
        )
        gamma = 1.0 + self._mlp(
            z,
            self.gamma_hidden_kernel,
            self.gamma_hidden_bias,
            self.gamma_kernel,
            self.gamma_bias,
        )
        h = self.batch_norm(x, training=training)
        return self._modulate(h, beta, gamma)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": self.hidden_units,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }

    @staticmethod
    def _mlp(z, hidden_kernel, hidden_bias, kernel, bias):
        hidden = ops.relu(ops.matmul(z, hidden_kernel) + hidden_bias)
        return ops.matmul(hidden, kernel) + bias
