"""Runs as objects: a `RunConfig` says everything a training run is;
`build` makes its models and trainer, `run_callbacks` / `train` /
`save_generator` / `mnist_report` carry it out under `config.out`.

The scripts map their flags onto a `RunConfig`; benchmarks, tests and
notebooks build one directly:

    config = kgan.recipes.RunConfig(arch="selfmod", steps=500, out="runs/x")
    kgan.recipes.open_run(config)  # checks and locks the folder first
    gan, generator, _ = kgan.recipes.build(config)
    callbacks = kgan.recipes.run_callbacks(config, gan)
    step = kgan.recipes.restore(config, gan, callbacks)  # with `resume`
    kgan.recipes.train(config, gan, dataset_from(step), callbacks)

Nothing here exits the process: problems raise `ConfigError` or a
`RunError` whose message names the fix.
"""

from kgan.recipes.build import (  # noqa: F401
    GENERATORS,
    JIT,
    TRAINERS,
    adversarial_loss,
    build,
    build_models,
    build_trainer,
)
from kgan.recipes.config import RunConfig, setting_names  # noqa: F401
from kgan.recipes.errors import (  # noqa: F401
    ConfigError,
    Diverged,
    FolderUnusable,
    Interrupted,
    PeerLost,
    RunError,
    RunExists,
    RunLocked,
    SettingsChanged,
    WriteFailed,
)
from kgan.recipes.folder import RunFolder, open_run  # noqa: F401
from kgan.recipes.messages import say  # noqa: F401
from kgan.recipes.presets import RUN_PRESETS, describe, preset  # noqa: F401
from kgan.recipes.resume import (  # noqa: F401
    changed_checkpoint_settings,
    checkpoint_settings,
    config_path,
    saved_config,
)
from kgan.recipes.run import (  # noqa: F401
    LearningRates,
    checkpoint_on_interrupt,
    generator_path,
    generator_to_evaluate,
    mnist_report,
    restore,
    run_callbacks,
    save_generator,
    tensorboard_dir,
    train,
)
