"""The generator's weight EMA of a kgan trainer: sampling from it during
training, and writing it into the weights as Keras' `fit` does at its end.
"""

from kgan.training.keras_contracts import (
    network_optimizers,
    swapped_ema_weights,
    unalias,
)


class WeightAverage:
    """What a trainer's weight EMA is, where it lives, and how to use it
    (a mixin of `GANTrainer`)."""

    def finalize_ema_weights(self):
        """Writes the weight EMA into the weights, as Keras does when `fit`
        ends: for a trainer restored from a checkpoint that has nothing
        left to train (a no-op without EMA)."""
        ema = self.ema_optimizer()
        if ema is not None:
            ema.finalize_variable_values(self.averaged_variables())
            unalias(self.averaged_variables())

    def ema_weights(self):
        """Context manager: the generator holds its EMA weights inside.

        With `compile(..., ema_momentum=m)`, sample from the averaged weights
        during training: `with gan.ema_weights(): gan.generator.predict(z)`.
        (After `fit`, Keras has already written the EMA into the generator.)
        A no-op without EMA.
        """
        ema = self.ema_optimizer()
        if ema is None:
            return swapped_ema_weights(None, [])
        return swapped_ema_weights(ema, self.averaged_variables())

    def averaged_variables(self):
        """The variables the weight EMA averages, in its optimizer's order:
        every trained one when one optimizer trains (and averages) both
        networks, else the generator's."""
        if self.ema_optimizer() is network_optimizers(self.optimizer)[0]:
            return self.trainable_variables
        return self.generator.trainable_variables

    def generator_optimizer(self):
        """The optimizer that updates the generator (under mixed_float16,
        the one inside Keras' `LossScaleOptimizer`)."""
        return network_optimizers(getattr(self, "optimizer", None))[1]

    def ema_optimizer(self):
        """The optimizer keeping the generator's EMA, or None."""
        optimizer = self.generator_optimizer()
        return optimizer if getattr(optimizer, "use_ema", False) else None
