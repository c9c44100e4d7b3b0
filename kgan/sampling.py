"""Draw images from a trained generator, with the truncation trick.

BigGAN's truncation trick trades variety for fidelity: `z` is drawn from a
normal distribution truncated to `[-threshold, threshold]`, every component
that falls outside being *redrawn* until it lands inside. Clipping instead
would pile mass on the two edges, values the generator almost never saw.

StyleGAN truncates in `w` space instead: `w' = w_avg + psi * (w - w_avg)`
pulls every latent toward the running mean that a `LatentAverage` layer
tracks during training. `sample` uses that form for any generator that
contains such a layer (kgan's `stylegan_generator`).

Reference:
    - Brock et al., "Large Scale GAN Training for High Fidelity Natural Image
      Synthesis", https://arxiv.org/abs/1809.11096
    - Karras et al., "A Style-Based Generator Architecture for Generative
      Adversarial Networks", https://arxiv.org/abs/1812.04948

Tested on the TensorFlow backend.
"""

import math
import os

import imageio.v2 as imageio
import keras
import numpy as np

from kgan._checks import is_number, positive_int, positive_number
from kgan.distribution import predict
from kgan.layers.latent_average import LatentAverage

__all__ = [
    "export_samples",
    "num_classes_of",
    "sample",
    "to_uint8",
    "truncated_normal",
]

# Cap on candidates per redraw round, so a tiny threshold costs rounds rather
# than memory.
_MAX_CANDIDATES = 1 << 22


def _truncated_normal(rng, shape, threshold):
    flat = rng.standard_normal(math.prod(shape), dtype=np.float32)
    outside = np.flatnonzero(np.abs(flat) > threshold)
    accept_rate = math.erf(threshold / math.sqrt(2.0))
    while outside.size:
        # Draw enough candidates that one round usually refills every slot;
        # each accepted candidate is an independent draw from N(0, 1)
        # conditioned on |value| <= threshold, as redrawing one by one gives.
        count = min(
            _MAX_CANDIDATES, math.ceil(1.2 * outside.size / accept_rate) + 16
        )
        candidates = rng.standard_normal(count, dtype=np.float32)
        inside = candidates[np.abs(candidates) <= threshold][: outside.size]
        flat[outside[: inside.size]] = inside
        outside = outside[inside.size :]
    return flat.reshape(shape)


def truncated_normal(shape, threshold, seed=None):
    """Draws N(0, 1) values with every `|value| > threshold` redrawn.

    The result follows the normal distribution truncated to
    `[-threshold, threshold]` (BigGAN's truncation trick): components outside
    the interval are replaced by fresh draws, repeatedly, until all lie
    inside. Nothing is clipped, so no mass piles up at the edges.

    Args:
        shape: shape of the array, a tuple of ints.
        threshold: positive float, the truncation bound.
        seed: int or None; equal seeds give equal arrays.

    Returns:
        A float32 numpy array of `shape`.

    Example:

    >>> z = truncated_normal((64, 128), threshold=0.5, seed=0)
    >>> float(np.abs(z).max()) <= 0.5
    True
    """
    threshold = positive_number("threshold", threshold)
    shape = tuple(int(d) for d in shape)
    return _truncated_normal(np.random.default_rng(seed), shape, threshold)


def _split_inputs(generator):
    """Returns `(z_input, labels_input or None)` of a kgan generator."""
    z_inputs, label_inputs = [], []
    for tensor in generator.inputs:
        if keras.backend.is_int_dtype(tensor.dtype):
            label_inputs.append(tensor)
        elif len(tensor.shape) == 2:
            z_inputs.append(tensor)
    if (
        len(z_inputs) != 1
        or len(label_inputs) > 1
        or (len(z_inputs) + len(label_inputs) != len(generator.inputs))
    ):
        raise ValueError(
            "`generator` must take `z` of shape (batch, z_dim), or "
            "`[z, labels]` with integer labels. Received: generator with "
            f"inputs {[(t.shape, t.dtype) for t in generator.inputs]}"
        )
    return z_inputs[0], (label_inputs[0] if label_inputs else None)


def _labels_array(labels, n, conditional):
    if not conditional:
        if labels is not None:
            raise ValueError(
                "The generator is unconditional and takes no labels. "
                f"Received: labels={labels!r}"
            )
        return None
    if labels is None:
        raise ValueError(
            "The generator is conditional: pass `labels`, one class id or "
            f"an array of n={n} class ids. Received: labels=None"
        )
    array = np.asarray(labels)
    if not (
        np.issubdtype(array.dtype, np.integer) and array.ndim in (0, 1)
    ) or (array.ndim == 1 and array.shape[0] != n):
        raise ValueError(
            f"`labels` must be an int or a 1-D integer array of length n={n}. "
            f"Received: labels with shape {array.shape} and dtype "
            f"{array.dtype}"
        )
    if (array < 0).any():
        raise ValueError(
            f"`labels` must be class ids >= 0. Received: labels={labels!r}"
        )
    return np.broadcast_to(array, (n,)).astype("int32")


def _latent_averages(model):
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, LatentAverage):
            found.append(layer)
        else:
            found.extend(_latent_averages(layer))
    return found


def sample(
    generator, n, labels=None, truncation=None, seed=None, batch_size=64
):
    """Generates `n` images with a generator in inference mode.

    `z ~ N(0, I)` with the generator's `z_dim` (read from `generator.inputs`)
    is drawn with NumPy from `seed`. `truncation` selects the truncation
    trick:

    - For a generator with a `LatentAverage` layer (StyleGAN form),
      `truncation` is `psi`: each such layer's `truncation_psi` is set to it
      for the call and restored afterwards, so
      `w' = w_avg + psi * (w - w_avg)` (0 gives the average image, 1 no
      truncation). `z` itself is not truncated.
    - Otherwise `truncation` is the BigGAN threshold: `z` is drawn from the
      normal distribution truncated to `[-truncation, truncation]` by
      redrawing (see `truncated_normal`).

    The generator runs with `training=False` through `predict` (see
    `kgan.distribution.predict` for multi-process runs), in batches of
    `batch_size`. `seed` fixes `z` only: per-layer noise drawn inside the
    generator (`NoiseInjection`) comes from the layers' own seed generators.

    Args:
        generator: a kgan generator, inputs `z` or `[z, labels]`.
        n: number of images.
        labels: for a conditional generator, one class id for every image or
            an array of `n` class ids in `[0, num_classes)`; None otherwise.
        truncation: None (no truncation), a positive threshold on `z`, or the
            `psi` of a generator with a `LatentAverage` layer.
        seed: int or None; equal seeds give equal `z`.
        batch_size: images per forward pass.

    Returns:
        A float32 numpy array `(n, height, width, channels)`, in [-1, 1] for
        generators ending with tanh.

    Example:

    >>> from kgan.models.stylegan import stylegan_generator
    >>> g = stylegan_generator(image_size=32, z_dim=16, base_channels=8)
    >>> sample(g, 8, truncation=0.7, seed=0).shape
    (8, 32, 32, 3)
    """
    n = positive_int("n", n)
    batch_size = positive_int("batch_size", batch_size)
    z_input, label_input = _split_inputs(generator)
    labels = _labels_array(labels, n, conditional=label_input is not None)
    classes = None if labels is None else num_classes_of(generator)
    if classes is not None and labels.max() >= classes:
        raise ValueError(
            f"`labels` must be class ids in [0, {classes}): the generator "
            f"was built for {classes} classes. Received: class "
            f"{int(labels.max())}"
        )
    averages = _latent_averages(generator)
    if truncation is not None and averages and not is_number(truncation):
        raise ValueError(
            "`truncation` (psi) must be a real number. "
            f"Received: truncation={truncation!r}"
        )

    rng = np.random.default_rng(seed)
    shape = (n, int(z_input.shape[-1]))
    if truncation is None or averages:
        z = rng.standard_normal(shape, dtype=np.float32)
    else:
        z = _truncated_normal(
            rng, shape, positive_number("truncation", truncation)
        )
    inputs = z if labels is None else [z, labels]

    if truncation is None or not averages:
        return _predict(generator, inputs, batch_size)
    saved = [
        keras.ops.convert_to_numpy(layer.truncation_psi) for layer in averages
    ]
    try:
        for layer in averages:
            layer.truncation_psi.assign(float(truncation))
        return _predict(generator, inputs, batch_size)
    finally:
        for layer, value in zip(averages, saved):
            layer.truncation_psi.assign(value)


def _predict(generator, inputs, batch_size):
    return predict(generator, inputs, batch_size).astype("float32")


def to_uint8(images):
    """`[-1, 1]` float images -> `[0, 255]` uint8 (`(x + 1) * 127.5`)."""
    images = np.asarray(images, dtype="float32")
    return np.clip((images + 1.0) * 127.5, 0, 255).round().astype("uint8")


def num_classes_of(generator):
    """The class count a conditional kgan generator was built for, or None.

    Read from its layers' public attributes: `num_classes` (kgan's
    conditional layers) and `keras.layers.Embedding.input_dim`; None when
    they disagree or none has one.
    """
    found = set()

    def visit(layer):
        count = getattr(layer, "num_classes", None)
        if isinstance(count, int):
            found.add(count)
        if isinstance(layer, keras.layers.Embedding):
            found.add(int(layer.input_dim))
        for inner in getattr(layer, "layers", []):
            visit(inner)

    visit(generator)
    return found.pop() if len(found) == 1 else None


# Images drawn per `sample` call when exporting: fixed, so that one seed
# gives the same files whatever the batch size.
EXPORT_CHUNK = 1000


def export_samples(
    generator,
    folder,
    count,
    labels=None,
    truncation=None,
    seed=None,
    batch_size=64,
):
    """Writes `count` samples of `generator` as PNG files for FID tools.

    The files are `folder/000000.png`, ... (uint8, grey or RGB as the
    generator makes them), the input the field's standard FID tools read:
    clean-fid (`fid.compute_fid(folder, real_folder)`) and torch-fidelity
    (`fidelity --fid --input1 folder --input2 real_folder`). kgan's own
    Inception FID (`kgan.metrics.InceptionFeatures`) is comparable with
    itself, not with published numbers; these tools are.

    Images are drawn `EXPORT_CHUNK` at a time with `sample` (chunk `k`
    from seed `[seed, k]`), so memory stays bounded and one seed always
    gives the same files.

    Args:
        generator: a kgan generator (see `sample`).
        folder: where to write; created if missing.
        count: number of images.
        labels: for a conditional generator, one class id for every image,
            or None for all classes equally (`i % num_classes`, the count
            read by `num_classes_of`).
        truncation: as `sample`.
        seed: int or None.
        batch_size: images per forward pass.

    Returns:
        The list of paths written.

    Reference:
        Parmar et al., "On Aliased Resizing and Surprising Subtleties in
        GAN Evaluation" (clean-fid), https://arxiv.org/abs/2104.11222.
    """
    count = positive_int("count", count)
    _, label_input = _split_inputs(generator)
    if label_input is not None and labels is None:
        classes = num_classes_of(generator)
        if classes is None:
            raise ValueError(
                "The generator is conditional but its class count could not "
                "be read from its layers: pass `labels` (a class id)."
            )
        labels = np.arange(count) % classes
    elif labels is not None:
        labels = _labels_array(labels, count, label_input is not None)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for k, start in enumerate(range(0, count, EXPORT_CHUNK)):
        n = min(EXPORT_CHUNK, count - start)
        images = sample(
            generator,
            n,
            labels=None if labels is None else labels[start : start + n],
            truncation=truncation,
            seed=None if seed is None else [seed, k],
            batch_size=batch_size,
        )
        for i, image in enumerate(to_uint8(images)):
            path = os.path.join(folder, f"{start + i:06d}.png")
            imageio.imwrite(
                path,
                image[..., 0] if image.shape[-1] == 1 else image,
                format="PNG",
            )
            paths.append(path)
    return paths
