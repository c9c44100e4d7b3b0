"""Conditional batch normalization (class-, condition- or beta/gamma-driven)."""

import keras
from keras import ops

from kgan._checks import positive_int
from kgan.layers.conditional_normalization import (
    LABELS_HINT,
    ConditionalNormalization,
    shifted_initializer,
)


@keras.saving.register_keras_serializable(package="kgan")
class ConditionalBatchNormalization(ConditionalNormalization):
    """Batch normalization whose scale and shift come from a condition.

    Each channel is normalised with batch statistics while training and with
    their moving averages at inference, exactly as `BatchNormalization`
    (`moving = moving * momentum + batch * (1 - momentum)`), but without an
    affine of its own: `h = (x - mu_c) / sqrt(var_c + epsilon)`, then
    `outputs = gamma * h + beta`, with per-sample `beta`, `gamma` of shape
    `(batch, channels)` broadcast over the spatial axes. They come from one
    of three call forms:

    - `[x, beta, gamma]` (Su's form): any network predicts them; gamma is
      used as given. Su's code predicts a delta and passes `delta + 1`.
    - `[x, labels]` with `num_classes=K`: integer labels of shape `(batch,)`
      or `(batch, 1)` select rows of two learned `(K, channels)` tables
      (SNGAN's class-conditional BN); the gamma table holds gamma itself.
    - `[x, c]` with `num_classes=None`: a float condition `(batch, d)` goes
      through learned projections `gamma = 1 + c W_g + b_g` and
      `beta = c W_b + b_b` (gamma predicted as a delta from 1).

    With the default initialisers every form but Su's starts with gamma
    exactly 1 and beta exactly 0, i.e. as plain BN.

    Args:
        num_classes: number of classes for the `[x, labels]` form, or None.
        axis: the channel axis of x (channels-last: -1).
        momentum: momentum of the moving mean and variance.
        epsilon: small float added to the variance.
        kernel_initializer: initializer of `W_g`, `W_b` (`[x, c]` form); the
            default "zeros" makes the layer start as plain BN.
        embeddings_initializer: initializer of the tables' deviation from
            gamma = 1, beta = 0 (`[x, labels]` form); None means none.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: `[x, beta, gamma]`, `[x, labels]` or `[x, c]` as above; x
            has rank >= 2, `(batch, ..., channels)`.
        training: whether to use (and update) batch statistics rather than
            the moving averages.

    Example:

    >>> x = np.random.normal(size=(4, 8, 8, 16)).astype("float32")
    >>> labels = np.array([0, 1, 2, 1])
    >>> cbn = ConditionalBatchNormalization(num_classes=3)
    >>> cbn([x, labels], training=True).shape
    (4, 8, 8, 16)

    Reference:

    - [de Vries et al., 2017](https://arxiv.org/abs/1707.00683)
    - [Miyato & Koyama, 2018](https://arxiv.org/abs/1802.05637)
    - [Su, from DCGAN to SELF-MOD](https://kexue.fm/archives/6549)

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    call_forms = "[x, beta, gamma], [x, labels] (num_classes set) or [x, c]"

    def __init__(
        self,
        num_classes=None,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        kernel_initializer="zeros",
        embeddings_initializer=None,
        **kwargs,
    ):
        super().__init__(axis=axis, epsilon=epsilon, **kwargs)
        self.num_classes = positive_int(
            "num_classes", num_classes, allow_none=True
        )
        self._use_batch_statistics(momentum)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        # None stays None: the tables then start exactly at 1 and 0.
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )

    def build(self, input_shape):
        x_shape, condition_shapes = self._split_input_shape(input_shape)
        if len(condition_shapes) == 2:
            self._check_beta_gamma(condition_shapes, x_shape)
        elif self.num_classes is not None:
            labels_shape = condition_shapes[0]
            if not labels_shape or labels_shape[1:] not in ((), (1,)):
                raise ValueError(
                    f"`{type(self).__name__}` expects labels of shape "
                    "(batch,) or (batch, 1). Received: "
                    f"labels.shape={labels_shape}"
                )
            self.gamma_embeddings = self._add_table("gamma_embeddings", 1.0)
            self.beta_embeddings = self._add_table("beta_embeddings", 0.0)
        else:
            dim = self._check_condition(
                "c", condition_shapes[0], x_shape, hint=LABELS_HINT
            )
            self.gamma_kernel, self.gamma_bias = self._add_projection(
                "gamma", dim, self.channels, self.kernel_initializer, "zeros"
            )
            self.beta_kernel, self.beta_bias = self._add_projection(
                "beta", dim, self.channels, self.kernel_initializer, "zeros"
            )
        self.batch_norm.build(x_shape)

    def call(self, inputs, training=None):
        x, condition = self._split_inputs(inputs)
        if len(condition) == 2:
            beta, gamma = condition
        elif self.num_classes is not None:
            labels = ops.reshape(condition[0], (-1,))
            if "int" not in keras.backend.standardize_dtype(labels.dtype):
                labels = ops.cast(labels, "int32")
            beta = ops.take(self.beta_embeddings, labels, axis=0)
            gamma = ops.take(self.gamma_embeddings, labels, axis=0)
        else:
            c = condition[0]
            dtype = keras.backend.standardize_dtype(c.dtype)
            if "int" in dtype:
                raise ValueError(
                    f"`{type(self).__name__}` expects a float c"
                    f"{LABELS_HINT}. Received: c.dtype={dtype}"
                )
            beta = ops.matmul(c, self.beta_kernel) + self.beta_bias
            gamma = 1.0 + ops.matmul(c, self.gamma_kernel) + self.gamma_bias
        h = self.batch_norm(x, training=training)
        return self._modulate(h, beta, gamma)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer
            ),
        }

    def _add_table(self, name, shift):
        return self.add_weight(
            shape=(self.num_classes, self.channels),
            name=name,
            initializer=shifted_initializer(self.embeddings_initializer, shift),
        )
