"""DCGAN generator and discriminator builders.

Radford et al.'s DCGAN, as Su's scripts size it: the depth comes from the
image size, the width halves each time the resolution doubles (64 px:
z -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> 3x64x64), no pooling
(strided convolutions both ways), BN everywhere but the generator's output
and the discriminator's first layer, and weights drawn from `N(0, 0.02)`.

Reference:
    - Radford et al., "Unsupervised Representation Learning with Deep
      Convolutional Generative Adversarial Networks",
      https://arxiv.org/abs/1511.06434
    - Miyato & Koyama, "cGANs with Projection Discriminator",
      https://arxiv.org/abs/1802.05637
    - Su Jianlin, "from DCGAN to SELF-MOD", https://kexue.fm/archives/6549

Tested on the TensorFlow backend.
"""

import keras

from kgan._checks import positive_int
from kgan.layers.fast_conv2d_transpose import FastConv2DTranspose
from kgan.layers.minibatch_standard_deviation import (
    MinibatchStandardDeviation,
)
from kgan.models._blocks import (
    discriminator_head,
    make_norm,
    normal_init,
    spectral,
    to_image,
)
from kgan.models._common import (
    channels_at,
    check_image_size,
    check_num_classes,
    discriminator_inputs,
    generator_inputs,
    resolutions,
)


def generator_body(
    z,
    norm,
    condition,
    image_size,
    channels,
    base_channels,
    max_channels,
    kernel_size,
):
    """The DCGAN generator from the latent `z` to the image.

    Shared by `dcgan_generator` and `selfmod_generator`, which differ only
    in `norm` (a `_blocks.make_norm` factory) and the `condition` given to
    every normalisation (None, class labels, or the latent).
    """
    _check_generator_args(image_size, channels, base_channels, max_channels)
    kernel_size = positive_int("kernel_size", kernel_size)
    width = channels_at(4, image_size, base_channels, max_channels)
    # No biases ahead of BN: its shift (or the conditional beta) replaces them.
    x = keras.layers.Dense(
        4 * 4 * width,
        use_bias=False,
        kernel_initializer=normal_init(),
        name="dense",
    )(z)
    x = keras.layers.Reshape((4, 4, width), name="reshape")(x)
    x = norm(x, condition, name="block_4x4_bn")
    x = keras.layers.ReLU(name="block_4x4_relu")(x)
    for resolution in resolutions(image_size)[1:]:
        prefix = f"block_{resolution}x{resolution}"
        x = FastConv2DTranspose(
            channels_at(resolution, image_size, base_channels, max_channels),
            kernel_size,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=normal_init(),
            name=f"{prefix}_deconv",
        )(x)
        x = norm(x, condition, name=f"{prefix}_bn")
        x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
    return to_image(
        x,
        channels,
        kernel_size=kernel_size,
        strides=2,
        transposed=True,
        kernel_initializer=normal_init(),
    )


def _check_generator_args(image_size, channels, base_channels, max_channels):
    check_image_size(image_size)
    channels = positive_int("channels", channels)
    base_channels = positive_int("base_channels", base_channels)
    max_channels = positive_int("max_channels", max_channels)


def dcgan_generator(
    image_size=64,
    channels=3,
    z_dim=128,
    num_classes=None,
    base_channels=64,
    max_channels=1024,
    kernel_size=4,
    name="dcgan_generator",
):
    """DCGAN generator: `z -> Dense -> 4x4 -> [deconv, BN, ReLU]... -> tanh`.

    `Dense(z -> 4*4*C)`, reshape, BN, ReLU, then `Conv2DTranspose` (stride 2)
    -> BN -> ReLU blocks up to `image_size / 2`, then a last stride-2
    `Conv2DTranspose` to `channels` with tanh and no BN (each a
    `kgan.layers.FastConv2DTranspose`: Keras' layer, differentiated
    through its adjoint on JAX, ~25x faster there). The width at
    resolution `r` is `min(max_channels, base_channels * image_size / 2 / r)`
    (Su's rule: 512x4x4 ... 64x32x32 at 64 px). Weights start from
    `N(0, 0.02)`. With `num_classes`, every BN is a class-conditional
    `ConditionalBatchNormalization(num_classes)` fed the labels.

    The output tanh runs in float32, so images are float32 under mixed
    precision.

    Args:
        image_size: output size, a power of two from 16 to 1024.
        channels: image channels.
        z_dim: latent size.
        num_classes: None, or the number of classes (inputs `[z, labels]`).
        base_channels: width at resolution `image_size / 2`.
        max_channels: cap on the width.
        kernel_size: the deconvolutions' kernel size (4 or 5 in DCGAN).
        name: the model's name.

    Returns:
        a `keras.Model` from `z` (or `[z, labels]`, int labels `(batch,)`) to
        images `(batch, image_size, image_size, channels)` in [-1, 1].

    Example:

    >>> generator = dcgan_generator(image_size=32, z_dim=64)
    >>> generator(np.random.normal(size=(2, 64))).shape
    (2, 32, 32, 3)
    """
    num_classes = check_num_classes(num_classes)
    z, labels, inputs = generator_inputs(z_dim, num_classes)
    norm = make_norm("batch" if labels is None else "class", num_classes)
    images = generator_body(
        z,
        norm,
        labels,
        image_size,
        channels,
        base_channels,
        max_channels,
        kernel_size,
    )
    return keras.Model(inputs, images, name=name)


def dcgan_discriminator(
    image_size=64,
    channels=3,
    num_classes=None,
    output_dim=1,
    base_channels=64,
    max_channels=1024,
    kernel_size=4,
    spectral_norm=False,
    minibatch_std=False,
    batch_norm=True,
    name="dcgan_discriminator",
):
    """DCGAN discriminator: `[conv, BN, LeakyReLU(0.2)]... -> Flatten -> Dense`.

    Stride-2 `Conv2D` layers from `image_size` down to 4x4 (the width at
    resolution `r` as in `dcgan_generator`), BN after every conv but the
    first, LeakyReLU(0.2), then `Flatten` (no global pooling) and
    `Dense(output_dim)`. `output_dim=z_dim` makes the O-GAN encoder `e(x)`,
    whose GAN score is `mean(e(x))`.

    With `spectral_norm=True` every Conv and Dense is wrapped in Keras'
    `SpectralNormalization` and there is no BN at all (SNGAN's
    discriminator has none). With `minibatch_std=True` a
    `MinibatchStandardDeviation` channel is appended to the 4x4 features
    before the head (the batch must then be divisible by its group size 4,
    or be smaller than 4). With `num_classes` it is a projection
    discriminator: `score = Dense(phi) + <Embedding(y), phi>`, the
    projection term added to every one of the `output_dim` scores. The
    scores are float32 under mixed precision.

    Args:
        image_size: input size, a power of two from 16 to 1024.
        channels: image channels.
        num_classes: None, or the number of classes (inputs
            `[images, labels]`).
        output_dim: number of outputs (1, or z_dim for O-GAN).
        base_channels: width of the first conv (resolution image_size / 2).
        max_channels: cap on the width.
        kernel_size: the convolutions' kernel size.
        spectral_norm: spectral normalisation of every Conv and Dense
            (and no BN).
        minibatch_std: append a minibatch standard deviation channel.
        batch_norm: BN after the convs but the first (ignored with
            `spectral_norm`).
        name: the model's name.

    Returns:
        a `keras.Model` from images (or `[images, labels]`) to
        `(batch, output_dim)` scores.

    Example:

    >>> discriminator = dcgan_discriminator(image_size=32)
    >>> discriminator(np.zeros((2, 32, 32, 3))).shape
    (2, 1)
    """
    base_channels = positive_int("base_channels", base_channels)
    max_channels = positive_int("max_channels", max_channels)
    kernel_size = positive_int("kernel_size", kernel_size)
    output_dim = positive_int("output_dim", output_dim)
    num_classes = check_num_classes(num_classes)
    images, labels, inputs = discriminator_inputs(
        image_size, channels, num_classes
    )
    use_bn = batch_norm and not spectral_norm
    x = images
    for i, resolution in enumerate(reversed(resolutions(image_size))):
        prefix = f"block_{resolution}x{resolution}"
        with_bn = use_bn and i > 0
        width = channels_at(resolution, image_size, base_channels, max_channels)
        x = spectral(
            keras.layers.Conv2D(
                width,
                kernel_size,
                strides=2,
                padding="same",
                use_bias=not with_bn,
                kernel_initializer=normal_init(),
                name=f"{prefix}_conv",
            ),
            spectral_norm,
        )(x)
        if with_bn:
            x = keras.layers.BatchNormalization(name=f"{prefix}_bn")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"{prefix}_lrelu")(
            x
        )
    if minibatch_std:
        x = MinibatchStandardDeviation(name="minibatch_std")(x)
    features = keras.layers.Flatten(name="flatten")(x)
    scores = discriminator_head(
        features,
        labels,
        num_classes,
        output_dim,
        spectral_norm=spectral_norm,
        kernel_initializer=normal_init(),
    )
    return keras.Model(inputs, scores, name=name)
