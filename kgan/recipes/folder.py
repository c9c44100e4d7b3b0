"""The run folder is a small database: one writer, checks before the
first write, and writes that fail in one line without losing what was
saved.

`open_run(config)` runs before any data is loaded or model built: it
creates `out` and proves it writable, takes the folder's lock (process 0
of a multi-process run), refuses an earlier run's folder without
`resume`, and on `resume` refuses settings the checkpoint cannot be
loaded into, naming each. Nothing is written until then; `config.json`
itself is written once the checkpoint has loaded (`restore`).
"""

import contextlib
import csv
import errno
import os

from kgan import distribution
from kgan._files import (
    WriteError,
    as_write_error,
    atomic_path,
    format_bytes,
    free_space,
    temporary_path,
)
from kgan.recipes.errors import FolderUnusable, RunError, RunExists, WriteFailed
from kgan.recipes.lock import FolderLock
from kgan.recipes.resume import check_resumable, saved_config

CHECKPOINT_DIR = "checkpoint"
HISTORY_FILE = "history.csv"
# Errors a write can meet for want of room: the advice is to make some.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

_held = {}  # real path -> the RunFolder this process holds


class RunFolder:
    """A run folder held by this process (`open_run`).

    Attributes:
        path: the folder (`config.out`).
        lock: its `FolderLock` (held by process 0 only).
    """

    def __init__(self, path):
        self.path = path
        self.lock = FolderLock(path)

    def checkpoint_dir(self):
        return os.path.join(self.path, CHECKPOINT_DIR)

    def close(self):
        """Releases the lock; the folder can be opened by another run."""
        self.lock.release()
        _held.pop(os.path.realpath(self.path), None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_run(config):
    """Checks `config.out` for the run `config` describes and takes it.

    Returns the `RunFolder` (the same one again for the same folder in
    this process, checked again for this `config`). Raises
    `FolderUnusable`, `RunLocked`, `RunExists` or `SettingsChanged`, each
    one line naming the fix, before anything is
    written. In a multi-process run every process calls it; process 0
    checks and locks, and the others learn whether it could.
    """
    key = os.path.realpath(config.out)
    folder = _held.get(key) or RunFolder(config.out)
    failure = None
    if distribution.is_chief():
        try:
            _check_and_lock(folder, config)
        except RunError as error:
            failure = error
    if distribution.broadcast_from_chief(failure is not None):
        if failure is not None:
            raise failure
        raise RunError(
            f"process 0 could not open the run folder {config.out}; its "
            "message says why."
        )
    _held[key] = folder
    return folder


def _check_and_lock(folder, config):
    check_writable(folder.path)
    held = folder.lock.held
    folder.lock.acquire()
    try:
        latest = _latest_checkpoint(folder)
        if latest and not config.resume:
            raise RunExists(
                f"{config.out} holds the checkpoint {latest} of an earlier "
                "run: add `resume` to continue it, or choose another `out`."
            )
        if latest and config.resume:
            saved = _readable_saved_config(config.out)
            if saved is not None:
                check_resumable(saved, config, config.out)
    except BaseException:
        if not held:
            folder.lock.release()
        raise


def _latest_checkpoint(folder):
    from kgan.callbacks import Checkpoint

    checkpoint = Checkpoint(folder.checkpoint_dir(), verbose=False)
    return checkpoint.describe()


def _readable_saved_config(out):
    from kgan.recipes.errors import ConfigError

    try:
        return saved_config(out)
    except ConfigError:
        return None  # the command line's settings stand; the load decides


def check_writable(path):
    """Creates `path` (a folder) if needed and proves a file can be
    written in it; raises `FolderUnusable` naming the path and the cause."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise FolderUnusable(
            f"`out` {path} is a file: give a folder (the run writes "
            "generator.keras, samples/, history.csv and checkpoint/ in it)."
        )
    probe = temporary_path(os.path.join(path, "probe"))
    try:
        os.makedirs(path, exist_ok=True)
        with open(probe, "w") as f:
            f.write("kgan")
        os.remove(probe)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.remove(probe)
        reason = error.strerror or type(error).__name__
        raise FolderUnusable(
            f"cannot write the run folder `out` {path} ({reason}): choose "
            "another `out`, or make it writable."
        ) from None


def trim_history(out, step):
    """Drops the rows of `out`/history.csv past `step` (and any cut short),
    so that a resumed run logs each step once."""
    path = os.path.join(out, HISTORY_FILE)
    if not distribution.is_chief() or not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    column = header.index("step") if "step" in header else None
    kept = [
        row
        for row in body
        if len(row) == len(header)
        and (column is None or _step_of(row[column]) <= step)
    ]
    if len(kept) == len(body):
        return
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([header, *kept])


def _step_of(text):
    try:
        return int(float(text))
    except ValueError:
        return float("inf")  # a row cut short by a crash


@contextlib.contextmanager
def writes_reported(out):
    """Inside, a failing write (disk full, quota, read-only, ...) becomes a
    one-line `WriteFailed` saying what failed, the space left, and the
    checkpoint to resume from."""
    try:
        yield
    except RunError:
        raise
    except OSError as error:
        raise write_failed(error, out) from None


def write_failed(error, out):
    """The `WriteFailed` for `error` met while writing the run in `out`."""
    from kgan.callbacks import Checkpoint

    if not isinstance(error, WriteError):
        error = as_write_error(error, error.filename or "a file of the run")
    free = free_space(error.filename if os.path.isabs(error.filename) else out)
    space = "" if free is None else f", {format_bytes(free)} free there"
    checkpoint = Checkpoint(os.path.join(out, CHECKPOINT_DIR), verbose=False)
    latest = checkpoint.latest()
    if error.errno in _FULL:
        fix = "free some space (or raise the limit)"
    else:
        fix = "fix the cause"
    if latest:
        advice = (
            f"the last good checkpoint is step {latest[1]} ({latest[0]}): "
            f"{fix}, then run the same command with `resume`."
        )
    else:
        advice = f"no checkpoint was written yet: {fix}, then start again."
    return WriteFailed(
        f"could not write {error.filename}: {error.strerror}{space}; " + advice,
        end_at_once=getattr(error, "end_at_once", False),
    )
