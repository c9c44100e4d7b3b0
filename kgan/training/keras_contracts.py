"""The Keras behaviours kgan relies on beyond its documented API, in one
place, each with a test pinned to the Keras versions kgan admits
(tests/test_keras_contracts.py):

- `keras.optimizers.MultiOptimizer` (Keras 3.15+) with a variable -> optimizer
  map: TTUR, a generator-only EMA and the alternating trainer's two
  optimizers travel in the one `model.optimizer` Keras saves, restores and
  distributes (`GeneratorOptimizerMap`, `split_optimizer`,
  `network_optimizers`);
- the optimizer EMA (`use_ema`, `ema_momentum`, `finalize_variable_values`,
  which `fit` calls at its end, aliasing the model's buffers on JAX);
- `LossScaleOptimizer`'s dynamic-scale rule (`dynamic_scale`,
  `step_counter`, `dynamic_growth_steps`, `check_finite`), which the
  alternating trainer follows for one part of a `MultiOptimizer`;
- the JAX trainer: `compute_loss_and_updates(..., optimizer_variables=)`
  hands the traced optimizer state to the loss, and a custom `train_step`
  is `(state, data) -> (logs, state)` over Keras' four variable groups;
- `tf.distribute`: optimizers sum gradients across replicas, so a
  hand-written step scales its loss by `1 / num_replicas`.

TTUR (Heusel et al. 2017, https://arxiv.org/abs/1706.08500) trains D and G
with different learning rates. Scaling G's part of the single loss would not
do it (Adam and RMSprop are invariant to the gradient's scale), hence the
`MultiOptimizer`.
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


# -- the JAX trainer ----------------------------------------------------------
def traced_iterations(optimizer, optimizer_variables):
    """The value `optimizer.iterations` has in `optimizer_variables` (the
    optimizer's variables, in its order, as Keras' JAX trainer hands them
    to `compute_loss_and_updates`), or None."""
    if optimizer is None or not optimizer_variables:
        return None
    for variable, value in zip(optimizer.variables, optimizer_variables):
        if variable is optimizer.iterations:
            return value
    return None


def jax_train_step(model, state, data, step, scale_loss, apply):
    """Keras' JAX `train_step`, `(logs, new state)`, for a step written
    with ordinary variable reads and writes.

    `state` holds the values of the model's trainable, non-trainable,
    optimizer and metric variables, in Keras' order; `step(data, update)`
    runs inside a stateless scope holding them, and calls
    `update(optimizer, variables, terms)` to run `terms()` (whose first
    output is a loss) and update `variables` with its gradient:
    `scale_loss(loss)` is differentiated, `apply(optimizer, grads,
    variables)` applies the gradients. With `parts` (lists of variables),
    the first output of `terms()` is one loss per part, and each part's
    variables take the gradient of their own loss: one forward pass, one
    vector-Jacobian product per part (`part_gradients`).
    """
    import jax

    groups = [
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    ]
    variables = [v for group in groups for v in group]
    values = [x for group in state for x in group]
    if len(values) != len(variables):
        raise ValueError(
            f"The JAX state holds {len(values)} values for "
            f"{len(variables)} variables."
        )
    position = {id(v): i for i, v in enumerate(variables)}

    def update(optimizer, trainable, terms, parts=None):
        # `terms()` runs in a scope of its own in which `trainable` hold the
        # traced arguments of the differentiation; what it writes (moving
        # statistics, noise states) goes on to the step's scope.
        now = [v.value for v in variables]

        def loss_fn(trainable_values):
            current = list(now)
            for v, value in zip(trainable, trainable_values):
                current[position[id(v)]] = value
            mapping = list(zip(variables, current))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                outputs = terms()
                if parts is None:
                    loss = scale_loss(outputs[0])
                else:
                    loss = tuple(scale_loss(part) for part in outputs[0])
            written = [scope.get_current_value(v) for v in variables]
            return loss, (outputs, written)

        start = [now[position[id(v)]] for v in trainable]
        if parts is None:
            (_, (outputs, written)), grads = jax.value_and_grad(
                loss_fn, has_aux=True
            )(start)
        else:
            losses, vjp, (outputs, written) = jax.vjp(
                loss_fn, start, has_aux=True
            )
            grads = part_gradients(vjp, losses, trainable, parts)
        # As Keras' JAX trainer: only the non-trainable state the forward
        # pass wrote is kept (spectral normalisation's write of its kernel
        # is not), and the optimizer steps from the values before it.
        for v, value in zip(variables, written):
            if not v.trainable:
                v.assign(value)
        apply(optimizer, grads, trainable)
        return outputs

    with keras.StatelessScope(state_mapping=list(zip(variables, values))) as s:
        logs = step(data, update)
    return logs, tuple([s.get_current_value(v) for v in g] for g in groups)


def part_gradients(vjp, losses, trainable, parts):
    """The gradient of `losses[k]` for the variables of `parts[k]`.

    `vjp` is `jax.vjp`'s pullback of `trainable -> losses`: one pullback per
    loss, with a one-hot cotangent, from the one forward pass. Inside the
    jitted step XLA drops what each pullback computes and no part reads
    (D's weight gradients of G's loss, and G's of D's).
    """
    from jax import numpy as jnp

    index = {id(v): i for i, v in enumerate(trainable)}
    grads = [None] * len(trainable)
    for k, part in enumerate(parts):
        cotangent = tuple(
            jnp.ones_like(loss) if j == k else jnp.zeros_like(loss)
            for j, loss in enumerate(losses)
        )
        (pulled,) = vjp(cotangent)
        for v in part:
            grads[index[id(v)]] = pulled[index[id(v)]]
    missing = [v.path for v, g in zip(trainable, grads) if g is None]
    if missing:
        raise ValueError(f"No part holds the variables {missing}.")
    return grads


# -- loss scaling (mixed_float16) -------------------------------------------
def loss_scaler(optimizer):
    """The `LossScaleOptimizer` Keras wrapped around `optimizer`, or None."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return None


def apply_with_loss_scaling(scaler, optimizer, grads, variables):
    """`optimizer.apply`, with `scaler`'s dynamic loss scaling (or plain,
    without a scaler).

    Keras' `LossScaleOptimizer` cannot step one part of a `MultiOptimizer`,
    so this follows its rule with its scale: unscale finite gradients and
    apply them, growing the scale after `dynamic_growth_steps` finite steps
    in a row; skip a step with non-finite gradients and halve the scale.
    The skip restores the values instead of branching, so the same code
    runs in a `tf.function` and in a JAX stateless scope.
    """
    if scaler is None:
        optimizer.apply(grads, variables)
        return
    finite = scaler.check_finite(grads)
    scale = ops.convert_to_tensor(scaler.dynamic_scale)
    grads = [
        ops.where(finite, ops.divide(g, ops.cast(scale, g.dtype)), 0.0)
        for g in grads
    ]
    touched = list(variables) + list(optimizer.variables)
    before = [ops.copy(v.value) for v in touched]
    optimizer.apply(grads, variables)
    for v, old in zip(touched, before):
        v.assign(ops.where(finite, v.value, old))
    counter = ops.convert_to_tensor(scaler.step_counter)
    grow = ops.logical_and(
        finite, ops.equal(counter, scaler.dynamic_growth_steps - 1)
    )
    scaler.step_counter.assign(
        ops.where(
            ops.logical_and(finite, ops.logical_not(grow)),
            counter + 1,
            ops.zeros_like(counter),
        )
    )
    scaler.dynamic_scale.assign(
        ops.where(grow, scale * 2.0, ops.where(finite, scale, scale / 2.0))
    )


# -- tf.distribute -------------------------------------------------------
def scale_for_replicas(loss):
    """Divides by the replica count under `tf.distribute`, as Keras does.

    Optimizers sum gradients across replicas, so a per-replica mean loss
    must be scaled by `1 / num_replicas` for the global step to match one
    device with the same global batch.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss / replicas


def replica_info():
    """(replica count, this replica's index) under tf.distribute."""
    if keras.backend.backend() != "tensorflow":
        return 1, 0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group
