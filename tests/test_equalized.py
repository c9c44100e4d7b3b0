"""Tests for the equalised-learning-rate layers EqualizedDense and
EqualizedConv2D, against numpy and against Keras' own Dense and Conv2D."""

import math

import keras
import numpy as np
import pytest
from helpers.layer_checks import run_layer_check

from kgan.layers.equalized_conv2d import EqualizedConv2D
from kgan.layers.equalized_dense import EqualizedDense

pytestmark = pytest.mark.jax

# (class, constructor arguments, input shape, fan_in, plain Keras twin)
CASES = {
    "dense": (
        EqualizedDense,
        {"units": 5},
        (4, 6),
        6,
        lambda: keras.layers.Dense(5),
    ),
    "conv3x3_same": (
        EqualizedConv2D,
        {"filters": 4, "kernel_size": 3, "padding": "same"},
        (2, 6, 6, 3),
        27,
        lambda: keras.layers.Conv2D(4, 3, padding="same"),
    ),
    "conv_strided_valid": (
        EqualizedConv2D,
        {"filters": 2, "kernel_size": (3, 2), "strides": 2},
        (2, 7, 6, 5),
        30,
        lambda: keras.layers.Conv2D(2, (3, 2), strides=2),
    ),
}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _built(case, **extra):
    cls, kwargs, shape, fan_in, twin = CASES[case]
    layer = cls(**kwargs, **extra)
    layer.build(shape)
    if layer.bias is not None:  # a non-zero raw bias, so its scale shows
        layer.bias.assign(_rand(*layer.bias.shape, seed=1))
    return layer, shape, fan_in, twin


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    "gain,lr_multiplier", [(math.sqrt(2.0), 1.0), (1.0, 0.01), (2.0, 0.5)]
)
def test_effective_weights_match_numpy(case, gain, lr_multiplier):
    layer, _, fan_in, _ = _built(case, gain=gain, lr_multiplier=lr_multiplier)
    raw = _np(layer.kernel)
    scale = gain / math.sqrt(fan_in) * lr_multiplier
    assert layer.scale == pytest.approx(scale)
    np.testing.assert_allclose(
        _np(layer.effective_kernel), raw * scale, rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(layer.effective_bias), _np(layer.bias) * lr_multiplier, rtol=1e-6
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_equals_plain_layer_with_the_effective_weights(case):
    layer, shape, _, twin = _built(case, lr_multiplier=0.1)
    x = _rand(*shape, seed=2)
    plain = twin()
    plain.build(shape)
    plain.set_weights([_np(layer.effective_kernel), _np(layer.effective_bias)])
    np.testing.assert_allclose(
        _np(layer(x)), _np(plain(x)), rtol=1e-5, atol=1e-5
    )
    assert tuple(layer.compute_output_shape(shape)) == tuple(
        plain.compute_output_shape(shape)
    )


def test_no_bias():
    x = _rand(3, 4)
    layer = EqualizedDense(2, use_bias=False)
    out = _np(layer(x))
    assert len(layer.weights) == 1 and layer.effective_bias is None
    np.testing.assert_allclose(
        out, x @ _np(layer.effective_kernel), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("lr_multiplier", [1.0, 0.01])
def test_raw_weights_are_normal_and_effective_ones_are_he(lr_multiplier):
    layer = EqualizedConv2D(64, 3, lr_multiplier=lr_multiplier)
    layer.build((None, 8, 8, 32))
    raw = _np(layer.kernel)
    # Raw N(0, 1 / lr_multiplier^2), so that the effective init is He's.
    assert raw.std() * lr_multiplier == pytest.approx(1.0, rel=0.03)
    he_std = math.sqrt(2.0 / (3 * 3 * 32))
    assert _np(layer.effective_kernel).std() == pytest.approx(he_std, rel=0.03)
    np.testing.assert_array_equal(_np(layer.bias), np.zeros(64))


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("lr_multiplier", [1.0, 0.01])
def test_gradient_wrt_raw_weights_is_scaled(case, lr_multiplier):
    """The point of the trick: one SGD step on the raw weights moves them
    `scale` (kernel) and `lr_multiplier` (bias) times as far as the same
    step moves a plain layer computing the same function."""
    layer, shape, _, twin = _built(case, lr_multiplier=lr_multiplier)
    # Unit-scale raw weights: float32 differences of raw weights of size
    # 1 / lr_multiplier = 100 would lose the small step in rounding.
    layer.kernel.assign(_rand(*layer.kernel.shape, seed=5))
    plain = twin()
    plain.build(shape)
    plain.set_weights([_np(layer.effective_kernel), _np(layer.effective_bias)])
    x = _rand(*shape, seed=3)
    target = _rand(*layer.compute_output_shape(shape), seed=4)
    deltas = []
    for lay in (layer, plain):
        inputs = keras.Input(batch_shape=shape)
        model = keras.Model(inputs, lay(inputs))
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        before = [_np(w).copy() for w in (lay.kernel, lay.bias)]
        model.fit(x, target, batch_size=shape[0], epochs=1, verbose=0)
        after = [_np(w) for w in (lay.kernel, lay.bias)]
        deltas.append([a - b for a, b in zip(after, before)])
    (raw_kernel, raw_bias), (plain_kernel, plain_bias) = deltas
    assert np.abs(plain_kernel).max() > 1e-4
    np.testing.assert_allclose(
        raw_kernel, layer.scale * plain_kernel, rtol=1e-3, atol=1e-7
    )
    np.testing.assert_allclose(
        raw_bias, lr_multiplier * plain_bias, rtol=1e-3, atol=1e-7
    )


@pytest.mark.parametrize(
    "cls,kwargs,input_shape,output_shape,num_weights",
    [
        (EqualizedDense, {"units": 3}, (2, 5), (2, 3), 2),
        (
            EqualizedDense,
            {
                "units": 4,
                "use_bias": False,
                "gain": 1.0,
                "lr_multiplier": 0.01,
                "bias_initializer": "ones",
            },
            (2, 3, 5),
            (2, 3, 4),
            1,
        ),
        (
            EqualizedConv2D,
            {"filters": 3, "kernel_size": 3, "padding": "same"},
            (2, 6, 6, 2),
            (2, 6, 6, 3),
            2,
        ),
        (
            EqualizedConv2D,
            {
                "filters": 2,
                "kernel_size": (3, 1),
                "strides": (2, 1),
                "gain": 1.0,
                "lr_multiplier": 0.5,
                "bias_initializer": "ones",
            },
            (2, 7, 5, 3),
            (2, 3, 5, 2),
            2,
        ),
    ],
)
def test_generic_layer_check(
    cls, kwargs, input_shape, output_shape, num_weights, tmp_path
):
    run_layer_check(
        cls,
        kwargs,
        [(input_shape, "float32")],
        output_shape,
        expected_num_trainable_weights=num_weights,
        expected_num_non_trainable_weights=0,
        tmp_path=tmp_path,
    )


def test_config_survives_a_keras_round_trip(tmp_path):
    inputs = keras.Input((6, 6, 2))
    h = EqualizedConv2D(3, (3, 1), strides=2, lr_multiplier=0.2)(inputs)
    outputs = EqualizedDense(2, gain=1.0, lr_multiplier=0.01)(h)
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "equalized.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(model.layers[1:], loaded.layers[1:]):
        assert type(a) is type(b) and a.get_config() == b.get_config()
        assert a.scale == b.scale
    x = _rand(2, 6, 6, 2)
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_mixed_precision(case):
    keras.config.set_dtype_policy("mixed_float16")
    layer, shape, _, _ = _built(case)
    out = layer(_rand(*shape))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert layer.kernel.dtype == "float32"
    assert np.isfinite(_np(out)).all()


@pytest.mark.parametrize(
    "cls,kwargs,match",
    [
        (EqualizedDense, {"units": 0}, "units=0"),
        (EqualizedDense, {"units": 2, "gain": 0}, "gain=0"),
        (EqualizedDense, {"units": 2, "lr_multiplier": -1}, "lr_multiplier"),
        (EqualizedDense, {"units": 2, "use_bias": 1}, "use_bias=1"),
        (EqualizedConv2D, {"filters": 2, "kernel_size": 0}, "kernel_size=0"),
        (
            EqualizedConv2D,
            {"filters": 2, "kernel_size": (3, 3, 3)},
            "kernel_size",
        ),
        (
            EqualizedConv2D,
            {"filters": 2, "kernel_size": 3, "strides": 0},
            "strides=0",
        ),
        (
            EqualizedConv2D,
            {"filters": 2, "kernel_size": 3, "padding": "full"},
            "padding='full'",
        ),
        (
            EqualizedConv2D,
            {"filters": 2, "kernel_size": 3, "lr_multiplier": 0.0},
            "lr_multiplier=0.0",
        ),
    ],
)
def test_invalid_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_invalid_input_shapes():
    with pytest.raises(ValueError, match="input_shape"):
        EqualizedConv2D(2, 3).build((None, 8, 3))
    with pytest.raises(ValueError, match="input_shape"):
        EqualizedDense(2).build((None, None))
