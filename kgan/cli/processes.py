"""Where a script runs: processes joined, --distribution set up, before
any model exists."""

import sys

from kgan import distribution
from kgan.cli.messages import as_flags, fail, say


def placement(args):
    """Joins the processes of a multi-process run and sets up
    `--distribution`: first thing in a script, before any model exists.

    Raises the script's `Failure` for a set-up that cannot work (a partial
    launch, a batch that does not split, a coordinator out of reach, peers
    that do not join within `--join-timeout`).
    """
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
        # JAX's own (fatal) limit comes later: the one-line error first.
        distribution.join_processes(
            args.join_timeout + 30, join_timeout=args.join_timeout
        )
        where = distribution.place(args.distribution)
        where.check_batch_size(args.batch_size)
    except (distribution.DistributionError, ValueError) as error:
        fail(
            as_flags(str(error)),
            end_at_once=getattr(error, "end_at_once", False),
        )
    say(f"kgan: training on {where.describe()}")
    return where
