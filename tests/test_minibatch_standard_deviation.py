"""Tests for kgan.layers.minibatch_standard_deviation."""

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.minibatch_standard_deviation import (
    MinibatchStandardDeviation,
)

pytestmark = pytest.mark.jax


def _numpy_minibatch_std(x, group_size, num_features, epsilon=1e-8):
    """Loops over samples: sample b shares statistics with b' = b mod M."""
    x = x.astype("float64")
    batch, channels = x.shape[0], x.shape[-1]
    group = min(group_size, batch)
    num_groups = batch // group
    width = channels // num_features
    extra = np.zeros(x.shape[:-1] + (num_features,))
    for b in range(batch):
        members = x[
            [i for i in range(batch) if i % num_groups == b % num_groups]
        ]
        assert len(members) == group
        std = np.sqrt(members.var(axis=0) + epsilon)  # biased, as PGGAN
        for f in range(num_features):
            extra[b, ..., f] = std[..., f * width : (f + 1) * width].mean()
    return np.concatenate([x, extra], axis=-1)


@pytest.mark.parametrize(
    "shape, group_size, num_features",
    [
        ((8, 3, 3, 4), 4, 1),
        ((8, 3, 3, 4), 2, 2),
        ((6, 2, 2, 6), 3, 3),
        ((3, 2, 2, 4), 4, 1),  # group clipped to the batch of 3
        ((5, 2, 2, 2), 1, 1),  # groups of one: std is sqrt(epsilon)
        ((8, 6), 4, 2),  # rank-2 inputs
    ],
)
def test_matches_numpy(shape, group_size, num_features):
    x = np.random.normal(size=shape).astype("float32")
    x += np.arange(shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
    layer = MinibatchStandardDeviation(group_size, num_features)
    out = keras.ops.convert_to_numpy(layer(x))
    expected = _numpy_minibatch_std(x, group_size, num_features)
    assert out.shape == shape[:-1] + (shape[-1] + num_features,)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_groups_are_strided_not_contiguous():
    # Samples 0,2 and 1,3 form the groups (b % 2): equal pairs give std 0.
    x = np.array([1.0, 5.0, 1.0, 5.0], "float32").reshape(4, 1)
    out = keras.ops.convert_to_numpy(MinibatchStandardDeviation(2)(x))
    np.testing.assert_allclose(out[:, 1], np.sqrt(1e-8), rtol=1e-3)


@pytest.mark.parametrize(
    "specs, expected",
    [
        ([((8, 4, 4, 4), "float32")], (8, 4, 4, 5)),
        ([((4, 6), "float32")], (4, 7)),
    ],
)
def test_generic_layer_check(tmp_path, specs, expected):
    run_layer_check(
        MinibatchStandardDeviation,
        {"group_size": 4, "num_features": 1, "epsilon": 1e-8},
        specs,
        expected,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
    )


def test_symbolic_batch_in_a_model():
    inputs = keras.Input((2, 2, 4))
    outputs = MinibatchStandardDeviation(4, 2)(inputs)
    assert tuple(outputs.shape) == (None, 2, 2, 6)
    model = keras.Model(inputs, outputs)
    for batch in (8, 2):
        x = np.random.normal(size=(batch, 2, 2, 4)).astype("float32")
        np.testing.assert_allclose(
            model.predict(x, verbose=0, batch_size=batch),
            _numpy_minibatch_std(x, 4, 2),
            rtol=1e-5,
            atol=1e-5,
        )


@pytest.mark.tensorflow_only
def test_dynamic_shapes_in_a_tensorflow_graph():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("dynamic batch sizes exist only on TensorFlow")
    tf = pytest.importorskip("tensorflow")
    layer = MinibatchStandardDeviation(4)
    fn = tf.function(
        lambda x: layer(x),
        input_signature=[tf.TensorSpec((None, None, None, 3))],
    )
    for batch, size in ((8, 2), (3, 5)):  # 3 < group_size: one group
        x = np.random.normal(size=(batch, size, size, 3)).astype("float32")
        np.testing.assert_allclose(
            fn(x).numpy(), _numpy_minibatch_std(x, 4, 1), rtol=1e-5, atol=1e-5
        )
    with pytest.raises(tf.errors.InvalidArgumentError):
        fn(np.zeros((6, 2, 2, 3), "float32"))  # 6 is not a multiple of 4


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    # Deviations of 400 square past the float16 range: float32 statistics.
    x = np.zeros((4, 2, 2, 2), "float32")
    x[:2] = 400.0
    x[2:] = -400.0
    out = MinibatchStandardDeviation(4)(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out)[..., -1].astype("float32"), 400.0
    )


def test_indivisible_static_batch():
    layer = MinibatchStandardDeviation(group_size=4)
    with pytest.raises(ValueError, match="Received: batch=6, group_size=4"):
        layer(np.zeros((6, 2, 2, 4), "float32"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"group_size": 0}, "Received: group_size=0"),
        ({"group_size": 2.0}, "Received: group_size=2.0"),
        ({"num_features": -1}, "Received: num_features=-1"),
        ({"epsilon": 0}, "Received: epsilon=0"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MinibatchStandardDeviation(**kwargs)


@pytest.mark.parametrize(
    "shape, match",
    [((4, 2, 2, 3), "num_features=2"), ((4,), "rank >= 2")],
)
def test_invalid_inputs(shape, match):
    with pytest.raises(ValueError, match=match):
        MinibatchStandardDeviation(4, 2)(np.zeros(shape, "float32"))
