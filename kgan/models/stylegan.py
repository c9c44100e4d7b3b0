"""StyleGAN-form generator: a learned constant styled by AdaIN at every conv.

Su's post "from DCGAN to SELF-MOD" describes the StyleGAN form as a small
change to a conditional-BN generator: a trainable constant replaces the noise
at the top, every conditional BN becomes AdaIN (statistics per sample and
channel over H, W), and the noise reaches the AdaIN layers through a
multi-layer MLP, the mapping network, with separate affine projections for
each AdaIN. Per-layer noise inputs are optional. kgan's form:

    z -> PixelNormalization -> [Dense(w_dim) -> LeakyReLU(0.2)] x mapping_layers
      -> w -> LatentAverage (running mean of w, for truncation)
    LearnedConstant(4x4) -> block 4x4 -> block 8x8 -> ... -> block SxS
      -> Conv2D 1x1 -> tanh
    block: [UpSampling2D (not at 4x4)] -> 2 x [Conv2D 3x3 -> NoiseInjection
           (optional) -> LeakyReLU(0.2) -> AdaIN([x, w])]

Reference:
    - Karras et al., "A Style-Based Generator Architecture for Generative
      Adversarial Networks", https://arxiv.org/abs/1812.04948
    - Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive
      Instance Normalization", https://arxiv.org/abs/1703.06868
    - Su Jianlin, https://kexue.fm/archives/6549

Tested on the TensorFlow backend.
"""

import keras

from kgan._checks import number_in, positive_int
from kgan.layers.adaptive_instance_normalization import (
    AdaptiveInstanceNormalization,
)
from kgan.layers.latent_average import LatentAverage
from kgan.layers.learned_constant import LearnedConstant
from kgan.layers.noise_injection import NoiseInjection
from kgan.layers.pixel_normalization import PixelNormalization
from kgan.models._common import (
    channels_at,
    check_image_size,
    check_num_classes,
    generator_inputs,
)


def _conv_init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _mapping_network(h, w_dim, mapping_layers):
    for i in range(1, mapping_layers + 1):
        # He init, not N(0, 0.02): with N(0, 0.02) each 128-wide layer shrinks
        # the scale of w about six-fold, so a deep mapping network would hand
        # the AdaIN projections a w near zero (StyleGAN's equalised learning
        # rate uses the same sqrt(2 / fan_in) gain).
        h = keras.layers.Dense(
            w_dim,
            kernel_initializer="he_normal",
            name=f"mapping_dense_{i}",
        )(h)
        h = keras.layers.LeakyReLU(
            negative_slope=0.2, name=f"mapping_lrelu_{i}"
        )(h)
    return h


def _styled_conv(x, w, filters, prefix, noise_injection):
    x = keras.layers.Conv2D(
        filters,
        3,
        padding="same",
        kernel_initializer=_conv_init(),
        name=f"{prefix}_conv",
    )(x)
    if noise_injection:
        x = NoiseInjection(name=f"{prefix}_noise")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"{prefix}_lrelu")(x)
    # Each AdaIN owns its affine projections of w: StyleGAN's "A" boxes.
    return AdaptiveInstanceNormalization(name=f"{prefix}_adain")([x, w])


def _style_block(x, w, filters, resolution, noise_injection):
    prefix = f"block{resolution}"
    if resolution > 4:
        x = keras.layers.UpSampling2D(2, name=f"{prefix}_up")(x)
    x = _styled_conv(x, w, filters, f"{prefix}_1", noise_injection)
    return _styled_conv(x, w, filters, f"{prefix}_2", noise_injection)


def stylegan_generator(
    image_size=64,
    channels=3,
    z_dim=128,
    num_classes=None,
    w_dim=None,
    mapping_layers=4,
    base_channels=64,
    max_channels=512,
    noise_injection=True,
    w_average_momentum=0.995,
    name="stylegan_generator",
):
    """Builds a StyleGAN-form generator `z -> image` in [-1, 1].

    A trainable 4x4 constant is the only spatial input. The noise `z` is
    pixel-normalised and mapped by an MLP to `w`; every 3x3 conv is followed
    by (optional) per-pixel noise, LeakyReLU(0.2) and AdaIN, whose per-channel
    `gamma(w)` and `beta(w)` come from the AdaIN layer's own affine
    projections of `w`. Blocks run at 4x4, 8x8, ..., `image_size` with two
    styled convs each; widths follow `channels_at` (Su's halving rule,
    `base_channels` at `image_size / 2`, capped at `max_channels`). A 1x1 conv
    with tanh gives the image.

    `w` passes through a `LatentAverage` layer named `"w_average"`. It keeps a
    running mean of `w` during training (`model(z, training=True)`) and at any
    time returns `average + truncation_psi * (w - average)`; `truncation_psi`
    is 1 (identity) until `kgan.sampling.sample(..., truncation=psi)` sets it.

    With `num_classes`, the model takes `[z, labels]`: an `Embedding(
    num_classes, z_dim)` of the label is concatenated to `z` before the pixel
    normalisation and the mapping network, as StyleGAN's conditional mapping
    network does, so the class acts through `w` on every AdaIN. It also
    means that truncation toward the single running mean of `w` pulls every
    class toward the same average image (psi = 0 gives one image for all).

    Note: `NoiseInjection` draws fresh noise on every call, inference
    included, so two calls agree only while its scales are zero (at init) or
    with `noise_injection=False`.

    Args:
        image_size: output height and width, a power of two from 16 to 1024.
        channels: image channels (1 or 3 usually).
        z_dim: size of the noise vector `z`.
        num_classes: None (unconditional) or the number of classes.
        w_dim: size of the intermediate latent `w`; None means `z_dim`.
        mapping_layers: number of Dense + LeakyReLU layers in the mapping
            network.
        base_channels: width at resolution `image_size / 2`.
        max_channels: cap on the width of any block.
        noise_injection: whether each styled conv adds per-pixel noise with
            a learned per-channel scale (initialised at 0).
        w_average_momentum: momentum of the running mean of `w`.
        name: model name.

    Returns:
        A Functional `keras.Model`, inputs `z` (or `[z, labels]`), output
        `(batch, image_size, image_size, channels)`.

    Example:

    >>> g = stylegan_generator(image_size=32, z_dim=16, base_channels=8)
    >>> g(np.random.normal(size=(2, 16))).shape
    (2, 32, 32, 3)
    """
    num_upsamplings = check_image_size(image_size)
    channels = positive_int("channels", channels)
    z_dim = positive_int("z_dim", z_dim)
    num_classes = check_num_classes(num_classes)
    w_dim = z_dim if w_dim is None else positive_int("w_dim", w_dim)
    mapping_layers = positive_int("mapping_layers", mapping_layers)
    base_channels = positive_int("base_channels", base_channels)
    max_channels = positive_int("max_channels", max_channels)
    if not isinstance(noise_injection, bool):
        raise ValueError(
            "`noise_injection` must be True or False. "
            f"Received: noise_injection={noise_injection!r}"
        )
    w_average_momentum = number_in(
        "w_average_momentum", w_average_momentum, 0, 1, high_open=True
    )

    z, labels, inputs = generator_inputs(z_dim, num_classes)
    h = z
    if labels is not None:
        embedded = keras.layers.Embedding(
            num_classes, z_dim, name="label_embedding"
        )(labels)
        h = keras.layers.Concatenate(name="z_and_label")([z, embedded])
    h = PixelNormalization(name="z_pixel_norm")(h)
    w = _mapping_network(h, w_dim, mapping_layers)
    w = LatentAverage(momentum=w_average_momentum, name="w_average")(w)

    def width(resolution):
        # At `image_size` the halving rule gives base_channels // 2, which is
        # 0 for base_channels=1.
        return max(
            1, channels_at(resolution, image_size, base_channels, max_channels)
        )

    x = LearnedConstant((4, 4, width(4)), name="const")(z)
    for k in range(num_upsamplings + 1):
        resolution = 4 * 2**k
        x = _style_block(x, w, width(resolution), resolution, noise_injection)
    x = keras.layers.Conv2D(
        channels, 1, kernel_initializer=_conv_init(), name="to_rgb"
    )(x)
    outputs = keras.layers.Activation("tanh", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)
