"""A callback that tracks the FID of a GAN's generator during `fit`."""

import contextlib

import keras
import numpy as np

from kgan._checks import integer, positive_int
from kgan.metrics.distances import feature_moments, frechet_distance
from kgan.metrics.features import check_images


class FIDCallback(keras.callbacks.Callback):
    """Computes the FID of `model.generator` every `every_n_steps` steps.

    The generator draws `num_samples` images from one fixed z (seeded by
    `seed`; a class-conditional generator, with inputs `[z, labels]`, gets
    label `i % num_classes` for sample i), so values at different steps
    compare like for like. Their features under `extractor` are compared
    with the features of `real_images`, computed once. A trainer with
    `ema_weights()` (kgan's trainers) is sampled with its EMA weights, as
    one samples after training.

    Each value is appended to `.history` as `(step, fid)`, and every
    epoch's logs carry the latest value under `name`, so it appears in the
    `History` that `fit` returns and in a `CSVLogger` listed after this
    callback. The first epoch end computes one if no step has yet.

    Args:
        real_images: `(n, H, W, C)` real images in [-1, 1].
        extractor: a feature extractor `images -> (n, d)`, e.g. an
            `MNISTClassifier` or `InceptionFeatures`.
        every_n_steps: interval in optimizer steps.
        num_samples: generated images per evaluation.
        seed: seed of the fixed z.
        num_classes: number of classes of a conditional generator;
            `model.num_classes` when None.
        batch_size: images per generator forward pass.
        name: key of the value in the logs.
        use_ema: sample with the trainer's EMA weights when it has them.

    Example:

    >>> reference = images[np.random.permutation(len(images))[:1000]]
    >>> fid = FIDCallback(reference, mnist_classifier(), 500)
    >>> history = gan.fit(dataset, callbacks=[fid, keras.callbacks.CSVLogger(
    ...     "log.csv")])
    >>> history.history["fid"]
    """

    def __init__(
        self,
        real_images,
        extractor,
        every_n_steps=1000,
        num_samples=1000,
        seed=0,
        num_classes=None,
        batch_size=64,
        name="fid",
        use_ema=True,
    ):
        super().__init__()
        every_n_steps = positive_int("every_n_steps", every_n_steps)
        num_samples = integer("num_samples", num_samples, minimum=2)
        batch_size = positive_int("batch_size", batch_size)
        if not callable(extractor):
            raise ValueError(
                "`extractor` must be a callable images -> features. "
                f"Received: extractor={extractor!r}"
            )
        self.real_images = check_images(real_images)
        self.extractor = extractor
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.seed = seed
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.name = name
        self.use_ema = use_ema
        self.history = []
        self._real_moments = None
        self._inputs = None
        self._next_step = every_n_steps

    def _step(self):
        if hasattr(self.model, "current_step"):
            return int(self.model.current_step())
        return int(self.model.optimizer.iterations)

    def _generator_inputs(self, generator):
        if self._inputs is not None:
            return self._inputs
        z_dim = int(generator.inputs[0].shape[-1])
        rng = np.random.default_rng(self.seed)
        z = rng.standard_normal((self.num_samples, z_dim), dtype=np.float32)
        self._inputs = z
        if len(generator.inputs) == 2:
            num_classes = self.num_classes or getattr(
                self.model, "num_classes", None
            )
            if not num_classes:
                raise ValueError(
                    "The generator is class-conditional: pass `num_classes` "
                    "to FIDCallback. Received: num_classes=None"
                )
            labels = np.arange(self.num_samples) % num_classes
            self._inputs = [z, labels.astype("int32")]
        return self._inputs

    def compute(self):
        """Computes, records and returns the FID at the current step."""
        generator = self.model.generator
        inputs = self._generator_inputs(generator)
        weights = contextlib.nullcontext()
        if self.use_ema and hasattr(self.model, "ema_weights"):
            weights = self.model.ema_weights()
        with weights:
            images = generator.predict(
                inputs, batch_size=self.batch_size, verbose=0
            )
        if self._real_moments is None:
            self._real_moments = feature_moments(
                self.extractor(self.real_images)
            )
        value = frechet_distance(
            self._real_moments,
            self.extractor(np.asarray(images, dtype="float32")),
        )
        self.history.append((self._step(), value))
        return value

    def on_train_begin(self, logs=None):
        # Resume the schedule where a restored run left off.
        step = self._step()
        self._next_step = (step // self.every_n_steps + 1) * self.every_n_steps

    def on_train_batch_end(self, batch, logs=None):
        # `>=` rather than `%`: with steps_per_execution > 1 the callback
        # sees only every k-th step.
        step = self._step()
        if step >= self._next_step:
            self.compute()
            self._next_step = (
                step // self.every_n_steps + 1
            ) * self.every_n_steps

    def on_epoch_end(self, epoch, logs=None):
        if not self.history:
            self.compute()
        if logs is not None:
            logs[self.name] = self.history[-1][1]
