"""What can end a run, each with a message that names the fix.

The library raises these; only a script decides how the process ends
(`kgan.cli.outcome`: one line, `exit_code`, and `end_at_once` for a
process that must skip Python's clean-up).
"""


class ConfigError(ValueError):
    """A run setting that cannot work; the message names it and the fix."""


class RunError(Exception):
    """A run that cannot go on; the message says what to do."""

    exit_code = 2
    end_at_once = False


class RunExists(RunError):
    """`out` holds an earlier run's checkpoint and `resume` is off."""


class FolderUnusable(RunError):
    """`out` cannot be created or written."""


class RunLocked(RunError):
    """Another run is writing into `out`."""


class SettingsChanged(RunError):
    """`resume` with settings the checkpoint cannot be loaded into."""


class Interrupted(RunError):
    """Ctrl-C or SIGTERM: the state at the current step was saved."""

    exit_code = 130


class PeerLost(RunError):
    """Another process of a multi-process run died; this one must end at
    once (a normal exit waits in JAX's shutdown barrier for minutes)."""

    exit_code = 1
    end_at_once = True


class Diverged(RunError):
    """Training hit a NaN; no generator was written."""


class WriteFailed(RunError):
    """A file of the run could not be written (disk full, quota, ...);
    what was saved before is intact."""

    exit_code = 1

    def __init__(self, message, end_at_once=False):
        super().__init__(message)
        self.end_at_once = end_at_once
