"""Stop `fit` when a loss turns NaN or infinite, and say what helps."""

import keras
import numpy as np

from kgan.callbacks._common import training_step


class StopOnNaN(keras.callbacks.Callback):
    """Stops `fit` when a loss turns NaN or infinite, and says why.

    Keras' `TerminateOnNaN` watches `loss` only; this watches every loss the
    trainer reports (`d_loss`, `g_loss`, ...) and names the fixes that
    usually help. kgan's trainers add one to every `fit`.

    Args:
        checkpoint: the run's `kgan.callbacks.Checkpoint`, if any: the
            message names its last good checkpoint.
        verbose: print the message (else only keep it in `nan_message`,
            for a caller that reports it itself).
    """

    def __init__(self, checkpoint=None, verbose=True):
        super().__init__()
        self.checkpoint = checkpoint
        self.verbose = verbose
        self.nan_message = None

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        bad = [
            k
            for k, v in logs.items()
            if k.endswith("loss") and not np.isfinite(float(v))
        ]
        if not bad:
            return
        self.model.stop_training = True
        message = (
            f"kgan: training stopped at step {training_step(self.model)}: "
            f"{', '.join(bad)} "
            "became NaN or infinite. Lower the learning rate, check that "
            "the images are in [-1, 1], or add a gradient penalty / "
            "spectral normalisation to the discriminator."
        )
        if self.checkpoint is not None:
            message += (
                f" The last good checkpoint is {self.checkpoint.last_good()}."
            )
        if self.verbose:
            print(message)
        self.nan_message = message


def with_nan_stop(callbacks):
    """`callbacks` as a list, with a `StopOnNaN` added unless one is there."""
    callbacks = list(callbacks or [])
    if not any(isinstance(c, StopOnNaN) for c in callbacks):
        callbacks.append(StopOnNaN())
    return callbacks
