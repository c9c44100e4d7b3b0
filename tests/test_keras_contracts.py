"""The Keras behaviours kgan relies on beyond its documented API
(kgan/training/keras_contracts.py), each checked on the Keras installed,
so a Keras release that changes one fails here, by name, not deep inside a
trainer."""

import inspect

import keras
import numpy as np
import pytest
from helpers.gan_fixtures import mlp_discriminator, mlp_generator

from kgan.training import keras_contracts as contracts

pytestmark = pytest.mark.jax


def test_multi_optimizer_routes_variables_by_the_map_and_lists_its_parts():
    g, d = mlp_generator(), mlp_discriminator()
    d_opt, g_opt = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.0)
    multi = contracts.split_optimizer(d_opt, g, g_opt)
    assert isinstance(multi, keras.optimizers.MultiOptimizer)
    assert contracts.network_optimizers(multi) == (d_opt, g_opt)
    variables = g.trainable_variables + d.trainable_variables
    multi.build(variables)
    before = [v.numpy().copy() for v in variables]
    multi.apply([np.ones(v.shape, "float32") for v in variables], variables)
    n_g = len(g.trainable_variables)
    for v, old in zip(variables[:n_g], before[:n_g]):
        np.testing.assert_array_equal(v.numpy(), old)  # G's rate is 0
    for v, old in zip(variables[n_g:], before[n_g:]):
        np.testing.assert_allclose(v.numpy(), old - 0.1, rtol=1e-6)


def test_optimizer_ema_is_switched_on_by_attributes_and_finalized():
    variable = keras.Variable(np.zeros(3, "float32"))
    optimizer = keras.optimizers.SGD(1.0)
    optimizer.use_ema, optimizer.ema_momentum = True, 0.5
    optimizer.build([variable])
    for _ in range(2):
        optimizer.apply([np.ones(3, "float32")], [variable])
    np.testing.assert_allclose(variable.numpy(), -2.0)
    # Keras' EMA: first step copies, then ema = m * ema + (1 - m) * value.
    optimizer.finalize_variable_values([variable])
    np.testing.assert_allclose(variable.numpy(), 0.5 * -1.0 + 0.5 * -2.0)


def test_loss_scale_optimizer_exposes_the_dynamic_scale_rule():
    scaler = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))
    variable = keras.Variable(np.zeros(2, "float32"))
    scaler.build([variable])
    for name in ("dynamic_scale", "step_counter", "dynamic_growth_steps",
                 "check_finite", "scale_loss", "inner_optimizer"):  # fmt: skip
        assert hasattr(scaler, name), name
    assert bool(scaler.check_finite([np.ones(2, "float32")]))
    assert not bool(scaler.check_finite([np.array([1.0, np.inf], "float32")]))
    # kgan's rule on one part: a non-finite step is skipped, scale halves.
    inner = keras.optimizers.SGD(0.1)
    inner.build([variable])
    scale = float(scaler.dynamic_scale)
    contracts.apply_with_loss_scaling(
        scaler, inner, [np.array([1.0, np.nan], "float32")], [variable]
    )
    np.testing.assert_array_equal(variable.numpy(), 0.0)
    assert float(scaler.dynamic_scale) == scale / 2


def test_jax_trainer_hands_the_optimizer_state_to_the_loss():
    if keras.backend.backend() != "jax":
        pytest.skip("the JAX trainer's contract (KERAS_BACKEND=jax runs it)")
    parameters = inspect.signature(keras.Model.compute_loss_and_updates)
    assert "optimizer_variables" in parameters.parameters
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build([keras.Variable(np.zeros(1, "float32"))])
    values = [v.value for v in optimizer.variables]
    step = contracts.traced_iterations(optimizer, values)
    assert step is values[optimizer.variables.index(optimizer.iterations)]


def test_a_replica_count_of_one_leaves_the_loss_alone():
    assert contracts.replica_info() == (1, 0)
    assert contracts.scale_for_replicas(2.0) == 2.0
