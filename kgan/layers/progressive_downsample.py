"""PGGAN's view of full-size images at the current stage of growth."""

import math

import keras
from keras import ops

from kgan._checks import positive_int
from kgan.layers.progressive import ProgressiveLayer, blend_stages


@keras.saving.register_keras_serializable(package="kgan")
class ProgressiveDownsample(ProgressiveLayer):
    """Shows full-size images at the resolution of the current stage.

    Stage `j` has resolution `r_j = min_resolution * 2 ** j`, up to the
    image size `S`. `pool_j(x)` average-pools `x` to `r_j x r_j` (2x2 box
    filters all the way down, as PGGAN downscales its training set). At
    `level = k + alpha` the output is
    `(1 - alpha) * up(pool_k(x)) + alpha * up(pool_{k+1}(x))`, where `up`
    upsamples to `SxS` by nearest neighbour; at an integer level `k` it is
    `up(pool_k(x))`, and at the last level `x` itself. Put it first in the
    discriminator so that real and generated images reach it at the same
    effective resolution, whatever the stage; with `ProgressiveBlend` at
    the generator's end and both at the same integer level, the generated
    image is already constant on the blocks this layer averages, so it
    passes through unchanged (during a fade-in it is smoothed once more,
    as a real image is).

    The level is a non-trainable float32 weight, saved with the model; set
    it with `kgan.layers.progressive.set_level`. The pooled images are
    computed in the layer's compute dtype.

    Args:
        min_resolution: Positive integer, the resolution of stage 0 (4 in
            PGGAN); the image size must be it times a power of two.
        level: Non-negative float, the initial level (stage index plus
            fade-in fraction); levels past the last stage act as the last.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: Images `(B, S, S, C)`, `S` static.
        training: Unused; the layer behaves the same in both modes.

    Example:

    >>> x = np.random.normal(size=(2, 16, 16, 3)).astype("float32")
    >>> y = ProgressiveDownsample(level=0.0)(x)  # 4x4 blocks, 16x16 tensor
    >>> tuple(y.shape)
    (2, 16, 16, 3)

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 2 and figure 2.
    """

    def __init__(self, min_resolution=4, level=0.0, **kwargs):
        super().__init__(level=level, **kwargs)
        self.min_resolution = positive_int("min_resolution", min_resolution)

    def build(self, input_shape):
        size = input_shape[1]
        ratio = (size or 0) / self.min_resolution
        if (
            len(input_shape) != 4
            or size is None
            or size != input_shape[2]
            or ratio < 1
            or ratio != 2 ** round(math.log2(ratio))
        ):
            raise ValueError(
                "Inputs must be square NHWC images of a static size that is "
                f"`min_resolution` ({self.min_resolution}) times a power of "
                f"two. Received: input_shape={tuple(input_shape)}"
            )
        self.num_stages = round(math.log2(ratio)) + 1
        self.build_level()

    def call(self, inputs, training=None):
        x = ops.cast(inputs, self.compute_dtype)
        if self.num_stages == 1:
            return x
        stage_images = [x]
        for _ in range(self.num_stages - 1):
            stage_images.insert(0, _halve(stage_images[0]))
        weights = self.stage_weights(self.num_stages)
        return blend_stages(stage_images, weights, x.shape[1])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {"min_resolution": self.min_resolution}
        return {**base_config, **config}


def _halve(images):
    """2x2 average pooling; repeated, it is the box filter of any 2 ** m."""
    size, channels = images.shape[1], images.shape[3]
    blocks = ops.reshape(images, (-1, size // 2, 2, size // 2, 2, channels))
    return ops.mean(blocks, axis=(2, 4))
