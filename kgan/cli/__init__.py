"""The train scripts' command line, on top of `kgan.recipes`.

`train_mnist.py` and `train_celeba.py` spell every flag the same way:
`flags` builds them from the `RunConfig` declarations (and adds the
`--preset`s and the placement flags), `config` turns them into a
`kgan.recipes.RunConfig`, `processes` places the run (devices,
processes), `messages` prints and turns errors into one line and an exit
code for the script to exit with. Nothing here exits the process.
"""

from kgan.cli.config import learning_rates, run_config  # noqa: F401
from kgan.cli.flags import (  # noqa: F401
    Parser,
    common_parser,
    flag_names,
    parse,
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
