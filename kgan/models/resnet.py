"""ResNet-form generator and discriminator builders (SNGAN / BigGAN).

No transposed or strided convolutions: 3x3 convs in residual blocks,
`UpSampling2D` to go up and `AveragePooling2D` to go down, which avoids the
checkerboard artifacts of stride 2. A block returns
`shortcut(x) + residual_scale * f(x)` (Su: a scale below 1, e.g. 0.1, helps
stability). Widths follow the DCGAN rule: `base_channels` at resolution
`image_size / 2`, doubling each time the resolution halves, capped by
`max_channels`; the generator's last block (at `image_size`) has
`base_channels / 2`, as BigGAN's `ch`. Kernels use Glorot-uniform init, as
in the SNGAN and BigGAN code.

Reference:
    - Miyato et al., "Spectral Normalization for Generative Adversarial
      Networks", https://arxiv.org/abs/1802.05957
    - Miyato & Koyama, "cGANs with Projection Discriminator",
      https://arxiv.org/abs/1802.05637
    - Zhang et al., "Self-Attention Generative Adversarial Networks",
      https://arxiv.org/abs/1805.08318
    - Brock et al., "Large Scale GAN Training for High Fidelity Natural Image
      Synthesis" (BigGAN), https://arxiv.org/abs/1809.11096
    - Su Jianlin, "from DCGAN to SELF-MOD", https://kexue.fm/archives/6549

Tested on the TensorFlow backend.
"""

import keras

from kgan._checks import positive_int, positive_number
from kgan.layers.latent_split import LatentSplit
from kgan.layers.minibatch_standard_deviation import (
    MinibatchStandardDeviation,
)
from kgan.layers.self_attention_2d import SelfAttention2D
from kgan.models._blocks import (
    discriminator_head,
    make_norm,
    residual_down_block,
    residual_up_block,
    to_image,
)
from kgan.models._common import (
    channels_at,
    check_attention_resolution,
    check_image_size,
    check_num_classes,
    discriminator_inputs,
    generator_inputs,
    resolutions,
)


def _width(resolution, image_size, base_channels, max_channels):
    return max(
        1, channels_at(resolution, image_size, base_channels, max_channels)
    )


def _up_resolutions(image_size):
    """Output resolutions of the generator's up-blocks: 8, ..., image_size."""
    return resolutions(image_size)[1:] + [image_size]


def generator_body(
    latent,
    norm,
    block_conditions,
    final_condition,
    image_size,
    channels,
    base_channels,
    max_channels,
    residual_scale,
    attention_resolution,
):
    """The ResNet generator from `latent` to the image.

    Shared by `resnet_generator` and `selfmod_generator`: `norm` is a
    `_blocks.make_norm` factory, `block_conditions` holds the condition of
    each up-block's two BNs, `final_condition` that of the last BN.
    """
    check_image_size(image_size)
    channels = positive_int("channels", channels)
    base_channels = positive_int("base_channels", base_channels)
    max_channels = positive_int("max_channels", max_channels)
    positive_number("residual_scale", residual_scale)
    check_attention_resolution(
        attention_resolution, _up_resolutions(image_size)
    )
    width = _width(4, image_size, base_channels, max_channels)
    x = keras.layers.Dense(4 * 4 * width, name="dense")(latent)
    x = keras.layers.Reshape((4, 4, width), name="reshape")(x)
    for resolution, condition in zip(
        _up_resolutions(image_size), block_conditions
    ):
        prefix = f"block_{resolution}x{resolution}"
        filters = _width(resolution, image_size, base_channels, max_channels)
        x = residual_up_block(
            x, filters, norm, condition, residual_scale, prefix
        )
        if resolution == attention_resolution:
            x = SelfAttention2D(name=f"attention_{resolution}x{resolution}")(x)
    x = norm(x, final_condition, name="final_bn")
    x = keras.layers.ReLU(name="final_relu")(x)
    return to_image(x, channels, kernel_size=3)


def resnet_generator(
    image_size=64,
    channels=3,
    z_dim=128,
    num_classes=None,
    base_channels=64,
    max_channels=512,
    residual_scale=1.0,
    attention_resolution=None,
    hierarchical_latent=True,
    embedding_dim=128,
    name="resnet_generator",
):
    """ResNet generator (SNGAN / BigGAN): `Dense -> 4x4 -> up-blocks -> tanh`.

    `Dense(z -> 4*4*C)`, reshape, then one residual up-block per doubling up
    to `image_size`: `BN-ReLU-UpSampling2D-Conv3x3-BN-ReLU-Conv3x3`, with
    shortcut `UpSampling2D` (+ a 1x1 conv when the widths differ) and
    `out = shortcut + residual_scale * residual`; an optional
    `SelfAttention2D` (SAGAN) after the block at `attention_resolution`;
    then `BN-ReLU-Conv3x3(channels)-tanh`, the tanh in float32.

    With `num_classes` (BigGAN): one shared `Embedding(num_classes,
    embedding_dim)` of the labels, and every block's BNs are
    `ConditionalBatchNormalization` of a dense condition. With
    `hierarchical_latent` z is split by `LatentSplit` into `num_blocks + 1`
    equal chunks: the first feeds the Dense, block i is conditioned on
    `concat(chunk_i, embedding)`; without it the Dense gets z and every
    block `concat(z, embedding)`. The last BN stays unconditional, as in
    BigGAN. Unconditional models use plain BN and ignore
    `hierarchical_latent` and `embedding_dim`.

    Args:
        image_size: output size, a power of two from 16 to 1024.
        channels: image channels.
        z_dim: latent size; with `num_classes` and `hierarchical_latent` it
            must be divisible by `log2(image_size) - 1`.
        num_classes: None, or the number of classes (inputs `[z, labels]`).
        base_channels: width at resolution `image_size / 2`.
        max_channels: cap on the width.
        residual_scale: the residual branch's scale alpha.
        attention_resolution: None, or the output resolution of the block
            followed by self-attention (8 to image_size).
        hierarchical_latent: BigGAN's split of z across the blocks.
        embedding_dim: size of the shared class embedding.
        name: the model's name.

    Returns:
        a `keras.Model` from `z` (or `[z, labels]`) to images in [-1, 1].

    Example:

    >>> generator = resnet_generator(image_size=32, base_channels=16)
    >>> generator(np.random.normal(size=(2, 128))).shape
    (2, 32, 32, 3)
    """
    # The body checks the other arguments.
    num_blocks = check_image_size(image_size)
    embedding_dim = positive_int("embedding_dim", embedding_dim)
    num_classes = check_num_classes(num_classes)
    z_dim = positive_int("z_dim", z_dim)
    hierarchical = hierarchical_latent and num_classes is not None
    if hierarchical and z_dim % (num_blocks + 1):
        nearest = max(1, round(z_dim / (num_blocks + 1))) * (num_blocks + 1)
        raise ValueError(
            f"With hierarchical_latent=True, z is split into {num_blocks + 1} "
            f"equal chunks (one for the Dense and one per block at "
            f"{image_size} px), so z_dim must be divisible by "
            f"{num_blocks + 1} (e.g. z_dim={nearest}); or pass "
            f"hierarchical_latent=False. Received: z_dim={z_dim}"
        )
    z, labels, inputs = generator_inputs(z_dim, num_classes)
    if num_classes is None:
        latent, conditions = z, [None] * num_blocks
    else:
        embedding = keras.layers.Embedding(
            num_classes, embedding_dim, name="class_embedding"
        )(labels)
        if hierarchical:
            split = LatentSplit(num_blocks + 1, name="latent_split")
            latent, *chunks = split(z)
            conditions = [
                keras.layers.Concatenate(name=f"block_{r}x{r}_condition")(
                    [chunk, embedding]
                )
                for r, chunk in zip(_up_resolutions(image_size), chunks)
            ]
        else:
            latent = z
            condition = keras.layers.Concatenate(name="condition")(
                [z, embedding]
            )
            conditions = [condition] * num_blocks
    images = generator_body(
        latent,
        make_norm("batch" if num_classes is None else "dense"),
        conditions,
        None,
        image_size,
        channels,
        base_channels,
        max_channels,
        residual_scale,
        attention_resolution,
    )
    return keras.Model(inputs, images, name=name)


def resnet_discriminator(
    image_size=64,
    channels=3,
    num_classes=None,
    output_dim=1,
    base_channels=64,
    max_channels=512,
    residual_scale=1.0,
    attention_resolution=None,
    spectral_norm=True,
    minibatch_std=False,
    name="resnet_discriminator",
):
    """ResNet discriminator (SNGAN): down-blocks -> ReLU -> sum -> Dense.

    One residual down-block per halving from `image_size` to 4x4:
    `ReLU-Conv3x3-ReLU-Conv3x3-AveragePooling2D`, shortcut 1x1 conv +
    `AveragePooling2D`; the first block is SNGAN's "optimized" block (no
    ReLU on the image, the shortcut pools first). No BN. An optional
    `SelfAttention2D` follows the block at `attention_resolution`, an
    optional `MinibatchStandardDeviation` the last block. Then ReLU, global
    sum pooling (`GlobalAveragePooling2D` times 16, the 4x4 area, as a
    `Rescaling` layer) and `Dense(output_dim)`, in float32; with
    `num_classes` the projection term `<Embedding(y), phi>` is added to
    every output. Every Conv and Dense is spectrally normalised by default.

    Args:
        image_size: input size, a power of two from 16 to 1024.
        channels: image channels.
        num_classes: None, or the number of classes (inputs
            `[images, labels]`).
        output_dim: number of outputs (1, or z_dim for O-GAN).
        base_channels: width of the first block (resolution image_size / 2).
        max_channels: cap on the width.
        residual_scale: the residual branch's scale alpha.
        attention_resolution: None, or the output resolution of the block
            followed by self-attention (4 to image_size / 2).
        spectral_norm: spectral normalisation of every Conv and Dense.
        minibatch_std: append a minibatch standard deviation channel (the
            batch must be divisible by 4, or smaller than 4).
        name: the model's name.

    Returns:
        a `keras.Model` from images (or `[images, labels]`) to
        `(batch, output_dim)` scores.

    Example:

    >>> discriminator = resnet_discriminator(image_size=32, base_channels=16)
    >>> discriminator(np.zeros((2, 32, 32, 3))).shape
    (2, 1)
    """
    base_channels = positive_int("base_channels", base_channels)
    max_channels = positive_int("max_channels", max_channels)
    output_dim = positive_int("output_dim", output_dim)
    positive_number("residual_scale", residual_scale)
    num_classes = check_num_classes(num_classes)
    images, labels, inputs = discriminator_inputs(
        image_size, channels, num_classes
    )
    downs = list(reversed(resolutions(image_size)))
    check_attention_resolution(attention_resolution, downs)
    x = images
    for resolution in downs:
        prefix = f"block_{resolution}x{resolution}"
        filters = _width(resolution, image_size, base_channels, max_channels)
        first = resolution == downs[0]
        x = residual_down_block(
            x, filters, residual_scale, spectral_norm, first, prefix
        )
        if resolution == attention_resolution:
            x = SelfAttention2D(name=f"attention_{resolution}x{resolution}")(x)
    if minibatch_std:
        x = MinibatchStandardDeviation(name="minibatch_std")(x)
    x = keras.layers.ReLU(name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    # SNGAN sums over the 4x4 map rather than averaging; the mean times the
    # area is that sum without a custom layer.
    features = keras.layers.Rescaling(16.0, name="global_sum")(x)
    scores = discriminator_head(
        features, labels, num_classes, output_dim, spectral_norm=spectral_norm
    )
    return keras.Model(inputs, scores, name=name)
