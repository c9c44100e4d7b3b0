"""Runs as objects: a `RunConfig` says everything a training run is;
`build` makes its models and trainer, `run_callbacks` / `train` /
`save_generator` / `mnist_report` carry it out under `config.out`.

The scripts map their flags onto a `RunConfig`; benchmarks, tests and
notebooks build one directly:

    config = kgan.recipes.RunConfig(arch="selfmod", steps=500, out="runs/x")
    gan, generator, _ = kgan.recipes.build(config)
    callbacks = kgan.recipes.run_callbacks(config, gan)
    kgan.recipes.train(config, gan, dataset, callbacks)

Nothing here exits the process: problems raise `ConfigError` or a
`RunError` whose message names the fix.
"""

from kgan.recipes.build import (  # noqa: F401
    adversarial_loss,
    build,
    build_models,
    build_trainer,
)
from kgan.recipes.config import (  # noqa: F401
    ARCHS,
    LOSSES,
    ConfigError,
    RunConfig,
)
from kgan.recipes.messages import say  # noqa: F401
from kgan.recipes.presets import PRESETS, describe, preset  # noqa: F401
from kgan.recipes.run import (  # noqa: F401
    DataPosition,
    Diverged,
    Interrupted,
    LearningRates,
    PeerLost,
    RunError,
    RunExists,
    checkpoint_on_interrupt,
    generator_to_evaluate,
    mnist_report,
    run_callbacks,
    save_generator,
    start_step,
    tensorboard_dir,
    train,
)
