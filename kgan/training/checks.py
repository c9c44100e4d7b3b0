"""Checks a trainer runs before any work: clear one-line errors, early.

A GAN pair that cannot train together, or data the generator cannot match,
fails here with the fix in the message, not deep inside a traced step.
"""

import keras
import numpy as np


def check_pair(generator, discriminator):
    """The generator and discriminator fit together (inputs and shapes)."""
    conditional = len(generator.inputs) == 2
    if conditional != (len(discriminator.inputs) == 2):
        raise ValueError(
            "The generator and discriminator must both be "
            "class-conditional (two inputs) or both unconditional. "
            f"Received: generator inputs={len(generator.inputs)}, "
            f"discriminator inputs={len(discriminator.inputs)}."
        )
    image_shape = tuple(generator.outputs[0].shape[1:])
    d_in = tuple(discriminator.inputs[0].shape[1:])
    if d_in != image_shape:
        raise ValueError(
            f"The generator makes images of shape {image_shape} but "
            f"the discriminator takes {d_in}. Build both for the same "
            "`image_size` and `channels`."
        )
    z_dim = int(generator.inputs[0].shape[-1])
    out = tuple(discriminator.outputs[0].shape[1:])
    if out not in ((1,), (z_dim,)):
        raise ValueError(
            "The discriminator must output scores of shape (batch, 1), or "
            f"(batch, z_dim={z_dim}) for O-GAN. Received: output "
            f"shape (batch,) + {out}."
        )


def check_adaptive_augment(loss):
    """ADA's heuristic reads D's verdict on each real image: the loss must
    say where a score turns from fake to real."""
    if loss.decision_threshold is None:
        raise ValueError(
            f"An adaptive augmentation (`target`) needs a loss whose scores "
            f"decide real vs fake at a threshold (hinge, ns, lsgan); the "
            f"{loss.name!r} loss only compares scores with one another. Use "
            "a fixed `probability`, or give a custom `AdversarialLoss` its "
            "`decision_threshold`."
        )


def check_images(images, image_shape):
    """Images of the generator's shape, scaled into [-1, 1]."""
    images = np.asarray(images)
    if tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"The data has images of shape {tuple(images.shape[1:])} but "
            f"the generator makes {tuple(image_shape)}. Resize or pad the "
            "data (MNIST: pad 28x28 to 32x32) or build the models for the "
            "data's size."
        )
    low, high = float(images.min()), float(images.max())
    if low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
        raise ValueError(
            "Images must be scaled into [-1, 1] (`x / 255 * 2 - 1`) to "
            "match the generator's tanh output. Received values in "
            f"[{low:g}, {high:g}]."
        )


def check_fit_data(x, y, image_shape, conditional):
    """What `fit` is given: the first batch's images, and labels if needed.

    `x` is an array of images (with `y` the labels of a class-conditional
    GAN) or a dataset of `images` or `(images, labels)`.
    """
    first = _first_images(x)
    if first is not None:
        check_images(first, image_shape)
    if conditional and y is None and not _yields_pairs(x):
        raise ValueError(
            "This GAN is class-conditional: pass labels, "
            "`fit(images, labels)` or a dataset of (images, labels)."
        )


def _first_images(x):
    """The first batch of images of an array or dataset, else None."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        return x[: min(len(x), 256)]
    take = getattr(x, "take", None)
    if take is None:
        return None
    try:
        element = next(iter(x.take(1)))
    except (StopIteration, TypeError):
        return None
    if isinstance(element, (tuple, list)):
        element = element[0]
    return keras.ops.convert_to_numpy(element)


def _yields_pairs(x):
    spec = getattr(x, "element_spec", None)
    return isinstance(spec, (tuple, list)) and len(spec) >= 2
