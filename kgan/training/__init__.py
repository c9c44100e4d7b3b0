"""kgan.training: the one-step trainer, its alternating baseline and O-GAN."""

from kgan.callbacks.nan import StopOnNaN
from kgan.training._base import GANTrainer
from kgan.training.alternating import AlternatingGAN
from kgan.training.ogan import OGAN
from kgan.training.one_step import OneStepGAN, reverse_gradient

__all__ = [
    "AlternatingGAN",
    "GANTrainer",
    "OGAN",
    "OneStepGAN",
    "StopOnNaN",
    "reverse_gradient",
]
