"""PGGAN's minibatch standard deviation layer for discriminators."""

import keras
from keras import ops

from kgan._checks import positive_int, positive_number


@keras.saving.register_keras_serializable(package="kgan")
class MinibatchStandardDeviation(keras.layers.Layer):
    """Appends the minibatch standard deviation as extra feature channels.

    PGGAN gives the discriminator a view of the variation across a batch, so
    that a generator which collapses to few modes is easy to spot. The batch
    of size `B` is split into groups of `G = min(group_size, B)` samples, laid
    out as PGGAN does: sample `b` belongs to group `b % (B // G)`. For each
    group, every feature's standard deviation over the group members is
    `std = sqrt(mean((x - mean(x)) ** 2) + epsilon)` (the biased estimate);
    these are averaged over the spatial axes and over the channels, which are
    split into `num_features` equal slices, one statistic per slice. The
    `num_features` statistics of the group are appended as constant
    channels to every member: `(B, H, W, C)` becomes `(B, H, W, C +
    num_features)` and `(B, C)` becomes `(B, C + num_features)`.

    The statistics are computed in float32 under mixed precision. `B` must
    be divisible by `G`: a static batch that is not raises a `ValueError`;
    with a batch size only known at run time the backend's reshape fails
    instead, so batch the data with `drop_remainder=True` (or a size that
    `group_size` divides).

    Args:
        group_size: Positive integer, the number of samples in a group.
        num_features: Positive integer, the number of statistics (and extra
            channels); must divide the number of channels.
        epsilon: Small positive float added to the variance.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Tensor of rank >= 2, `(B, ..., C)`, usually `(B, H, W, C)`.
        training: Unused; the layer behaves the same in both modes.

    Example:

    >>> x = np.random.normal(size=(8, 4, 4, 16)).astype("float32")
    >>> tuple(MinibatchStandardDeviation(group_size=4)(x).shape)
    (8, 4, 4, 17)

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 3.

    Tested on the TensorFlow and JAX backends (tests/test_backends.py).
    """

    def __init__(self, group_size=4, num_features=1, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = positive_int("group_size", group_size)
        self.num_features = positive_int("num_features", num_features)
        self.epsilon = positive_number("epsilon", epsilon)

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "`MinibatchStandardDeviation` expects inputs of rank >= 2, "
                f"(batch, ..., channels). Received: input_shape={input_shape}"
            )
        channels = input_shape[-1]
        if channels is None or channels % self.num_features:
            raise ValueError(
                "The number of channels must be known and divisible by "
                f"`num_features={self.num_features}`. "
                f"Received: input_shape={input_shape}"
            )
        self._check_batch(input_shape[0])
        self.built = True

    def call(self, inputs, training=None):
        batch = ops.shape(inputs)[0]
        if isinstance(batch, int):
            group = self._check_batch(batch)
        else:
            group = ops.minimum(self.group_size, batch)
        inner = tuple(ops.shape(inputs)[1:-1])
        channels = inputs.shape[-1]
        x = ops.cast(inputs, "float32")
        # (G, M, ..., n, C/n): sample g * M + m is member g of group m.
        split = (self.num_features, channels // self.num_features)
        x = ops.reshape(x, (group, -1) + inner + split)
        x = x - ops.mean(x, axis=0, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(x), axis=0) + self.epsilon)
        # std is (M, ..., n, C/n): average out all but the group and slice.
        reduce_axes = tuple(range(1, len(inner) + 1)) + (len(inner) + 2,)
        stats = ops.mean(std, axis=reduce_axes)  # (M, n)
        stats = ops.tile(stats, (group, 1))  # (B, n), row b from group b % M
        stats = ops.reshape(
            stats, (-1,) + (1,) * len(inner) + (self.num_features,)
        )
        stats = ops.broadcast_to(
            stats, ops.shape(inputs)[:-1] + (self.num_features,)
        )
        return ops.concatenate([inputs, ops.cast(stats, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        if channels is not None:
            channels += self.num_features
        return tuple(input_shape[:-1]) + (channels,)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "group_size": self.group_size,
            "num_features": self.num_features,
            "epsilon": self.epsilon,
        }
        return {**base_config, **config}

    def _check_batch(self, batch):
        """Returns the static group size; raises if it does not divide."""
        if batch is None:
            return None
        group = min(self.group_size, batch)
        if batch % group:
            raise ValueError(
                f"The batch size must be divisible by the group size "
                f"min(group_size, batch) = {group}. Received: batch={batch}, "
                f"group_size={self.group_size}. Use a batch size that "
                "`group_size` divides, or `drop_remainder=True`."
            )
        return group
