"""Runs a script with a fault the tests cannot make for real without root.

    python tests/faults.py FAULT script.py [args...]

FAULT is one of:

- `open:ERRNO:NAME`: opening for writing a file whose name contains NAME
  (temporary siblings included) raises `OSError(ERRNO)`, e.g.
  `open:ENOSPC:history.csv` (Python's own writes: pictures, the CSV
  history, `generator.keras`, metrics);
- `allocate:ERRNO:N`: from the N-th call on, `os.posix_fallocate` raises
  `OSError(ERRNO)`: the disk fills after N - 1 checkpoints (before HDF5
  writes, kgan asks the file system for the space);
- `makedirs:ERRNO:PATH`: creating PATH raises `OSError(ERRNO)`, e.g. a
  read-only file system (`EROFS`).

Everything else runs unchanged (`runpy`, as `__main__`).
"""

import builtins
import errno
import os
import runpy
import sys


def _error(name, what):
    code = getattr(errno, name)
    return OSError(code, os.strerror(code), what)


def install(fault):
    kind, code, arg = fault.split(":", 2)
    if kind == "open":
        real_open = builtins.open

        def failing_open(file, mode="r", *args, **kwargs):
            if any(c in mode for c in "wax+") and arg in os.fspath(file):
                raise _error(code, os.fspath(file))
            return real_open(file, mode, *args, **kwargs)

        builtins.open = failing_open
    elif kind == "allocate":
        real_allocate, calls = os.posix_fallocate, [0]

        def failing_allocate(fd, offset, length):
            calls[0] += 1
            if calls[0] >= int(arg):
                raise _error(code, None)
            return real_allocate(fd, offset, length)

        os.posix_fallocate = failing_allocate
    elif kind == "makedirs":
        real_makedirs = os.makedirs

        def failing_makedirs(name, *args, **kwargs):
            if os.path.abspath(name).startswith(os.path.abspath(arg)):
                raise _error(code, name)
            return real_makedirs(name, *args, **kwargs)

        os.makedirs = failing_makedirs
    else:
        raise SystemExit(f"unknown fault {fault!r}")


if __name__ == "__main__":
    fault, script, *argv = sys.argv[1:]
    install(fault)
    sys.argv = [script, *argv]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
