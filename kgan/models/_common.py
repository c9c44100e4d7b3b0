"""Argument checks and sizing rules shared by every kgan builder.

Su's scripts derive the depth from the image size: a 4x4 feature map is
doubled `log2(image_size) - 2` times, and the width halves each time the
resolution doubles (`max_channels = image_size * 8` at 4x4 in his code, which
is `base_channels = 64` at resolution `image_size / 2`). kgan keeps that rule
and caps the width at `max_channels` so a 1024 px model stays trainable.
"""

import math

import keras

from kgan._checks import is_int, positive_int

ALLOWED_IMAGE_SIZES = tuple(2**k for k in range(4, 11))  # 16 ... 1024


def check_image_size(image_size):
    """Returns the number of 2x upsamplings from 4x4 to `image_size`."""
    if not is_int(image_size) or image_size not in ALLOWED_IMAGE_SIZES:
        hint = ""
        if is_int(image_size) and image_size > 0:
            up = 2 ** math.ceil(math.log2(image_size))
            if up in ALLOWED_IMAGE_SIZES:
                hint = (
                    f" Pad or resize your images to {up}x{up} "
                    f"(MNIST's 28x28 digits: pad 2 pixels on each side to 32)."
                )
        raise ValueError(
            "`image_size` must be a power of two from 16 to 1024, one of "
            f"{list(ALLOWED_IMAGE_SIZES)}. Received: image_size={image_size!r}."
            + hint
        )
    return int(math.log2(image_size)) - 2


def check_num_classes(num_classes):
    if num_classes is None:
        return None
    if not is_int(num_classes) or num_classes < 2:
        raise ValueError(
            "`num_classes` must be None (unconditional) or an integer >= 2. "
            f"Received: num_classes={num_classes!r}"
        )
    return int(num_classes)


def check_attention_resolution(attention_resolution, allowed):
    if attention_resolution is not None and attention_resolution not in allowed:
        raise ValueError(
            "`attention_resolution` must be None or the resolution of a "
            f"block's output, one of {allowed}. "
            f"Received: attention_resolution={attention_resolution!r}"
        )


def channels_at(resolution, image_size, base_channels, max_channels):
    """Width of the feature map at `resolution` (Su's halving rule, capped).

    `base_channels` is the width at `image_size / 2`; each halving of the
    resolution doubles it, up to `max_channels`.
    """
    return int(
        min(max_channels, base_channels * (image_size // 2) // resolution)
    )


def resolutions(image_size):
    """Feature-map sizes from 4 up to `image_size / 2`: [4, 8, ..., S/2]."""
    return [2**k for k in range(2, int(math.log2(image_size)))]


def generator_inputs(z_dim, num_classes):
    """Returns `(z, labels, inputs)`; `labels` is None when unconditional."""
    z_dim = positive_int("z_dim", z_dim)
    z = keras.Input(shape=(z_dim,), name="z")
    if num_classes is None:
        return z, None, z
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    return z, labels, [z, labels]


def discriminator_inputs(image_size, channels, num_classes):
    """Returns `(images, labels, inputs)`; `labels` is None if unconditional."""
    check_image_size(image_size)
    channels = positive_int("channels", channels)
    images = keras.Input(
        shape=(image_size, image_size, channels), name="images"
    )
    if num_classes is None:
        return images, None, images
    labels = keras.Input(shape=(), dtype="int32", name="labels")
    return images, labels, [images, labels]
