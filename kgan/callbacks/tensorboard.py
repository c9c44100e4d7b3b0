"""TensorBoard summaries at the trainer's own step.

Keras' `TensorBoard` callback numbers batch summaries from 0 in every
`fit` call, so a resumed run would write over its own first steps; these
write at `training_step(model)`, which a resume restores. Images are the
grids the picture callbacks draw (`tensorboard_dir=`). Written with
`tf.summary` (TensorFlow is installed with kgan on every backend).
"""

import keras
import numpy as np

from kgan._checks import positive_int
from kgan.callbacks._common import training_step

_writers = {}


def _writer(log_dir):
    import tensorflow as tf

    if log_dir not in _writers:
        _writers[log_dir] = tf.summary.create_file_writer(log_dir)
    return _writers[log_dir]


def write_scalars(log_dir, values, step):
    """Writes `{tag: number}` at `step` under `log_dir`."""
    import tensorflow as tf

    writer = _writer(log_dir)
    with writer.as_default(step=int(step)):
        for tag, value in values.items():
            tf.summary.scalar(tag, float(value))
    writer.flush()


def write_image(log_dir, tag, grid, step):
    """Writes a uint8 picture `(H, W)` or `(H, W, C)` at `step`."""
    import tensorflow as tf

    grid = np.asarray(grid, "uint8")
    if grid.ndim == 2:
        grid = grid[..., None]
    writer = _writer(log_dir)
    with writer.as_default(step=int(step)):
        tf.summary.image(tag, grid[None])
    writer.flush()


class ScalarSummaries(keras.callbacks.Callback):
    """Writes the training metrics (losses, scores, O-GAN's z_corr) to
    TensorBoard every `every_n_steps` steps, at the trainer's step.

    Args:
        log_dir: the TensorBoard folder.
        every_n_steps: interval, in optimizer steps.
    """

    def __init__(self, log_dir, every_n_steps=100):
        super().__init__()
        self.log_dir = log_dir
        self.every_n_steps = positive_int("every_n_steps", every_n_steps)

    def on_train_batch_end(self, batch, logs=None):
        step = training_step(self.model)
        if logs and step % self.every_n_steps == 0:
            numbers = {
                f"train/{name}": value
                for name, value in logs.items()
                if np.ndim(value) == 0 and name != "step"
            }
            write_scalars(self.log_dir, numbers, step)
