"""Conditional batch normalization, and the base kgan's CBN-like layers share.

`_ConditionalNormalization` (also behind `SelfModulatedBatchNormalization`
and `AdaptiveInstanceNormalization`) checks `[x, condition...]` inputs and
applies the per-sample affine `gamma * h + beta` in float32.
"""

import keras
from keras import ops

from kgan._checks import integer, number_in, positive_int, positive_number

# Integer labels fed to the dense `[x, c]` form are a likely slip.
_LABELS_HINT = " (set num_classes to embed integer labels)"


def _clone_initializer(initializer):
    # An unseeded Keras initializer draws the same values on every call, so
    # two kernels of one shape need two instances to differ.
    if isinstance(initializer, keras.initializers.Initializer):
        return initializer.__class__.from_config(initializer.get_config())
    return initializer


def _shifted_initializer(initializer, shift):
    """Returns `initializer(shape) + shift`; None counts as zeros."""
    initializer = _clone_initializer(
        keras.initializers.get(initializer or "zeros")
    )
    return lambda shape, dtype=None: initializer(shape, dtype=dtype) + shift


def _inner_batch_normalization(axis, momentum, epsilon):
    """The affine-free BN that CBN and SELF-MOD BN wrap.

    It runs in float32 whatever the global dtype policy, so under mixed
    precision the statistics and `h` keep full precision until the affine.
    """
    momentum = number_in("momentum", momentum, 0, 1)
    return keras.layers.BatchNormalization(
        axis=axis,
        momentum=momentum,
        epsilon=epsilon,
        center=False,
        scale=False,
        dtype="float32",
        name="batch_norm",
    )


class _ConditionalNormalization(keras.layers.Layer):
    """Input checks and the float32 affine shared by kgan's CBN layers.

    Subclasses set `call_forms` (used in error messages), `min_rank` (of x)
    and `max_num_inputs`, call `_split_input_shape` in `build` and
    `_split_inputs` in `call`, and finish with `_modulate(h, beta, gamma)`.
    """

    call_forms = "[x, beta, gamma] or [x, condition]"
    min_rank = 2
    max_num_inputs = 3

    def __init__(self, axis=-1, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.axis = integer("axis", axis)
        self.epsilon = positive_number("epsilon", epsilon)

    def _split_input_shape(self, input_shape):
        """Checks `[x, ...]` shapes; returns `(x_shape, condition_shapes)`."""
        is_list = isinstance(input_shape, (list, tuple)) and all(
            isinstance(s, (list, tuple)) for s in input_shape
        )
        if not is_list or not 2 <= len(input_shape) <= self.max_num_inputs:
            raise ValueError(
                f"`{type(self).__name__}` expects a list of inputs "
                f"{self.call_forms}. Received: inputs with shape "
                f"{input_shape}"
            )
        x_shape = tuple(input_shape[0])
        rank = len(x_shape)
        if rank < self.min_rank:
            raise ValueError(
                f"`{type(self).__name__}` expects x of rank >= "
                f"{self.min_rank} (batch, ..., channels). Received: "
                f"x.shape={x_shape}"
            )
        if not -rank < self.axis < rank or self.axis % rank == 0:
            raise ValueError(
                f"`axis` must name a non-batch axis of x. Received: "
                f"axis={self.axis} for x.shape={x_shape}"
            )
        self._axis = self.axis % rank
        self.channels = x_shape[self._axis]
        if self.channels is None:
            raise ValueError(
                "The channel axis of x must be known. Received: "
                f"x.shape={x_shape}, axis={self.axis}"
            )
        self._num_inputs = len(input_shape)
        return x_shape, [tuple(s) for s in input_shape[1:]]

    def _check_condition(self, name, shape, x_shape, last_dim=None, hint=""):
        """Checks a `(batch, last_dim)` condition; returns its last dim."""
        batch_ok = None in (shape[:1] + x_shape[:1]) or shape[0] == x_shape[0]
        if (
            len(shape) != 2
            or not batch_ok
            or shape[-1] is None
            or last_dim not in (None, shape[-1])
        ):
            raise ValueError(
                f"`{type(self).__name__}` expects {name} of shape (batch, "
                f"{last_dim or 'dim'}), the last axis known, with x.shape="
                f"{x_shape}{hint}. Received: {name}.shape={shape}"
            )
        return shape[-1]

    def _check_beta_gamma(self, condition_shapes, x_shape):
        for name, shape in zip(("beta", "gamma"), condition_shapes):
            self._check_condition(name, shape, x_shape, self.channels)

    def _add_projection(
        self, name, input_dim, units, kernel_initializer, bias_initializer
    ):
        kernel = self.add_weight(
            shape=(input_dim, units),
            name=f"{name}_kernel",
            initializer=_clone_initializer(kernel_initializer),
        )
        bias = self.add_weight(
            shape=(units,), name=f"{name}_bias", initializer=bias_initializer
        )
        return kernel, bias

    def _split_inputs(self, inputs):
        count = len(inputs) if isinstance(inputs, (list, tuple)) else 1
        if count != self._num_inputs:
            raise ValueError(
                f"`{type(self).__name__}` was built for {self._num_inputs} "
                f"inputs ({self.call_forms}). Received: {count} input(s)"
            )
        return inputs[0], list(inputs[1:])

    def _modulate(self, h, beta, gamma):
        """`gamma * h + beta` in float32, beta/gamma broadcast over space."""
        shape = [1] * len(h.shape)
        shape[0], shape[self._axis] = -1, self.channels
        beta = ops.reshape(ops.cast(beta, "float32"), shape)
        gamma = ops.reshape(ops.cast(gamma, "float32"), shape)
        outputs = ops.cast(h, "float32") * gamma + beta
        return ops.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="kgan")
class ConditionalBatchNormalization(_ConditionalNormalization):
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
        # Checks momentum, hence before float(momentum).
        self.batch_norm = _inner_batch_normalization(
            self.axis, momentum, self.epsilon
        )
        self.momentum = float(momentum)
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
                "c", condition_shapes[0], x_shape, hint=_LABELS_HINT
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
                    f"{_LABELS_HINT}. Received: c.dtype={dtype}"
                )
            beta = ops.matmul(c, self.beta_kernel) + self.beta_bias
            gamma = 1.0 + ops.matmul(c, self.gamma_kernel) + self.gamma_bias
        h = self.batch_norm(x, training=training)
        return self._modulate(h, beta, gamma)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        base_config = super().get_config()
        config = {
            "num_classes": self.num_classes,
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer
            ),
        }
        return {**base_config, **config}

    def _add_table(self, name, shift):
        return self.add_weight(
            shape=(self.num_classes, self.channels),
            name=name,
            initializer=_shifted_initializer(
                self.embeddings_initializer, shift
            ),
        )
