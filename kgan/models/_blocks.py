"""Block helpers shared by kgan's builders (private to `kgan.models`).

- `make_norm(kind, ...)`: the normalisation factory. A generator body is
  written once against `norm(x, condition, name)`, and the builder picks the
  normalisation: plain BN, class-conditional BN, dense-condition BN (BigGAN)
  or self-modulated BN (SELF-MOD). This is how `selfmod_generator` reuses
  the DCGAN and ResNet bodies without a copy of either architecture.
- `to_image(x, channels, ...)`: the last generator layer, a convolution to
  `channels` followed by tanh in float32.
- `spectral(layer, enabled)`: wraps a layer in Keras' `SpectralNormalization`.
- `discriminator_head(features, ...)`: the score `Dense(phi)`, plus the
  projection term `<Embedding(y), phi>` for class-conditional models.
- `residual_up_block` / `residual_down_block`: the ResNet-form blocks.

The functions' signatures are kept stable: `kgan.models.stylegan` may use
`to_image`.
"""

import math

import keras

from kgan.layers.conditional_batch_normalization import (
    ConditionalBatchNormalization,
)
from kgan.layers.equalized_conv2d import EqualizedConv2D
from kgan.layers.fast_conv2d_transpose import FastConv2DTranspose
from kgan.layers.self_modulated_batch_normalization import (
    SelfModulatedBatchNormalization,
)


def normal_init(stddev=0.02):
    """A fresh `N(0, stddev)` initializer (DCGAN's weight init).

    A fresh instance per layer: Keras draws the same values each time one
    unseeded initializer instance is called.
    """
    return keras.initializers.RandomNormal(mean=0.0, stddev=stddev)


# Each kind builds the layer that normalises `x` under a condition; the
# condition is an int label vector ("class"), a float matrix ("dense") or the
# latent ("self_modulated").
_CONDITIONAL_NORMS = {
    "class": lambda options, name: ConditionalBatchNormalization(
        num_classes=options["num_classes"], name=name
    ),
    "dense": lambda options, name: ConditionalBatchNormalization(name=name),
    "self_modulated": lambda options, name: SelfModulatedBatchNormalization(
        hidden_units=options["hidden_units"], name=name
    ),
}
NORM_KINDS = ("batch",) + tuple(_CONDITIONAL_NORMS)


def conv2d(filters, kernel_size, name, equalized_lr=False, gain=None):
    """A 'same' `Conv2D` with DCGAN's N(0, 0.02) init, or with
    `equalized_lr` an `EqualizedConv2D` of He gain `gain` (default
    sqrt(2); 1 for a linear to-RGB), PGGAN's equalised learning rate."""
    if equalized_lr:
        gain = math.sqrt(2.0) if gain is None else gain
        return EqualizedConv2D(
            filters, kernel_size, padding="same", gain=gain, name=name
        )
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        kernel_initializer=normal_init(),
        name=name,
    )


def make_norm(kind="batch", num_classes=None, hidden_units=32):
    """Returns `norm(x, condition=None, name=None)`, a normalisation factory.

    Args:
        kind: "batch" (`BatchNormalization`), "class" (class-conditional
            `ConditionalBatchNormalization(num_classes)`, condition: int
            labels `(batch,)`), "dense" (`ConditionalBatchNormalization` with
            learned projections of a float condition `(batch, d)`, as
            BigGAN) or "self_modulated" (`SelfModulatedBatchNormalization`,
            condition: the latent `(batch, z_dim)`).
        num_classes: the number of classes, for kind "class".
        hidden_units: the MLP width, for kind "self_modulated".

    `norm(x, None, name)` gives a plain `BatchNormalization` whatever the
    kind (SNGAN and BigGAN keep the generator's last BN unconditional);
    kind "batch" rejects a condition.
    """
    if kind not in NORM_KINDS:
        raise ValueError(
            f"`kind` must be one of {list(NORM_KINDS)}. Received: kind={kind!r}"
        )
    options = {"num_classes": num_classes, "hidden_units": hidden_units}

    def norm(x, condition=None, name=None):
        if condition is None:
            return keras.layers.BatchNormalization(name=name)(x)
        if kind == "batch":
            raise ValueError(
                "A plain BatchNormalization takes no condition. "
                f"Received: kind={kind!r}, condition={condition!r}"
            )
        return _CONDITIONAL_NORMS[kind](options, name)([x, condition])

    return norm


def to_image(
    x,
    channels,
    kernel_size=3,
    strides=1,
    transposed=False,
    kernel_initializer="glorot_uniform",
    name="to_image",
):
    """The generator's output layer: conv to `channels`, then tanh.

    The tanh runs in float32 (`dtype="float32"`), so generated images are
    float32 under a mixed precision policy, as Keras' mixed precision guide
    advises for model outputs; the discriminator casts them back itself.

    Args:
        x: the last feature map `(batch, H, W, C)`.
        channels: image channels (1 or 3).
        kernel_size: the convolution's kernel size.
        strides: its stride; 2 with `transposed=True` is DCGAN's last deconv.
        transposed: `FastConv2DTranspose` (Keras' `Conv2DTranspose`, fast
            to differentiate on JAX) instead of `Conv2D`.
        kernel_initializer: the convolution's kernel initializer.
        name: prefix of the layer names, `{name}_conv` and `{name}_tanh`.

    Returns:
        images in [-1, 1], `(batch, H * strides, W * strides, channels)`.
    """
    conv = FastConv2DTranspose if transposed else keras.layers.Conv2D
    x = conv(
        channels,
        kernel_size,
        strides=strides,
        padding="same",
        kernel_initializer=kernel_initializer,
        name=f"{name}_conv",
    )(x)
    tanh = keras.layers.Activation("tanh", dtype="float32", name=f"{name}_tanh")
    return tanh(x)


def spectral(layer, enabled):
    """`layer` wrapped in `SpectralNormalization` (`{name}_sn`) if enabled.

    The wrapper takes the layer's dtype policy, so a float32 head stays
    float32 under mixed precision (the wrapper casts to its input's dtype).
    """
    if not enabled:
        return layer
    return keras.layers.SpectralNormalization(
        layer, name=f"{layer.name}_sn", dtype=layer.dtype_policy
    )


def discriminator_head(
    features,
    labels=None,
    num_classes=None,
    output_dim=1,
    spectral_norm=False,
    kernel_initializer="glorot_uniform",
    name="score",
):
    """The score `Dense(phi)`, plus `<Embedding(y), phi>` given labels.

    With labels this is the projection discriminator (Miyato & Koyama 2018):
    `score = Dense(phi) + <E[y], phi>`, with `phi` the `(batch, F)` features
    and `E` a `(num_classes, F)` table. For `output_dim > 1` (O-GAN's encoder
    `e(x)`) the projection term, a scalar per sample, is added to every
    output dimension, so the GAN score `mean(e(x))` gets exactly the
    projection term. Every layer here runs in float32 (mixed precision).

    The embedding is not spectrally normalised as in SNGAN's code: Keras'
    `SpectralNormalization` casts its output to the input's dtype, which for
    integer labels truncates the embedding to integers.

    Args:
        features: `(batch, F)` features `phi`.
        labels: int labels `(batch,)`, or None for an unconditional head.
        num_classes: the number of classes (with labels).
        output_dim: the number of scores (1, or z_dim for O-GAN).
        spectral_norm: wrap the Dense in `SpectralNormalization`.
        kernel_initializer: the Dense's kernel initializer.
        name: the Dense's name; the projection layers are
            `class_projection_embedding`, `class_projection` and
            `{name}_projected`.

    Returns:
        `(batch, output_dim)` float32 scores.
    """
    score = spectral(
        keras.layers.Dense(
            output_dim,
            kernel_initializer=kernel_initializer,
            dtype="float32",
            name=name,
        ),
        spectral_norm,
    )(features)
    if labels is None:
        return score
    embedded = keras.layers.Embedding(
        num_classes,
        features.shape[-1],
        embeddings_initializer="glorot_uniform",
        dtype="float32",
        name="class_projection_embedding",
    )(labels)
    projection = keras.layers.Dot(
        axes=-1, dtype="float32", name="class_projection"
    )([embedded, features])
    return keras.layers.Add(dtype="float32", name=f"{name}_projected")(
        [score, projection]
    )


def _conv(filters, kernel_size, name, spectral_norm=False):
    return spectral(
        keras.layers.Conv2D(filters, kernel_size, padding="same", name=name),
        spectral_norm,
    )


def _merge(shortcut, residual, residual_scale, prefix):
    if residual_scale != 1.0:
        scale = keras.layers.Rescaling(residual_scale, name=f"{prefix}_scale")
        residual = scale(residual)
    return keras.layers.Add(name=f"{prefix}_add")([shortcut, residual])


def residual_up_block(x, filters, norm, condition, residual_scale, prefix):
    """SNGAN/BigGAN up-block: `BN-ReLU-Up-Conv3x3-BN-ReLU-Conv3x3` + shortcut.

    The shortcut is `UpSampling2D`, plus a 1x1 conv when the widths differ;
    the output is `shortcut + residual_scale * residual`. `norm` is a
    `make_norm` factory applied with `condition`.
    """
    h = norm(x, condition, name=f"{prefix}_bn1")
    h = keras.layers.ReLU(name=f"{prefix}_relu1")(h)
    h = keras.layers.UpSampling2D(name=f"{prefix}_upsample")(h)
    h = _conv(filters, 3, f"{prefix}_conv1")(h)
    h = norm(h, condition, name=f"{prefix}_bn2")
    h = keras.layers.ReLU(name=f"{prefix}_relu2")(h)
    h = _conv(filters, 3, f"{prefix}_conv2")(h)
    shortcut = keras.layers.UpSampling2D(name=f"{prefix}_shortcut_upsample")(x)
    if x.shape[-1] != filters:
        shortcut = _conv(filters, 1, f"{prefix}_shortcut_conv")(shortcut)
    return _merge(shortcut, h, residual_scale, prefix)


def residual_down_block(
    x, filters, residual_scale, spectral_norm, first, prefix
):
    """SNGAN down-block: `ReLU-Conv3x3-ReLU-Conv3x3-AvgPool` + shortcut.

    The shortcut is a 1x1 conv then `AveragePooling2D`; the output is
    `shortcut + residual_scale * residual`.
    """
    # SNGAN's "optimized" first block: no activation on the raw image, and
    # the shortcut pools before its 1x1 conv.
    h = x if first else keras.layers.ReLU(name=f"{prefix}_relu1")(x)
    h = _conv(filters, 3, f"{prefix}_conv1", spectral_norm)(h)
    h = keras.layers.ReLU(name=f"{prefix}_relu2")(h)
    h = _conv(filters, 3, f"{prefix}_conv2", spectral_norm)(h)
    h = keras.layers.AveragePooling2D(2, name=f"{prefix}_pool")(h)
    shortcut_conv = _conv(filters, 1, f"{prefix}_shortcut_conv", spectral_norm)
    shortcut_pool = keras.layers.AveragePooling2D(
        2, name=f"{prefix}_shortcut_pool"
    )
    if first:
        shortcut = shortcut_conv(shortcut_pool(x))
    else:
        shortcut = shortcut_pool(shortcut_conv(x))
    return _merge(shortcut, h, residual_scale, prefix)
