"""One writer per run folder: a lock file held with the file system's own
lock (`fcntl.flock`).

The kernel drops the lock when its process ends, however it ends, so a
lock is never stale while held: a lock file that still names a run but is
not locked was left by a run that was killed, and the next run takes it
over (and says so). The file holds the holder's host, pid, start time and
command, which a refused run names. On a file system without locks the
pid is checked instead (on the same host).
"""

import contextlib
import datetime
import errno
import json
import os
import socket
import sys
import time

from kgan.recipes.errors import RunLocked
from kgan.recipes.messages import say

LOCK_FILE = ".kgan-lock"
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class FolderLock:
    """The lock of one run folder, held until `release` (or the process
    ends).

    Args:
        folder: the run folder (it must exist).
    """

    def __init__(self, folder):
        self.folder = folder
        self.path = os.path.join(folder, LOCK_FILE)
        self._fd = None

    @property
    def held(self):
        return self._fd is not None

    def acquire(self):
        """Takes the lock; raises `RunLocked` naming the run that holds
        it."""
        if self.held:
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                locked = _try_flock(fd)
                if locked is False:
                    raise RunLocked(self._held_by(_holder_of(fd)))
                if locked is None and _alive(_read(fd)):
                    raise RunLocked(self._held_by(_read(fd)))
                # A holder that was releasing may have removed the file we
                # opened: lock the file that is there now instead.
                if not _same_file(fd, self.path):
                    os.close(fd)
                    continue
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            break
        previous = _read(fd)
        if previous:
            say(
                f"kgan: {self.folder}: taking over the lock of a run that "
                f"ended without releasing it ({_describe(previous)})"
            )
        _write(fd, _holder())
        self._fd = fd
        return self

    def release(self):
        """Removes the lock file and drops the lock."""
        if not self.held:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            if _same_file(fd, self.path):
                os.remove(self.path)  # removed while still locked
        with contextlib.suppress(OSError):
            os.close(fd)

    def _held_by(self, holder):
        return (
            f"another run is writing into {self.folder}: "
            f"{_describe(holder)}. Wait for it to end (or stop it), or "
            "choose another `out`."
        )


def _try_flock(fd):
    """True if locked, False if another process holds it, None if the
    file system has no locks."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno in _NO_LOCKS:
            return None
        raise


def _holder_of(fd, wait=1.0):
    """The holder a locked file names; a holder that has only just taken
    the lock gets `wait` seconds to write its name."""
    deadline = time.monotonic() + wait
    holder = _read(fd)
    while not holder and time.monotonic() < deadline:
        time.sleep(0.05)
        holder = _read(fd)
    return holder


def _holder():
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.datetime.now().astimezone().isoformat(
            timespec="seconds"
        ),
        "command": " ".join([os.path.basename(sys.argv[0] or "python")]
                            + sys.argv[1:]),
    }  # fmt: skip


def _read(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 1 << 16).decode("utf-8", "replace")
        holder = json.loads(text) if text.strip() else {}
        return holder if isinstance(holder, dict) else {"unreadable": True}
    except (OSError, ValueError):
        return {"unreadable": True}


def _write(fd, holder):
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(holder).encode())
    os.fsync(fd)


def _describe(holder):
    if not holder:
        return "a run that is starting"
    if holder.get("unreadable"):
        return "a run whose lock file cannot be read"
    text = f"pid {holder.get('pid')} on {holder.get('host')}"
    if holder.get("started"):
        text += f", started {holder['started']}"
    if holder.get("command"):
        text += f" (`{holder['command']}`)"
    return text


def _alive(holder):
    """Without file locks: does the holder's process still run here?"""
    if holder.get("host") != socket.gethostname():
        return bool(holder) and not holder.get("unreadable")
    try:
        os.kill(int(holder.get("pid")), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _same_file(fd, path):
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
