"""Picture callbacks: samples, O-GAN reconstructions, latent walks.

Each one draws from inputs fixed when it is created, so pictures from
different steps compare like for like, and each samples from the weight EMA
when the trainer keeps one (`trainer.ema_weights()`), as the published
pictures of EMA-trained GANs do.
"""

import contextlib
import math
import os

import imageio.v2 as imageio
import keras
import numpy as np

from kgan._checks import positive_int
from kgan._files import atomic_path
from kgan.callbacks._common import training_step
from kgan.callbacks.tensorboard import write_image
from kgan.distribution import is_chief, predict
from kgan.sampling import to_uint8


def image_grid(images, rows=None, cols=None):
    """Tiles `(n, H, W, C)` images in [-1, 1] into one uint8 picture.

    The grid is `rows x cols`, filled row by row; by default it is as square
    as `n` allows. Empty cells are white.
    """
    images = np.asarray(images, dtype="float32")
    n, h, w, c = images.shape
    if rows is None:
        rows = int(math.ceil(n / cols)) if cols else math.ceil(math.sqrt(n))
    cols = cols or int(math.ceil(n / rows))
    if rows * cols < n:
        raise ValueError(
            f"A {rows}x{cols} grid cannot hold {n} images. "
            f"Received: rows={rows}, cols={cols}"
        )
    grid = np.ones((rows * h, cols * w, c), "float32")
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[r * h : (r + 1) * h, k * w : (k + 1) * w] = image
    grid = to_uint8(grid)
    return grid[..., 0] if c == 1 else grid


def save_image_grid(path, images, rows=None, cols=None):
    """Writes `image_grid(images, rows, cols)` as a PNG at `path`.

    Written to a temporary file and renamed, so a reader (or a kill) never
    sees half a picture.
    """
    with atomic_path(path) as tmp:
        imageio.imwrite(tmp, image_grid(images, rows, cols), format="PNG")
    return path


def slerp(z0, z1, t):
    """Spherical interpolation between latents, along the last axis.

    `slerp = sin((1 - t) w) / sin w * z0 + sin(t w) / sin w * z1`, with `w`
    the angle between `z0` and `z1`. Gaussian latents of high dimension lie
    near a sphere; walking along its surface, rather than the chord a linear
    mix takes through the low-density middle, keeps every point typical.
    Nearly parallel latents fall back to the linear mix.

    Reference:
        White, "Sampling Generative Networks",
        https://arxiv.org/abs/1609.04468.
    """
    z0, z1 = np.asarray(z0, "float64"), np.asarray(z1, "float64")
    t = np.asarray(t, "float64")
    unit0 = z0 / np.linalg.norm(z0, axis=-1, keepdims=True)
    unit1 = z1 / np.linalg.norm(z1, axis=-1, keepdims=True)
    cos = np.clip(np.sum(unit0 * unit1, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    parallel = sin < 1e-6
    safe = np.where(parallel, 1.0, sin)
    w0 = np.where(parallel, 1.0 - t, np.sin((1.0 - t) * omega) / safe)
    w1 = np.where(parallel, t, np.sin(t * omega) / safe)
    return (w0 * z0 + w1 * z1).astype("float32")


def _finite(variables):
    return all(
        np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in variables
    )


class _PictureCallback(keras.callbacks.Callback):
    """Writes `{out_dir}/{prefix}_{step:06d}.png` every `every_n_steps`
    steps and at the end of training; subclasses draw the picture."""

    def __init__(self, out_dir, every_n_steps, prefix, ema, tensorboard_dir):
        super().__init__()
        self.tensorboard_dir = tensorboard_dir
        self.out_dir = out_dir
        self.every_n_steps = positive_int("every_n_steps", every_n_steps)
        self.prefix = prefix
        self.ema = ema
        self.written = []
        self._last_step = None

    def draw(self):
        """Returns `(images, rows, cols)` for `save_image_grid`."""
        raise NotImplementedError

    def write(self, step=None):
        """Writes the picture for `step` (default: the current step);
        returns its path, or None when the generator holds NaN or infinite
        weights (after a NaN stop), drawing nothing.

        In a multi-process run every process draws it (each forward pass is
        a collective computation) and only process 0 writes the file.
        """
        step = training_step(self.model) if step is None else int(step)
        path = os.path.join(self.out_dir, f"{self.prefix}_{step:06d}.png")
        if not _finite(self.model.generator.weights):
            # After a NaN stop: a grid of NaNs would only mislead.
            self._last_step = step
            return None
        with self._weights():
            images, rows, cols = self.draw()
        if is_chief():
            self.written.append(save_image_grid(path, images, rows, cols))
            if self.tensorboard_dir:
                grid = image_grid(images, rows, cols)
                write_image(self.tensorboard_dir, self.prefix, grid, step)
        self._last_step = step
        return path

    def _weights(self):
        if self.ema and hasattr(self.model, "ema_weights"):
            return self.model.ema_weights()
        return contextlib.nullcontext()

    def on_train_batch_end(self, batch, logs=None):
        step = training_step(self.model)
        if step % self.every_n_steps == 0 and step != self._last_step:
            self.write(step)

    def on_train_end(self, logs=None):
        step = training_step(self.model)
        if step != self._last_step:
            self.write(step)


class SampleGrid(_PictureCallback):
    """Writes a grid of samples from a fixed z every `every_n_steps` steps.

    The same z (and labels) are used each time, so grids from different steps
    compare like for like. Files are `{out_dir}/{prefix}_{step:06d}.png`,
    plus one for the last step when training ends.

    Args:
        out_dir: folder for the PNG files.
        every_n_steps: interval, in optimizer steps.
        rows: the grid is `rows x rows`.
        seed: seed of the fixed z.
        num_classes: for a class-conditional generator, label `i % K` is
            used for sample i (each row walks through the classes).
        prefix: file-name prefix.
        ema: sample from the trainer's weight EMA when it keeps one.
        tensorboard_dir: also write each picture to TensorBoard there.
    """

    def __init__(
        self,
        out_dir,
        every_n_steps=100,
        rows=8,
        seed=0,
        num_classes=None,
        prefix="samples",
        ema=True,
        tensorboard_dir=None,
    ):
        super().__init__(out_dir, every_n_steps, prefix, ema, tensorboard_dir)
        self.rows = positive_int("rows", rows)
        self.seed = seed
        self.num_classes = num_classes

    def _inputs(self, generator):
        n = self.rows * self.rows
        z_dim = int(generator.inputs[0].shape[-1])
        z = np.random.default_rng(self.seed).normal(size=(n, z_dim))
        z = z.astype("float32")
        if len(generator.inputs) == 1:
            return z
        labels = np.arange(n) % (self.num_classes or self.rows)
        return [z, labels.astype("int32")]

    def draw(self):
        generator = self.model.generator
        images = predict(generator, self._inputs(generator), batch_size=64)
        return images, self.rows, self.rows


class ReconstructionGrid(_PictureCallback):
    """O-GAN reconstructions of a fixed batch of real images, as pairs.

    Each row holds `pairs_per_row` pairs, the real image then its rebuild
    `G(scale * standardise(e(x)))` (`trainer.reconstruct`), as Su's
    o_gan_celeba.py draws them. The trainer must have `reconstruct` (kgan's
    `OGAN`).

    Args:
        images: real images `(n, H, W, C)` in [-1, 1], e.g. 32 of them for
            an 8 x 8 grid.
        out_dir: folder for the PNG files.
        every_n_steps: interval, in optimizer steps.
        pairs_per_row: real | rebuilt pairs in each row.
        scale: the factor applied to the standardised codes (0.9 in Su's
            code).
        prefix: file-name prefix.
        ema: reconstruct with the trainer's weight EMA when it keeps one.
        tensorboard_dir: also write each picture to TensorBoard there.
    """

    def __init__(
        self,
        images,
        out_dir,
        every_n_steps=100,
        pairs_per_row=4,
        scale=0.9,
        prefix="reconstructions",
        ema=True,
        tensorboard_dir=None,
    ):
        super().__init__(out_dir, every_n_steps, prefix, ema, tensorboard_dir)
        images = np.asarray(images, "float32")
        if images.ndim != 4 or len(images) == 0:
            raise ValueError(
                "`images` must be a non-empty batch (n, height, width, "
                f"channels). Received: images.shape={images.shape}"
            )
        self.images = images
        self.pairs_per_row = positive_int("pairs_per_row", pairs_per_row)
        self.scale = float(scale)

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "reconstruct"):
            raise ValueError(
                "ReconstructionGrid needs an O-GAN trainer (one with "
                "`reconstruct`, such as kgan.training.OGAN). Received: "
                f"{type(self.model).__name__}."
            )

    def draw(self):
        rebuilt = self.model.reconstruct(self.images, scale=self.scale)
        pairs = np.stack([self.images, np.asarray(rebuilt, "float32")], 1)
        rows = int(math.ceil(len(self.images) / self.pairs_per_row))
        return (
            pairs.reshape((-1,) + self.images.shape[1:]),
            rows,
            (2 * self.pairs_per_row),
        )


class InterpolationStrip(_PictureCallback):
    """Rows of samples along great circles between fixed pairs of z.

    Row r walks in `steps` images from `z_a[r]` to `z_b[r]` by `slerp`; a
    smooth walk means the generator has not memorised isolated points.

    Args:
        out_dir: folder for the PNG files.
        every_n_steps: interval, in optimizer steps.
        rows: number of z pairs (one row each).
        steps: images per row, the two ends included.
        seed: seed of the fixed z pairs.
        num_classes: for a class-conditional generator, row r keeps label
            `r % num_classes` along its walk.
        prefix: file-name prefix.
        ema: sample from the trainer's weight EMA when it keeps one.
        tensorboard_dir: also write each picture to TensorBoard there.
    """

    def __init__(
        self,
        out_dir,
        every_n_steps=100,
        rows=4,
        steps=8,
        seed=1,
        num_classes=None,
        prefix="interpolation",
        ema=True,
        tensorboard_dir=None,
    ):
        super().__init__(out_dir, every_n_steps, prefix, ema, tensorboard_dir)
        self.rows = positive_int("rows", rows)
        self.steps = positive_int("steps", steps)
        self.seed = seed
        self.num_classes = num_classes

    def latents(self, z_dim):
        """The `(rows * steps, z_dim)` latents of the strip, row by row."""
        rng = np.random.default_rng(self.seed)
        z_a, z_b = rng.normal(size=(2, self.rows, 1, z_dim))
        t = np.linspace(0.0, 1.0, self.steps)[None, :, None]
        return slerp(z_a, z_b, t).reshape(-1, z_dim)

    def draw(self):
        generator = self.model.generator
        z = self.latents(int(generator.inputs[0].shape[-1]))
        inputs = z
        if len(generator.inputs) == 2:
            labels = np.arange(self.rows) % (self.num_classes or self.rows)
            inputs = [z, np.repeat(labels, self.steps).astype("int32")]
        images = predict(generator, inputs, batch_size=64)
        return images, self.rows, self.steps
