"""Tests for AdaptiveInstanceNormalization (AdaIN), against numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.layer_checks import run_layer_check

from kgan.layers.adaptive_instance_normalization import (
    AdaptiveInstanceNormalization,
)

AdaIN = AdaptiveInstanceNormalization

pytestmark = pytest.mark.jax


def rand(*shape):
    return np.random.normal(size=shape).astype("float32")


def np_instance_norm(x, eps, axis=-1):
    axis = axis % x.ndim
    axes = tuple(i for i in range(1, x.ndim) if i != axis)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def np_affine(h, beta, gamma, axis=-1):
    shape = [1] * h.ndim
    shape[0], shape[axis] = h.shape[0], h.shape[axis]
    return gamma.reshape(shape) * h + beta.reshape(shape)


@pytest.mark.parametrize("shape", [(4, 6, 3), (4, 5, 5, 3)])
def test_beta_gamma_form_matches_numpy(shape):
    # Different means and scales per sample: only per-sample stats undo them.
    x = rand(*shape) * np.arange(1, 5).reshape((4,) + (1,) * (len(shape) - 1))
    x = x + 10.0 * np.arange(4).reshape((4,) + (1,) * (len(shape) - 1))
    beta, gamma = rand(4, 3), rand(4, 3)
    layer = AdaIN()
    out = layer([x, beta, gamma], training=True)
    expected = np_affine(np_instance_norm(x, 1e-5), beta, gamma)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    # No batch statistics, no state: inference gives the same output.
    np.testing.assert_allclose(
        layer([x, beta, gamma], training=False), out, rtol=1e-6, atol=1e-6
    )
    assert not layer.weights


def test_channels_first_axis():
    x, beta, gamma = rand(4, 3, 5, 5), rand(4, 3), rand(4, 3)
    out = AdaIN(axis=1, epsilon=1e-3)([x, beta, gamma])
    expected = np_affine(np_instance_norm(x, 1e-3, axis=1), beta, gamma, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_style_form_matches_numpy():
    x, style = rand(4, 5, 5, 3), rand(4, 7)
    layer = AdaIN()
    out = layer([x, style])
    np.testing.assert_array_equal(layer.gamma_bias.numpy(), 1.0)
    np.testing.assert_array_equal(layer.beta_bias.numpy(), 0.0)
    w_g, w_b = layer.gamma_kernel.numpy(), layer.beta_kernel.numpy()
    assert not np.allclose(w_g, w_b)  # two independent projections
    expected = np_affine(
        np_instance_norm(x, 1e-5), style @ w_b, 1.0 + style @ w_g
    )
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)

    b_g, b_b = rand(3), rand(3)
    layer.gamma_bias.assign(b_g)
    layer.beta_bias.assign(b_b)
    expected = np_affine(
        np_instance_norm(x, 1e-5), style @ w_b + b_b, style @ w_g + b_g
    )
    np.testing.assert_allclose(
        layer([x, style]), expected, rtol=1e-4, atol=1e-4
    )


def test_equalized_projections_scale_the_kernels_by_one_over_sqrt_d():
    x, style = rand(4, 5, 5, 3), rand(4, 16)
    keras.utils.set_random_seed(3)
    layer = AdaIN(equalized_lr=True)
    out = layer([x, style])
    w_g, w_b = layer.gamma_kernel.numpy(), layer.beta_kernel.numpy()
    # Raw kernels are N(0, 1): the runtime constant 1/sqrt(16) scales them.
    assert 0.7 < w_g.std() < 1.3 and 0.7 < w_b.std() < 1.3
    expected = np_affine(
        np_instance_norm(x, 1e-5), style @ w_b / 4.0, 1.0 + style @ w_g / 4.0
    )
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    config = layer.get_config()
    assert config["equalized_lr"] is True
    clone = AdaIN.from_config(config)
    clone([x, style])
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone([x, style]), out, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="Received: equalized_lr='yes'"):
        AdaIN(equalized_lr="yes")


@pytest.mark.tensorflow_only
def test_equalized_kernel_gradient_is_scaled_by_one_over_sqrt_d():
    # d loss / d W_raw = c * d loss / d W_effective, c = 1 / sqrt(d).
    x, style, w = rand(4, 5, 5, 3), rand(4, 16), rand(4, 5, 5, 3)
    plain, equal = AdaIN(), AdaIN(equalized_lr=True)
    equal([x, style])
    plain([x, style])
    plain.set_weights([v / 4.0 if v.ndim == 2 else v
                       for v in equal.get_weights()])  # fmt: skip
    grads = []
    for layer in (plain, equal):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer([x, style]) * w)
        grads.append(tape.gradient(loss, layer.gamma_kernel).numpy())
    np.testing.assert_allclose(grads[1], grads[0] / 4.0, rtol=1e-4, atol=1e-5)


@pytest.mark.tensorflow_only
def test_gradients_reach_style_and_beta_gamma():
    x, w = rand(4, 5, 5, 3), rand(4, 5, 5, 3)
    h = np_instance_norm(x, 1e-5)
    layer = AdaIN()
    style = tf.constant(rand(4, 7))
    with tf.GradientTape() as tape:
        tape.watch(style)
        loss = tf.reduce_sum(layer([x, style]) * w)
    d_style = tape.gradient(loss, style)
    d_gamma, d_beta = (h * w).sum(axis=(1, 2)), w.sum(axis=(1, 2))
    expected = (
        d_gamma @ layer.gamma_kernel.numpy().T
        + d_beta @ layer.beta_kernel.numpy().T
    )
    np.testing.assert_allclose(d_style, expected, rtol=1e-3, atol=1e-3)

    beta, gamma = tf.constant(rand(4, 3)), tf.constant(rand(4, 3))
    with tf.GradientTape() as tape:
        tape.watch([beta, gamma])
        loss = tf.reduce_sum(AdaIN()([x, beta, gamma]) * w)
    grads = tape.gradient(loss, [beta, gamma])
    np.testing.assert_allclose(grads[0], d_beta, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grads[1], d_gamma, rtol=1e-3, atol=1e-3)


def test_mixed_float16_keeps_float32_statistics():
    # Deviations of ~1e3 square past float16's max (65504).
    x, style = 1000.0 * rand(4, 5, 5, 3), rand(4, 7)
    reference = AdaIN()
    expected = reference([x, style])
    keras.config.set_dtype_policy("mixed_float16")
    layer = AdaIN()
    layer.build([x.shape, style.shape])
    layer.set_weights(reference.get_weights())
    out = layer([x, style])
    assert out.dtype == "float16"
    np.testing.assert_allclose(out, expected, rtol=1e-2, atol=2e-2)


FORMS = {
    "style": ([((4, 5, 5, 3), "float32"), ((4, 7), "float32")], 4),
    "style_rank3": ([((4, 6, 3), "float32"), ((4, 7), "float32")], 4),
    "beta_gamma": (
        [((4, 5, 5, 3), "float32"), ((4, 3), "float32"), ((4, 3), "float32")],
        0,
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_layer_check(form, tmp_path):
    specs, trainable = FORMS[form]
    run_layer_check(
        AdaIN,
        {"epsilon": 1e-4, "kernel_initializer": "he_normal"},
        specs,
        expected_output_shape=specs[0][0],
        expected_num_trainable_weights=trainable,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
    )


def test_errors():
    for inputs, match in [
        ([(4, 3), (4, 7)], r"rank >= 3 .*Received: x.shape=\(4, 3\)"),
        ([(4, 5, 3)], r"expects a list of inputs \[x, style\]"),
        ([(4, 5, 3), (4, 2), (4, 3)], r"Received: beta.shape=\(4, 2\)"),
        ([(4, 5, 3), (4, 1, 7)], r"Received: style.shape=\(4, 1, 7\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            AdaIN().build(inputs[0] if len(inputs) == 1 else inputs)
    for kwargs, match in [
        ({"epsilon": -1.0}, "Received: epsilon=-1.0"),
        ({"axis": None}, "Received: axis=None"),
    ]:
        with pytest.raises(ValueError, match=match):
            AdaIN(**kwargs)
