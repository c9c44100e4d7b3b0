"""Tests for ConditionalBatchNormalization, against numpy's own formulas."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers.layer_checks import run_layer_check

from kgan.layers.conditional_batch_normalization import (
    ConditionalBatchNormalization,
)

CBN = ConditionalBatchNormalization
SHAPES = [(4, 3), (4, 5, 3), (4, 5, 5, 3)]

pytestmark = pytest.mark.jax


def np_normalize(x, mean, var, eps, axis=-1):
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)


def np_batch_moments(x, axis=-1):
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    return x.mean(axis=axes), x.var(axis=axes)


def np_affine(h, beta, gamma, axis=-1):
    shape = [1] * h.ndim
    shape[0], shape[axis] = h.shape[0], h.shape[axis]
    return gamma.reshape(shape) * h + beta.reshape(shape)


def rand(*shape):
    return np.random.normal(size=shape).astype("float32")


@pytest.mark.parametrize("shape", SHAPES)
def test_su_form_training_and_moving_averages_match_numpy(shape):
    layer = CBN(momentum=0.8)
    beta, gamma = rand(4, 3), 1.0 + rand(4, 3)
    moving_mean, moving_var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = 2.0 * rand(*shape) + step
        out = layer([x, beta, gamma], training=True)
        mean, var = np_batch_moments(x)
        expected = np_affine(np_normalize(x, mean, var, 1e-3), beta, gamma)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
        moving_mean = 0.8 * moving_mean + 0.2 * mean
        moving_var = 0.8 * moving_var + 0.2 * var
    bn = layer.batch_norm
    np.testing.assert_allclose(bn.moving_mean.numpy(), moving_mean, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), moving_var, 1e-5)

    x = rand(*shape)
    out = layer([x, beta, gamma], training=False)
    h = np_normalize(x, moving_mean, moving_var, 1e-3)
    np.testing.assert_allclose(
        out, np_affine(h, beta, gamma), rtol=1e-4, atol=1e-4
    )
    # Inference leaves the moving statistics alone.
    np.testing.assert_allclose(bn.moving_mean.numpy(), moving_mean, atol=1e-5)


def test_frozen_layer_runs_in_inference_mode():
    # As keras' BatchNormalization: trainable=False freezes the statistics.
    x, beta, gamma = rand(4, 5, 3), rand(4, 3), rand(4, 3)
    layer = CBN()
    layer([x, beta, gamma], training=True)
    moving_mean = layer.batch_norm.moving_mean.numpy()
    layer.trainable = False
    out = layer([2.0 * x, beta, gamma], training=True)
    np.testing.assert_array_equal(layer.batch_norm.moving_mean, moving_mean)
    h = np_normalize(
        2.0 * x, moving_mean, layer.batch_norm.moving_variance.numpy(), 1e-3
    )
    np.testing.assert_allclose(
        out, np_affine(h, beta, gamma), rtol=1e-4, atol=1e-4
    )
    assert not layer.trainable_weights


def test_channels_first_axis():
    x, beta, gamma = rand(4, 3, 5, 5), rand(4, 3), rand(4, 3)
    out = CBN(axis=1)([x, beta, gamma], training=True)
    mean, var = np_batch_moments(x, axis=1)
    h = np_normalize(x, mean, var, 1e-3, axis=1)
    np.testing.assert_allclose(
        out, np_affine(h, beta, gamma, axis=1), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("labels_shape", [(4,), (4, 1)])
def test_labels_form_uses_embedding_rows(labels_shape):
    x = rand(4, 5, 5, 3)
    labels = np.array([0, 2, 2, 1]).reshape(labels_shape)
    layer = CBN(num_classes=3)
    out = layer([x, labels], training=True)
    h = np_normalize(x, *np_batch_moments(x), 1e-3)
    # Starts as plain BN: gamma table ones, beta table zeros.
    np.testing.assert_allclose(out, h, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(layer.gamma_embeddings.numpy(), 1.0)
    np.testing.assert_array_equal(layer.beta_embeddings.numpy(), 0.0)

    gamma_table, beta_table = rand(3, 3), rand(3, 3)
    layer.gamma_embeddings.assign(gamma_table)
    layer.beta_embeddings.assign(beta_table)
    out = layer([x, labels], training=True)
    rows = labels.reshape(-1)
    expected = np_affine(h, beta_table[rows], gamma_table[rows])
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_embeddings_initializer_is_a_deviation_from_one_and_zero():
    layer = CBN(num_classes=50, embeddings_initializer="random_normal")
    layer.build([(2, 64), (2,)])
    gamma, beta = layer.gamma_embeddings.numpy(), layer.beta_embeddings.numpy()
    assert abs(gamma.mean() - 1.0) < 0.01 and 0.02 < gamma.std() < 0.08
    assert abs(beta.mean()) < 0.01 and 0.02 < beta.std() < 0.08


@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 5, 3)])
def test_dense_form_projects_the_condition(shape):
    x, c = rand(*shape), rand(4, 7)
    layer = CBN()
    out = layer([x, c], training=True)
    h = np_normalize(x, *np_batch_moments(x), 1e-3)
    # Zero kernels: gamma is exactly 1 and beta 0 at the start.
    np.testing.assert_allclose(out, h, rtol=1e-4, atol=1e-4)

    w_g, b_g, w_b, b_b = rand(7, 3), rand(3), rand(7, 3), rand(3)
    for variable, value in zip(
        [
            layer.gamma_kernel,
            layer.gamma_bias,
            layer.beta_kernel,
            layer.beta_bias,
        ],
        [w_g, b_g, w_b, b_b],
    ):
        variable.assign(value)
    out = layer([x, c], training=True)
    expected = np_affine(h, c @ w_b + b_b, 1.0 + c @ w_g + b_g)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.tensorflow_only
def test_gradients_reach_beta_gamma_and_condition():
    x, w = rand(4, 5, 5, 3), rand(4, 5, 5, 3)
    h = np_normalize(x, *np_batch_moments(x), 1e-3)
    beta, gamma = tf.constant(rand(4, 3)), tf.constant(rand(4, 3))
    with tf.GradientTape() as tape:
        tape.watch([beta, gamma])
        loss = tf.reduce_sum(CBN()([x, beta, gamma], training=True) * w)
    d_beta, d_gamma = tape.gradient(loss, [beta, gamma])
    np.testing.assert_allclose(d_beta, w.sum(axis=(1, 2)), rtol=1e-4)
    np.testing.assert_allclose(
        d_gamma, (h * w).sum(axis=(1, 2)), rtol=1e-3, atol=1e-3
    )

    layer = CBN(kernel_initializer="random_normal")
    c = tf.constant(rand(4, 7))
    with tf.GradientTape() as tape:
        tape.watch(c)
        loss = tf.reduce_sum(layer([x, c], training=True) * w)
    d_c = tape.gradient(loss, c)
    expected = (h * w).sum(axis=(1, 2)) @ layer.gamma_kernel.numpy().T + w.sum(
        axis=(1, 2)
    ) @ layer.beta_kernel.numpy().T
    np.testing.assert_allclose(d_c, expected, rtol=1e-3, atol=1e-3)

    layer = CBN(num_classes=4)
    labels = np.array([0, 2, 2, 0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([x, labels], training=True) * w)
    d_gamma, d_beta = tape.gradient(
        loss, [layer.gamma_embeddings, layer.beta_embeddings]
    )
    d_gamma, d_beta = (
        tf.convert_to_tensor(d_gamma),
        tf.convert_to_tensor(d_beta),
    )
    per_sample = w.sum(axis=(1, 2))
    np.testing.assert_allclose(d_beta[0], per_sample[[0, 3]].sum(0), 1e-4)
    np.testing.assert_allclose(d_beta[2], per_sample[[1, 2]].sum(0), 1e-4)
    np.testing.assert_array_equal(d_gamma.numpy()[[1, 3]], 0.0)
    assert np.abs(d_gamma.numpy()[[0, 2]]).min() > 0


def test_mixed_float16_keeps_float32_statistics():
    # Deviations of ~1e3 square past float16's max (65504): statistics
    # computed in float16 would be inf.
    x, c = 1000.0 * rand(4, 5, 5, 3), rand(4, 7)
    reference = CBN(kernel_initializer="random_normal")
    expected = reference([x, c], training=True)
    keras.config.set_dtype_policy("mixed_float16")
    layer = CBN()
    layer.build([x.shape, c.shape])
    layer.set_weights(reference.get_weights())
    out = layer([x, c], training=True)
    assert out.dtype == "float16"
    assert layer.batch_norm.moving_variance.dtype == "float32"
    np.testing.assert_allclose(out, expected, rtol=1e-2, atol=2e-2)
    out = layer([x, c], training=False)
    assert out.dtype == "float16"
    assert np.isfinite(keras.ops.convert_to_numpy(out)).all()


FORMS = {
    "su": (
        {},
        [((4, 5, 5, 3), "float32"), ((4, 3), "float32"), ((4, 3), "float32")],
        0,
    ),
    "labels": (
        {"num_classes": 3},
        [((4, 5, 5, 3), "float32"), ((4,), "int32", 3)],
        2,
    ),
    "dense": (
        {"kernel_initializer": "random_normal"},
        [((4, 5, 5, 3), "float32"), ((4, 7), "float32")],
        4,
    ),
    "dense_rank2": (
        {"momentum": 0.5},
        [((4, 3), "float32"), ((4, 7), "float32")],
        4,
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_layer_check(form, tmp_path):
    kwargs, specs, trainable = FORMS[form]
    run_layer_check(
        CBN,
        kwargs,
        specs,
        expected_output_shape=specs[0][0],
        expected_num_trainable_weights=trainable,
        expected_num_non_trainable_weights=2,
        tmp_path=tmp_path,
    )


def test_functional_model_trains_saves_and_reloads(tmp_path):
    images = keras.Input((6, 6, 2))
    labels = keras.Input((), dtype="int32")
    h = keras.layers.Conv2D(4, 3, padding="same")(images)
    h = CBN(num_classes=3, name="cbn")([h, labels])
    h = keras.layers.ReLU()(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model([images, labels], keras.layers.Dense(1)(h))
    model.compile(optimizer="sgd", loss="mse")
    x, y = rand(8, 6, 6, 2), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    model.fit([x, y], rand(8, 1), batch_size=8, epochs=1, verbose=0)
    cbn = model.get_layer("cbn")
    assert np.abs(cbn.batch_norm.moving_mean.numpy()).max() > 0
    assert np.abs(cbn.gamma_embeddings.numpy() - 1.0).max() > 0
    moving_mean = cbn.batch_norm.moving_mean.numpy()
    expected = model.predict([x, y], verbose=0)
    np.testing.assert_array_equal(cbn.batch_norm.moving_mean, moving_mean)

    path = str(tmp_path / "cbn.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        loaded.get_layer("cbn").batch_norm.moving_mean, moving_mean
    )
    np.testing.assert_allclose(loaded.predict([x, y], verbose=0), expected)


# One test per kind of error: each pytest test pays for a session reset.
BUILD_ERRORS = [
    ({}, [(4, 3)], "expects a list of inputs"),
    ({}, [(4, 3)] * 4, "expects a list of inputs"),
    ({}, [(4,), (4, 3), (4, 3)], r"rank >= 2.*Received: x.shape=\(4,\)"),
    ({}, [(4, 3), (4, 2), (4, 3)], r"beta of shape \(batch, 3\)"),
    ({}, [(4, 3), (4, 3), (4, 1, 3)], r"Received: gamma.shape=\(4, 1, 3"),
    ({}, [(4, 3), (5, 3), (4, 3)], r"Received: beta.shape=\(5, 3\)"),
    (
        {},
        [(4, 3), (4,)],
        r"set num_classes to embed integer labels\).*c.shape=\(4,\)",
    ),
    ({"num_classes": 3}, [(4, 3), (4, 2)], r"labels of shape \(batch,\)"),
    ({"axis": 0}, [(4, 3), (4, 3), (4, 3)], "Received: axis=0"),
    ({"axis": 2}, [(4, 3), (4, 3), (4, 3)], "Received: axis=2"),
    ({}, [(4, None), (4, 3), (4, 3)], "channel axis of x must be known"),
]


def test_build_errors():
    for kwargs, inputs, match in BUILD_ERRORS:
        with pytest.raises(ValueError, match=match):
            CBN(**kwargs).build(inputs[0] if len(inputs) == 1 else inputs)


def test_call_errors():
    x = rand(4, 3)
    with pytest.raises(
        ValueError, match=r"float c \(set num_classes.*c.dtype=int32"
    ):
        CBN()([x, np.zeros((4, 1), "int32")])
    layer = CBN()
    layer([x, rand(4, 3), rand(4, 3)])
    with pytest.raises(ValueError, match="built for 3 inputs"):
        layer([x, rand(4, 3)])
    with pytest.raises(ValueError, match="expects a list of inputs"):
        CBN()(x)
    with pytest.raises(ValueError, match=r"rank >= 2.*Received: x.shape"):
        CBN()([keras.Input(batch_shape=(4,)), rand(4, 1), rand(4, 1)])


def test_argument_errors():
    for kwargs, match in [
        ({"num_classes": 0}, "Received: num_classes=0"),
        ({"num_classes": 2.0}, "Received: num_classes=2.0"),
        ({"axis": "last"}, "Received: axis='last'"),
        ({"epsilon": 0.0}, "Received: epsilon=0.0"),
        ({"momentum": 1.5}, "Received: momentum=1.5"),
    ]:
        with pytest.raises(ValueError, match=match):
            CBN(**kwargs)
