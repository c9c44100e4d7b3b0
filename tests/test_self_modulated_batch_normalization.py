"""Tests for SelfModulatedBatchNormalization (SELF-MOD), against numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.layer_checks import run_layer_check

from kgan.layers.self_modulated_batch_normalization import (
    SelfModulatedBatchNormalization,
)

SMBN = SelfModulatedBatchNormalization
WEIGHTS = [
    "beta_hidden_kernel",
    "beta_hidden_bias",
    "beta_kernel",
    "beta_bias",
    "gamma_hidden_kernel",
    "gamma_hidden_bias",
    "gamma_kernel",
    "gamma_bias",
]

pytestmark = pytest.mark.jax


def rand(*shape):
    return np.random.normal(size=shape).astype("float32")


def np_batch_norm(x, mean, var, eps):
    return (x - mean) / np.sqrt(var + eps)  # channels-last broadcast


def np_moments(x):
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes), x.var(axis=axes)


def expand(v, ndim):
    return v.reshape(v.shape[:1] + (1,) * (ndim - 2) + v.shape[1:])


def randomise(layer):
    """Gives every MLP weight random values; returns them by name."""
    values = {}
    for name in WEIGHTS:
        variable = getattr(layer, name)
        values[name] = 0.5 * rand(*variable.shape)
        variable.assign(values[name])
    return values


def np_beta_gamma(z, w):
    relu = lambda a: np.maximum(a, 0.0)  # noqa: E731
    hidden_b = relu(z @ w["beta_hidden_kernel"] + w["beta_hidden_bias"])
    hidden_g = relu(z @ w["gamma_hidden_kernel"] + w["gamma_hidden_bias"])
    beta = hidden_b @ w["beta_kernel"] + w["beta_bias"]
    gamma = 1.0 + hidden_g @ w["gamma_kernel"] + w["gamma_bias"]
    return beta, gamma


@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 5, 3)])
def test_matches_numpy_in_training_and_inference(shape):
    z = rand(4, 6)
    layer = SMBN(hidden_units=5, momentum=0.7)
    x = rand(*shape)
    # Zero output layers: the layer starts as plain BN.
    out = layer([x, z], training=True)
    mean, var = np_moments(x)
    np.testing.assert_allclose(
        out, np_batch_norm(x, mean, var, 1e-3), rtol=1e-4, atol=1e-4
    )
    moving_mean = 0.3 * mean
    moving_var = 0.7 + 0.3 * var

    weights = randomise(layer)
    beta, gamma = np_beta_gamma(z, weights)
    for step in range(2):
        x = 3.0 * rand(*shape) - step
        out = layer([x, z], training=True)
        mean, var = np_moments(x)
        h = np_batch_norm(x, mean, var, 1e-3)
        expected = expand(gamma, x.ndim) * h + expand(beta, x.ndim)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
        moving_mean = 0.7 * moving_mean + 0.3 * mean
        moving_var = 0.7 * moving_var + 0.3 * var
    np.testing.assert_allclose(
        layer.batch_norm.moving_mean.numpy(), moving_mean, atol=1e-5
    )
    np.testing.assert_allclose(
        layer.batch_norm.moving_variance.numpy(), moving_var, rtol=1e-5
    )

    out = layer([x, z], training=False)
    h = np_batch_norm(x, moving_mean, moving_var, 1e-3)
    expected = expand(gamma, x.ndim) * h + expand(beta, x.ndim)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_initial_weights():
    layer = SMBN(hidden_units=8)
    layer.build([(2, 4, 4, 3), (2, 6)])
    assert layer.beta_hidden_kernel.shape == (6, 8)
    assert layer.gamma_kernel.shape == (8, 3)
    for name in ["beta_kernel", "beta_bias", "gamma_kernel", "gamma_bias"]:
        np.testing.assert_array_equal(getattr(layer, name).numpy(), 0.0)
    beta_hidden = layer.beta_hidden_kernel.numpy()
    gamma_hidden = layer.gamma_hidden_kernel.numpy()
    assert np.abs(beta_hidden).max() > 0
    assert not np.allclose(beta_hidden, gamma_hidden)  # separate MLPs


@pytest.mark.tensorflow_only
def test_gradients_reach_z_and_weights():
    layer = SMBN(hidden_units=5)
    x, w = rand(4, 5, 5, 3), rand(4, 5, 5, 3)
    z = tf.constant(rand(4, 6))
    # At the zero start the output layers still receive a gradient.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([x, z], training=True) * w)
    grads = tape.gradient(loss, [layer.gamma_kernel, layer.beta_kernel])
    assert all(np.abs(g.numpy()).max() > 0 for g in grads)

    weights = randomise(layer)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = tf.reduce_sum(layer([x, z], training=True) * w)
    d_z = tape.gradient(loss, z).numpy()

    h = np_batch_norm(x, *np_moments(x), 1e-3)
    d_gamma, d_beta = (h * w).sum(axis=(1, 2)), w.sum(axis=(1, 2))
    expected = 0.0
    for name, upstream in [("beta", d_beta), ("gamma", d_gamma)]:
        pre = z.numpy() @ weights[f"{name}_hidden_kernel"]
        pre += weights[f"{name}_hidden_bias"]
        d_hidden = (upstream @ weights[f"{name}_kernel"].T) * (pre > 0)
        expected = expected + d_hidden @ weights[f"{name}_hidden_kernel"].T
    np.testing.assert_allclose(d_z, expected, rtol=1e-3, atol=1e-3)


def test_mixed_float16_keeps_float32_statistics():
    x, z = 1000.0 * rand(4, 5, 5, 3), rand(4, 6)
    reference = SMBN(hidden_units=5)
    reference.build([x.shape, z.shape])
    randomise(reference)
    expected = reference([x, z], training=True)
    keras.config.set_dtype_policy("mixed_float16")
    layer = SMBN(hidden_units=5)
    layer.build([x.shape, z.shape])
    layer.set_weights(reference.get_weights())
    out = layer([x, z], training=True)
    assert out.dtype == "float16"
    assert layer.beta_kernel.dtype == "float32"
    np.testing.assert_allclose(out, expected, rtol=1e-2, atol=2e-2)


@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 5, 3)])
def test_layer_check(shape, tmp_path):
    run_layer_check(
        SMBN,
        {"hidden_units": 4, "momentum": 0.9, "epsilon": 1e-4},
        [(shape, "float32"), ((4, 6), "float32")],
        expected_output_shape=shape,
        expected_num_trainable_weights=8,
        expected_num_non_trainable_weights=2,
        tmp_path=tmp_path,
    )


def test_errors():
    for inputs, match in [
        ([(4, 3), (4, 3), (4, 3)], r"expects a list of inputs \[x, z\]"),
        ([(4, 3), (4,)], r"z of shape \(batch, dim\).*Received: z.shape"),
        ([(4,), (4, 6)], r"rank >= 2.*Received: x.shape=\(4,\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            SMBN().build(inputs)
    for kwargs, match in [
        ({"hidden_units": 0}, "Received: hidden_units=0"),
        ({"hidden_units": 3.0}, "Received: hidden_units=3.0"),
        ({"momentum": -0.1}, "Received: momentum=-0.1"),
    ]:
        with pytest.raises(ValueError, match=match):
            SMBN(**kwargs)
