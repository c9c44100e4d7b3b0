"""Helpers the kgan callbacks share: the step counter and atomic writes."""

import contextlib
import os
import uuid

import keras


def training_step(model):
    """Optimizer steps done so far, as an int.

    A kgan trainer counts them itself (`current_step()`, which knows the
    alternating trainer's two optimizers); any other model uses its
    optimizer's `iterations`.
    """
    if hasattr(model, "current_step"):
        step = model.current_step()
    else:
        step = model.optimizer.iterations
    return int(keras.ops.convert_to_numpy(step))


def temporary_path(path, suffix):
    """A unique sibling of `path` ending in `suffix` (writers infer the
    format from it). Unique, so a write cut short by Ctrl-C never blocks the
    next one with a half-open file."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".tmp-{uuid.uuid4().hex[:8]}-{name}{suffix}")


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path to write; then renames it onto `path`.

    `os.replace` is atomic, so a kill at any moment leaves either the old
    file or the new one, never a half-written one. The data is flushed to
    disk before the rename, so a power cut cannot reorder the two either.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temporary_path(path, suffix)
    try:
        yield tmp
        fsync(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
