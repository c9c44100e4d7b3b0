"""Evaluation: FID, KID, an MNIST-FID and class coverage.

Loss curves do not show whether a GAN converges; sample grids and FID-type
metrics do. `frechet_distance` and `kernel_inception_distance` compare two
sets of features. The features come from a pluggable extractor:
`InceptionFeatures` for an ImageNet FID (Keras' Inception-v3, fetched once
into Keras' cache or read from a local file: comparable with itself, not
with published FIDs; for those, export samples with
`python -m kgan.export_samples` and use clean-fid or torch-fidelity), or
`mnist_classifier()` for digits, whose feature space defines `mnist_fid`
and whose predictions give `class_coverage`.
`FIDCallback` logs the FID of a trainer's generator during `fit`.
"""

from kgan.metrics.coverage import class_coverage, coverage_from_classes
from kgan.metrics.distances import (
    feature_moments,
    fid,
    frechet_distance,
    kernel_inception_distance,
)
from kgan.metrics.features import FeatureExtractor, InceptionFeatures
from kgan.metrics.fid_callback import FIDCallback
from kgan.metrics.mnist import (
    MNISTClassifier,
    mnist_classifier,
    mnist_fid,
    real_vs_real_mnist_fid,
)

__all__ = [
    "FIDCallback",
    "FeatureExtractor",
    "InceptionFeatures",
    "MNISTClassifier",
    "class_coverage",
    "coverage_from_classes",
    "feature_moments",
    "fid",
    "frechet_distance",
    "kernel_inception_distance",
    "mnist_classifier",
    "mnist_fid",
    "real_vs_real_mnist_fid",
]
