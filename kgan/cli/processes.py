"""Where a script runs: --out checked, processes joined, --distribution
set up, before any model exists."""

import contextlib
import os
import sys
import threading

from kgan import distribution
from kgan.cli.messages import fail, say


def placement(args):
    """Checks `--out`, joins the processes of a multi-process run and sets
    up `--distribution`: first thing in a script, before any model exists.

    Ends the script with one line for a set-up that cannot work (a partial
    launch, a batch that does not split, a coordinator out of reach).
    """
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        fail(
            f"--out {args.out} is a file: give a folder (the run writes "
            "generator.keras, samples/, history.csv and checkpoint/ in it)."
        )
    if args.strategy is not None:
        mode = "data-parallel" if args.strategy == "mirrored" else "none"
        print(
            f"kgan: --strategy is deprecated; read as --distribution {mode}",
            file=sys.stderr,
        )
        args.distribution = (
            mode if args.distribution == "none" else (args.distribution)
        )
    try:
        with exit_unless_joined(args.join_timeout):
            # JAX's own limit comes later: the message above comes first.
            distribution.join_processes(args.join_timeout + 30)
        where = distribution.place(args.distribution)
        where.check_batch_size(args.batch_size)
    except (distribution.DistributionError, ValueError) as error:
        fail(str(error))
    say(f"kgan: training on {where.describe()}")
    return where


@contextlib.contextmanager
def exit_unless_joined(seconds):
    """Ends the process with one line if the block (joining the processes)
    takes more than `seconds`.

    A process that waits for a missing peer is stuck inside JAX, which
    later aborts with a C++ stack trace; a timer thread gets in first.
    """
    settings = distribution.launch_settings()
    if settings is None:
        yield
        return
    coordinator, count, rank = settings

    def give_up():
        print(
            f"error: process {rank} of {count}: the run did not come "
            f"together within --join-timeout {seconds} s: start all "
            f"{count} processes with the same command and variables "
            f"(process 0 listens on {coordinator}), and check the address, "
            "the port and the firewall.",
            file=sys.stderr,
            flush=True,
        )
        os._exit(2)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
