"""One Keras optimizer holding a discriminator and a generator optimizer.

TTUR (Heusel et al. 2017, https://arxiv.org/abs/1706.08500) trains D and G
with different learning rates. Scaling G's part of the single loss would not
do it (Adam and RMSprop are invariant to the gradient's scale), so kgan uses
Keras' own `MultiOptimizer`, routing the generator's variables to their own
optimizer. The same split gives the generator alone a weight EMA, and gives
the alternating trainer its two optimizers inside the one `model.optimizer`
that Keras' trainers (TensorFlow and JAX) save, restore and distribute.
"""

import contextlib

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class GeneratorOptimizerMap:
    """Sends the generator's variables to one optimizer, the rest to another.

    The variable-to-optimizer map of a `keras.optimizers.MultiOptimizer`;
    a trainer `bind`s it to its generator.

    Args:
        default_optimizer: for the discriminator (and anything else).
        generator_optimizer: for the generator's trainable variables.
    """

    def __init__(self, default_optimizer, generator_optimizer):
        self.default_optimizer = keras.optimizers.get(default_optimizer)
        self.generator_optimizer = keras.optimizers.get(generator_optimizer)
        self._generator_ids = set()

    def bind(self, generator):
        self._generator_ids = {id(v) for v in generator.trainable_variables}
        return self

    def values(self):
        # MultiOptimizer keeps this order: `.optimizers` is [D's, G's].
        return [self.default_optimizer, self.generator_optimizer]

    def __call__(self, variable):
        if id(variable) in self._generator_ids:
            return self.generator_optimizer
        return self.default_optimizer

    def get_config(self):
        return {
            "default_optimizer": keras.optimizers.serialize(
                self.default_optimizer
            ),
            "generator_optimizer": keras.optimizers.serialize(
                self.generator_optimizer
            ),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def split_optimizer(
    optimizer, generator, g_optimizer=None, ema_momentum=None, split=False
):
    """`optimizer` for D, `g_optimizer` (default: a copy) for G, as one.

    With `ema_momentum`, the generator's optimizer keeps an EMA of G's
    weights (Keras' `use_ema`); Keras writes it into G at the end of `fit`.
    Returns `optimizer` itself when there is nothing to split (no
    `g_optimizer`, no EMA, `split=False`).
    """
    optimizer = keras.optimizers.get(optimizer)
    if g_optimizer is None and ema_momentum is None and not split:
        return optimizer
    if g_optimizer is None:
        g_optimizer = optimizer.__class__.from_config(optimizer.get_config())
    g_optimizer = keras.optimizers.get(g_optimizer)
    if ema_momentum is not None:
        g_optimizer.use_ema = True
        g_optimizer.ema_momentum = float(ema_momentum)
    mapping = GeneratorOptimizerMap(optimizer, g_optimizer).bind(generator)
    return keras.optimizers.MultiOptimizer(mapping)


def network_optimizers(optimizer):
    """`(D's optimizer, G's optimizer)` of a trainer's `optimizer`.

    The same object twice when one optimizer trains both networks. Public
    API only: a split optimizer lists its parts in `.optimizers`; the
    `LossScaleOptimizer` Keras wraps around it under mixed_float16 is
    looked through.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    parts = getattr(optimizer, "optimizers", None)
    if isinstance(optimizer, keras.optimizers.MultiOptimizer) and parts:
        return parts[0], parts[-1]
    return optimizer, optimizer


@contextlib.contextmanager
def swapped_ema_weights(optimizer, variables):
    """Inside the block `variables` hold their EMA; outside, their values.

    `variables` must be the list the optimizer averages, in its order. Uses
    the optimizer's public `finalize_variable_values`.
    """
    if optimizer is None or not optimizer.built:
        yield
        return
    saved = [ops.convert_to_numpy(v).copy() for v in variables]
    optimizer.finalize_variable_values(variables)
    unalias(variables)
    try:
        yield
    finally:
        for v, value in zip(variables, saved):
            v.assign(value)


def unalias(variables):
    """Gives each variable a buffer of its own (a copy of its value).

    `finalize_variable_values` assigns the EMA variable's array itself to
    the model variable. On JAX a later `predict` / `fit` donates that
    shared buffer, and the EMA variable then points at a deleted array
    ("Array has been deleted" at the next `save`). Copying breaks the link.
    """
    for v in variables:
        v.assign(ops.convert_to_numpy(v).copy())
