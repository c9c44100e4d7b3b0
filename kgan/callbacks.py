"""Callbacks for GAN training: sample grids with a fixed z.

Checkpointing, CSV history and TensorBoard are Keras' own
(`BackupAndRestore`, `ModelCheckpoint`, `CSVLogger`, `TensorBoard`).
"""

import math
import os

import imageio.v2 as imageio
import keras
import numpy as np


def image_grid(images, rows=None):
    """Tiles `(n, H, W, C)` images in [-1, 1] into one uint8 picture."""
    images = np.asarray(images, dtype="float32")
    n, h, w, c = images.shape
    rows = rows or int(math.ceil(math.sqrt(n)))
    cols = int(math.ceil(n / rows))
    grid = np.ones((rows * h, cols * w, c), "float32")
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[r * h : (r + 1) * h, k * w : (k + 1) * w] = image
    grid = np.clip((grid + 1) * 127.5, 0, 255).round().astype("uint8")
    return grid[..., 0] if c == 1 else grid


def save_image_grid(path, images, rows=None):
    """Writes `image_grid(images, rows)` as a PNG at `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    imageio.imwrite(path, image_grid(images, rows))
    return path


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of samples from a fixed z every `every_n_steps` steps.

    The same z (and labels) are used each time, so grids from different steps
    compare like for like. Files are `{out_dir}/{prefix}_{step:06d}.png`.

    Args:
        out_dir: folder for the PNG files.
        every_n_steps: interval, in optimizer steps.
        rows: the grid is `rows x rows`.
        seed: seed of the fixed z.
        num_classes: for a class-conditional generator, label `i % K` is
            used for sample i (each row walks through the classes).
        prefix: file-name prefix.
    """

    def __init__(
        self,
        out_dir,
        every_n_steps=100,
        rows=8,
        seed=0,
        num_classes=None,
        prefix="samples",
    ):
        super().__init__()
        self.out_dir = out_dir
        self.every_n_steps = int(every_n_steps)
        self.rows = int(rows)
        self.seed = seed
        self.num_classes = num_classes
        self.prefix = prefix
        self.written = []

    def _inputs(self, generator):
        n = self.rows * self.rows
        z_dim = int(generator.inputs[0].shape[-1])
        z = np.random.default_rng(self.seed).normal(size=(n, z_dim))
        z = z.astype("float32")
        if len(generator.inputs) == 1:
            return z
        labels = np.arange(n) % (self.num_classes or self.rows)
        return [z, labels.astype("int32")]

    def write(self, step):
        generator = self.model.generator
        images = generator.predict(
            self._inputs(generator), batch_size=64, verbose=0
        )
        path = os.path.join(self.out_dir, f"{self.prefix}_{step:06d}.png")
        self.written.append(save_image_grid(path, images, self.rows))
        return path

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.current_step())
        if step % self.every_n_steps == 0:
            self.write(step)

    def on_train_end(self, logs=None):
        self.write(int(self.model.current_step()))
