"""A callback that drives progressive growing (PGGAN) from the step."""

import keras

from kgan._checks import positive_int
from kgan.callbacks._common import training_step
from kgan.layers.progressive import (
    ProgressiveLayer,
    _walk,
    schedule_level,
    set_level,
)


class ProgressiveSchedule(keras.callbacks.Callback):
    """Sets the progressive level of both networks before every batch.

    At every train batch begin it reads the trainer's step
    (`kgan.callbacks._common.training_step`), computes
    `schedule_level(step, stage_steps, fade_steps, num_stages)` and writes
    it with `set_level` into `model.generator` and `model.discriminator`
    (a `ProgressiveBlend` at G's end, a `ProgressiveDownsample` at D's
    start). `num_stages` is read from the models' progressive layers, which
    must agree. The level is a weight saved with both models, so a resumed
    run starts where it stopped; the callback recomputes it from the step
    anyway, so the schedule, not the saved value, is what counts. With
    `steps_per_execution > 1` the level changes only between executions.

    On JAX, reading the step syncs the trainer's state back to its
    variables before every batch (Keras does so whenever a callback reads
    `self.model`), which costs some speed.

    Args:
        stage_steps: steps spent in each stage, its fade-in included.
        fade_steps: steps of each stage (after the first) spent fading it in.

    Example:

    ```python
    gan = kgan.training.OneStepGAN(generator, discriminator, loss="hinge")
    gan.compile(optimizer=keras.optimizers.Adam(1e-3, 0.0, 0.99))
    gan.fit(images, batch_size=16, epochs=10,
            callbacks=[ProgressiveSchedule(stage_steps=20000,
                                           fade_steps=10000)])
    ```

    Reference:

    - [Karras et al., 2018, Progressive Growing of GANs](
      https://arxiv.org/abs/1710.10196), section 2.
    """

    def __init__(self, stage_steps, fade_steps):
        super().__init__()
        self.stage_steps = positive_int("stage_steps", stage_steps)
        schedule_level(0, self.stage_steps, fade_steps, 1)  # checks it
        self.fade_steps = int(fade_steps)
        self.level = None

    def on_train_begin(self, logs=None):
        counts = set()
        for network in self._networks():
            for layer in _walk(network):
                if isinstance(layer, ProgressiveLayer):
                    counts.add(layer.num_stages)
        if len(counts) != 1:
            raise ValueError(
                "`ProgressiveSchedule` needs progressive layers with one "
                "number of stages in the generator and discriminator. "
                f"Received: num_stages={sorted(counts)}"
            )
        self.num_stages = counts.pop()
        self.level = None  # someone may have set the levels since

    def on_train_batch_begin(self, batch, logs=None):
        model = self.model  # on JAX this syncs the trainer's state
        level = schedule_level(
            training_step(model),
            self.stage_steps,
            self.fade_steps,
            self.num_stages,
        )
        if level != self.level:
            for network in self._networks():
                set_level(network, level)
            self.level = level

    def _networks(self):
        return [
            network
            for network in (
                getattr(self.model, "generator", None),
                getattr(self.model, "discriminator", None),
            )
            if network is not None
        ]
