"""Feature extractors for FID-type metrics, and Inception-v3 features.

A feature extractor is any callable that maps a batch of images in [-1, 1]
to a `(n, d)` NumPy array. `InceptionFeatures` gives the 2048-d pool
features of the FID literature; `kgan.metrics.mnist.MNISTClassifier` gives
features that mean something for digits.
"""

import logging
import os
import urllib.request
from typing import Protocol, runtime_checkable

import keras
import numpy as np

from kgan._checks import positive_int

logger = logging.getLogger("kgan.metrics")

INCEPTION_WEIGHTS_FILE = (
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
INCEPTION_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/" + INCEPTION_WEIGHTS_FILE
)
# Keras' own hash of the file (keras.applications.inception_v3).
INCEPTION_WEIGHTS_HASH = "bcbd6486424b2319ff4ef7d526e38f63"
INCEPTION_SIZE = 299


@runtime_checkable
class FeatureExtractor(Protocol):
    """A callable `images (n, H, W, C) in [-1, 1] -> features (n, d)`."""

    def __call__(self, images) -> np.ndarray: ...


def check_images(images):
    """`images` as a float32 `(n, H, W, C)` array, or a ValueError."""
    array = np.asarray(images, dtype="float32")
    if array.ndim != 4 or array.shape[0] < 1:
        raise ValueError(
            "Expected images of shape (n, height, width, channels). "
            f"Received: images of shape {array.shape}"
        )
    return array


def batched(function, images, batch_size):
    """`function` applied to `images` in batches, outputs concatenated."""
    outputs = [
        np.asarray(function(images[start : start + batch_size]))
        for start in range(0, images.shape[0], batch_size)
    ]
    return np.concatenate(outputs).astype("float32")


def inception_weights_candidates():
    """Where Keras' cache keeps the Inception-v3 notop weights."""
    homes = []
    if os.environ.get("KERAS_HOME"):
        homes.append(os.environ["KERAS_HOME"])
    homes += [
        os.path.join(os.path.expanduser("~"), ".keras"),
        os.path.join("/tmp", ".keras"),
    ]
    return [
        os.path.join(home, "models", INCEPTION_WEIGHTS_FILE) for home in homes
    ]


def fetch_inception_weights(timeout=10):
    """Downloads the Inception-v3 notop weights into Keras' cache.

    A HEAD request with `timeout` seconds comes first: Keras' `get_file`
    has no timeout, and a firewalled machine would otherwise hang. Returns
    the cached file's path; raises on any failure.
    """
    request = urllib.request.Request(INCEPTION_WEIGHTS_URL, method="HEAD")
    urllib.request.urlopen(request, timeout=timeout).close()
    return keras.utils.get_file(
        INCEPTION_WEIGHTS_FILE,
        INCEPTION_WEIGHTS_URL,
        cache_subdir="models",
        file_hash=INCEPTION_WEIGHTS_HASH,
    )


class InceptionFeatures:
    """Inception-v3 average-pool features (2048-d) for FID and KID.

    Images in [-1, 1] (kgan's range, which is also the range Inception-v3's
    `preprocess_input` produces) are resized bilinearly to 299x299, grey
    images are repeated over three channels, and the ImageNet-trained
    network without its top (`pooling="avg"`) gives one 2048-d vector per
    image.

    The weights are read from `weights_path`, else from Keras' cache
    (`$KERAS_HOME/models`, `~/.keras/models` or `/tmp/.keras/models`),
    else (with `download=True`) fetched through Keras' `get_file` into
    that cache, as `keras.applications.InceptionV3(weights="imagenet")`
    does. Offline, a `FileNotFoundError` says where to put the file.

    Keras' Inception-v3 is not the TF1 graph of the original FID code, so
    values are comparable with each other, not with published FIDs.

    Args:
        weights_path: path of `inception_v3_weights_tf_dim_ordering_tf_kernels
            _notop.h5`, or None to look in Keras' cache.
        allow_random: with no weights file found, use random weights
            instead of raising. The features are then meaningless: for tests
            only.
        batch_size: images per forward pass.
        download: whether to fetch the weights when no local file has
            them (a 10 s check first, so an offline machine fails fast).

    Example:

    >>> extractor = InceptionFeatures()  # the weights file, or online
    >>> extractor(images).shape
    (n, 2048)
    """

    def __init__(
        self,
        weights_path=None,
        allow_random=False,
        batch_size=50,
        download=True,
    ):
        self.batch_size = positive_int("batch_size", batch_size)
        self.weights_path = self._find_weights(
            weights_path, allow_random, download
        )
        self.model = keras.applications.InceptionV3(
            include_top=False,
            weights=self.weights_path,
            input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
            pooling="avg",
        )

    @staticmethod
    def _find_weights(weights_path, allow_random, download):
        if weights_path is not None:
            weights_path = os.fspath(weights_path)
            if os.path.isfile(weights_path):
                return weights_path
            raise FileNotFoundError(
                f"No Inception-v3 weights at {weights_path}: pass the path of "
                f"{INCEPTION_WEIGHTS_FILE} (from {INCEPTION_WEIGHTS_URL})"
            )
        candidates = inception_weights_candidates()
        for candidate in candidates:
            if os.path.isfile(candidate):
                return candidate
        why = "download=False"
        if download:
            try:
                return fetch_inception_weights()
            except Exception as error:  # offline, firewalled, bad hash...
                why = f"the download failed: {error}"
        if allow_random:
            logger.warning(
                "InceptionFeatures: no weights file, using random weights "
                "(meaningless features, for tests only)"
            )
            return None
        raise FileNotFoundError(
            f"Inception-v3 weights not found ({why}). Put "
            f"{INCEPTION_WEIGHTS_FILE} (from {INCEPTION_WEIGHTS_URL}) at "
            f"{candidates[0]}, or pass its path as `weights_path`. Looked "
            f"in: {', '.join(candidates)}"
        )

    def _forward(self, images):
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        images = keras.ops.image.resize(
            images, (INCEPTION_SIZE, INCEPTION_SIZE), interpolation="bilinear"
        )
        features = self.model(keras.ops.clip(images, -1.0, 1.0), training=False)
        return keras.ops.convert_to_numpy(keras.ops.cast(features, "float32"))

    def __call__(self, images):
        images = check_images(images)
        if images.shape[-1] not in (1, 3):
            raise ValueError(
                "Inception-v3 takes grey or RGB images. Received: images with "
                f"{images.shape[-1]} channels"
            )
        return batched(self._forward, images, self.batch_size)
