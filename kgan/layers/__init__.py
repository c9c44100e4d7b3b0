"""kgan.layers: GAN layers for any Keras 3 model.

Spectral normalisation is Keras' own `keras.layers.SpectralNormalization`.
"""

from kgan.layers.adaptive_instance_normalization import (
    AdaptiveInstanceNormalization,
)
from kgan.layers.conditional_batch_normalization import (
    ConditionalBatchNormalization,
)
from kgan.layers.diff_augment import DiffAugment
from kgan.layers.equalized_conv2d import EqualizedConv2D
from kgan.layers.equalized_dense import EqualizedDense
from kgan.layers.fast_conv2d_transpose import FastConv2DTranspose
from kgan.layers.latent_average import LatentAverage
from kgan.layers.latent_resample import LatentResample
from kgan.layers.latent_split import LatentSplit
from kgan.layers.learned_constant import LearnedConstant
from kgan.layers.minibatch_standard_deviation import MinibatchStandardDeviation
from kgan.layers.noise_injection import NoiseInjection
from kgan.layers.pixel_normalization import PixelNormalization
from kgan.layers.progressive import schedule_level, set_level
from kgan.layers.progressive_blend import ProgressiveBlend
from kgan.layers.progressive_downsample import ProgressiveDownsample
from kgan.layers.self_attention_2d import SelfAttention2D
from kgan.layers.self_modulated_batch_normalization import (
    SelfModulatedBatchNormalization,
)
from kgan.layers.style_mixing import StyleMixing

__all__ = [
    "AdaptiveInstanceNormalization",
    "ConditionalBatchNormalization",
    "DiffAugment",
    "EqualizedConv2D",
    "EqualizedDense",
    "FastConv2DTranspose",
    "LatentAverage",
    "LatentResample",
    "LatentSplit",
    "LearnedConstant",
    "MinibatchStandardDeviation",
    "NoiseInjection",
    "PixelNormalization",
    "ProgressiveBlend",
    "ProgressiveDownsample",
    "SelfAttention2D",
    "SelfModulatedBatchNormalization",
    "StyleMixing",
    "schedule_level",
    "set_level",
]
