"""What the train scripts share, one module per concern.

`train_mnist.py` and `train_celeba.py` spell every flag the same way:
`flags` holds them, `build` turns them into models and a trainer,
`processes` places the run (devices, processes), `run` trains it from its
checkpoint and saves the result, `messages` prints. Everything is
importable from `kgan.cli` itself.
"""

from kgan.cli.build import (  # noqa: F401
    adversarial_loss,
    build_models,
    build_trainer,
    gradient_penalised,
    weight_clip,
)
from kgan.cli.flags import (  # noqa: F401
    ARCHS,
    LOSSES,
    Typed,
    common_parser,
    momentum,
    non_negative_float,
    positive_float,
    positive_int,
    typed,
)
from kgan.cli.messages import fail, say  # noqa: F401
from kgan.cli.processes import exit_unless_joined, placement  # noqa: F401
from kgan.cli.run import (  # noqa: F401
    DataPosition,
    LearningRateFromCommandLine,
    checkpoint_on_interrupt,
    epochs,
    fit,
    generator_to_evaluate,
    mnist_report,
    peer_lost,
    save_generator,
    start_step,
    training_callbacks,
)
