"""The scripts' way of speaking: one line on stderr and out, or a line
printed by process 0 alone."""

import sys

from kgan import distribution


def fail(message):
    """Ends the script with a one-line error, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def say(message):
    """Prints in process 0 only (every process runs the same script)."""
    if distribution.is_chief():
        print(message, flush=True)
