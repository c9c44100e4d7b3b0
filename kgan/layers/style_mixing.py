"""StyleGAN's mixing regularisation: two latents' styles, one crossover."""

import keras
from keras import ops

from kgan._checks import integer, number_in


@keras.saving.register_keras_serializable(package="kgan")
class StyleMixing(keras.layers.Layer):
    """Switches the per-layer styles to a second latent's after a crossover.

    StyleGAN gives each AdaIN layer of the synthesis network its own copy of
    `w`, a `(batch, num_layers, w_dim)` tensor. Mixing regularisation trains
    the generator on images whose styles come from two latents: in training
    mode, with probability `probability` per batch, a crossover point `k` is
    drawn uniformly from `{1, ..., num_layers - 1}` and
    `outputs[:, i] = styles[:, i] if i < k else mix_styles[:, i]`, so the
    coarse layers follow the first latent and the fine ones the second; one
    decision and one `k` serve the whole batch, as in StyleGAN's code.
    Otherwise (no mixing drawn, `training=False`, or `probability=0`) the
    layer returns `styles` unchanged. The draws come from a
    `keras.random.SeedGenerator(seed)` whose state is a layer variable, so
    the layer works inside a stateless (JAX) train step.

    The layer only selects: the second latent (in `stylegan_generator`, a
    fresh `N(0, I)` draw mapped by the same mapping network; see
    `LatentResample`) is prepared outside it.

    Args:
        probability: float in [0, 1], the chance that a training batch is
            mixed (StyleGAN: 0.9).
        seed: optional integer seed of the draws.
        **kwargs: base layer keyword arguments (e.g. `name`, `dtype`).

    Call arguments:
        inputs: `[styles, mix_styles]`, two tensors of shape
            `(batch, num_layers, w_dim)`.
        training: Python boolean; mixing happens only in training mode.

    Example:

    >>> styles = np.zeros((2, 6, 4), "float32")
    >>> mix = np.ones((2, 6, 4), "float32")
    >>> layer = StyleMixing(probability=1.0, seed=0)
    >>> out = keras.ops.convert_to_numpy(layer([styles, mix], training=True))
    >>> k = int(6 - out[0, :, 0].sum())  # the crossover, in 1..5
    >>> 1 <= k <= 5
    True

    Reference:

    - [Karras et al., 2019, A Style-Based Generator Architecture for GANs](
      https://arxiv.org/abs/1812.04948), section 3.1 (style mixing).

    Tested on the TensorFlow and JAX backends
    (tests/test_stylegan_styles.py).
    """

    def __init__(self, probability=0.9, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.probability = number_in("probability", probability, 0, 1)
        self.seed = integer("seed", seed, allow_none=True)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        shapes = input_shape if isinstance(input_shape, (list, tuple)) else []
        if (
            len(shapes) != 2
            or not all(isinstance(s, (list, tuple)) for s in shapes)
            or not all(len(s) == 3 and s[1] is not None for s in shapes)
            or tuple(shapes[0][1:]) != tuple(shapes[1][1:])
        ):
            raise ValueError(
                "`StyleMixing` expects `[styles, mix_styles]`, two tensors "
                "of the same shape (batch, num_layers, w_dim) with a known "
                f"num_layers. Received: input_shape={input_shape}"
            )
        self.num_layers = int(shapes[0][1])
        self.built = True

    def call(self, inputs, training=None):
        styles, mix_styles = inputs
        if not training or self.probability == 0.0:
            return styles
        draws = keras.random.uniform((2,), seed=self.seed_generator)
        crossover = 1.0 + ops.floor(draws[1] * (self.num_layers - 1))
        crossover = ops.where(
            draws[0] < self.probability, crossover, float(self.num_layers)
        )
        layer_index = ops.arange(self.num_layers, dtype="float32")
        keep = ops.reshape(layer_index < crossover, (1, self.num_layers, 1))
        return ops.where(keep, styles, ops.cast(mix_styles, styles.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        base_config = super().get_config()
        config = {"probability": self.probability, "seed": self.seed}
        return {**base_config, **config}
