"""SELF-MOD generator: the DCGAN or ResNet body with self-modulated BN.

Self-modulation (Chen et al. 2018) turns every generator BN into a
conditional BN whose condition is the generator's own noise:
`beta(z) = W2 relu(W1 z + b1) + b2`, likewise `gamma(z)`. Su's post "from
DCGAN to SELF-MOD" found it easier to train than the StyleGAN form, and his
O-GAN scripts use it. The architectures are not copied here: the DCGAN and
ResNet bodies are reused with a self-modulated normalisation factory.

Reference:
    - Chen et al., "On Self Modulation for Generative Adversarial Networks",
      https://arxiv.org/abs/1810.01365
    - Su Jianlin, "from DCGAN to SELF-MOD", https://kexue.fm/archives/6549
    - Su Jianlin, "O-GAN", https://kexue.fm/archives/6409

Tested on the TensorFlow backend.
"""

import inspect

import keras

from kgan._checks import positive_int
from kgan.models import dcgan, resnet
from kgan.models._blocks import make_norm
from kgan.models._common import (
    check_image_size,
    check_num_classes,
    generator_inputs,
)


def _dcgan_body(
    z,
    norm,
    condition,
    image_size,
    channels,
    base_channels=64,
    max_channels=1024,
    kernel_size=4,
):
    return dcgan.generator_body(
        z,
        norm,
        condition,
        image_size,
        channels,
        base_channels,
        max_channels,
        kernel_size,
    )


def _resnet_body(
    z,
    norm,
    condition,
    image_size,
    channels,
    base_channels=64,
    max_channels=512,
    residual_scale=1.0,
    attention_resolution=None,
):
    num_blocks = check_image_size(image_size)
    # Self-modulation covers every BN, the last one included.
    return resnet.generator_body(
        z,
        norm,
        [condition] * num_blocks,
        condition,
        image_size,
        channels,
        base_channels,
        max_channels,
        residual_scale,
        attention_resolution,
    )


# Each body takes the width knobs of its builder, with the same defaults.
_BODIES = {"dcgan": _dcgan_body, "resnet": _resnet_body}
SELFMOD_BODIES = tuple(_BODIES)


def _body_options(body):
    parameters = inspect.signature(_BODIES[body]).parameters.values()
    return [p.name for p in parameters if p.default is not p.empty]


def selfmod_generator(
    image_size=64,
    channels=3,
    z_dim=128,
    num_classes=None,
    body="dcgan",
    hidden_units=32,
    name="selfmod_generator",
    **body_kwargs,
):
    """SELF-MOD generator: every BN of a DCGAN / ResNet body modulated by z.

    The `body` architecture (`dcgan_generator` or `resnet_generator`, same
    layers and layer names) with every BN replaced by
    `SelfModulatedBatchNormalization([x, z])`, so each BN gets
    `gamma(z) * h + beta(z)` from its own small MLPs of z. The dense input
    layer still takes z. The output tanh runs in float32.

    With `num_classes` (conditional self-modulation), the BNs are modulated
    by `z' = z + E(c) + E'(c) * z`, with `E`, `E'` two
    `Embedding(num_classes, z_dim)` tables ("class_shift", "class_scale");
    the dense input layer takes z, as in the paper.

    Args:
        image_size: output size, a power of two from 16 to 1024.
        channels: image channels.
        z_dim: latent size.
        num_classes: None, or the number of classes (inputs `[z, labels]`).
        body: "dcgan" or "resnet".
        hidden_units: width of the modulation MLPs (32 in the paper's code;
            Su's O-GAN scripts use z_dim).
        name: the model's name.
        **body_kwargs: the body's width knobs: `base_channels`,
            `max_channels` and `kernel_size` for "dcgan"; `base_channels`,
            `max_channels`, `residual_scale` and `attention_resolution` for
            "resnet" (defaults as in `dcgan_generator` / `resnet_generator`).

    Returns:
        a `keras.Model` from `z` (or `[z, labels]`) to images in [-1, 1].

    Example:

    >>> generator = selfmod_generator(image_size=32, body="resnet",
    ...                               base_channels=16)
    >>> generator(np.random.normal(size=(2, 128))).shape
    (2, 32, 32, 3)
    """
    if body not in _BODIES:
        raise ValueError(
            f"`body` must be one of {list(_BODIES)}. Received: body={body!r}"
        )
    unknown = sorted(set(body_kwargs) - set(_body_options(body)))
    if unknown:
        raise ValueError(
            f"Unknown arguments for body={body!r}; it takes "
            f"{_body_options(body)}. Received: {unknown}"
        )
    hidden_units = positive_int("hidden_units", hidden_units)
    num_classes = check_num_classes(num_classes)
    z, labels, inputs = generator_inputs(z_dim, num_classes)
    condition = z
    if labels is not None:
        shift = keras.layers.Embedding(num_classes, z_dim, name="class_shift")(
            labels
        )
        scale = keras.layers.Embedding(num_classes, z_dim, name="class_scale")(
            labels
        )
        scaled = keras.layers.Multiply(name="class_scaled_z")([scale, z])
        condition = keras.layers.Add(name="modulation_latent")(
            [z, shift, scaled]
        )
    norm = make_norm("self_modulated", hidden_units=hidden_units)
    images = _BODIES[body](
        z, norm, condition, image_size, channels, **body_kwargs
    )
    return keras.Model(inputs, images, name=name)
