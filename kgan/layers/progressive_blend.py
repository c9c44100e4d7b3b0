"""PGGAN's fade-in of the generator's output across resolutions."""

import keras

from kgan.layers.progressive import ProgressiveLayer, blend_stages


@keras.saving.register_keras_serializable(package="kgan")
class ProgressiveBlend(ProgressiveLayer):
    """Picks, and fades in, the generator's image at the current stage.

    A progressive generator has one toRGB output per resolution,
    `rgb_0, ..., rgb_{N-1}` at `4x4, 8x8, ..., SxS` (each twice the size of
    the one before). At `level = k + alpha` the output is PGGAN's fade-in,
    `(1 - alpha) * up(rgb_k) + alpha * rgb_{k+1}` at the resolution of stage
    `k + 1`, nearest-upsampled to `SxS`; at an integer level `k` it is
    `rgb_k` nearest-upsampled, and at the last level `rgb_{N-1}` itself. The
    output always has the shape of the last input, so one compiled train
    step serves every stage. The level is a non-trainable float32 weight,
    saved with the model; set it with `kgan.layers.progressive.set_level`.
    It is read through arithmetic stage weights (see
    `kgan.layers.progressive`), never a Python branch, so the layer traces
    once. Every stage is still computed: the stages above the current one
    get weight 0 and hence no gradient.

    Args:
        level: Non-negative float, the initial level (stage index plus
            fade-in fraction); levels past the last stage act as the last.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).

    Call arguments:
        inputs: List of `N >= 1` tensors `(B, r, r, C)`, `r = r_0 * 2 ** j`
            (the toRGB outputs from the lowest resolution up).
        training: Unused; the layer behaves the same in both modes.

    Example:

    >>> rgb = [np.ones((2, 4, 4, 3)), np.zeros((2, 8, 8, 3))]
    >>> blend = ProgressiveBlend(level=0.25)
    >>> float(blend(rgb)[0, 0, 0, 0])
    0.75

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 2 and figure 2.
    """

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(
                "`ProgressiveBlend` expects a list of image tensors, one per "
                f"stage. Received: input_shape={input_shape!r}"
            )
        for j, shape in enumerate(input_shape):
            if len(shape) != 4 or shape[1] is None or shape[1] != shape[2]:
                raise ValueError(
                    "Every input must be a square NHWC image of static size. "
                    f"Received: input_shape[{j}]={tuple(shape)}"
                )
            if j and (
                shape[1] != 2 * input_shape[j - 1][1]
                or shape[3] != input_shape[0][3]
            ):
                raise ValueError(
                    "Each input must be twice the size of the one before, "
                    "with the same channels. Received: "
                    f"input_shape={[tuple(s) for s in input_shape]}"
                )
        self.num_stages = len(input_shape)
        self.build_level()

    def call(self, inputs, training=None):
        if self.num_stages == 1:
            return inputs[0]
        weights = self.stage_weights(self.num_stages)
        return blend_stages(list(inputs), weights, inputs[-1].shape[1])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[-1])
