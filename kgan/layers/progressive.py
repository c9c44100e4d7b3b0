"""Progressive growing (PGGAN) as a training strategy for a fixed-shape `fit`.

Karras et al. grow the generator and the discriminator one resolution at a
time, fading each new resolution in. Keras compiles one train step for one
set of shapes, so kgan keeps every tensor at the full image size at the
model boundary and lets a non-trainable scalar `level` decide what the
models compute: `level = k + alpha` is stage `k` (resolution `4 * 2 ** k`)
with the next stage faded in by `alpha`. The two layers that read it,
`ProgressiveBlend` (the generator's output) and `ProgressiveDownsample`
(the discriminator's input), subclass `ProgressiveLayer`; `set_level`
writes the level of every one of them in a model, and `schedule_level`
gives the level at a training step.

Every stage weight is the hat function `max(0, 1 - |level - j|)`: at
`level = k + alpha` stage `k` gets `1 - alpha`, stage `k + 1` gets `alpha`
and every other stage 0. Nearest upsampling is linear and composes
(`up_S(up_{2r}(x)) = up_S(x)`), so blending at the resolution of stage
`k + 1` and then upsampling to `S`, as the paper does, equals blending
the images already upsampled to `S`, which is what these layers compute:
no Python branch on the level, one trace for every stage.

Reference:

- [Karras et al., 2018, Progressive Growing of GANs for Improved Quality,
  Stability, and Variation](https://arxiv.org/abs/1710.10196), section 2
  and figure 2.
"""

import keras
from keras import ops

from kgan._checks import is_int, is_number, positive_int


class ProgressiveLayer(keras.layers.Layer):
    """Base of the layers driven by a progressive `level` (not exported).

    Holds the non-trainable float32 scalar weight `level` (saved with the
    model, never cast to a lower precision under mixed precision) and the
    hat weights of the stages.

    Args:
        level: Non-negative float, the initial level (stage index plus
            fade-in fraction). Values above the last stage act as the last.
        **kwargs: Base layer keyword arguments (e.g. `name` and `dtype`).
    """

    def __init__(self, level=0.0, **kwargs):
        super().__init__(**kwargs)
        if not is_number(level) or level < 0:
            raise ValueError(
                "`level` must be a non-negative number. "
                f"Received: level={level!r}"
            )
        self.initial_level = float(level)

    def build_level(self):
        self.level = self.add_weight(
            name="level",
            shape=(),
            dtype="float32",
            initializer=keras.initializers.Constant(self.initial_level),
            trainable=False,
            autocast=False,
        )

    def stage_weights(self, num_stages):
        """The `num_stages` hat weights at the current level (float32)."""
        level = ops.clip(
            ops.convert_to_tensor(self.level, "float32"), 0.0, num_stages - 1
        )
        stages = ops.arange(num_stages, dtype="float32")
        return ops.maximum(0.0, 1.0 - ops.abs(level - stages))

    def get_config(self):
        base_config = super().get_config()
        config = {"level": self.initial_level}
        return {**base_config, **config}


def upsample_nearest(images, factor):
    """Nearest-neighbour upsampling of NHWC `images` by an integer factor."""
    if factor == 1:
        return images
    images = ops.repeat(images, factor, axis=1)
    return ops.repeat(images, factor, axis=2)


def blend_stages(stage_images, weights, size):
    """`sum_j weights[j] * up_size(stage_images[j])`, in the images' dtype."""
    weights = ops.cast(weights, stage_images[-1].dtype)
    total = None
    for j, images in enumerate(stage_images):
        term = weights[j] * upsample_nearest(images, size // images.shape[1])
        total = term if total is None else total + term
    return total


def set_level(model, level):
    """Sets the `level` of every progressive layer in `model`.

    Walks the layers recursively (nested models and wrappers included) and
    assigns `level` to the `level` weight of each `ProgressiveLayer`;
    nothing else is touched. Call it on the generator and on the
    discriminator (or let `kgan.callbacks.ProgressiveSchedule` do so).

    Args:
        model: a Keras layer or model.
        level: non-negative float, stage index plus fade-in fraction.

    Returns:
        the number of layers set (0 when `model` has none).
    """
    if not is_number(level) or level < 0:
        raise ValueError(
            f"`level` must be a non-negative number. Received: level={level!r}"
        )
    count = 0
    for layer in _walk(model):
        if isinstance(layer, ProgressiveLayer):
            if not layer.built:
                raise ValueError(
                    f"Layer {layer.name!r} is not built yet: call the model "
                    "once before `set_level`."
                )
            layer.level.assign(float(level))
            count += 1
    return count


def _walk(layer):
    seen = set()
    stack = [layer]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # Public API only: models (and wrappers such as Sequential) list
        # their sub-layers in `.layers`.
        stack.extend(getattr(current, "layers", None) or [])


def schedule_level(step, stage_steps, fade_steps, num_stages):
    """The progressive level at a training step.

    Stage 0 (4x4) trains for `stage_steps` steps with nothing to fade in.
    Every later stage `k` trains for `stage_steps` steps too, of which the
    first `fade_steps` fade it in linearly from the previous stage: its
    level goes from `k - 1` to `k` over those steps, then stays at `k`.
    The level is capped at `num_stages - 1`, so the last stage trains on
    for as long as training runs. With `stage_steps=100, fade_steps=50`:
    steps 0-99 give 0.0; 100 gives 0.0, 125 gives 0.5, 150-199 give 1.0;
    200 starts fading in stage 2. PGGAN fades and stabilises for 800k
    images each, i.e. `fade_steps = stage_steps / 2`.

    Args:
        step: the number of training steps done (an int >= 0).
        stage_steps: steps spent in each stage, fade-in included.
        fade_steps: steps of each stage (after the first) spent fading it
            in; from 0 (switch at once) to `stage_steps`.
        num_stages: number of resolutions, `log2(image_size) - 1` from 4x4.

    Returns:
        a float in `[0, num_stages - 1]`.
    """
    step = int(step)
    stage_steps = positive_int("stage_steps", stage_steps)
    num_stages = positive_int("num_stages", num_stages)
    if not is_int(fade_steps) or not 0 <= fade_steps <= stage_steps:
        raise ValueError(
            "`fade_steps` must be an integer from 0 to `stage_steps` "
            f"({stage_steps}). Received: fade_steps={fade_steps!r}"
        )
    if step < 0:
        raise ValueError(f"`step` must be >= 0. Received: step={step}")
    fade_steps = int(fade_steps)
    stage, into = divmod(step, stage_steps)
    if stage >= num_stages:
        return float(num_stages - 1)
    if stage == 0 or into >= fade_steps:
        return float(stage)
    return stage - 1 + into / fade_steps
