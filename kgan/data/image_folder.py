"""`image_folder`: a folder of images as a batched `tf.data` pipeline."""

import os

import tensorflow as tf

from kgan._checks import integer, is_int, positive_int
from kgan.data.errors import DataError, warn_if_batch_exceeds_data
from kgan.data.scan import VALIDATE_MODES, decode_image_file, scan_image_folder

CROPS = ("center", "celeba", None)

# The aligned-CelebA face crop of carpedm20/DCGAN-tensorflow
# (`--input_height=108 --crop`: `center_crop` of 108x108), also used by
# LynnHo/DCGAN-LSGAN-WGAN-GP-DRAGAN: in a 178x218 (width x height) image of
# img_align_celeba, rows 55..162 and columns 35..142, that is
# `(218 - 108) // 2` and `(178 - 108) // 2`. Kept as parts of the image size,
# so the box scales with images of any other size.
CELEBA_IMAGE_SIZE = (218, 178)
CELEBA_BOX = (55, 35, 108, 108)  # top, left, height, width

# ITU-R BT.601 luma, the weights of PIL's `convert("L")` and of
# `tf.image.rgb_to_grayscale`.
_LUMA = (0.299, 0.587, 0.114)


def image_folder(
    path,
    image_size,
    channels=3,
    batch_size=64,
    crop="center",
    shuffle=True,
    cache=False,
    seed=None,
    drop_remainder=True,
    repeat=False,
    num_parallel_calls=tf.data.AUTOTUNE,
    validate="quick",
    start_batch=0,
):
    """A `tf.data.Dataset` of image batches read from a folder.

    Every image file under `path` (searched recursively; `.jpg`, `.jpeg`,
    `.png`, `.bmp`, `.gif`, first frame of a GIF) is decoded, cropped,
    resized with antialiasing to `image_size x image_size` and scaled by
    `x / 255 * 2 - 1` into [-1, 1]. Batches are float32 of shape
    `(batch_size, image_size, image_size, channels)`.

    Channels: grey images are repeated into RGB; the alpha channel of RGBA
    (and grey-alpha) images is dropped, not composited on white, as
    `keras.utils.load_img` and torchvision's PIL loader do, and because
    32-bit BMPs often carry an unused alpha of 0 that compositing would turn
    white. With `channels=1`, RGB becomes luma
    `0.299 R + 0.587 G + 0.114 B` (BT.601, like PIL), kept as a float.

    Unreadable files never stop the pipeline: `scan_image_folder` counts and
    names them in a warning (see its `validate` modes and their cost), and
    `ignore_errors()` after decoding drops any that slip through.

    Order of the pipeline: shuffle the file names, decode in parallel,
    (cache), (repeat), batch, prefetch. Without a cache the names are
    reshuffled every epoch. A cache replays the decoded images in the order
    it stored them, so with `cache` the names are shuffled once (a global
    random order frozen into the cache) and a buffer of
    `16 * batch_size` decoded images reshuffles them locally every epoch.

    Args:
        path: folder of images, or the list of image files
            `scan_image_folder` returned for it (not scanned again).
        image_size: side of the square output images, in pixels.
        channels: 3 (RGB) or 1 (grey).
        batch_size: images per batch.
        crop: `"center"` (largest centred square, then resize), `"celeba"`
            (the 108 px aligned-CelebA face box of DCGAN-tensorflow, see
            `CELEBA_BOX`, scaled to the image size; not square if the image
            does not have CelebA's 178:218 aspect), or `None` (resize the
            whole image, distorting non-square ones).
        shuffle: shuffle the images.
        cache: `False`, `True` (in memory) or a filename prefix for a cache
            on disk. A disk cache is only complete after one full epoch.
        seed: seed of the shuffles, for a reproducible order.
        drop_remainder: drop the last incomplete batch, so batches have a
            static shape.
        repeat: repeat forever (then pass `steps_per_epoch` to `fit`).
        start_batch: begin with the batch of this index, as a run resumed at
            that step needs: the same batches follow as without it (unless
            a file fails to decode in the part skipped). Without a cache
            the skipped images are not decoded.
        num_parallel_calls: parallel decodes; `tf.data.AUTOTUNE` by default.
        validate: `"quick"`, `"full"` or `None`, see `scan_image_folder`.

    Returns:
        A `tf.data.Dataset` of float32 image batches.

    Raises:
        DataError: no usable images under `path`, or fewer than
            `batch_size` with `drop_remainder=True` and `repeat=False`.

    Example:

    >>> dataset = image_folder("img_align_celeba", 64, crop="celeba")
    >>> images = next(iter(dataset))  # (64, 64, 64, 3), in [-1, 1]

    Reference:
        Radford et al., DCGAN, https://arxiv.org/abs/1511.06434 (the [-1, 1]
        scaling that matches a `tanh` generator).

    Tested on the TensorFlow backend (the pipeline is `tf.data`; it feeds
    any Keras backend as a dataset of NumPy-convertible batches).
    """
    _check_arguments(
        image_size, channels, batch_size, crop, cache, num_parallel_calls
    )
    if validate not in VALIDATE_MODES:
        raise ValueError(
            f"`validate` must be one of {VALIDATE_MODES}. "
            f"Received: validate={validate!r}"
        )
    if isinstance(path, (list, tuple)):  # scanned already
        files, path = [os.fspath(f) for f in path], f"the {len(path)} files"
        if not files:
            raise DataError("`path` is an empty list of image files")
    else:
        files = scan_image_folder(path, validate=validate)
    if drop_remainder and not repeat and len(files) < batch_size:
        raise DataError(
            f"{path} holds {len(files)} usable images, fewer than one batch "
            f"(batch_size={batch_size}), so the dataset would be empty with "
            "drop_remainder=True; lower batch_size, or set "
            "drop_remainder=False or repeat=True"
        )
    if repeat:
        warn_if_batch_exceeds_data(batch_size, len(files), f"images in {path}")

    def load(filename):
        image = _crop(decode_image_file(filename), crop)
        image = _to_channels(tf.cast(image, tf.float32), channels)
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        # Antialiased bilinear resizing has no overshoot; the clip only
        # removes float rounding past the ends of the range.
        return tf.clip_by_value(image / 255.0 * 2.0 - 1.0, -1.0, 1.0)

    start_batch = integer("start_batch", start_batch, minimum=0)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(
            len(files), seed=seed, reshuffle_each_iteration=not cache
        )
    if not cache:
        # Repeat and skip the file names, before any decoding: a resumed
        # run does not decode the images it skips.
        if repeat:
            dataset = dataset.repeat()
        dataset = dataset.skip(start_batch * batch_size)
    # A seedless shuffle has no order to keep, so decodes may finish in any
    # order and a slow file does not hold up the batch.
    dataset = dataset.map(
        load,
        num_parallel_calls=num_parallel_calls,
        deterministic=not shuffle or seed is not None,
    )
    dataset = dataset.ignore_errors()
    if cache:
        dataset = dataset.cache("" if cache is True else os.fspath(cache))
        if shuffle:
            dataset = dataset.shuffle(
                min(len(files), 16 * batch_size), seed=seed
            )
        if repeat:
            dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if cache:  # the cache replays in its own order: skip whole batches
        dataset = dataset.skip(start_batch)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _check_arguments(
    image_size, channels, batch_size, crop, cache, num_parallel_calls
):
    positive_int("image_size", image_size)
    if channels not in (1, 3):
        raise ValueError(
            f"`channels` must be 1 or 3. Received: channels={channels!r}"
        )
    positive_int("batch_size", batch_size)
    if crop not in CROPS:
        raise ValueError(
            f"`crop` must be one of {CROPS}. Received: crop={crop!r}"
        )
    if not isinstance(cache, (bool, str, os.PathLike)) or cache == "":
        raise ValueError(
            "`cache` must be False, True or a non-empty filename. "
            f"Received: cache={cache!r}"
        )
    if num_parallel_calls != tf.data.AUTOTUNE and (
        not is_int(num_parallel_calls) or num_parallel_calls < 1
    ):
        raise ValueError(
            "`num_parallel_calls` must be a positive int or "
            "tf.data.AUTOTUNE. "
            f"Received: num_parallel_calls={num_parallel_calls!r}"
        )


def _crop(image, crop):
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    if crop == "center":
        side = tf.minimum(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        return image[top : top + side, left : left + side]
    if crop == "celeba":
        (full_height, full_width), box = CELEBA_IMAGE_SIZE, CELEBA_BOX
        top = _scale(height, box[0], full_height)
        left = _scale(width, box[1], full_width)
        box_height = tf.maximum(_scale(height, box[2], full_height), 1)
        box_width = tf.maximum(_scale(width, box[3], full_width), 1)
        return image[top : top + box_height, left : left + box_width]
    return image


def _scale(size, part, whole):
    """`round(size * part / whole)` in integers, exact for the CelebA size."""
    return (2 * size * part + whole) // (2 * whole)


def _to_channels(image, channels):
    """Native 1 to 4 channels (float) to `channels`, as the docstring says."""
    has_colour = tf.shape(image)[-1] >= 3
    if channels == 3:
        image = tf.cond(
            has_colour,
            lambda: image[..., :3],
            lambda: tf.tile(image[..., :1], (1, 1, 3)),
        )
    else:
        luma = tf.constant(_LUMA, dtype=image.dtype)
        image = tf.cond(
            has_colour,
            lambda: tf.reduce_sum(image[..., :3] * luma, -1, keepdims=True),
            lambda: image[..., :1],
        )
    return tf.ensure_shape(image, (None, None, channels))
