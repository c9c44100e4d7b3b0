"""DiffAugment: differentiable augmentation of a discriminator's inputs."""

import keras
from keras import ops

from kgan._checks import integer, is_number, positive_int
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

    **Probability and ADA.** With `probability=p < 1` each of the five
    transforms (brightness, saturation, contrast, translation, cutout) is
    applied to each image with probability `p`, independently, as ADA
    (Karras et al. 2020) gates its augmentations; DiffAugment's own rule is
    `p = 1`. With `target`, `p` adapts (ADA's heuristic): the trainer hands
    `update_probability` the sign of D's verdict on every augmented real
    image it trains on (+1 real, -1 fake); every `adjust_interval` batches
    `r_t` = the mean of those signs, and `p <- clip(p + sign(r_t - target)
    * N / adjust_images, 0, 1)`, `N` the images seen in the interval, so
    `p` can cross [0, 1] in `adjust_images` images. D that grows confident
    on the training images (overfitting: `r_t` above the target) gets more
    augmentation. `p` then lives in the layer's `probability` variable: it
    is saved with the weights and a resumed run continues from it.

    Args:
        policy: a comma-separated string of `"color"`, `"translation"` and
            `"cutout"`, default `"translation,cutout,color"`. An empty
            string augments nothing.
        translation_ratio: the largest shift as a fraction of the image
            size, in [0, 1]; default 0.125 (1/8).
        cutout_ratio: the side of the cutout square as a fraction of the
            image size, in [0, 1]; default 0.5.
        probability: the chance, in [0, 1], that each transform is applied
            to each image; with `target`, its starting value. Default 1
            (DiffAugment's rule), or 0 with `target` (ADA's start).
        target: ADA's target for `r_t`, in (-1, 1) (the paper's 0.6), or
            None (default) for a fixed `probability`.
        adjust_images: with `target`, the images it takes `p` to move by 1
            (ADA's 500k, its `ada_kimg = 500`); scale it to a short run's
            length.
        adjust_interval: with `target`, the batches between adjustments
            (ADA's 4).
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

    Adaptive (ADA's heuristic; the kgan trainers feed it):

    >>> augment = DiffAugment(target=0.6, adjust_images=100_000)
    >>> gan = kgan.training.OneStepGAN(g, d, augment=augment)

    Reference:
        Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
        GAN Training", https://arxiv.org/abs/2006.10738; official code
        (DiffAugment_tf.py, DiffAugment_pytorch.py)
        https://github.com/mit-han-lab/data-efficient-gans. The adaptive
        probability: Karras et al. 2020, "Training Generative Adversarial
        Networks with Limited Data", https://arxiv.org/abs/2006.06676,
        section 2.3 and its code (training_loop.py, `ada_target`,
        `ada_interval`, `ada_kimg`).
    """

    def __init__(
        self,
        policy="translation,cutout,color",
        translation_ratio=0.125,
        cutout_ratio=0.5,
        probability=None,
        target=None,
        adjust_images=500_000,
        adjust_interval=4,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.transforms = parse_policy(policy)
        self.policy = policy
        self.translation_ratio = _ratio("translation_ratio", translation_ratio)
        self.cutout_ratio = _ratio("cutout_ratio", cutout_ratio)
        if target is not None:
            target = _open_unit("target", target)
        self.target = target
        if probability is None:
            probability = 1.0 if target is None else 0.0
        self.initial_probability = _ratio("probability", probability)
        self.adjust_images = positive_int("adjust_images", adjust_images)
        self.adjust_interval = positive_int("adjust_interval", adjust_interval)
        self.seed = integer("seed", seed, allow_none=True)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        if self.adaptive:
            # ADA's state, saved with the weights: p, and the signs and
            # batches gathered since the last adjustment. "mean": replicas
            # of tf.distribute agree (each sees the same mean of signs).
            self.probability = self._state("probability", probability)
            self.sign_sum = self._state("sign_sum", 0.0)
            self.batches = self._state("batches", 0.0)
        else:
            self.probability = self.initial_probability
        self.built = True  # shapes are checked on each call

    @property
    def adaptive(self):
        """True when `probability` follows ADA's heuristic (`target`)."""
        return self.target is not None

    def _state(self, name, value):
        return self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(value),
            dtype="float32",
            trainable=False,
            aggregation="mean",
            name=name,
        )

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

    def update_probability(self, real_signs, batch_size=None):
        """ADA's step: gathers D's verdicts, adjusts `p` every interval.

        Args:
            real_signs: `(batch,)` signs of D's verdict on the augmented
                real images it trained on: +1 scored real, -1 fake (for
                logits, `ops.sign(D(x))`).
            batch_size: the images those signs stand for (the global batch
                when each replica passes its own slice); default their
                count.

        Returns:
            `r_t` so far in this interval.
        """
        if not self.adaptive:
            raise ValueError(
                "`update_probability` needs an adaptive DiffAugment: pass "
                "`target` (ADA's 0.6) when creating the layer."
            )
        signs = ops.cast(ops.convert_to_tensor(real_signs), "float32")
        if batch_size is None:
            batch_size = ops.shape(signs)[0]
        p = self.probability.value
        sign_sum = self.sign_sum.value + ops.mean(signs)
        batches = self.batches.value + 1.0
        r_t = sign_sum / batches
        adjust = batches >= self.adjust_interval
        images = ops.cast(batch_size, "float32") * batches
        step = ops.sign(r_t - self.target) * images / self.adjust_images
        self.probability.assign(
            ops.where(adjust, ops.clip(p + step, 0.0, 1.0), p)
        )
        self.sign_sum.assign(ops.where(adjust, 0.0, sign_sum))
        self.batches.assign(ops.where(adjust, 0.0, batches))
        return r_t

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "policy": self.policy,
            "translation_ratio": self.translation_ratio,
            "cutout_ratio": self.cutout_ratio,
            "probability": self.initial_probability,
            "target": self.target,
            "adjust_images": self.adjust_images,
            "adjust_interval": self.adjust_interval,
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

    def _gated(self, x, augmented):
        """`augmented` for each image with probability `p`, else `x`.

        At a fixed `p = 1` nothing is drawn: DiffAugment's own stream.
        """
        if not self.adaptive and self.initial_probability == 1.0:
            return augmented
        u = self._uniform(x, 0.0, 1.0)
        p = self.probability.value if self.adaptive else self.probability
        p = ops.cast(p, u.dtype)
        return ops.where(u < p, augmented, x)

    def _random_color(self, x):
        x = self._gated(x, brightness(x, self._uniform(x, -0.5, 0.5)))
        x = self._gated(x, saturation(x, self._uniform(x, 0.0, 2.0)))
        return self._gated(x, contrast(x, self._uniform(x, 0.5, 1.5)))

    def _random_translation(self, x):
        shift_h, shift_w = (
            _fraction(size, self.translation_ratio) for size in x.shape[1:3]
        )
        shifted = translate(
            x,
            self._randint(x, -shift_h, shift_h + 1),
            self._randint(x, -shift_w, shift_w + 1),
        )
        return self._gated(x, shifted)

    def _random_cutout(self, x):
        height, width = x.shape[1:3]
        size_h = _fraction(height, self.cutout_ratio)
        size_w = _fraction(width, self.cutout_ratio)
        if size_h == 0 or size_w == 0:
            return x
        # An even side has one more possible centre (the official code's).
        centre_h = self._randint(x, 0, height + 1 - size_h % 2)
        centre_w = self._randint(x, 0, width + 1 - size_w % 2)
        return self._gated(x, cutout(x, centre_h, centre_w, size_h, size_w))


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


def _open_unit(name, value):
    if not is_number(value) or not -1 < value < 1:
        raise ValueError(
            f"`{name}` must be a number in (-1, 1), ADA's 0.6 for example. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _ratio(name, value):
    if not is_number(value) or not 0 <= value <= 1:
        raise ValueError(
            f"`{name}` must be a number in [0, 1]. Received: {name}={value!r}"
        )
    return float(value)
