"""The base of kgan's conditional normalisation layers.

`ConditionalNormalization` (behind `ConditionalBatchNormalization`,
`SelfModulatedBatchNormalization` and `AdaptiveInstanceNormalization`)
checks `[x, condition...]` inputs, builds the condition's projections, and
applies the per-sample affine `gamma * h + beta` in float32; the batch
statistics CBN and SELF-MOD BN normalise with are one float32 BN made here.
"""

import keras
from keras import ops

from kgan._checks import integer, number_in, positive_number

# Integer labels fed to the dense `[x, c]` form are a likely slip.
LABELS_HINT = " (set num_classes to embed integer labels)"


def _clone_initializer(initializer):
    # An unseeded Keras initializer draws the same values on every call, so
    # two kernels of one shape need two instances to differ.
    if isinstance(initializer, keras.initializers.Initializer):
        return initializer.__class__.from_config(initializer.get_config())
    return initializer


def shifted_initializer(initializer, shift):
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


class ConditionalNormalization(keras.layers.Layer):
    """Input checks, projections and the float32 affine of kgan's CBN layers.

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
        self.momentum = None

    def _use_batch_statistics(self, momentum):
        """Normalises with batch statistics: the float32 BN CBN wraps."""
        self.batch_norm = _inner_batch_normalization(
            self.axis, momentum, self.epsilon
        )
        self.momentum = float(momentum)

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

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = {"axis": self.axis, "epsilon": self.epsilon}
        if self.momentum is not None:
            config["momentum"] = self.momentum
        return {**super().get_config(), **config}
