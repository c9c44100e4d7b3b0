"""Printing in a multi-process run: every process runs the same code."""

from kgan import distribution


def say(message):
    """Prints `message` in process 0 only."""
    if distribution.is_chief():
        print(message, flush=True)
