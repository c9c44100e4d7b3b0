"""Tests for kgan.layers.FastConv2DTranspose: Keras' Conv2DTranspose, the
same values and gradients, differentiated through the adjoint on JAX.

The reference is Keras' own `keras.layers.Conv2DTranspose` with the same
weights, differentiated by the backend's autodiff (not by kgan's code)."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

import kgan
from kgan.layers import FastConv2DTranspose

pytestmark = pytest.mark.jax

CONFIGS = [
    dict(filters=6, kernel_size=4, strides=2, padding="same"),
    dict(filters=5, kernel_size=5, strides=2, padding="same", use_bias=True),
    dict(filters=3, kernel_size=3, strides=3, padding="valid", output_padding=1),
    dict(filters=3, kernel_size=3, strides=1, padding="same", dilation_rate=2),
    dict(filters=4, kernel_size=(3, 2), strides=(2, 1), padding="valid"),
]


def _pair(config, input_shape):
    """Keras' layer and kgan's with the same (random) weights."""
    reference = keras.layers.Conv2DTranspose(
        bias_initializer="random_normal", **config
    )
    layer = FastConv2DTranspose(bias_initializer="random_normal", **config)
    reference.build(input_shape)
    layer.build(input_shape)
    layer.set_weights(reference.get_weights())
    return reference, layer


def _gradients(layer, x, loss_of_output):
    """d loss / d (inputs, trainable weights), by the backend's autodiff."""
    if keras.backend.backend() == "jax":
        import jax

        def loss(params, x):
            out, _ = layer.stateless_call(params, [], x)
            return loss_of_output(out)

        params = [v.value for v in layer.trainable_variables]
        d_params, d_x = jax.grad(loss, argnums=(0, 1))(params, x)
        return [d_x] + list(d_params)
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_of_output(layer(x))
    return tape.gradient(loss, [x] + layer.trainable_variables)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_outputs_and_gradients_equal_keras_conv2d_transpose(config):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 6, 7)).astype("float32")
    reference, layer = _pair(config, x.shape)
    expected = keras.ops.convert_to_numpy(reference(x))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-6, atol=1e-6
    )
    weights = rng.normal(size=expected.shape).astype("float32")

    def loss_of_output(out):
        return keras.ops.sum(keras.ops.tanh(out) * weights)

    for got, want in zip(
        _gradients(layer, x, loss_of_output),
        _gradients(reference, x, loss_of_output),
        strict=True,
    ):
        got = keras.ops.convert_to_numpy(got)
        want = keras.ops.convert_to_numpy(want)
        assert got.shape == want.shape
        scale = np.max(np.abs(want))
        np.testing.assert_allclose(got / scale, want / scale, atol=2e-6)


def test_second_order_gradients_equal_autodiff_on_jax():
    """A penalty on the input gradient (reverse over reverse), as a gradient
    penalty through the generator takes it: the backward pass is itself
    differentiable and agrees with autodiff of Keras' op."""
    if keras.backend.backend() != "jax":
        pytest.skip("the custom gradient exists on JAX only")
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 4, 6)).astype("float32")
    reference, layer = _pair(CONFIGS[0], x.shape)
    weights = rng.normal(size=(2, 8, 8, 6)).astype("float32")

    def penalty(of):
        def input_gradient_norm(params):
            def loss(x):
                out, _ = of.stateless_call(params, [], x)
                return jnp.sum(jnp.tanh(out) * weights)

            return jnp.sum(jax.grad(loss)(x) ** 2)

        params = [v.value for v in of.trainable_variables]
        return jax.grad(input_gradient_norm)(params)[0]

    got, want = np.asarray(penalty(layer)), np.asarray(penalty(reference))
    np.testing.assert_allclose(got / np.abs(want).max(), want / np.abs(want).max(), atol=2e-6)


def test_the_kernel_gradient_is_fast_on_jax():
    """The point of the layer: at DCGAN's 8 -> 16 px, 256 -> 128 channel
    stage, batch 16, JAX's autodiff of Keras' op takes ~0.5 s on a 2-core
    CPU and the adjoint ~0.02 s. Asserted as a ratio of the two measured side by side,
    with a wide margin (measured ~25-40x)."""
    if keras.backend.backend() != "jax":
        pytest.skip("the custom gradient exists on JAX only")
    import time

    import jax

    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 8, 8, 256)).astype("float32")
    reference, layer = _pair(CONFIGS[0] | {"filters": 128}, x.shape)
    g = rng.normal(size=(16, 16, 16, 128)).astype("float32")

    def timed(of):
        params = [v.value for v in of.trainable_variables]

        def loss(params, x, g):  # x and g as arguments: XLA cannot fold them
            out, _ = of.stateless_call(params, [], x)
            return (out * g).sum()

        step = jax.jit(jax.grad(loss))
        jax.block_until_ready(step(params, x, g))
        start = time.perf_counter()
        jax.block_until_ready(step(params, x, g))
        return time.perf_counter() - start

    assert timed(reference) > 4 * timed(layer)


def test_generic_layer_check(tmp_path):
    layer = run_layer_check(
        FastConv2DTranspose,
        {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
        [((2, 4, 4, 3), "float32")],
        (2, 8, 8, 4),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
    )
    assert isinstance(layer, keras.layers.Conv2DTranspose)
    assert layer.get_config()["strides"] == (2, 2)


def test_mixed_precision_matches_keras_layer():
    keras.config.set_dtype_policy("mixed_float16")
    x = np.random.default_rng(3).normal(size=(2, 4, 4, 3)).astype("float32")
    reference, layer = _pair(CONFIGS[0], x.shape)
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(reference(x))
    )
    assert layer.kernel.dtype == "float32"


def test_dcgan_and_selfmod_generators_use_it():
    for build in (kgan.models.dcgan_generator, kgan.models.selfmod_generator):
        generator = build(z_dim=8, image_size=32, channels=1, base_channels=8)
        transposed = [
            layer
            for layer in generator.layers
            if isinstance(layer, keras.layers.Conv2DTranspose)
        ]
        assert len(transposed) == 3
        assert all(type(layer) is FastConv2DTranspose for layer in transposed)
