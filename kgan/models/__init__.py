"""kgan.models: Functional-API builders of generators and discriminators.

Every builder returns a plain `keras.Model`; depth follows `image_size`
(Su's rule: 4x4 doubled `log2(image_size) - 2` times).
"""

from kgan.models._common import ALLOWED_IMAGE_SIZES, check_image_size
from kgan.models.dcgan import dcgan_discriminator, dcgan_generator
from kgan.models.progressive import progressive_dcgan_generator
from kgan.models.resnet import resnet_discriminator, resnet_generator
from kgan.models.self_modulated import SELFMOD_BODIES, selfmod_generator
from kgan.models.stylegan import stylegan_generator

__all__ = [
    "progressive_dcgan_generator",
    "ALLOWED_IMAGE_SIZES",
    "SELFMOD_BODIES",
    "check_image_size",
    "dcgan_discriminator",
    "dcgan_generator",
    "resnet_discriminator",
    "resnet_generator",
    "selfmod_generator",
    "stylegan_generator",
]
