"""DiffAugment: differentiable augmentation of a discriminator's inputs."""

import keras
from keras import ops

from kgan._checks import integer, is_number
from kgan._seed_state import SavedSeedState

POLICIES = ("color", "translation", "cutout")


@keras.saving.register_keras_serializable(package="kgan")
class DiffAugment(SavedSeedState, keras.layers.Layer):
    """Random, differentiable augmentations of a batch of images.

    DiffAugment (Zhao et al. 2020) augments the real *and* the fake images
    every time the discriminator sees them, in its loss and in the
    generator's, and the augmentations are differentiable so the generator
    is trained through them. D then cannot memorise a small training set,
    and G is not taught to produce augmented images (the augmentations of
    real images do not leak into G's distribution).

    Each item of `policy` (applied in the order given, each image of the
    batch drawing its own parameters, as the official code does):

    - `"color"`: brightness `x + b`, `b ~ U(-0.5, 0.5)`; then saturation
      `(x - m_c) * s + m_c`, `s ~ U(0, 2)`, `m_c` the mean over channels of
      each pixel; then contrast `(x - m) * c + m`, `c ~ U(0.5, 1.5)`, `m` the
      mean of the whole image.
    - `"translation"`: shift each image by an integer `t ~ U{-n, ..., n}`
      pixels along each spatial axis, `n = int(size * translation_ratio +
      0.5)`, filling with zeros: `out[i, j] = x[i + t_h, j + t_w]`.
    - `"cutout"`: zero a square of side `k = int(size * cutout_ratio +
      0.5)` (per axis) at a random centre, clipped at the borders; the
      square's first row is `centre - k // 2`, `centre ~ U{0, ..., size - k
      % 2}`.

    The magnitudes assume images in [-1, 1] (kgan's range, and the official
    code's). Channels-last images `(batch, height, width, channels)`, with
    known height and width. The layer keeps the input's dtype.

    Args:
        policy: a comma-separated string of `"color"`, `"translation"` and
            `"cutout"`, default `"translation,cutout,color"`. An empty
            string augments nothing.
        translation_ratio: the largest shift as a fraction of the image
            size, in [0, 1]; default 0.125 (1/8).
        cutout_ratio: the side of the cutout square as a fraction of the
            image size, in [0, 1]; default 0.5.
        seed: optional integer seed of the layer's `SeedGenerator`: the
            draws change from call to call and are reproducible.
        **kwargs: base layer keyword arguments (e.g. `name`).

    Call arguments:
        inputs: images `(batch, height, width, channels)`.
        training: augment when True; the identity otherwise (the kgan
            trainers call it with `training=True` before every D call).

    Example:

    >>> augment = DiffAugment("color,translation,cutout", seed=0)
    >>> augmented = augment(images, training=True)

    Reference:
        Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
        GAN Training", https://arxiv.org/abs/2006.10738; official code
        (DiffAugment_tf.py, DiffAugment_pytorch.py)
        https://github.com/mit-han-lab/data-efficient-gans.
    """

    def __init__(
        self,
        policy="translation,cutout,color",
        translation_ratio=0.125,
        cutout_ratio=0.5,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.transforms = parse_policy(policy)
        self.policy = policy
        self.translation_ratio = _ratio("translation_ratio", translation_ratio)
        self.cutout_ratio = _ratio("cutout_ratio", cutout_ratio)
        self.seed = integer("seed", seed, allow_none=True)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.built = True  # no weights; shapes are checked on each call

    def call(self, inputs, training=None):
        if not training or not self.transforms:
            return inputs
        shape = tuple(inputs.shape)
        if len(shape) != 4 or shape[1] is None or shape[2] is None:
            raise ValueError(
                "`DiffAugment` expects images (batch, height, width, "
                f"channels) of known height and width. Received: "
                f"inputs.shape={shape}"
            )
        x = inputs
        for name in self.transforms:
            x = getattr(self, f"_random_{name}")(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "policy": self.policy,
            "translation_ratio": self.translation_ratio,
            "cutout_ratio": self.cutout_ratio,
            "seed": self.seed,
        }
        return {**base_config, **config}

    # -- the random transforms: parameters drawn per image ------------------
    def _uniform(self, x, low, high):
        shape = (ops.shape(x)[0], 1, 1, 1)
        u = keras.random.uniform(
            shape, low, high, dtype="float32", seed=self.seed_generator
        )
        return ops.cast(u, x.dtype)

    def _randint(self, x, low, high):
        shape = (ops.shape(x)[0],)
        return keras.random.randint(
            shape, low, high, dtype="int32", seed=self.seed_generator
        )

    def _random_color(self, x):
        x = brightness(x, self._uniform(x, -0.5, 0.5))
        x = saturation(x, self._uniform(x, 0.0, 2.0))
        return contrast(x, self._uniform(x, 0.5, 1.5))

    def _random_translation(self, x):
        shift_h, shift_w = (
            _fraction(size, self.translation_ratio) for size in x.shape[1:3]
        )
        return translate(
            x,
            self._randint(x, -shift_h, shift_h + 1),
            self._randint(x, -shift_w, shift_w + 1),
        )

    def _random_cutout(self, x):
        height, width = x.shape[1:3]
        size_h = _fraction(height, self.cutout_ratio)
        size_w = _fraction(width, self.cutout_ratio)
        if size_h == 0 or size_w == 0:
            return x
        # An even side has one more possible centre (the official code's).
        centre_h = self._randint(x, 0, height + 1 - size_h % 2)
        centre_w = self._randint(x, 0, width + 1 - size_w % 2)
        return cutout(x, centre_h, centre_w, size_h, size_w)


# -- the transforms, given their per-image parameters ------------------------
def brightness(images, magnitude):
    """`x + magnitude`, `magnitude` of shape `(batch, 1, 1, 1)`."""
    return images + magnitude


def saturation(images, magnitude):
    """`(x - m_c) * magnitude + m_c`, `m_c` the channel mean of each pixel."""
    mean = ops.mean(images, axis=-1, keepdims=True)
    return (images - mean) * magnitude + mean


def contrast(images, magnitude):
    """`(x - m) * magnitude + m`, `m` the mean of each whole image."""
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * magnitude + mean


def translate(images, shift_h, shift_w):
    """`out[b, i, j] = x[b, i + shift_h[b], j + shift_w[b]]`, zero outside.

    `shift_h`, `shift_w`: integer tensors of shape `(batch,)`.
    """
    return _shift(_shift(images, shift_h, axis=1), shift_w, axis=2)


def _shift(images, shift, axis):
    # The official code's gather: pad one zero on each side, then read
    # index `i + shift + 1` clipped into the padding.
    size = images.shape[axis]
    padding = [[0, 0]] * 4
    padding[axis] = [1, 1]
    padded = ops.pad(images, padding)
    shift = ops.cast(shift, "int32")
    index = ops.arange(size, dtype="int32")[None, :] + shift[:, None] + 1
    index = ops.clip(index, 0, size + 1)
    index = ops.expand_dims(index, [a for a in (1, 2, 3) if a != axis])
    index = ops.broadcast_to(index, ops.shape(images))
    return ops.take_along_axis(padded, index, axis=axis)


def cutout(images, centre_h, centre_w, size_h, size_w):
    """Zeros rows `[centre_h - size_h // 2, + size_h)` times the same in
    columns, per image, clipped at the borders.

    `centre_h`, `centre_w`: integer tensors of shape `(batch,)`;
    `size_h`, `size_w`: Python ints.
    """
    height, width = images.shape[1:3]
    top = ops.reshape(ops.cast(centre_h, "int32") - size_h // 2, (-1, 1, 1))
    left = ops.reshape(ops.cast(centre_w, "int32") - size_w // 2, (-1, 1, 1))
    rows = ops.reshape(ops.arange(height, dtype="int32"), (1, -1, 1))
    cols = ops.reshape(ops.arange(width, dtype="int32"), (1, 1, -1))
    inside = ops.logical_and(
        ops.logical_and(rows >= top, rows < top + size_h),
        ops.logical_and(cols >= left, cols < left + size_w),
    )
    mask = 1 - ops.cast(inside, images.dtype)
    return images * ops.expand_dims(mask, -1)


def parse_policy(policy):
    """`"color,cutout"` -> `("color", "cutout")`; raises `ValueError`."""
    if not isinstance(policy, str):
        raise ValueError(
            "`policy` must be a comma-separated string of "
            f"{', '.join(map(repr, POLICIES))}. Received: policy={policy!r}"
        )
    if not policy.strip():
        return ()
    items = tuple(item.strip() for item in policy.split(","))
    for item in items:
        if item not in POLICIES:
            raise ValueError(
                f"Unknown DiffAugment policy item {item!r}: valid items are "
                f"{', '.join(map(repr, POLICIES))}. Received: policy="
                f"{policy!r}"
            )
    return items


def _fraction(size, ratio):
    """`int(size * ratio + 0.5)`, the official code's rounding."""
    return int(size * ratio + 0.5)


def _ratio(name, value):
    if not is_number(value) or not 0 <= value <= 1:
        raise ValueError(
            f"`{name}` must be a number in [0, 1]. Received: {name}={value!r}"
        )
    return float(value)
