"""A progressive-growing (PGGAN) DCGAN-like generator.

Karras et al. grow the generator from 4x4 upwards and fade every new
resolution in. kgan builds the full-size network once and lets a
`ProgressiveBlend` at its end choose and fade in the image of the current
stage, so the model has one output shape, `(S, S, C)`, at every level
and one compiled train step serves the whole schedule. Pair it with a
discriminator that starts with `ProgressiveDownsample`, and drive both
levels with `kgan.callbacks.progressive.ProgressiveSchedule`.

Reference:
    - Karras et al., "Progressive Growing of GANs for Improved Quality,
      Stability, and Variation", https://arxiv.org/abs/1710.10196

Tested on the TensorFlow and JAX backends (tests/test_progressive.py).
"""

import math

import keras

from kgan._checks import positive_int
from kgan.layers.equalized_dense import EqualizedDense
from kgan.layers.pixel_normalization import PixelNormalization
from kgan.layers.progressive_blend import ProgressiveBlend
from kgan.models._blocks import conv2d, normal_init, to_image
from kgan.models._common import (
    channels_at,
    check_image_size,
    generator_inputs,
)


def progressive_dcgan_generator(
    image_size=64,
    channels=3,
    z_dim=128,
    base_channels=64,
    max_channels=512,
    equalized_lr=False,
    name="progressive_dcgan_generator",
):
    """Progressive DCGAN-like generator: one toRGB per resolution, blended.

    PGGAN's generator with plain convolutions: the latent is pixel-
    normalised, `Dense(z -> 4*4*C)` and a 3x3 conv make the 4x4 block;
    every later block doubles the resolution (nearest upsampling) and
    applies two 3x3 convs. Every conv is followed by LeakyReLU(0.2) and
    `PixelNormalization`. Each resolution from 4x4 to `image_size` has a
    1x1 toRGB conv with tanh (in float32), and a `ProgressiveBlend` combines
    them: at `level = k + alpha` the image is stage `k`'s, with stage
    `k + 1` faded in by `alpha`, nearest-upsampled to `image_size`. The
    width at resolution `r` is `channels_at(min(r, image_size / 2))`: the
    DCGAN halving rule, `base_channels` at the two largest resolutions.

    Args:
        image_size: output size, a power of two from 16 to 1024.
        channels: image channels.
        z_dim: latent size.
        base_channels: width at resolutions `image_size / 2` and up.
        max_channels: cap on the width.
        equalized_lr: PGGAN's equalised learning rate: the Dense and every
            conv become `EqualizedDense` (gain `sqrt(2) / 4`, as PGGAN's
            first layer) and `EqualizedConv2D` (gain `sqrt(2)`; 1 for the
            toRGB convs); the layer names stay the same.
        name: the model's name.

    Returns:
        a `keras.Model` from `z` to images
        `(batch, image_size, image_size, channels)` in [-1, 1]; its
        `ProgressiveBlend` layer is named `"progressive_blend"` and starts
        at level 0 (4x4).

    Example:

    >>> generator = progressive_dcgan_generator(image_size=16, z_dim=8)
    >>> set_level(generator, 1.5)  # the number of layers set
    1
    >>> tuple(generator(np.random.normal(size=(2, 8))).shape)
    (2, 16, 16, 3)
    """
    check_image_size(image_size)
    channels = positive_int("channels", channels)
    base_channels = positive_int("base_channels", base_channels)
    max_channels = positive_int("max_channels", max_channels)
    if not isinstance(equalized_lr, bool):
        raise ValueError(
            "`equalized_lr` must be True or False. "
            f"Received: equalized_lr={equalized_lr!r}"
        )
    z, _, inputs = generator_inputs(z_dim, None)

    def width(resolution):
        resolution = min(resolution, image_size // 2)
        return channels_at(resolution, image_size, base_channels, max_channels)

    x = PixelNormalization(name="z_norm")(z)
    if equalized_lr:
        dense = EqualizedDense(
            4 * 4 * width(4), gain=math.sqrt(2.0) / 4, name="dense"
        )
    else:
        dense = keras.layers.Dense(
            4 * 4 * width(4), kernel_initializer=normal_init(), name="dense"
        )
    x = dense(x)
    x = keras.layers.Reshape((4, 4, width(4)), name="reshape")(x)
    x = _activate(x, "block_4x4_dense")
    x = _conv(x, width(4), "block_4x4_conv", equalized_lr)

    def to_rgb(x, resolution):
        name = f"to_rgb_{resolution}x{resolution}"
        if not equalized_lr:
            return to_image(x, channels, kernel_size=1, name=name)
        x = conv2d(channels, 1, f"{name}_conv", equalized_lr, gain=1.0)(x)
        return keras.layers.Activation(
            "tanh", dtype="float32", name=f"{name}_tanh"
        )(x)

    rgb = [to_rgb(x, 4)]
    resolution = 4
    while resolution < image_size:
        resolution *= 2
        prefix = f"block_{resolution}x{resolution}"
        x = keras.layers.UpSampling2D(2, name=f"{prefix}_up")(x)
        x = _conv(x, width(resolution), f"{prefix}_conv1", equalized_lr)
        x = _conv(x, width(resolution), f"{prefix}_conv2", equalized_lr)
        rgb.append(to_rgb(x, resolution))
    # float32, like the toRGB tanh: images are float32 under mixed precision.
    images = ProgressiveBlend(dtype="float32", name="progressive_blend")(rgb)
    return keras.Model(inputs, images, name=name)


def _conv(x, filters, name, equalized_lr):
    return _activate(conv2d(filters, 3, name, equalized_lr)(x), name)


def _activate(x, name):
    x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu")(x)
    return PixelNormalization(name=f"{name}_pn")(x)
