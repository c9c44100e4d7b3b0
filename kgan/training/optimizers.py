"""One optimizer object with a learning rate (and EMA) for each network.

TTUR (Heusel et al. 2017, https://arxiv.org/abs/1706.08500) trains D and G
with different learning rates. Scaling G's part of the single loss would not
do it (Adam and RMSprop are invariant to the gradient's scale), so kgan uses
Keras' own `MultiOptimizer`, routing the generator's variables to their own
optimizer. The same split gives the generator alone a weight EMA.
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


def split_optimizer(optimizer, generator, g_optimizer=None, ema_momentum=None):
    """`optimizer` for D, `g_optimizer` (default: a copy) for G, as one.

    With `ema_momentum`, the generator's optimizer keeps an EMA of G's
    weights (Keras' `use_ema`); Keras writes it into G at the end of `fit`.
    Returns `optimizer` unchanged when neither option is given.
    """
    optimizer = keras.optimizers.get(optimizer)
    if g_optimizer is None and ema_momentum is None:
        return optimizer
    if g_optimizer is None:
        g_optimizer = optimizer.__class__.from_config(optimizer.get_config())
    g_optimizer = keras.optimizers.get(g_optimizer)
    if ema_momentum is not None:
        g_optimizer.use_ema = True
        g_optimizer.ema_momentum = float(ema_momentum)
    mapping = GeneratorOptimizerMap(optimizer, g_optimizer).bind(generator)
    return keras.optimizers.MultiOptimizer(mapping)


def bind_generator(optimizer, generator):
    """Re-binds a (reloaded) split optimizer to the trainer's generator."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    mapping = getattr(inner, "_optimizer_map", None)
    if isinstance(mapping, GeneratorOptimizerMap):
        mapping.bind(generator)


def generator_ema_optimizer(optimizer):
    """The optimizer holding the generator's EMA, or None."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    mapping = getattr(inner, "_optimizer_map", None)
    if isinstance(mapping, GeneratorOptimizerMap):
        inner = mapping.generator_optimizer
    return inner if getattr(inner, "use_ema", False) else None


@contextlib.contextmanager
def swapped_ema_weights(optimizer, variables):
    """Inside the block `variables` hold their EMA; outside, their values.

    `variables` must be the full list the optimizer trains, in its order.
    Uses the optimizer's public `finalize_variable_values`.
    """
    if optimizer is None or not optimizer.built:
        yield
        return
    saved = [ops.convert_to_numpy(v) for v in variables]
    optimizer.finalize_variable_values(variables)
    try:
        yield
    finally:
        for v, value in zip(variables, saved):
            v.assign(value)
