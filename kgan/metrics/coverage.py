"""Class coverage: how evenly a generator's samples spread over classes.

A mode-collapsed generator draws a few digits over and over. Classifying
its samples and counting the share of each class shows that at once, where
FID only says that something is off.
"""

import math

import numpy as np

from kgan._checks import integer


def coverage_from_classes(classes, num_classes=10, min_share=0.02):
    """Coverage summary of predicted class ids.

    Args:
        classes: 1-D integer array of class ids in `[0, num_classes)`.
        num_classes: number of classes.
        min_share: a class counts as covered when at least this share of
            the samples falls into it.

    Returns:
        A dict with `counts` and `shares` (arrays of `num_classes`),
        `covered` (number of classes with share >= `min_share`),
        `entropy` (of the shares, in nats), `normalized_entropy`
        (`entropy / log(num_classes)`: 1 for a uniform spread, 0 when all
        samples fall in one class) and `max_share`.

    Example:

    >>> coverage_from_classes([0, 0, 1, 1], num_classes=4)["covered"]
    2
    """
    num_classes = integer("num_classes", num_classes, minimum=2)
    classes = np.asarray(classes)
    if (
        classes.ndim != 1
        or classes.size == 0
        or not np.issubdtype(classes.dtype, np.integer)
    ):
        raise ValueError(
            "`classes` must be a non-empty 1-D array of integer class ids. "
            f"Received: shape {classes.shape} and dtype {classes.dtype}"
        )
    if classes.min() < 0 or classes.max() >= num_classes:
        raise ValueError(
            f"Class ids must lie in [0, {num_classes}). Received: ids from "
            f"{classes.min()} to {classes.max()}"
        )
    counts = np.bincount(classes, minlength=num_classes)
    shares = counts / counts.sum()
    present = shares[shares > 0]
    entropy = float(-(present * np.log(present)).sum())
    return {
        "counts": counts,
        "shares": shares,
        "covered": int((shares >= min_share).sum()),
        "entropy": entropy,
        "normalized_entropy": entropy / math.log(num_classes),
        "max_share": float(shares.max()),
    }


def class_coverage(images, classifier=None, num_classes=10, min_share=0.02):
    """Share of each class among generated images, with summary numbers.

    Args:
        images: generated images in [-1, 1].
        classifier: an object with `predict_classes(images)` (such as an
            `MNISTClassifier`), or a callable returning class ids `(n,)` or
            class scores `(n, num_classes)`; `mnist_classifier()` by
            default.
        num_classes: number of classes.
        min_share: share from which a class counts as covered.

    Returns:
        The dict of `coverage_from_classes`.

    Example:

    >>> report = class_coverage(sample(generator, 1000, seed=0))
    >>> report["covered"], report["normalized_entropy"]
    (10, 0.99)
    """
    if classifier is None:
        from kgan.metrics.mnist import mnist_classifier

        classifier = mnist_classifier()
    if hasattr(classifier, "predict_classes"):
        classes = classifier.predict_classes(images)
    else:
        classes = np.asarray(classifier(images))
        if classes.ndim == 2:
            classes = classes.argmax(axis=-1)
    return coverage_from_classes(classes, num_classes, min_share)
