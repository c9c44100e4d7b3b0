"""The train scripts' command line, on top of `kgan.recipes`.

`train_mnist.py` and `train_celeba.py` spell every flag the same way:
`flags` holds them (and the `--preset`s), `config` turns them into a
`kgan.recipes.RunConfig`, `processes` places the run (devices,
processes), `messages` prints and turns errors into one line and an exit
code for the script to exit with. Nothing here exits the process.
"""

from kgan.cli.config import learning_rates, run_config  # noqa: F401
from kgan.cli.flags import (  # noqa: F401
    ARCHS,
    LOSSES,
    Parser,
    common_parser,
    momentum,
    non_negative_float,
    parse,
    positive_float,
    positive_int,
    typed,
)
from kgan.cli.messages import (  # noqa: F401
    Failure,
    as_flags,
    fail,
    outcome,
    say,
)
from kgan.cli.processes import placement  # noqa: F401
