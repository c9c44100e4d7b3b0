"""StyleGAN-form generator: a learned constant styled by AdaIN at every conv.

Su's post "from DCGAN to SELF-MOD" describes the StyleGAN form as a small
change to a conditional-BN generator: a trainable constant replaces the noise
at the top, every conditional BN becomes AdaIN (statistics per sample and
channel over H, W), and the noise reaches the AdaIN layers through a
multi-layer MLP, the mapping network, with separate affine projections for
each AdaIN. Per-layer noise inputs are optional. kgan's form:

    z -> PixelNormalization -> [Dense(w_dim) -> LeakyReLU(0.2)] x mapping_layers
      -> w -> LatentAverage (running mean of w, for truncation)
      -> broadcast to (num_layers, w_dim) [-> StyleMixing with a second w]
      -> one row w_i per AdaIN
    LearnedConstant(4x4) -> block 4x4 -> block 8x8 -> ... -> block SxS
      -> Conv2D 1x1 -> tanh
    block: [UpSampling2D (not at 4x4)] -> 2 x [Conv2D 3x3 -> NoiseInjection
           (optional) -> LeakyReLU(0.2) -> AdaIN([x, w_i])]

Options from StyleGAN and PGGAN: style-mixing regularisation
(`style_mixing=p`), the equalised learning rate (`equalized_lr=True`,
Dense and Conv2D become `EqualizedDense` and `EqualizedConv2D`, the AdaIN
projections equalised too) and
progressive growing (`progressive=True`: a to-RGB after every block,
blended by `ProgressiveBlend` as in `progressive_dcgan_generator`).

Reference:
    - Karras et al., "A Style-Based Generator Architecture for Generative
      Adversarial Networks", https://arxiv.org/abs/1812.04948
    - Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive
      Instance Normalization", https://arxiv.org/abs/1703.06868
    - Karras et al., "Progressive Growing of GANs for Improved Quality,
      Stability, and Variation", https://arxiv.org/abs/1710.10196
    - Su Jianlin, https://kexue.fm/archives/6549

Tested on the TensorFlow and JAX backends (tests/test_stylegan_styles.py).
"""

import keras

from kgan._checks import number_in, positive_int, positive_number
from kgan.layers.adaptive_instance_normalization import (
    AdaptiveInstanceNormalization,
)
from kgan.layers.equalized_dense import EqualizedDense
from kgan.layers.latent_average import LatentAverage
from kgan.layers.latent_resample import LatentResample
from kgan.layers.latent_split import LatentSplit
from kgan.layers.learned_constant import LearnedConstant
from kgan.layers.noise_injection import NoiseInjection
from kgan.layers.pixel_normalization import PixelNormalization
from kgan.layers.progressive_blend import ProgressiveBlend
from kgan.layers.style_mixing import StyleMixing
from kgan.models._blocks import conv2d
from kgan.models._common import (
    channels_at,
    check_image_size,
    check_num_classes,
    generator_inputs,
)


def _mapping_network(w_dim, mapping_layers, equalized_lr, lr_multiplier):
    """The mapping MLP as a list of layers, shared by every latent mapped."""
    layers = []
    for i in range(1, mapping_layers + 1):
        if equalized_lr:
            dense = EqualizedDense(
                w_dim, lr_multiplier=lr_multiplier, name=f"mapping_dense_{i}"
            )
        else:
            # He init, not N(0, 0.02): with N(0, 0.02) each 128-wide layer
            # shrinks the scale of w about six-fold, so a deep mapping network
            # would hand the AdaIN projections a w near zero (the equalised
            # learning rate uses the same sqrt(2 / fan_in) gain).
            dense = keras.layers.Dense(
                w_dim, kernel_initializer="he_normal", name=f"mapping_dense_{i}"
            )
        layers.append(dense)
        layers.append(
            keras.layers.LeakyReLU(
                negative_slope=0.2, name=f"mapping_lrelu_{i}"
            )
        )
    return layers


def _styled_conv(x, w, filters, prefix, noise_injection, equalized_lr):
    x = conv2d(filters, 3, f"{prefix}_conv", equalized_lr)(x)
    if noise_injection:
        x = NoiseInjection(name=f"{prefix}_noise")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"{prefix}_lrelu")(x)
    # Each AdaIN owns its affine projections of its own w: StyleGAN's "A".
    return AdaptiveInstanceNormalization(
        equalized_lr=equalized_lr, name=f"{prefix}_adain"
    )([x, w])


def _style_block(x, ws, filters, resolution, noise_injection, equalized_lr):
    prefix = f"block{resolution}"
    if resolution > 4:
        x = keras.layers.UpSampling2D(2, name=f"{prefix}_up")(x)
    for i, w in enumerate(ws, start=1):
        x = _styled_conv(
            x, w, filters, f"{prefix}_{i}", noise_injection, equalized_lr
        )
    return x


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
    style_mixing=0.0,
    equalized_lr=False,
    mapping_lr_multiplier=0.01,
    progressive=False,
    name="stylegan_generator",
):
    """Builds a StyleGAN-form generator `z -> image` in [-1, 1].

    A trainable 4x4 constant is the only spatial input. The noise `z` is
    pixel-normalised and mapped by an MLP to `w`; every 3x3 conv is followed
    by (optional) per-pixel noise, LeakyReLU(0.2) and AdaIN, whose per-channel
    `gamma(w)` and `beta(w)` come from the AdaIN layer's own affine
    projections of its own copy of `w`. Blocks run at 4x4, 8x8, ...,
    `image_size` with two styled convs each; widths follow `channels_at`
    (Su's halving rule, `base_channels` at `image_size / 2`, capped at
    `max_channels`). A 1x1 conv with tanh gives the image.

    `w` passes through a `LatentAverage` layer named `"w_average"`. It keeps a
    running mean of `w` during training (`model(z, training=True)`) and at any
    time returns `average + truncation_psi * (w - average)`; `truncation_psi`
    is 1 (identity) until `kgan.sampling.sample(..., truncation=psi)` sets it.
    The (truncated) `w` is then broadcast to StyleGAN's
    `(batch, num_layers, w_dim)` styles (`"w_broadcast"`, one row per AdaIN,
    `num_layers = 2 * (log2(image_size) - 1)`), and AdaIN `i` reads row `i`
    (`"w_per_layer"`). Without mixing every row is `w`, so the model computes
    exactly what a single shared `w` would.

    With `style_mixing=p > 0`, in training mode and with probability `p` per
    batch, the rows after a random crossover come from a second latent
    (`StyleMixing`, Karras et al. 2019, section 3.1). The second latent is a
    fresh `N(0, I)` draw (`LatentResample`, not the batch rolled by one; see
    its docstring), mapped by the same mapping network with the same label.
    It bypasses `"w_average"`: the running mean follows `w` alone, and no
    truncation is needed since nothing is mixed at inference.

    With `equalized_lr=True` the mapping network uses `EqualizedDense` with
    `lr_multiplier=mapping_lr_multiplier` (StyleGAN: 0.01) and every conv
    is an `EqualizedConv2D` (PGGAN's equalised learning rate; gain 1 for the
    to-RGB conv), and so are the AdaIN style projections (StyleGAN's "A",
    gain 1). The layer names stay the same.

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
        style_mixing: probability in [0, 1] that a training batch mixes two
            latents' styles; 0 (the default) builds no mixing branch.
        equalized_lr: whether the mapping network and the convs use the
            equalised learning rate.
        mapping_lr_multiplier: the mapping network's learning-rate
            multiplier when `equalized_lr` (ignored otherwise).
        progressive: whether to grow the output progressively (PGGAN, as
            StyleGAN itself was trained): one to-RGB per block, faded in by
            a `ProgressiveBlend` named `"progressive_blend"`, starting at
            level 0 (4x4).
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
    for flag, value in [
        ("noise_injection", noise_injection),
        ("equalized_lr", equalized_lr),
        ("progressive", progressive),
    ]:
        if not isinstance(value, bool):
            raise ValueError(
                f"`{flag}` must be True or False. Received: {flag}={value!r}"
            )
    w_average_momentum = number_in(
        "w_average_momentum", w_average_momentum, 0, 1, high_open=True
    )
    style_mixing = number_in("style_mixing", style_mixing, 0, 1)
    mapping_lr_multiplier = positive_number(
        "mapping_lr_multiplier", mapping_lr_multiplier
    )

    z, labels, inputs = generator_inputs(z_dim, num_classes)
    if labels is not None:
        embedded = keras.layers.Embedding(
            num_classes, z_dim, name="label_embedding"
        )(labels)
        z_and_label = keras.layers.Concatenate(name="z_and_label")
    pixel_norm = PixelNormalization(name="z_pixel_norm")
    mapping = _mapping_network(
        w_dim, mapping_layers, equalized_lr, mapping_lr_multiplier
    )

    def to_w(latent):
        h = latent if labels is None else z_and_label([latent, embedded])
        h = pixel_norm(h)
        for layer in mapping:
            h = layer(h)
        return h

    w = LatentAverage(momentum=w_average_momentum, name="w_average")(to_w(z))
    num_layers = 2 * (num_upsamplings + 1)
    styles = keras.layers.RepeatVector(num_layers, name="w_broadcast")(w)
    if style_mixing > 0:
        # The second w skips w_average: its running mean follows w alone,
        # and truncation has nothing to do there (no mixing at inference).
        mix_w = to_w(LatentResample(name="mixing_latent")(z))
        mix_styles = keras.layers.RepeatVector(
            num_layers, name="mixing_w_broadcast"
        )(mix_w)
        styles = StyleMixing(style_mixing, name="style_mixing")(
            [styles, mix_styles]
        )
    # Row i of the styles for AdaIN i: flattened, then cut into equal chunks.
    styles = keras.layers.Reshape((num_layers * w_dim,), name="w_flat")(styles)
    ws = LatentSplit(num_layers, name="w_per_layer")(styles)

    def width(resolution):
        # At `image_size` the halving rule gives base_channels // 2, which is
        # 0 for base_channels=1.
        return max(
            1, channels_at(resolution, image_size, base_channels, max_channels)
        )

    def to_rgb(x, suffix=""):
        # A linear conv (gain 1, as StyleGAN's to-RGB), then tanh.
        x = conv2d(channels, 1, f"to_rgb{suffix}", equalized_lr, gain=1.0)(x)
        return keras.layers.Activation("tanh", name=f"tanh{suffix}")(x)

    x = LearnedConstant((4, 4, width(4)), name="const")(z)
    images = []  # with `progressive`, one image per resolution
    for k in range(num_upsamplings + 1):
        resolution = 4 * 2**k
        x = _style_block(
            x,
            ws[2 * k : 2 * k + 2],
            width(resolution),
            resolution,
            noise_injection,
            equalized_lr,
        )
        if progressive:
            images.append(to_rgb(x, f"_{resolution}x{resolution}"))
    if progressive:
        # float32, as the DCGAN form's blend: images are float32 under
        # mixed precision.
        outputs = ProgressiveBlend(dtype="float32", name="progressive_blend")(
            images
        )
    else:
        outputs = to_rgb(x)
    return keras.Model(inputs, outputs, name=name)
