"""Find the images under a folder and set aside the ones that cannot be read.

A folder of a few hundred thousand photos nearly always holds some bad
files: a download cut short, a zero-byte file, macOS `._name.jpg` metadata,
a `.png` that is really an HTML error page. None of them may stop a run, and
the user must learn how many were left out. `scan_image_folder` therefore
checks every file before the pipeline is built, in one of three ways:

- `validate="quick"` (default): read the first 64 bytes and the last 4 KiB
  of each file, in a thread pool. The file signature must be one that
  TensorFlow decodes, and the end of the file must hold the format's end
  marker (JPEG `FFD9`, PNG `IEND`, GIF block terminator); a BMP must have the
  exact size TensorFlow's decoder demands and a bit depth it supports. This
  catches truncation, the common damage, at a cost of two small reads per
  file (a second or so per 100,000 files on a local SSD). It does not see
  damage inside the compressed data.
- `validate="full"`: the quick check, then a decode of every remaining file
  with TensorFlow's own decoder in a parallel `tf.data` pass. Exact, but it
  costs one decoding epoch, paid before training starts.
- `validate=None`: no check.

Whatever the mode, the pipeline keeps `ignore_errors()` after decoding as a
safety net, so a file that slips past the quick check is dropped rather than
fatal; such a file is not in the count (TensorFlow logs it when its C++ log
level allows warnings).
"""

import concurrent.futures
import logging
import os
import struct

import numpy as np
import tensorflow as tf

from kgan.data.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
VALIDATE_MODES = ("quick", "full", None)

logger = logging.getLogger("kgan.data")

_HEAD_BYTES = 64
# Cameras and editors may pad or append data after a JPEG's end marker, so
# the marker is searched for in a window rather than in the last two bytes.
_TAIL_BYTES = 4096
_NAMED_IN_WARNING = 5
_HINT = "pass a folder of images (the --data argument of the kgan scripts)"


def scan_image_folder(
    path, validate="quick", return_skipped=False, num_workers=None
):
    """List the readable images under `path`, searched recursively.

    Files are kept by extension (`.jpg`, `.jpeg`, `.png`, `.bmp`, `.gif`, any
    case), others such as `notes.txt` are ignored without a word, and image
    files that fail validation (see the module docstring for the modes and
    their cost) are skipped: a warning on the `kgan.data` logger gives their
    number and the first few names with the reason.

    Args:
        path: a folder. Symbolic links to folders are not followed.
        validate: `"quick"`, `"full"` or `None`.
        return_skipped: also return the skipped files.
        num_workers: threads for the quick check; default
            `min(32, 4 * cpu_count)`.

    Returns:
        The sorted list of image paths, or `(files, skipped)` with `skipped`
        a list of `(path, reason)` pairs when `return_skipped` is true.

    Raises:
        DataError: `path` is missing, is a file, holds no image files, or
            holds only unreadable ones.
    """
    if validate not in VALIDATE_MODES:
        raise ValueError(
            f"`validate` must be one of {VALIDATE_MODES}. "
            f"Received: validate={validate!r}"
        )
    path = os.fspath(path)
    files = _list_image_files(path)
    skipped = []
    if validate is not None:
        workers = num_workers or min(32, 4 * (os.cpu_count() or 1))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            reasons = list(pool.map(_quick_check, files))
        skipped = [(f, r) for f, r in zip(files, reasons) if r is not None]
        files = [f for f, r in zip(files, reasons) if r is None]
    if validate == "full" and files:
        decodes = _decodes_in_tensorflow(files)
        reason = "TensorFlow cannot decode it"
        skipped += [(f, reason) for f, ok in zip(files, decodes) if not ok]
        files = [f for f, ok in zip(files, decodes) if ok]
    if skipped:
        shown = ", ".join(
            f"{f} ({r})" for f, r in sorted(skipped)[:_NAMED_IN_WARNING]
        )
        logger.warning(
            "skipped %d unreadable or unsupported image files under %s; "
            "first ones: %s",
            len(skipped),
            path,
            shown,
        )
    if not files:
        raise DataError(
            f"all {len(skipped)} image files under {path} are unreadable "
            f"or unsupported, e.g. {skipped[0][0]} ({skipped[0][1]}); {_HINT}"
        )
    if return_skipped:
        return files, sorted(skipped)
    return files


def decode_image_file(filename):
    """Read and decode one image file in TensorFlow, native channels.

    GIFs give their first frame; the result is a `uint8` tensor of shape
    `(height, width, c)` with `c` in 1 (grey), 2 (grey and alpha), 3 (RGB) or
    4 (RGBA), as the file stores it.
    """
    raw = tf.io.read_file(filename)
    return tf.io.decode_image(raw, channels=0, expand_animations=False)


def _list_image_files(path):
    extensions = ", ".join(IMAGE_EXTENSIONS)
    if not os.path.exists(path):
        raise DataError(
            f"{path} does not exist: expected a folder of images "
            f"({extensions}); {_HINT}"
        )
    if not os.path.isdir(path):
        raise DataError(
            f"{path} is a file, not a folder: expected a folder of images "
            f"({extensions}); {_HINT}"
        )
    files, others = [], []
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            is_image = name.lower().endswith(IMAGE_EXTENSIONS)
            (files if is_image else others).append(full)
    if not files and not others:
        raise DataError(
            f"{path} is empty (searched recursively): expected a folder of "
            f"images ({extensions}); {_HINT}"
        )
    if not files:
        raise DataError(
            f"no images ({extensions}) found under {path} (searched "
            f"recursively; {len(others)} other files ignored, e.g. "
            f"{os.path.basename(min(others))}); {_HINT}"
        )
    return sorted(files)


def _quick_check(filename):
    """Why TensorFlow would fail on the file, or None if it looks fine."""
    try:
        size = os.path.getsize(filename)
        with open(filename, "rb") as f:
            head = f.read(_HEAD_BYTES)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"
    if size == 0:
        return "empty file"
    if head.startswith(b"\xff\xd8\xff"):
        return None if b"\xff\xd9" in tail else "truncated JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None if b"IEND" in tail else "truncated PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        # A whole GIF ends with a block terminator, then the ";" trailer,
        # which TensorFlow does not require.
        whole = tail.endswith(b"\x00;") or tail.endswith(b"\x00")
        return None if whole else "truncated GIF"
    if head.startswith(b"BM"):
        return _check_bmp(filename, head, size)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return None  # TensorFlow decodes WebP whatever the extension says
    return "not an image (unknown file signature)"


def _check_bmp(filename, head, size):
    """Mirror the checks of TensorFlow's BMP decoder (`decode_bmp_op.cc`)."""
    if len(head) < 54:
        return "truncated BMP header"
    offset, header_size = struct.unpack_from("<II", head, 10)
    width, height, _, bits = struct.unpack_from("<iiHH", head, 18)
    channels = bits // 8
    if header_size < 40 or channels not in (1, 3, 4) or bits % 8:
        return f"unsupported BMP ({bits} bits per pixel or old header)"
    row_size = (channels * width + 3) // 4 * 4
    if width <= 0 or height == 0 or size != offset + row_size * abs(height):
        return "truncated or padded BMP (size does not match its header)"
    if channels == 1:
        # TensorFlow returns 8-bit palette indices as grey levels, right only
        # for the identity grey palette; colour palettes would come out wrong.
        with open(filename, "rb") as f:
            f.seek(14 + header_size)
            palette = f.read(max(0, offset - 14 - header_size))
        entries = np.frombuffer(palette, np.uint8)
        entries = entries[: entries.size // 4 * 4].reshape(-1, 4)[:, :3]
        levels = np.arange(len(entries), dtype=np.uint8)[:, None]
        if not np.array_equal(entries, np.repeat(levels, 3, axis=1)):
            return "unsupported BMP (8-bit colour palette)"
    return None


def _decodes_in_tensorflow(files):
    """Decode every file once in `tf.data`; True where TensorFlow succeeds."""
    index = tf.data.Dataset.from_tensor_slices(
        (tf.range(len(files), dtype=tf.int64), files)
    )
    decoded = index.map(
        lambda i, f: (i, tf.shape(decode_image_file(f))),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False,
    ).ignore_errors()
    ok = np.zeros(len(files), dtype=bool)
    for indices, _ in decoded.batch(1024).as_numpy_iterator():
        ok[indices] = True
    return ok
