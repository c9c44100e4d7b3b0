"""Writing files so that a kill or a full disk never leaves half of one.

Every file kgan writes into a run folder (checkpoints, pictures, the loss
plot, `generator.keras`, metrics) goes through `atomic_path`: the data is
written to a temporary sibling, flushed, and renamed onto the target. A
write that fails (disk full, quota, a read-only file system) raises
`WriteError`, naming the target, after the temporary file is removed: the
previous version of the file is untouched.
"""

import contextlib
import errno
import os
import shutil
import uuid


class WriteError(OSError):
    """A file could not be written; `filename` is the file meant (not its
    temporary sibling), `errno` / `strerror` the cause.

    `end_at_once` is True when the failed write was HDF5's: the HDF5
    library then keeps the file half-closed and crashes the interpreter as
    it exits (a segmentation fault in `H5_term_library`), so a process
    should end without Python's clean-up after reporting it.
    """

    end_at_once = False


def temporary_path(path, suffix=""):
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
    An `OSError` inside (or in the flush and rename) becomes a
    `WriteError` naming `path`; the temporary file is removed.
    """
    tmp = temporary_path(path, suffix)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        yield tmp
        fsync(tmp)
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as error:
        raise as_write_error(error, path) from error
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)


def as_write_error(error, path):
    """`error` (an `OSError`) as a `WriteError` about `path`."""
    code = error.errno or errno.EIO
    reason = error.strerror or os.strerror(code)
    return WriteError(code, reason, os.fspath(path))


def reserve_space(path, size):
    """Raises `WriteError` about `path` unless a file of `size` bytes can
    be written next to it now.

    The space is allocated (`posix_fallocate`) and given back at once, so a
    full disk, a quota or a file-size limit is found before a writer that
    cannot recover from it (HDF5) starts. Where the file system cannot
    allocate ahead, its free-space figure is compared instead.
    """
    probe = temporary_path(path, ".space")
    try:
        os.makedirs(os.path.dirname(probe), exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.posix_fallocate(fd, 0, max(1, int(size)))
        finally:
            os.close(fd)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise short_of_space(error, path, size) from None
        free = free_space(path)
        if free is not None and free < size:
            raise short_of_space(
                OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path, size
            ) from None
    finally:
        with contextlib.suppress(OSError):
            os.remove(probe)


def short_of_space(error, path, size):
    failure = as_write_error(error, path)
    needs = format_bytes(size)
    failure.strerror = f"{failure.strerror}; it needs about {needs}"
    return failure


def fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def free_space(path):
    """Bytes free for this user on the file system holding `path` (or its
    nearest existing parent); None if it cannot be read."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def format_bytes(n):
    """`1536` -> `"1.5 KiB"`."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover
