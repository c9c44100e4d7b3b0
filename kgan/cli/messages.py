"""How the scripts end: one line on stderr and an exit code, decided in
the script itself (`outcome`); nothing in kgan exits the process."""

import os
import re
import sys

from kgan import distribution
from kgan.recipes.messages import say  # noqa: F401


class Failure(Exception):
    """A script's one-line error: `code` is the exit status; `end_at_once`
    asks the script to end without Python's clean-up (a process stuck in a
    collective or in JAX's shutdown barrier would not end otherwise)."""

    def __init__(self, message, code=2, end_at_once=False):
        super().__init__(message)
        self.code = code
        self.end_at_once = end_at_once


def fail(message, code=2, end_at_once=False):
    """Raises the script's one-line `Failure`."""
    raise Failure(message, code, end_at_once)


def as_flags(message):
    """The library names run settings `like_this`; a script user typed
    `--like-this` (or the flag its declaration names)."""
    from kgan.cli.flags import flag_names

    names = flag_names()
    return re.sub(
        r"`(\w+)`",
        lambda m: names.get(m[1], "--" + m[1].replace("_", "-")),
        message,
    )


def outcome(main, argv=None):
    """Runs a script's `main(argv)`; returns `(exit_code, end_at_once)`
    after printing one line for any kgan error, with no traceback.

    The script then exits with `code`, skipping Python's clean-up when
    `end_at_once`.
    """
    from kgan.callbacks import CheckpointError
    from kgan.data import DataError
    from kgan.recipes import ConfigError, RunError

    expected = (
        ConfigError, RunError, CheckpointError, DataError,
        distribution.DistributionError,
    )  # fmt: skip
    try:
        main(argv)
    except Failure as failure:
        _print(str(failure))
        return failure.code, failure.end_at_once
    except expected as error:
        _print(as_flags(str(error)))
        return (
            getattr(error, "exit_code", 2),
            getattr(error, "end_at_once", False),
        )
    except KeyboardInterrupt:
        _print("interrupted before training started; nothing to save.")
        return 130, False
    except BrokenPipeError:  # stdout closed (`| head`) before training
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _print("the output pipe closed before training started; stopped.")
        return 1, False
    return 0, False


def _print(message):
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
